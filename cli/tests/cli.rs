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
        text.contains("is not an operator project: expected Cargo.toml (Rust), app.py (Python)"),
        "{text}"
    );
}

/// Creates an operator with `cameo operator new`, runs its job (which builds it): it forwards
/// the two lines of its test input that contain its needle; `cameo operator build` prints
/// the component.
fn new_build_and_run(lang: &str, env: &[(&str, std::path::PathBuf)]) {
    let with_env = |args: &[&str], dir: &std::path::Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cameo"));
        command.args(args).current_dir(dir);
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("cameo runs")
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let parent = dir.path().display().to_string();
    let out = cameo(&[
        "operator",
        "new",
        "scaffolded",
        "--lang",
        lang,
        "--dir",
        &parent,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let project = dir.path().join("scaffolded");
    for file in ["README.md", "input.txt", "job.toml"] {
        assert!(
            project.join(file).is_file(),
            "no {file} in a new {lang} project"
        );
    }
    // `cameo run` builds the project its job names, then `cameo operator build` finds it built.
    let out = with_env(&["run", "job.toml"], &project);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, ["a cameo event", "another event"], "{stdout}");
    let project_arg = project.display().to_string();
    let out = with_env(&["operator", "build", &project_arg], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let component = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let bytes = std::fs::read(&component).expect("the printed component exists");
    assert_eq!(
        bytes[..8],
        [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00],
        "not a component"
    );
    let out = cameo(&[
        "operator",
        "new",
        "scaffolded",
        "--lang",
        lang,
        "--dir",
        &parent,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn a_new_c_operator_builds_and_runs() {
    new_build_and_run("c", &[]);
}

#[test]
fn a_new_rust_operator_builds_and_runs() {
    // Compiled dependencies are shared between runs of the suite.
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold");
    new_build_and_run("rust", &[("CARGO_TARGET_DIR", target)]);
}

#[test]
fn operator_names_and_languages_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let parent = dir.path().display().to_string();
    let out = cameo(&["operator", "new", "9lives", "--lang", "c", "--dir", &parent]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("`9lives` is not a usable operator name"),
        "{text}"
    );
    let out = cameo(&["operator", "new", "x", "--lang", "go", "--dir", &parent]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("[possible values: rust, python, js, c]"),
        "{text}"
    );
}

#[test]
fn a_c_file_named_like_the_bindings_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("operator.c"), "int x;").unwrap();
    let out = cameo(&["operator", "build", &dir.path().display().to_string()]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("has the name of a file cameo generates"),
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
