//! Host-managed windows with the `window-agg` guest, checked against references computed
//! here; per-key order over a key-hash edge; and which interfaces the SDK's export macros
//! make a component export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cameo_host::OperatorEngine;
use cameo_host::OperatorModule;
use cameo_host::{Limits, RunOptions};
use cameo_tests::guests;
use serde_json::Value;

use crate::support::window_agg::{
    PaneId, Reading, SAFE_DELAY_MS, Totals, WindowJob, fired, fixed_reference, last_per_pane,
    session_reference, shuffled_readings, window_job, write_input,
};
use crate::support::{Rng, one_operator_job, options, parse, run, toml_path};

/// Options with small batches (so batches straddle window boundaries) and several workers.
fn window_options(batch_size: usize) -> RunOptions {
    let mut options = options();
    options.workers = 4;
    options.limits.batch_size = batch_size;
    options
}

/// Runs `window` over the shuffled input and compares the final result of every pane with
/// `reference`.
fn matches_reference(
    window: &str,
    seed: u64,
    reference: impl Fn(&[Reading]) -> BTreeMap<PaneId, Totals>,
) {
    let dir = tempfile::tempdir().unwrap();
    let readings = shuffled_readings(seed);
    write_input(dir.path(), &readings);
    let spec = window_job(
        dir.path(),
        WindowJob {
            window,
            watermark_delay_ms: SAFE_DELAY_MS,
            ..WindowJob::default()
        },
    );
    let outcome = run(&spec, &window_options(3));
    // Without a late consumer a late event would be a dead letter, counted as an error:
    // nothing is late with a watermark delay above the disorder.
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    let fired = fired(&outcome, "out");
    let actual = last_per_pane(&fired);
    let expected = reference(&readings);
    let missing: Vec<_> = expected
        .keys()
        .filter(|p| !actual.contains_key(*p))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|p| !expected.contains_key(*p))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "panes missing: {missing:?}\npanes not expected: {extra:?}"
    );
    for (pane, totals) in &expected {
        assert_eq!(&actual[pane], totals, "pane {pane:?}");
    }
    // On-time input fires every pane exactly once.
    assert_eq!(fired.len(), expected.len(), "a pane fired more than once");
}

#[test]
fn tumbling_windows_match_the_reference_over_shuffled_input() {
    matches_reference(r#"{ kind = "tumbling", size_ms = 100 }"#, 1, |readings| {
        fixed_reference(readings, |t| {
            let start = t.div_euclid(100) * 100;
            vec![(start, start + 100)]
        })
    });
}

#[test]
fn sliding_windows_match_the_reference_over_shuffled_input() {
    matches_reference(
        r#"{ kind = "sliding", size_ms = 100, slide_ms = 40 }"#,
        2,
        |readings| {
            fixed_reference(readings, |t| {
                // Windows start at every multiple of 40, negative ones included.
                let last = t.div_euclid(40);
                (last - 3..=last)
                    .map(|k| (k * 40, k * 40 + 100))
                    .filter(|(start, end)| *start <= t && t < *end)
                    .collect()
            })
        },
    );
}

/// Batches that fail halfway (an event without a numeric `value`) make the guest's kept
/// accumulators unusable: the host folds the batches logged since they were last collected
/// again, retries the failed batch event by event, and the results still equal the reference
/// over the good events, with each bad one a dead letter.
#[test]
fn a_batch_failing_halfway_loses_nothing_folded_before_it() {
    for window in [
        r#"{ kind = "tumbling", size_ms = 100 }"#,
        r#"{ kind = "sliding", size_ms = 100, slide_ms = 40 }"#,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let readings = shuffled_readings(4);
        let poisoned = |reading: &Reading| reading.seq % 23 == 5;
        let lines: Vec<String> = readings
            .iter()
            .map(|reading| match poisoned(reading) {
                true => serde_json::json!({"k": reading.key, "t": reading.time, "value": "x"})
                    .to_string(),
                false => reading.json(),
            })
            .collect();
        std::fs::write(dir.path().join("input.ndjson"), lines.join("\n") + "\n").unwrap();
        let spec = window_job(
            dir.path(),
            WindowJob {
                window,
                ..WindowJob::default()
            },
        );
        let outcome = run(&spec, &window_options(16));
        let bad = readings.iter().filter(|r| poisoned(r)).count() as u64;
        assert!(bad > 5, "{bad}");
        assert_eq!(
            outcome.summary.errors, bad,
            "{window}: {:?}",
            outcome.summary
        );
        let good: Vec<Reading> = readings.into_iter().filter(|r| !poisoned(r)).collect();
        let size = 100;
        let slide = if window.contains("sliding") { 40 } else { 100 };
        let expected = fixed_reference(&good, |t| {
            let last = t.div_euclid(slide);
            (last - size / slide..=last)
                .map(|k| (k * slide, k * slide + size))
                .filter(|(start, end)| *start <= t && t < *end)
                .collect()
        });
        assert_eq!(last_per_pane(&fired(&outcome, "out")), expected, "{window}");
    }
}

#[test]
fn session_windows_match_the_reference_over_shuffled_input() {
    // With 5 keys over 2000 ms, events of a key are ~33 ms apart on average: a 30 ms gap
    // makes many sessions, and an out-of-order arrival can bridge two, which the host merges.
    matches_reference(r#"{ kind = "session", gap_ms = 30 }"#, 3, |readings| {
        let reference = session_reference(readings, 30);
        let multi = reference.values().filter(|t| t.count > 1).count();
        assert!(multi > 10, "sessions should hold several events: {multi}");
        reference
    });
}

#[test]
fn late_events_go_to_the_late_output_and_allowed_lateness_updates_the_pane() {
    let dir = tempfile::tempdir().unwrap();
    // One event per batch, so the watermark (the largest time so far: no delay) moves after
    // each event. Tumbling windows of 10 ms with 3 ms of allowed lateness: a window [s, s+10)
    // takes events until the watermark reaches s + 9 + 3.
    let input = [
        (5, 1),    // [0, 10)
        (25, 2),   // [20, 30); watermark 25 fires [0, 10) with 1
        (8, 4),    // late: [0, 10) closed at watermark 12
        (31, 8),   // [30, 40); watermark 31 fires [20, 30) with 2
        (27, 16),  // within the lateness of [20, 30) (closes at 32): it fires again with 18
        (50, 32),  // [50, 60); watermark 50 fires [30, 40) with 8
        (39, 64),  // late: [30, 40) closed at watermark 42
        (20, 128), // late: [20, 30) closed at watermark 32
    ];
    let readings: Vec<Reading> = input
        .iter()
        .enumerate()
        .map(|(seq, (time, value))| Reading {
            key: "a".into(),
            time: *time,
            value: *value,
            seq: seq as u64,
        })
        .collect();
    write_input(dir.path(), &readings);
    let spec = window_job(
        dir.path(),
        WindowJob {
            window: r#"{ kind = "tumbling", size_ms = 10, allowed_lateness_ms = 3 }"#,
            watermark_delay_ms: 0,
            parallelism: 1,
            late_sink: true,
        },
    );
    let outcome = run(&spec, &window_options(1));
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);

    let late: Vec<(i64, Value)> = outcome.outputs["late"]
        .iter()
        .map(|event| {
            (
                event.event_time,
                serde_json::from_slice(&event.value).unwrap(),
            )
        })
        .collect();
    let expected_late: Vec<(i64, Value)> = [2, 6, 7]
        .iter()
        .map(|&i| {
            (
                readings[i].time,
                serde_json::from_str(&readings[i].json()).unwrap(),
            )
        })
        .collect();
    assert_eq!(late, expected_late);
    for event in &outcome.outputs["late"] {
        assert_eq!(event.key.as_deref(), Some(&b"a"[..]));
    }

    let fired: Vec<(i64, i64)> = fired(&outcome, "out")
        .into_iter()
        .map(|fired| (fired.pane.1, fired.totals.sum))
        .collect();
    assert_eq!(fired, [(0, 1), (20, 2), (20, 18), (30, 8), (50, 32)]);
}

#[test]
fn late_events_without_a_late_consumer_are_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let readings: Vec<Reading> = [(5, 1), (25, 2), (8, 4)]
        .iter()
        .enumerate()
        .map(|(seq, (time, value))| Reading {
            key: "a".into(),
            time: *time,
            value: *value,
            seq: seq as u64,
        })
        .collect();
    write_input(dir.path(), &readings);
    let spec = window_job(
        dir.path(),
        WindowJob {
            window: r#"{ kind = "tumbling", size_ms = 10 }"#,
            watermark_delay_ms: 0,
            parallelism: 1,
            late_sink: false,
        },
    );
    let outcome = run(&spec, &window_options(1));
    let sums: Vec<i64> = fired(&outcome, "out")
        .iter()
        .map(|f| f.totals.sum)
        .collect();
    assert_eq!(sums, [1, 2]);
    assert_eq!(outcome.summary.errors, 1, "{:?}", outcome.summary);
    let sample = &outcome.summary.error_samples[0];
    assert!(sample.contains("late"), "{sample}");
}

#[test]
fn key_hash_keeps_per_key_order_with_parallelism_4() {
    const KEYS: u64 = 40;
    const PER_KEY: u64 = 30;
    let dir = tempfile::tempdir().unwrap();
    // Keys interleaved at random, each key's events in sequence order.
    let mut rng = Rng(7);
    let mut next_seq = vec![0u64; KEYS as usize];
    let mut lines = Vec::new();
    while lines.len() < (KEYS * PER_KEY) as usize {
        let key = rng.below(KEYS) as usize;
        if next_seq[key] == PER_KEY {
            continue;
        }
        lines.push(
            serde_json::json!({"k": format!("key{key}"), "seq": next_seq[key], "pad": "x"})
                .to_string(),
        );
        next_seq[key] += 1;
    }
    std::fs::write(dir.path().join("input.ndjson"), lines.join("\n")).unwrap();
    let toml = format!(
        r#"
name = "order"
[[source]]
name = "in"
kind = "file"
path = "input.ndjson"
format = "ndjson"
key_field = "k"

[[operator]]
name = "pass"
module = {module}
inputs = ["in"]
partition = "key-hash"
parallelism = 4
config = {{ fields = ["k", "seq"] }}

[[sink]]
name = "out"
kind = "memory"
inputs = ["pass"]
"#,
        module = toml_path(guests::JSON_MAP),
    );
    let spec = parse(&toml, dir.path());
    let outcome = run(&spec, &window_options(3));
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    let events = &outcome.outputs["out"];
    assert_eq!(events.len(), (KEYS * PER_KEY) as usize);
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for event in events {
        let value: Value = serde_json::from_slice(&event.value).unwrap();
        let key = value["k"].as_str().unwrap().to_string();
        assert_eq!(event.key.as_deref(), Some(key.as_bytes()));
        seen.entry(key)
            .or_default()
            .push(value["seq"].as_u64().unwrap());
    }
    assert_eq!(seen.len(), KEYS as usize);
    let expected: Vec<u64> = (0..PER_KEY).collect();
    for (key, seqs) in &seen {
        assert_eq!(seqs, &expected, "events of {key} out of order or missing");
    }
}

#[test]
fn a_window_on_a_module_without_windowed_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.ndjson"), "{\"value\": 1}\n").unwrap();
    let toml = format!(
        r#"
name = "refused"
[[source]]
name = "in"
kind = "file"
path = "input.ndjson"
format = "ndjson"

[[operator]]
name = "agg"
module = {module}
inputs = ["in"]
window = {{ kind = "tumbling", size_ms = 10 }}

[[sink]]
name = "out"
kind = "memory"
inputs = ["agg"]
"#,
        module = toml_path(guests::TUMBLING_SUM),
    );
    let spec = parse(&toml, dir.path());
    let err = match cameo_host::run_job(&spec, &options()) {
        Ok(outcome) => panic!("the job should be refused: {:?}", outcome.summary),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("\"agg\""), "{err}");
    assert!(err.contains("cameo:operator/windowed@0.1.0"), "{err}");
}

#[test]
fn a_windowed_module_without_a_window_says_it_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(dir.path(), guests::WINDOW_AGG, "{}", &["{\"value\": 1}"]);
    let outcome = run(&spec, &options());
    assert!(outcome.outputs["out"].is_empty());
    assert_eq!(outcome.summary.errors, 1, "{:?}", outcome.summary);
    let sample = &outcome.summary.error_samples[0];
    assert!(sample.contains("this operator is windowed"), "{sample}");
    assert!(sample.contains("`window` in the job spec"), "{sample}");
}

#[test]
fn export_macros_decide_which_interfaces_a_component_exports() {
    let engine = OperatorEngine::new(Limits::default()).unwrap();
    let load = |path: &str| OperatorModule::load_file(&engine, Path::new(path)).unwrap();
    let windowed = load(guests::WINDOW_AGG);
    assert!(windowed.windowed().is_some());
    assert!(windowed.joiner().is_none());
    let joiner = load(guests::INTERVAL_JOIN);
    assert!(joiner.joiner().is_some());
    assert!(joiner.windowed().is_none());
    // Everything exported with export_operator!, export_map! or export_filter! exports
    // `handler` alone.
    let plain: BTreeSet<&str> = guests::ALL
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            ![
                "WINDOW_AGG",
                "SPIN_WINDOW",
                "HOSTILE_WINDOW",
                "INTERVAL_JOIN",
            ]
            .contains(name)
        })
        .collect();
    assert!(plain.contains("TUMBLING_SUM") && plain.contains("TRAPPER"));
    for (name, path) in guests::ALL {
        if plain.contains(name) {
            let module = load(path);
            assert!(module.windowed().is_none(), "{name} exports windowed");
            assert!(module.joiner().is_none(), "{name} exports joiner");
        }
    }
}
