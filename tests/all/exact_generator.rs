//! The generator's exact mode through `window-agg`: every field is a function of the sequence
//! number (key `k{seq % keys}`, value `seq % 101`, event time `seq * 1000 / event_rate` ms),
//! so the windows are known in advance, computed here, and must come out exactly; and they
//! close as event time advances, not only at the end of the input.

use std::collections::BTreeMap;
use std::path::Path;

use cameo_host::{Host, JobSpec};
use cameo_tests::guests;

use crate::support::window_agg::{PaneId, Totals, fired, last_per_pane};
use crate::support::{options, parse, run, toml_path, wait_for};

/// A job: an exact generator of `count` events over `keys` keys at `event_rate` events per
/// second of event time (paced at `rate` per second of wall time, 0 for unpaced) → `agg`
/// (window-agg, tumbling 1 s windows, over a key-hash edge, `parallelism` instances) →
/// memory sink `out`.
fn exact_job(
    dir: &Path,
    count: u64,
    keys: u64,
    event_rate: u64,
    rate: f64,
    parallelism: usize,
) -> JobSpec {
    let toml = format!(
        r#"
name = "exact"
[[source]]
name = "in"
kind = "generator"
mode = "exact"
count = {count}
keys = {keys}
event_rate = {event_rate}
rate = {rate:?}
payload_bytes = 8

[[operator]]
name = "agg"
module = {module}
inputs = ["in"]
partition = "key-hash"
parallelism = {parallelism}
window = {{ kind = "tumbling", size_ms = 1000 }}

[[sink]]
name = "out"
kind = "memory"
inputs = ["agg"]
"#,
        module = toml_path(guests::WINDOW_AGG),
    );
    parse(&toml, dir)
}

/// The windows of `count` exact events, computed from the formulas.
fn expected(count: u64, keys: u64, event_rate: u64) -> BTreeMap<PaneId, Totals> {
    let mut panes: BTreeMap<PaneId, Totals> = BTreeMap::new();
    for seq in 0..count {
        let time = (seq * 1000 / event_rate) as i64;
        let start = time / 1000 * 1000;
        panes
            .entry((format!("k{}", seq % keys), start, start + 1000))
            .or_insert(Totals::NONE)
            .add((seq % 101) as i64);
    }
    panes
}

/// Checks that `fired` holds each pane of `expected` exactly once, with its totals.
fn assert_exact(fired: &[crate::support::window_agg::Fired], expected: &BTreeMap<PaneId, Totals>) {
    let actual = last_per_pane(fired);
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
    for (pane, totals) in expected {
        assert_eq!(&actual[pane], totals, "pane {pane:?}");
    }
    assert_eq!(fired.len(), expected.len(), "a pane fired more than once");
}

#[test]
fn tumbling_windows_over_the_exact_generator_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    // 7.5 s of event time: 8 windows (the last one half full) of 7 keys, the window length
    // not a multiple of the keys, nor the value's period.
    let (count, keys, event_rate) = (30_000, 7, 4000);
    let spec = exact_job(dir.path(), count, keys, event_rate, 0.0, 2);
    let mut options = options();
    // Small batches, so batches straddle window ends.
    options.limits.batch_size = 37;
    let outcome = run(&spec, &options);
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    assert_eq!(outcome.summary.events_in, count);
    let expected = expected(count, keys, event_rate);
    assert_eq!(expected.len(), 8 * 7);
    assert_exact(&fired(&outcome, "out"), &expected);
}

#[test]
fn exact_windows_close_as_event_time_advances() {
    let dir = tempfile::tempdir().unwrap();
    // 1.5 s of wall time for 3 s of event time: the first window closes half a second in,
    // a second before the input ends.
    let (count, keys, event_rate) = (15_000, 5, 5000);
    let spec = exact_job(dir.path(), count, keys, event_rate, 10_000.0, 1);
    let mut host = Host::new(options()).unwrap();
    let job = host.submit(&spec).unwrap();
    host.start().unwrap();
    let mut early = None;
    wait_for("the first window", || {
        let summary = job.summary();
        if summary.events_out > 0 {
            early = Some(summary.events_in);
        }
        early.is_some() || job.is_finished()
    });
    let outcome = job.wait().unwrap();
    host.shutdown();
    let events_in = early.expect("a window fired before the job ended");
    assert!(
        events_in < count,
        "the first window fired only after all {count} events were in"
    );
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    assert_exact(&fired(&outcome, "out"), &expected(count, keys, event_rate));
}
