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
    if lang == "rust" {
        let config = std::fs::read_to_string(project.join(".cargo/config.toml"))
            .expect("a new Rust project has its build settings");
        assert!(config.contains("+simd128"), "{config}");
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
    // The project's own test passes against the expected output it comes with.
    let out = with_env(
        &[
            "operator",
            "test",
            "--input",
            "input.txt",
            "--config",
            r#"{"needle": "event"}"#,
            "--expect",
            "expected.txt",
        ],
        &project,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// Runs `job` in `dir` with the compiled-code cache in `cache` and its log lines shown:
/// (stdout, stderr).
fn run_cached(dir: &std::path::Path, cache: &std::path::Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["run", "job.toml"])
        .current_dir(dir)
        .env("CAMEO_CACHE_DIR", cache)
        .env("CAMEO_LOG", "compiled_cache=info")
        .output()
        .expect("cameo runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn a_second_run_loads_compiled_code_from_the_cache_and_a_damaged_entry_is_compiled_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    std::fs::write(
        dir.path().join("in.ndjson"),
        "{\"status\":\"paid\",\"n\":1}\n{\"status\":\"open\",\"n\":2}\n{\"status\":\"paid\",\"n\":3}\n",
    )
    .expect("input written");
    std::fs::write(
        dir.path().join("job.toml"),
        format!(
            "name = \"cached\"\n\
             [[source]]\nname = \"in\"\nkind = \"file\"\npath = \"in.ndjson\"\n\
             [[operator]]\nname = \"paid\"\nmodule = {:?}\ninputs = [\"in\"]\n\
             config = {{ field = \"status\", equals = \"paid\" }}\n\
             [[sink]]\nname = \"out\"\nkind = \"stdout\"\ninputs = [\"paid\"]\n",
            cameo_tests::guests::FILTER
        ),
    )
    .expect("job written");
    let expected = "{\"status\":\"paid\",\"n\":1}\n{\"status\":\"paid\",\"n\":3}\n";

    let (stdout, stderr) = run_cached(dir.path(), &cache);
    assert_eq!(stdout, expected);
    assert!(
        stderr.contains("compiled and kept in the cache"),
        "{stderr}"
    );

    let (stdout, stderr) = run_cached(dir.path(), &cache);
    assert_eq!(stdout, expected);
    assert!(
        stderr.contains("compiled code loaded from the cache") && !stderr.contains("compiled and"),
        "{stderr}"
    );

    let entry = std::fs::read_dir(&cache)
        .expect("the cache directory exists")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a compiled entry");
    let mut code = std::fs::read(&entry).expect("entry read");
    let middle = code.len() / 2;
    code[middle] ^= 0xff;
    std::fs::write(&entry, &code).expect("entry damaged");
    let (stdout, stderr) = run_cached(dir.path(), &cache);
    assert_eq!(stdout, expected);
    assert!(
        stderr.contains("does not match its hash; compiling again")
            && stderr.contains("compiled and kept in the cache"),
        "{stderr}"
    );
    let (_, stderr) = run_cached(dir.path(), &cache);
    assert!(
        stderr.contains("compiled code loaded from the cache"),
        "the damaged entry was replaced: {stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["run", "job.toml", "--no-cache"])
        .current_dir(dir.path())
        .env("CAMEO_CACHE_DIR", dir.path().join("unused"))
        .env("CAMEO_LOG", "compiled_cache=info")
        .output()
        .expect("cameo runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert!(
        !dir.path().join("unused").exists(),
        "--no-cache wrote a cache"
    );
}

/// `cameo operator test` with `args`, the compiled-code cache in `dir`: (success, stdout,
/// stderr).
fn operator_test(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["operator", "test"])
        .args(args)
        .env("CAMEO_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("cameo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn operator_test_prints_outputs_and_dead_letters_and_diffs_them_with_the_expected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.ndjson");
    std::fs::write(
        &input,
        "{\"status\":\"paid\",\"n\":1}\nnot json\n{\"status\":\"open\",\"n\":2}\n",
    )
    .expect("input written");
    let input = input.display().to_string();
    let config = r#"{"field": "status", "equals": "paid"}"#;
    let args = [
        cameo_tests::guests::FILTER,
        "--input",
        &input,
        "--config",
        config,
    ];
    let (ok, stdout, stderr) = operator_test(dir.path(), &args);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], "- {\"status\":\"paid\",\"n\":1}");
    assert!(
        lines[1].starts_with("dead: ") && lines[1].ends_with(": not json"),
        "{stdout}"
    );

    let expect = dir.path().join("expected.txt");
    std::fs::write(&expect, &stdout).expect("expected written");
    let expect_arg = expect.display().to_string();
    let with_expect = [&args[..], &["--expect", &expect_arg]].concat();
    let (ok, _, stderr) = operator_test(dir.path(), &with_expect);
    assert!(ok, "the run's own output is what it expects: {stderr}");

    std::fs::write(&expect, "- {\"status\":\"paid\",\"n\":2}\n").expect("expected written");
    let (ok, _, stderr) = operator_test(dir.path(), &with_expect);
    assert!(!ok);
    assert!(
        stderr.contains("differ from")
            && stderr.contains("-    1: - {\"status\":\"paid\",\"n\":2}")
            && stderr.contains("+    1: - {\"status\":\"paid\",\"n\":1}")
            && stderr.contains("+    2: dead: "),
        "{stderr}"
    );

    let json = [&with_expect[..], &["--json"]].concat();
    let (ok, stdout, _) = operator_test(dir.path(), &json);
    assert!(!ok);
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(value["matches"], false);
    assert_eq!(
        value["outputs"][0]["value"],
        "{\"status\":\"paid\",\"n\":1}"
    );
    assert_eq!(value["dead_letters"][0]["value"], "not json");
    assert_eq!(value["summary"]["errors"], 1);
}

#[test]
fn operator_test_json_keeps_what_the_operator_logged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\n").expect("input written");
    let input = input.display().to_string();
    let args = [
        cameo_tests::guests::HOSTILE,
        "--input",
        &input,
        "--config",
        r#"{"attack": "log", "bytes": 5}"#,
        "--json",
    ];
    let (ok, stdout, stderr) = operator_test(dir.path(), &args);
    assert!(ok, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let log = value["log"].as_array().expect("a log list");
    assert_eq!(log.len(), 2, "one line per event: {value}");
    for line in log {
        assert_eq!(line["text"], "xxxxx", "{line}");
        assert_eq!(
            (&line["stream"], &line["level"]),
            (&"log".into(), &"info".into())
        );
        assert!(line["instance"].as_str().unwrap().contains('/'), "{line}");
    }
}

#[test]
fn operator_test_runs_host_managed_windows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("readings.ndjson");
    std::fs::write(
        &input,
        "{\"k\":\"a\",\"t\":1,\"value\":2}\n{\"k\":\"b\",\"t\":7,\"value\":10}\n\
         {\"k\":\"a\",\"t\":5,\"value\":3}\n{\"k\":\"a\",\"t\":12,\"value\":1}\n",
    )
    .expect("input written");
    let input = input.display().to_string();
    let (ok, stdout, stderr) = operator_test(
        dir.path(),
        &[
            cameo_tests::guests::WINDOW_AGG,
            "--input",
            &input,
            "--window",
            "tumbling:10",
            "--key-field",
            "k",
            "--time-field",
            "t",
        ],
    );
    assert!(ok, "{stderr}");
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "a {\"count\":1,\"key\":\"a\",\"max\":1,\"min\":1,\"sum\":1,\"window_end\":20,\"window_start\":10} @19",
            "a {\"count\":2,\"key\":\"a\",\"max\":3,\"min\":2,\"sum\":5,\"window_end\":10,\"window_start\":0} @9",
            "b {\"count\":1,\"key\":\"b\",\"max\":10,\"min\":10,\"sum\":10,\"window_end\":10,\"window_start\":0} @9",
        ],
        "{stdout}"
    );
}

#[test]
fn operator_test_refuses_bad_flags_saying_what_to_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x\n").expect("input written");
    let input = input.display().to_string();
    let filter = cameo_tests::guests::FILTER;
    let (ok, _, stderr) =
        operator_test(dir.path(), &[filter, "--input", &input, "--config", "[1]"]);
    assert!(!ok);
    assert!(
        stderr.contains("--config must be a JSON object"),
        "{stderr}"
    );
    let (ok, _, stderr) = operator_test(
        dir.path(),
        &[filter, "--input", &input, "--config", r#"{"field": null}"#],
    );
    assert!(!ok);
    assert!(stderr.contains("TOML, which has no null"), "{stderr}");
    let (ok, _, stderr) = operator_test(
        dir.path(),
        &[filter, "--input", &input, "--window", "hopping:5"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("`hopping:5` is not a window: write tumbling:SIZE_MS"),
        "{stderr}"
    );
    let (ok, _, stderr) = operator_test(dir.path(), &[filter, "--input", "no-such-input.txt"]);
    assert!(!ok);
    assert!(
        stderr.contains("could not read the input no-such-input.txt"),
        "{stderr}"
    );
}
