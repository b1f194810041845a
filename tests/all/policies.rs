//! Every policy computes the same results: wordcount and windows under fifo, rr, edf, llf
//! and sjf, and a window closed only by the end of input fires under EDF.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cameo_host::JobSpec;
use cameo_host::PolicyKind;
use cameo_host::{JobOutcome, RunOptions};
use cameo_tests::guests;
use serde_json::Value;

use crate::support::window_agg::{
    Fired, PaneId, Totals, WindowJob, fired, last_per_pane, window_job,
};
use crate::support::{Rng, options, parse, results_under_every_policy, toml_path};

const WORDS: &[&str] = &[
    "fox", "dog", "river", "stream", "event", "window", "actor", "slice", "fuel", "tenant",
    "deadline", "queue",
];

/// 300 NDJSON lines, each keyed (`w`) by one word and holding it 1 to 3 times in mixed case
/// (`text`), so key-hash partitioning sends every occurrence of a word to the same instance.
/// Returns the lines and the reference count per word.
fn wordcount_input() -> (Vec<String>, BTreeMap<String, u64>) {
    let mut rng = Rng(11);
    let mut counts = BTreeMap::new();
    let lines = (0..300)
        .map(|_| {
            let word = WORDS[rng.below(WORDS.len() as u64) as usize];
            let repeats = 1 + rng.below(3);
            let text: Vec<String> = (0..repeats)
                .map(|i| match i {
                    0 => word.to_string(),
                    1 => word.to_uppercase(),
                    _ => format!("{}{}", word[..1].to_uppercase(), &word[1..]),
                })
                .collect();
            *counts.entry(word.to_string()).or_insert(0) += repeats;
            serde_json::json!({"w": word, "text": text.join(", ")}).to_string()
        })
        .collect();
    (lines, counts)
}

fn wordcount_job(dir: &Path) -> JobSpec {
    let toml = format!(
        r#"
name = "wc"
[[source]]
name = "in"
kind = "file"
path = "words.ndjson"
format = "ndjson"
key_field = "w"
[[operator]]
name = "count"
module = {}
inputs = ["in"]
partition = "key-hash"
parallelism = 2
[[sink]]
name = "out"
kind = "memory"
inputs = ["count"]
"#,
        toml_path(guests::WORDCOUNT)
    );
    parse(&toml, dir)
}

/// Per word, the running counts in the order the sink received them.
fn running_counts(outcome: &JobOutcome) -> BTreeMap<String, Vec<u64>> {
    let mut counts: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for event in &outcome.outputs["out"] {
        let value: Value = serde_json::from_slice(&event.value).unwrap();
        let word = value["word"].as_str().unwrap().to_string();
        assert_eq!(event.key.as_deref(), Some(word.as_bytes()), "{value}");
        counts
            .entry(word)
            .or_default()
            .push(value["count"].as_u64().unwrap());
    }
    counts
}

/// 300 readings over 5 keys with event times in [0, 2000), arriving out of order by up to
/// 150 ms. Returns the NDJSON lines and the reference totals of 100 ms tumbling windows.
fn window_input() -> (Vec<String>, BTreeMap<PaneId, Totals>) {
    let mut rng = Rng(5);
    let mut readings: Vec<(i64, String, i64, i64)> = (0..300)
        .map(|_| {
            let key = format!("key{}", rng.below(5));
            let time = rng.below(2000) as i64;
            let value = rng.below(101) as i64 - 20;
            let arrival = time + rng.below(150) as i64;
            (arrival, key, time, value)
        })
        .collect();
    readings.sort();
    let out_of_order = readings.windows(2).filter(|p| p[1].2 < p[0].2).count();
    assert!(out_of_order > 50, "the input should be well shuffled");
    let mut reference: BTreeMap<PaneId, Totals> = BTreeMap::new();
    let lines = readings
        .into_iter()
        .map(|(_, key, time, value)| {
            let start = time.div_euclid(100) * 100;
            reference
                .entry((key.clone(), start, start + 100))
                .or_insert(Totals::NONE)
                .add(value);
            serde_json::json!({"k": key, "t": time, "value": value}).to_string()
        })
        .collect();
    (lines, reference)
}

/// Options for the policy runs: two workers, small batches.
fn policy_options(policy: PolicyKind) -> RunOptions {
    let mut options = options();
    options.workers = 2;
    options.policy = policy;
    options.limits.batch_size = 4;
    options
}

#[test]
fn wordcount_results_are_identical_under_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, reference) = wordcount_input();
    std::fs::write(dir.path().join("words.ndjson"), lines.join("\n")).unwrap();
    let spec = wordcount_job(dir.path());
    results_under_every_policy(&spec, policy_options, |policy, outcome| {
        let running = running_counts(outcome);
        for (word, counts) in &running {
            // A word always goes to the same instance, whose output keeps its order: the
            // running counts arrive as 1, 2, 3, ... with none missing.
            let expected: Vec<u64> = (1..=counts.len() as u64).collect();
            assert_eq!(counts, &expected, "{policy:?}: counts of {word}");
        }
        let last: BTreeMap<String, u64> = running
            .iter()
            .map(|(word, counts)| (word.clone(), *counts.last().unwrap()))
            .collect();
        assert_eq!(last, reference, "{policy:?}");
        last
    });
}

#[test]
fn window_results_are_identical_under_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, reference) = window_input();
    std::fs::write(dir.path().join("input.ndjson"), lines.join("\n")).unwrap();
    let spec = window_job(
        dir.path(),
        WindowJob {
            window: r#"{ kind = "tumbling", size_ms = 100 }"#,
            // Above the 150 ms of disorder: no event is ever late.
            watermark_delay_ms: 200,
            parallelism: 2,
            late_sink: false,
        },
    );
    results_under_every_policy(&spec, policy_options, |policy, outcome| {
        let fired = fired(outcome, "out");
        let per_pane = last_per_pane(&fired);
        assert_eq!(
            fired.len(),
            per_pane.len(),
            "{policy:?}: on-time input fires every pane once"
        );
        assert_eq!(per_pane, reference, "{policy:?}");
        per_pane
    });
}

#[test]
fn a_window_closed_only_by_the_end_of_input_fires_under_edf() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("readings.ndjson"),
        "{\"k\": \"a\", \"t\": 5, \"value\": 3}\n",
    )
    .unwrap();
    // A watermark delay so large that the watermark stays near i64::MIN (5 - i64::MAX - 1):
    // the window can only fire at the end of the input.
    let toml = format!(
        r#"
name = "nowm"
[[source]]
name = "in"
kind = "file"
path = "readings.ndjson"
format = "ndjson"
key_field = "k"
event_time_field = "t"
watermark_delay_ms = 9223372036854775807
[[operator]]
name = "agg"
module = {}
inputs = ["in"]
config = {{ field = "value" }}
window = {{ kind = "tumbling", size_ms = 100 }}
[[sink]]
name = "out"
kind = "memory"
inputs = ["agg"]
"#,
        toml_path(guests::WINDOW_AGG)
    );
    let spec = parse(&toml, dir.path());
    let mut options = policy_options(PolicyKind::Edf);
    options.workers = 1;
    // Short slices, so the fire call spans several and the worker asks the actor for its
    // priority while the call is in flight.
    options.limits.slice_fuel = 1_000;
    // A worker that panics never finishes the job: wait on another thread, bounded.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(cameo_host::run_job(&spec, &options).map_err(|e| e.to_string()));
    });
    let outcome = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the job did not finish (a worker thread died)")
        .unwrap();
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    let only = Fired {
        pane: ("a".to_string(), 0, 100),
        totals: Totals {
            sum: 3,
            count: 1,
            min: 3,
            max: 3,
        },
    };
    assert_eq!(fired(&outcome, "out"), [only]);
}
