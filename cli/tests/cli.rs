//! The `cameo` binary's own surface: help text and refusals that need no operator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn cameo(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(args)
        .output()
        .expect("the cameo binary runs")
}

#[test]
fn help_lists_the_run_and_operator_commands() {
    let out = cameo(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run"), "{text}");
    assert!(text.contains("operator"), "{text}");
    let out = cameo(&["operator", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("build"));
}

#[test]
fn a_scenario_load_of_zero_is_refused() {
    let out = cameo(&["bench", "runaway", "--load", "0"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("`0` is not a number above 0"), "{text}");
}

#[test]
fn zero_scenario_rounds_are_refused() {
    let out = cameo(&["bench", "runaway", "--rounds", "0"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("--rounds") && text.contains("not in 1..=100"),
        "{text}"
    );
}

#[test]
fn a_missing_job_spec_is_named() {
    let out = cameo(&["run", "no-such-job.toml"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("could not read job spec no-such-job.toml"),
        "{text}"
    );
}

#[test]
fn building_a_directory_without_a_project_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cameo(&["operator", "build", &dir.path().display().to_string()]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("holds no operator project (no Cargo.toml)"),
        "{text}"
    );
}

#[test]
fn run_defaults_to_the_deadline_policy_and_names_the_others() {
    let out = cameo(&["run", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[default: edf]"), "{text}");
    assert!(text.contains("fifo") && text.contains("llf"), "{text}");
}

#[test]
fn an_unknown_policy_is_refused_with_the_known_ones() {
    let out = cameo(&["run", "job.toml", "--policy", "fastest"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("invalid value 'fastest'") && text.contains("edf"),
        "{text}"
    );
}
