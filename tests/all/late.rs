//! Late data is accounted for: an event late for some or all of its windows reaches the late
//! output with the windows it missed, an event in the gap of a dropped session is late rather
//! than a new overlapping session, and a session result that a later merge replaces is
//! retracted. Nothing an input carried vanishes.

use std::collections::BTreeMap;

use cameo_host::{Event, JobOutcome};
use serde_json::Value;

use crate::support::window_agg::{
    PaneId, Totals, WindowJob, fixed_reference, shuffled_readings, window_job, write_input,
};
use crate::support::{options, run};

/// The header late events carry, and the one retractions carry.
const LATE_WINDOWS: &str = "cameo-late-windows";
const RETRACTION: &str = "cameo-retraction";

fn header<'a>(event: &'a Event, name: &str) -> Option<&'a [u8]> {
    event
        .headers
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.value.as_slice())
}

/// Per pane, what the late output carried for it: the events' values, by the windows each
/// says it missed.
fn late_per_pane(outcome: &JobOutcome) -> BTreeMap<PaneId, Totals> {
    let mut late: BTreeMap<PaneId, Totals> = BTreeMap::new();
    for event in outcome.outputs.get("late").into_iter().flatten() {
        let value: Value = serde_json::from_slice(&event.value).unwrap();
        let key = value["k"].as_str().unwrap().to_string();
        let missed: Vec<(i64, i64)> =
            serde_json::from_slice(header(event, LATE_WINDOWS).expect("late windows")).unwrap();
        assert!(!missed.is_empty(), "{value}");
        for (start, end) in missed {
            late.entry((key.clone(), start, end))
                .or_insert(Totals::NONE)
                .add(value["value"].as_i64().unwrap());
        }
    }
    late
}

/// The final result per pane (results are not retracted without sessions).
fn results(outcome: &JobOutcome) -> BTreeMap<PaneId, (i64, u64)> {
    let mut results = BTreeMap::new();
    for event in outcome.outputs.get("out").into_iter().flatten() {
        let value: Value = serde_json::from_slice(&event.value).unwrap();
        let pane = (
            value["key"].as_str().unwrap().to_string(),
            value["window_start"].as_i64().unwrap(),
            value["window_end"].as_i64().unwrap(),
        );
        results.insert(
            pane,
            (
                value["sum"].as_i64().unwrap(),
                value["count"].as_u64().unwrap(),
            ),
        );
    }
    results
}

#[test]
fn nothing_vanishes_from_sliding_windows_when_events_are_late_for_some() {
    let dir = tempfile::tempdir().unwrap();
    let readings = shuffled_readings(11);
    write_input(dir.path(), &readings);
    let spec = window_job(
        dir.path(),
        WindowJob {
            window: r#"{ kind = "sliding", size_ms = 100, slide_ms = 25 }"#,
            watermark_delay_ms: 0,
            late_sink: true,
            ..WindowJob::default()
        },
    );
    let outcome = run(&spec, &options());
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    let size_100_slide_25 = |t: i64| {
        let last = t.div_euclid(25) * 25;
        (0..4)
            .map(|i| (last - 25 * i, last - 25 * i + 100))
            .rev()
            .collect::<Vec<_>>()
    };
    let reference = fixed_reference(&readings, size_100_slide_25);
    let fired = results(&outcome);
    let late = late_per_pane(&outcome);
    assert!(!late.is_empty(), "the input should make some events late");
    let partly_late = outcome.outputs["late"]
        .iter()
        .filter(|e| {
            let missed: Vec<(i64, i64)> =
                serde_json::from_slice(header(e, LATE_WINDOWS).unwrap()).unwrap();
            missed.len() < 4
        })
        .count();
    assert!(
        partly_late > 0,
        "some events should be late for some windows only"
    );
    for (pane, expected) in &reference {
        let (sum, count) = fired.get(pane).copied().unwrap_or((0, 0));
        let missed = late.get(pane).copied().unwrap_or(Totals::NONE);
        assert_eq!(
            (sum + missed.sum, count + missed.count),
            (expected.sum, expected.count),
            "pane {pane:?}: fired {sum}/{count}, late {}/{}",
            missed.sum,
            missed.count
        );
    }
}

#[test]
fn sessions_retract_results_a_merge_replaced_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let readings = shuffled_readings(5);
    write_input(dir.path(), &readings);
    let spec = window_job(
        dir.path(),
        WindowJob {
            window: r#"{ kind = "session", gap_ms = 40, allowed_lateness_ms = 60 }"#,
            watermark_delay_ms: 0,
            late_sink: true,
            ..WindowJob::default()
        },
    );
    let outcome = run(&spec, &options());
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    // Replay the output in order: a retraction withdraws the result of its window.
    let mut standing: BTreeMap<PaneId, (i64, u64)> = BTreeMap::new();
    let mut retractions = 0;
    for event in &outcome.outputs["out"] {
        let value: Value = serde_json::from_slice(&event.value).unwrap();
        if header(event, RETRACTION).is_some() {
            retractions += 1;
            let key = String::from_utf8(event.key.clone().unwrap()).unwrap();
            let window = &value["retracts"];
            let pane = (
                key,
                window["window_start"].as_i64().unwrap(),
                window["window_end"].as_i64().unwrap(),
            );
            assert!(
                standing.remove(&pane).is_some(),
                "a retraction of {pane:?}, which had no standing result"
            );
            continue;
        }
        let pane = (
            value["key"].as_str().unwrap().to_string(),
            value["window_start"].as_i64().unwrap(),
            value["window_end"].as_i64().unwrap(),
        );
        standing.insert(
            pane,
            (
                value["sum"].as_i64().unwrap(),
                value["count"].as_u64().unwrap(),
            ),
        );
    }
    assert!(
        retractions > 0,
        "the input should make sessions grow after firing"
    );
    // The standing results of a key never overlap: each is a final session.
    let mut by_key: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for (key, start, end) in standing.keys() {
        by_key.entry(key).or_default().push((*start, *end));
    }
    for (key, sessions) in &by_key {
        for pair in sessions.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{key}: sessions overlap: {sessions:?}"
            );
        }
    }
    // Every input value is in exactly one standing result or in the late output.
    let mut total: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for ((key, _, _), (sum, count)) in &standing {
        let entry = total.entry(key.clone()).or_default();
        entry.0 += sum;
        entry.1 += count;
    }
    for event in outcome.outputs.get("late").into_iter().flatten() {
        let value: Value = serde_json::from_slice(&event.value).unwrap();
        let entry = total
            .entry(value["k"].as_str().unwrap().to_string())
            .or_default();
        entry.0 += value["value"].as_i64().unwrap();
        entry.1 += 1;
    }
    let mut expected: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for reading in &readings {
        let entry = expected.entry(reading.key.clone()).or_default();
        entry.0 += reading.value;
        entry.1 += 1;
    }
    assert_eq!(total, expected);
}
