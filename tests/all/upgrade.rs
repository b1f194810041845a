//! Changing an operator's module while its job runs: the state carries over, the output is
//! what a run that switched logic at one point of the input would give (nothing lost or
//! doubled), a module that cannot run the operator is refused with nothing changed, and a job
//! resumed from a checkpoint runs the module that checkpoint names.

use std::path::Path;
use std::time::Duration;

use cameo_host::{Event, Host, JobError, JobPlan, OperatorModule, RunOptions, UpgradeError};
use cameo_tests::guests;

use crate::support::{options, parse, toml_path, wait_for};

/// Words of the input, one per line: a few keys, each counted many times.
fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{}", i % 5)).collect()
}

/// A job reading `input.txt` at `rate` lines a second through `wordcount` into memory.
fn counts_job(dir: &Path, rate: u64) -> JobPlan {
    let toml = format!(
        r#"
name = "counts"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
rate = {rate}
[[operator]]
name = "count"
module = {module}
inputs = ["in"]
[[sink]]
name = "out"
kind = "memory"
inputs = ["count"]
"#,
        module = toml_path(guests::WORDCOUNT)
    );
    JobPlan::from_spec(&parse(&toml, dir)).unwrap()
}

fn host_options(dir: &Path) -> RunOptions {
    RunOptions {
        data_dir: Some(dir.join("data")),
        checkpoint_interval: Duration::from_millis(50),
        ..options()
    }
}

/// An output: its word, its count, and the version of `wordcount` that made it.
fn parse_output(event: &Event) -> (String, u64, u64) {
    let json: serde_json::Value = serde_json::from_slice(&event.value).unwrap();
    (
        json["word"].as_str().unwrap().to_string(),
        json["count"].as_u64().unwrap(),
        json["version"].as_u64().unwrap_or(1),
    )
}

/// Checks that `outputs` are one per input word, in order, each made by the version it is
/// tagged with from the counts the one before left (versions 1 and 3 add 1, version 2 adds 2),
/// and
/// that the versions change exactly at `switches` points: what a run that changed logic at
/// those points of the input would give. Returns the version of each output.
fn check_counts(input: &[String], outputs: &[Event], switches: usize) -> Vec<u64> {
    assert_eq!(outputs.len(), input.len(), "an output lost or doubled");
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let mut versions = Vec::new();
    for (i, (word, event)) in input.iter().zip(outputs).enumerate() {
        let (out_word, count, version) = parse_output(event);
        assert_eq!(&out_word, word, "output {i} is not for input {i}");
        let expected = counts.entry(word.clone()).or_default();
        // Versions 1 and 3 count an occurrence once, version 2 twice.
        *expected += if version == 2 { 2 } else { 1 };
        assert_eq!(count, *expected, "output {i} ({word}, version {version})");
        versions.push(version);
    }
    let changes = versions.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(changes, switches, "versions: {versions:?}");
    versions
}

#[test]
fn an_upgrade_and_a_rollback_under_load_keep_every_count_and_switch_at_one_point_each() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(6000);
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let mut host = Host::new(host_options(dir.path())).unwrap();
    let job = host.submit_plan(&counts_job(dir.path(), 2000)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    let v2 = OperatorModule::load_file(host.engine(), Path::new(guests::WORDCOUNT_V2)).unwrap();
    let v1 = OperatorModule::load_file(host.engine(), Path::new(guests::WORDCOUNT)).unwrap();

    wait_for("some output", || monitor.summary().events_out >= 300);
    let up = monitor
        .upgrade("count", &v2, Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        (up.from.as_str(), up.to.as_str()),
        ("wordcount.wasm", "wordcount_v2.wasm")
    );
    assert!(up.checkpoint > 0);
    assert_eq!(monitor.modules()["count"], ["wordcount_v2.wasm"]);
    let at_upgrade = monitor.summary().events_out;
    wait_for("output from the new version", || {
        monitor.summary().events_out >= at_upgrade + 300
    });
    let back = monitor
        .upgrade("count", &v1, Duration::from_secs(30))
        .unwrap();
    assert_eq!(back.to, "wordcount.wasm");
    assert!(back.checkpoint > up.checkpoint);

    let outcome = waiter.join().unwrap().unwrap();
    host.shutdown();
    let versions = check_counts(&input, &outcome.outputs["out"], 2);
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(versions.last(), Some(&1), "rolled back to version 1");
}

#[test]
fn a_module_that_cannot_run_the_operator_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(4000);
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let mut host = Host::new(host_options(dir.path())).unwrap();
    let job = host.submit_plan(&counts_job(dir.path(), 2000)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    wait_for("some output", || monitor.summary().events_out >= 100);

    // `filter` needs a `field` in its config; the operator has none.
    let filter = OperatorModule::load_file(host.engine(), Path::new(guests::FILTER)).unwrap();
    let err = monitor
        .upgrade("count", &filter, Duration::from_secs(30))
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, UpgradeError::Refused { .. }), "{text}");
    assert!(
        text.contains("refused its config in init")
            && text.contains("`field` is required")
            && text.ends_with("Nothing was changed; it still runs wordcount.wasm"),
        "{text}"
    );
    let current = OperatorModule::load_file(host.engine(), Path::new(guests::WORDCOUNT)).unwrap();
    let same = monitor
        .upgrade("count", &current, Duration::from_secs(30))
        .unwrap_err();
    assert_eq!(
        same.to_string(),
        "operator \"count\" already runs wordcount.wasm; nothing to change"
    );
    let unknown = monitor
        .upgrade("nope", &current, Duration::from_secs(30))
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "the job has no operator \"nope\"; its operators are: count"
    );
    assert_eq!(monitor.modules()["count"], ["wordcount.wasm"]);

    let outcome = waiter.join().unwrap().unwrap();
    host.shutdown();
    check_counts(&input, &outcome.outputs["out"], 0);
}

#[test]
fn a_job_resumed_after_an_upgrade_runs_the_module_its_checkpoint_names() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(6000);
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let mut host = Host::new(host_options(dir.path())).unwrap();
    let job = host.submit_plan(&counts_job(dir.path(), 2000)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    let v2 = OperatorModule::load_file(host.engine(), Path::new(guests::WORDCOUNT_V2)).unwrap();
    wait_for("some output", || monitor.summary().events_out >= 300);
    monitor
        .upgrade("count", &v2, Duration::from_secs(30))
        .unwrap();
    // Stopped like a crash: the checkpoints stay, nothing more is written.
    monitor.cancel();
    assert!(matches!(
        waiter.join().unwrap(),
        Err(JobError::Cancelled { .. })
    ));

    // The plan names version 1; the checkpoint names version 2, which it was not given.
    let refused = match host.submit_plan(&counts_job(dir.path(), 0)) {
        Err(err) => err.to_string(),
        Ok(_) => panic!("a checkpoint naming a module the job was not given was resumed"),
    };
    assert!(
        refused.contains(
            "operator \"count\" ran wordcount_v2.wasm when it was taken, and the job was given \
             wordcount.wasm and no wordcount_v2.wasm to resume it on"
        ),
        "{refused}"
    );

    let mut plan = counts_job(dir.path(), 0);
    assert!(plan.offer_versions("count", vec![v2.clone()]));
    assert!(!plan.offer_versions("nope", vec![v2]));
    let job = host.submit_plan(&plan).unwrap();
    assert_eq!(job.monitor().modules()["count"], ["wordcount_v2.wasm"]);
    let outcome = job.wait().unwrap();
    host.shutdown();
    // The run resumed from a checkpoint after the swap: everything after it is version 2.
    let resumed: Vec<u64> = outcome.outputs["out"]
        .iter()
        .map(|e| parse_output(e).2)
        .collect();
    assert!(
        !resumed.is_empty() && resumed.iter().all(|v| *v == 2),
        "{resumed:?}"
    );
}

#[test]
fn state_that_changes_shape_is_converted_by_the_new_version_and_again_after_a_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let input = words(6000);
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let mut host = Host::new(host_options(dir.path())).unwrap();
    let job = host.submit_plan(&counts_job(dir.path(), 2000)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    // Version 3 keeps counts as decimal text and converts the 8-byte counts before it.
    let v3 = OperatorModule::load_file(host.engine(), Path::new(guests::WORDCOUNT_V3)).unwrap();
    assert!(v3.converts_state());
    wait_for("some output", || monitor.summary().events_out >= 300);
    monitor
        .upgrade("count", &v3, Duration::from_secs(30))
        .unwrap();
    let at_upgrade = monitor.summary().events_out;
    wait_for("output from the new version", || {
        monitor.summary().events_out >= at_upgrade + 300
    });
    let outcome = waiter.join().unwrap().unwrap();
    let versions = check_counts(&input, &outcome.outputs["out"], 1);
    assert_eq!((versions[0], versions[5999]), (1, 3));
    assert_eq!(
        outcome.summary.errors, 0,
        "{:?}",
        outcome.summary.error_samples
    );

    // Stopped just after the switch: the checkpoint at the switch holds the state unconverted
    // and says so, and the resumed job converts it before its first input.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let job = host
        .submit_plan(&counts_job(dir.path(), 2000))
        .map(|job| (job.monitor(), job))
        .unwrap();
    let (monitor, job) = job;
    let waiter = std::thread::spawn(move || job.wait());
    wait_for("some output", || monitor.summary().events_out >= 300);
    let up = monitor
        .upgrade("count", &v3, Duration::from_secs(30))
        .unwrap();
    monitor.cancel();
    assert!(waiter.join().unwrap().is_err());
    let mut plan = counts_job(dir.path(), 0);
    plan.offer_versions("count", vec![v3]);
    let resumed = host.submit_plan(&plan).unwrap();
    let restored = resumed
        .monitor()
        .summary()
        .checkpoints
        .unwrap()
        .restored_from;
    assert!(restored >= Some(up.checkpoint), "{restored:?}");
    let outcome = resumed.wait().unwrap();
    host.shutdown();
    assert_eq!(
        outcome.summary.errors, 0,
        "{:?}",
        outcome.summary.error_samples
    );
    let last = outcome.outputs["out"].last().map(parse_output).unwrap();
    let occurrences = input.iter().filter(|w| **w == last.0).count() as u64;
    assert_eq!(
        (last.1, last.2),
        (occurrences, 3),
        "every occurrence counted once"
    );
}
