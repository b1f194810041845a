//! Host-managed windows with the `window-agg` guest, checked against references computed
//! here; per-key order over a key-hash edge; and which interfaces the SDK's export macros
//! make a component export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cameo_host::engine::OperatorEngine;
use cameo_host::registry;
use cameo_host::{JobOutcome, Limits, RunOptions};
use cameo_tests::guests;
use serde_json::Value;

use crate::support::{Rng, one_operator_job, options, parse, run, toml_path};

/// One input event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Reading {
    key: String,
    time: i64,
    value: i64,
    seq: u64,
}

impl Reading {
    fn json(&self) -> String {
        serde_json::json!({"k": self.key, "t": self.time, "value": self.value, "seq": self.seq})
            .to_string()
    }
}

/// The aggregate of one pane, as `window-agg` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Totals {
    sum: i64,
    count: u64,
    min: i64,
    max: i64,
}

impl Totals {
    fn of(values: impl IntoIterator<Item = i64>) -> Self {
        let mut totals = Totals {
            sum: 0,
            count: 0,
            min: i64::MAX,
            max: i64::MIN,
        };
        for value in values {
            totals.sum += value;
            totals.count += 1;
            totals.min = totals.min.min(value);
            totals.max = totals.max.max(value);
        }
        totals
    }
}

/// (key, window start, window end).
type PaneId = (String, i64, i64);

/// How far arrival order strays from event-time order, in ms.
const JITTER_MS: u64 = 150;
/// More than the jitter, so no event is ever late.
const SAFE_DELAY_MS: u64 = 200;

/// 300 readings over 5 keys with event times in [0, 2000), in a shuffled arrival order:
/// sorted by event time plus a random delay of up to `JITTER_MS`, so the input is out of
/// order by up to that much and windows still close while it is read.
fn shuffled_readings(seed: u64) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let mut arrivals: Vec<(i64, usize, Reading)> = (0..300)
        .map(|i| {
            let reading = Reading {
                key: format!("key{}", rng.below(5)),
                time: rng.below(2000) as i64,
                value: rng.below(101) as i64 - 20,
                seq: i as u64,
            };
            let arrival = reading.time + rng.below(JITTER_MS) as i64;
            (arrival, i, reading)
        })
        .collect();
    arrivals.sort();
    let readings: Vec<Reading> = arrivals.into_iter().map(|(_, _, r)| r).collect();
    let out_of_order = readings
        .windows(2)
        .filter(|pair| pair[1].time < pair[0].time)
        .count();
    assert!(out_of_order > 50, "the input should be well shuffled");
    readings
}

fn write_input(dir: &Path, readings: &[Reading]) {
    let lines: Vec<String> = readings.iter().map(Reading::json).collect();
    std::fs::write(dir.join("input.ndjson"), lines.join("\n") + "\n").unwrap();
}

/// Options with small batches (so batches straddle window boundaries) and several workers.
fn window_options(batch_size: usize) -> RunOptions {
    let mut options = options();
    options.workers = 4;
    options.limits.batch_size = batch_size;
    options
}

/// A job: `input.ndjson` → `agg` (window-agg with `window`, key-hash, `parallelism`) → memory
/// sink `out`; with `late_sink`, a memory sink `late` reading `agg:late`.
fn window_job(
    dir: &Path,
    window: &str,
    delay_ms: u64,
    parallelism: usize,
    late_sink: bool,
) -> cameo_host::dataflow::spec::JobSpec {
    let late = if late_sink {
        "[[sink]]\nname = \"late\"\nkind = \"memory\"\ninputs = [\"agg:late\"]\n"
    } else {
        ""
    };
    let toml = format!(
        r#"
name = "windows"
[[source]]
name = "in"
kind = "file"
path = "input.ndjson"
format = "ndjson"
key_field = "k"
event_time_field = "t"
watermark_delay_ms = {delay_ms}

[[operator]]
name = "agg"
module = {module}
inputs = ["in"]
partition = "key-hash"
parallelism = {parallelism}
config = {{ field = "value" }}
window = {window}

[[sink]]
name = "out"
kind = "memory"
inputs = ["agg"]
{late}"#,
        module = toml_path(guests::WINDOW_AGG),
    );
    parse(&toml, dir)
}

/// One result of `window-agg`, checked for consistency with the event carrying it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fired {
    pane: PaneId,
    totals: Totals,
}

fn fired(outcome: &JobOutcome, sink: &str) -> Vec<Fired> {
    let events = outcome.outputs.get(sink).map(Vec::as_slice).unwrap_or(&[]);
    events
        .iter()
        .map(|event| {
            let value: Value = serde_json::from_slice(&event.value).unwrap();
            let int = |name: &str| {
                value[name]
                    .as_i64()
                    .unwrap_or_else(|| panic!("`{name}` is not an integer in {value}"))
            };
            let key = value["key"].as_str().unwrap().to_string();
            let (start, end) = (int("window_start"), int("window_end"));
            assert_eq!(event.key.as_deref(), Some(key.as_bytes()), "{value}");
            assert_eq!(event.event_time, end - 1, "{value}");
            Fired {
                pane: (key, start, end),
                totals: Totals {
                    sum: int("sum"),
                    count: int("count") as u64,
                    min: int("min"),
                    max: int("max"),
                },
            }
        })
        .collect()
}

/// The last result emitted per pane.
fn last_per_pane(fired: &[Fired]) -> BTreeMap<PaneId, Totals> {
    fired
        .iter()
        .map(|fired| (fired.pane.clone(), fired.totals))
        .collect()
}

/// The reference for windows that each event belongs to by its time alone (tumbling and
/// sliding): `windows(t)` lists them.
fn fixed_reference(
    readings: &[Reading],
    windows: impl Fn(i64) -> Vec<(i64, i64)>,
) -> BTreeMap<PaneId, Totals> {
    let mut values: BTreeMap<PaneId, Vec<i64>> = BTreeMap::new();
    for reading in readings {
        for (start, end) in windows(reading.time) {
            values
                .entry((reading.key.clone(), start, end))
                .or_default()
                .push(reading.value);
        }
    }
    values
        .into_iter()
        .map(|(pane, values)| (pane, Totals::of(values)))
        .collect()
}

/// The reference for session windows with `gap`: per key, an event at `t` spans
/// `[t, t + gap)` and overlapping spans form one session.
fn session_reference(readings: &[Reading], gap: i64) -> BTreeMap<PaneId, Totals> {
    let mut by_key: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for reading in readings {
        by_key
            .entry(&reading.key)
            .or_default()
            .push((reading.time, reading.value));
    }
    let mut reference = BTreeMap::new();
    for (key, mut events) in by_key {
        events.sort();
        let mut session: Option<(i64, i64, Vec<i64>)> = None;
        for (time, value) in events {
            match &mut session {
                Some((_, end, values)) if time < *end => {
                    *end = (*end).max(time + gap);
                    values.push(value);
                }
                _ => {
                    if let Some((start, end, values)) = session.take() {
                        reference.insert((key.to_string(), start, end), Totals::of(values));
                    }
                    session = Some((time, time + gap, vec![value]));
                }
            }
        }
        if let Some((start, end, values)) = session {
            reference.insert((key.to_string(), start, end), Totals::of(values));
        }
    }
    reference
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
    let spec = window_job(dir.path(), window, SAFE_DELAY_MS, 2, false);
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
        r#"{ kind = "tumbling", size_ms = 10, allowed_lateness_ms = 3 }"#,
        0,
        1,
        true,
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
        r#"{ kind = "tumbling", size_ms = 10 }"#,
        0,
        1,
        false,
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
    let load = |path: &str| registry::load_file(&engine, Path::new(path)).unwrap();
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
        .filter(|name| !["WINDOW_AGG", "SPIN_WINDOW", "INTERVAL_JOIN"].contains(name))
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
