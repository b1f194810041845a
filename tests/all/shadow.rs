//! Shadow runs: another version of an operator run beside the current one on a copy of its
//! input, from a copy of its state. Its outputs are compared per key and never sent on; a
//! planted difference shows in the report with its first pairs; promoting it is an upgrade
//! (nothing lost or doubled); stopping it leaves the job's output as it would have been; a
//! module that cannot run the operator is refused before anything starts.

use std::path::Path;
use std::time::Duration;

use cameo_host::{
    Event, Host, JobError, JobMonitor, JobPlan, OperatorModule, RunOptions, ShadowError,
    ShadowReport,
};
use cameo_tests::guests;

use crate::support::{options, parse, toml_path, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// Words of the input, one per line: five keys, `w0` to `w4`, each counted many times.
fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{}", i % 5)).collect()
}

/// A job counting the words of `input.txt`, read at `rate` lines a second, into memory.
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

/// A running job over `n` words at `rate` lines a second, the thread waiting for it, and its
/// host.
fn start(
    dir: &Path,
    n: usize,
    rate: u64,
) -> (
    Host,
    JobMonitor,
    std::thread::JoinHandle<Result<cameo_host::JobOutcome, cameo_host::JobError>>,
    Vec<String>,
) {
    let input = words(n);
    std::fs::write(dir.join("input.txt"), input.join("\n")).unwrap();
    let mut host = Host::new(RunOptions {
        data_dir: Some(dir.join("data")),
        checkpoint_interval: Duration::from_millis(50),
        ..options()
    })
    .unwrap();
    let job = host.submit_plan(&counts_job(dir, rate)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    (host, monitor, waiter, input)
}

fn load(host: &Host, path: &str) -> OperatorModule {
    OperatorModule::load_file(host.engine(), Path::new(path)).unwrap()
}

/// An output's word, count and version (1 unless tagged).
fn parse_output(value: &[u8]) -> (String, u64, u64) {
    let json: serde_json::Value = serde_json::from_slice(value).unwrap();
    (
        json["word"].as_str().unwrap().to_string(),
        json["count"].as_u64().unwrap(),
        json["version"].as_u64().unwrap_or(1),
    )
}

/// Checks that the job's outputs are one per input word, in order, each counted from the one
/// before by the version that made it (1 adds 1, 2 adds 2), the version changing `switches`
/// times: nothing lost, doubled, or leaked from a shadow.
fn check_counts(input: &[String], outputs: &[Event], switches: usize) {
    assert_eq!(
        outputs.len(),
        input.len(),
        "an output lost, doubled or leaked"
    );
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let mut versions = Vec::new();
    for (i, (word, event)) in input.iter().zip(outputs).enumerate() {
        let (out_word, count, version) = parse_output(&event.value);
        assert_eq!(&out_word, word, "output {i} is not for input {i}");
        let expected = counts.entry(word.clone()).or_default();
        *expected += version;
        assert_eq!(count, *expected, "output {i} ({word}, version {version})");
        versions.push(version);
    }
    let changes = versions.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(changes, switches, "versions: {versions:?}");
}

/// The counts of `key` in `report`.
fn key(report: &ShadowReport, key: &str) -> (u64, u64) {
    report
        .keys
        .iter()
        .find(|k| k.key.as_deref() == Some(key))
        .map_or((0, 0), |k| (k.matched, k.differing))
}

#[test]
fn a_shadow_of_the_same_version_matches_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let (host, monitor, waiter, input) = start(dir.path(), 8000, 2000);
    wait_for("some output", || monitor.summary().events_out >= 300);
    let same = load(&host, guests::WORDCOUNT);
    let started = monitor.shadow("count", &same, WAIT).unwrap();
    assert_eq!(
        (started.primary.as_str(), started.shadow.as_str()),
        ("wordcount.wasm", "wordcount.wasm")
    );
    assert_eq!((started.instances, started.instances_started), (1, 1));
    wait_for("a thousand compared outputs", || {
        monitor.shadow_report("count").unwrap().matched >= 1000
    });
    let outcome = waiter.join().unwrap().unwrap();
    host.shutdown();
    check_counts(&input, &outcome.outputs["out"], 0);

    let report = monitor.shadow_report("count").unwrap();
    assert_eq!(report.differing, 0, "{report:#?}");
    assert!(report.differences.is_empty());
    assert_eq!(report.failures, 0);
    assert_eq!(report.keys.len(), 5, "{report:#?}");
    for k in &report.keys {
        assert!(k.matched > 0 && k.differing == 0, "{k:?}");
    }
    assert_eq!(
        report.keys.iter().map(|k| k.matched).sum::<u64>(),
        report.matched
    );
    // Both versions ran calls on the same input, and report what they cost.
    let cost = &report.cost;
    assert!(cost.shadow.events >= report.matched, "{cost:?}");
    assert!(cost.primary.events >= cost.shadow.events, "{cost:?}");
    assert!(cost.primary.fuel_per_event > 0.0 && cost.shadow.fuel_per_event > 0.0);
    assert!(cost.primary.call_us.max > 0 && cost.shadow.call_us.max > 0);
    // Nothing of the shadow reached the job's figures: one output per input word.
    assert_eq!(outcome.summary.events_out, input.len() as u64);
}

#[test]
fn a_planted_difference_is_reported_with_its_first_pairs_and_stopping_changes_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (host, monitor, waiter, input) = start(dir.path(), 8000, 2000);
    wait_for("some output", || monitor.summary().events_out >= 300);
    let skew = load(&host, guests::WORDCOUNT_SKEW);
    monitor.shadow("count", &skew, WAIT).unwrap();

    let again = monitor.shadow("count", &skew, WAIT).unwrap_err();
    assert!(matches!(again, ShadowError::AlreadyRunning { .. }));
    assert_eq!(
        again.to_string(),
        "operator \"count\" already has a shadow running wordcount_skew.wasm; promote it or \
         stop it first"
    );
    wait_for("differences on w3 and matches elsewhere", || {
        let report = monitor.shadow_report("count").unwrap();
        report.differing >= 50 && report.matched >= 200
    });
    let report = monitor.stop_shadow("count").unwrap();
    assert_eq!(report.stopped.as_deref(), Some("stopped by the user"));
    let (w3_matched, w3_differing) = key(&report, "w3");
    assert_eq!(w3_matched, 0, "{report:#?}");
    assert_eq!(
        w3_differing, report.differing,
        "only w3 differs: {report:#?}"
    );
    for other in ["w0", "w1", "w2", "w4"] {
        let (matched, differing) = key(&report, other);
        assert!(matched > 0 && differing == 0, "{other}: {report:#?}");
    }
    // The first differing pairs, bounded, each the same count shown ten times over.
    assert_eq!(report.differences.len(), 20);
    for pair in &report.differences {
        assert_eq!(pair.key.as_deref(), Some("w3"));
        let primary = parse_output(pair.primary.as_ref().unwrap().value.as_bytes());
        let shadow = parse_output(pair.shadow.as_ref().unwrap().value.as_bytes());
        assert_eq!(primary.0, "w3");
        assert_eq!(shadow.1, primary.1 * 10, "{pair:?}");
    }

    let stopped = monitor.stop_shadow("count").unwrap_err();
    assert_eq!(
        stopped.to_string(),
        "operator \"count\" has no shadow running; start one with `cameo job shadow JOB count \
         MODULE@N`"
    );
    // The report stays readable after the stop, and stops counting.
    let later = monitor.shadow_report("count").unwrap();
    assert_eq!(later.stopped.as_deref(), Some("stopped by the user"));

    let outcome = waiter.join().unwrap().unwrap();
    host.shutdown();
    check_counts(&input, &outcome.outputs["out"], 0);
    let last = monitor.shadow_report("count").unwrap();
    assert_eq!(
        (last.matched, last.differing),
        (later.matched, later.differing)
    );
}

#[test]
fn a_promoted_shadow_becomes_the_operator_with_nothing_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let (host, monitor, waiter, input) = start(dir.path(), 8000, 2000);
    wait_for("some output", || monitor.summary().events_out >= 300);
    let v2 = load(&host, guests::WORDCOUNT_V2);
    monitor.shadow("count", &v2, WAIT).unwrap();
    wait_for("compared outputs", || {
        monitor.shadow_report("count").unwrap().differing >= 100
    });
    let upgraded = monitor.promote_shadow("count", WAIT).unwrap();
    assert_eq!(
        (upgraded.from.as_str(), upgraded.to.as_str()),
        ("wordcount.wasm", "wordcount_v2.wasm")
    );
    assert_eq!(monitor.modules()["count"], ["wordcount_v2.wasm"]);
    let report = monitor.shadow_report("count").unwrap();
    assert_eq!(
        report.stopped,
        Some(format!(
            "promoted: the operator runs wordcount_v2.wasm from checkpoint {}",
            upgraded.checkpoint
        ))
    );
    // Version 2 doubles every count: every pair differs, on every key.
    assert_eq!(report.matched, 0, "{report:#?}");
    assert_eq!(report.keys.len(), 5);

    let outcome = waiter.join().unwrap().unwrap();
    host.shutdown();
    check_counts(&input, &outcome.outputs["out"], 1);
}

#[test]
fn a_module_that_cannot_run_the_operator_starts_no_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let (host, monitor, waiter, _) = start(dir.path(), 3000, 2000);
    wait_for("some output", || monitor.summary().events_out >= 100);

    // `filter` needs a `field` in its config; the operator has none.
    let filter = load(&host, guests::FILTER);
    let err = monitor.shadow("count", &filter, WAIT).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ShadowError::Refused { .. }));
    assert!(
        text.starts_with("operator \"count\" cannot run filter.wasm: ")
            && text.contains("refused its config in init")
            && text.ends_with("No shadow was started; the operator still runs wordcount.wasm"),
        "{text}"
    );
    let none = monitor.shadow_report("count").unwrap_err();
    assert_eq!(
        none.to_string(),
        "operator \"count\" has no shadow run; start one with `cameo job shadow JOB count \
         MODULE@N`"
    );
    let unknown = monitor.shadow("nope", &filter, WAIT).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "the job has no operator \"nope\"; its operators are: count"
    );
    let promote = monitor.promote_shadow("count", WAIT).unwrap_err();
    assert!(matches!(promote, ShadowError::NoShadow { .. }));
    assert_eq!(monitor.modules()["count"], ["wordcount.wasm"]);
    waiter.join().unwrap().unwrap();
    host.shutdown();
}

#[test]
fn a_shadow_that_traps_reports_its_failures_and_the_job_has_no_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let input: Vec<String> = (0..40_000)
        .map(|i| {
            if i % 10 == 9 {
                "boom".to_string()
            } else {
                format!("w{}", i % 5)
            }
        })
        .collect();
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let mut host = Host::new(RunOptions {
        data_dir: Some(dir.path().join("data")),
        checkpoint_interval: Duration::from_millis(50),
        ..options()
    })
    .unwrap();
    let job = host.submit_plan(&counts_job(dir.path(), 2000)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    wait_for("some output", || monitor.summary().events_out >= 200);
    // `trapper` passes events through and traps on the value `boom`.
    let trapper = load(&host, guests::TRAPPER);
    monitor.shadow("count", &trapper, WAIT).unwrap();
    wait_for("the shadow trapping", || {
        monitor.shadow_report("count").unwrap().failures >= 5
    });
    let report = monitor.stop_shadow("count").unwrap();
    assert!(
        report.first_failures[0].contains("trapper: trapping on event value \"boom\""),
        "{report:#?}"
    );
    assert!(report.differing > 0 && report.matched == 0, "{report:#?}");
    assert_eq!(
        monitor.summary().errors,
        0,
        "the shadow's traps are no dead letters"
    );
    // The input is longer than the test needs: the job is stopped here.
    monitor.cancel();
    assert!(matches!(
        waiter.join().unwrap(),
        Err(JobError::Cancelled { .. })
    ));
    host.shutdown();
}

#[test]
fn a_shadow_that_falls_behind_stops_and_the_job_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // `looper` spins on the value `loop` until its fuel runs out: the shadow stalls there
    // while the operator goes on.
    let input: Vec<String> = (0..50_000)
        .map(|i| {
            if i % 50 == 49 {
                "loop".to_string()
            } else {
                format!("w{}", i % 5)
            }
        })
        .collect();
    std::fs::write(dir.path().join("input.txt"), input.join("\n")).unwrap();
    let mut base = options();
    base.limits.shadow_behind_bytes = 64 << 10;
    base.limits.fuel_per_call = 50_000_000;
    let mut host = Host::new(RunOptions {
        data_dir: Some(dir.path().join("data")),
        checkpoint_interval: Duration::from_millis(50),
        ..base
    })
    .unwrap();
    let job = host.submit_plan(&counts_job(dir.path(), 5000)).unwrap();
    host.start().unwrap();
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    wait_for("some output", || monitor.summary().events_out >= 100);
    let looper = load(&host, guests::LOOPER);
    monitor.shadow("count", &looper, WAIT).unwrap();
    // A stopped run lets go of what it held once its instances see the stop: the report says
    // it stopped first.
    wait_for("the shadow to stop and let go of what it held", || {
        let report = monitor.shadow_report("count").unwrap();
        report.stopped.is_some() && report.behind_bytes == 0
    });
    let report = monitor.shadow_report("count").unwrap();
    let at_stop = monitor.summary().events_out;
    wait_for("the job going on", || {
        monitor.summary().events_out >= at_stop + 500
    });
    assert_eq!(monitor.summary().errors, 0);
    // The input is longer than the test needs: the job is stopped here.
    monitor.cancel();
    assert!(matches!(
        waiter.join().unwrap(),
        Err(JobError::Cancelled { .. })
    ));
    host.shutdown();
    assert_eq!(
        report.stopped.as_deref(),
        Some(
            "the shadow fell more than 65536 bytes of input and output behind the operator \
             (shadow_behind_bytes); start it again when the job is less loaded, or give the \
             tenant a larger share"
        ),
        "{report:#?}"
    );
    assert_eq!(
        report.behind_bytes, 0,
        "a stopped run lets go of what it held"
    );
}
