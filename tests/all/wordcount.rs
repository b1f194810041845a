//! The wordcount example: keyed host state, counts equal to a reference.

use std::collections::BTreeMap;

use cameo_tests::guests;

use crate::support::{cameo, one_operator_job, options, parse, repo_root, run, toml_path};

const TEXT: &[&str] = &[
    "the quick brown fox jumps over the lazy dog",
    "The dog sleeps; the fox runs.",
    "a stream is a river of events and the river never stops",
    "fox, dog, river: words counted one event at a time",
];

/// Counts words the way the operator documents it: lowercase, split on non-alphanumerics.
fn reference(lines: &[&str]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        for word in line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            *counts.entry(word.to_lowercase()).or_insert(0) += 1;
        }
    }
    counts
}

/// The last count the operator emitted for each word.
fn final_counts<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for value in values {
        let json: serde_json::Value = serde_json::from_str(value).expect("wordcount emits JSON");
        let word = json["word"].as_str().expect("word").to_string();
        let count = json["count"].as_u64().expect("count");
        let seen = counts.entry(word).or_insert(0);
        *seen = (*seen).max(count);
    }
    counts
}

#[test]
fn wordcount_counts_equal_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(dir.path(), guests::WORDCOUNT, "{}", TEXT);
    let mut options = options();
    options.limits.batch_size = 3;
    let outcome = run(&spec, &options);
    let values = crate::support::values(&outcome, "out");
    let expected = reference(TEXT);
    assert_eq!(final_counts(values.iter().map(String::as_str)), expected);
    assert_eq!(values.len() as u64, expected.values().sum::<u64>());
    assert_eq!(outcome.summary.events_in, TEXT.len() as u64);
    assert_eq!(outcome.summary.errors, 0);
    assert!(outcome.summary.fuel > 0);
    let stats = &outcome.summary.operators["test/op"];
    assert_eq!(stats.calls, 2, "4 lines in batches of 3");
    assert_eq!(stats.fuel, outcome.summary.fuel);
}

#[test]
fn a_discard_sink_counts_and_measures_its_output_and_keeps_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), TEXT.join("\n")).unwrap();
    let toml = format!(
        "name = \"test\"\n[[source]]\nname = \"in\"\nkind = \"file\"\npath = \"input.txt\"\n\
         [[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\n\
         [[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"op\"]\n",
        toml_path(guests::WORDCOUNT)
    );
    let outcome = run(&parse(&toml, dir.path()), &options());
    let words = reference(TEXT).values().sum::<u64>();
    assert_eq!(outcome.summary.events_out, words);
    assert_eq!(outcome.summary.sinks["out"].events_out, words);
    assert!(outcome.summary.sinks["out"].latency_ms.max > 0.0);
    assert!(!outcome.outputs.contains_key("out"), "nothing kept");
}

#[test]
fn the_example_wordcount_job_runs_and_counts_correctly() {
    let jobs = repo_root().join("example-operators/jobs");
    let toml = std::fs::read_to_string(jobs.join("wordcount.toml")).unwrap();
    // Use the component the build script already built instead of building the crate again.
    let toml = toml.replace(r#""../rust/wordcount""#, &toml_path(guests::WORDCOUNT));
    let toml = toml.replace(r#"kind = "stdout""#, r#"kind = "memory""#);
    let spec = parse(&toml, &jobs);
    let outcome = run(&spec, &options());
    let text = std::fs::read_to_string(jobs.join("wordcount.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let values = crate::support::values(&outcome, "counts");
    assert_eq!(
        final_counts(values.iter().map(String::as_str)),
        reference(&lines)
    );
}

#[test]
fn cameo_run_prints_the_counts_and_a_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), TEXT.join("\n")).unwrap();
    let job = format!(
        r#"
name = "wc"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "count"
module = {}
inputs = ["in"]
[[sink]]
name = "out"
kind = "stdout"
inputs = ["count"]
"#,
        toml_path(guests::WORDCOUNT)
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let out = cameo(dir.path(), &["run", "job.toml", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary: serde_json::Value = serde_json::from_str(lines.pop().unwrap()).unwrap();
    assert_eq!(final_counts(lines), reference(TEXT));
    assert_eq!(summary["events_in"], TEXT.len());
    assert_eq!(summary["errors"], 0);
    assert!(summary["fuel"].as_u64().unwrap() > 0);
    assert!(
        summary["latency_ms"]["p99"].as_f64().unwrap()
            >= summary["latency_ms"]["p50"].as_f64().unwrap()
    );
}

#[test]
fn cameo_operator_build_prints_a_loadable_component() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    // Share the build script's target directory so this is a cache hit, not a second build.
    let out = std::process::Command::new(crate::support::cameo_binary())
        .args(["operator", "build", "--json"])
        .arg(root.join("example-operators/rust/filter"))
        .env("CARGO_TARGET_DIR", root.join("target/guests"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let component = std::path::PathBuf::from(printed["component"].as_str().unwrap());
    assert!(
        component.ends_with("filter.wasm"),
        "{}",
        component.display()
    );
    let engine = cameo_host::OperatorEngine::new(cameo_host::Limits::default()).unwrap();
    cameo_host::OperatorModule::load_file(&engine, &component).unwrap();
}
