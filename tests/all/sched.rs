//! Scheduling: every policy computes the same results; under EDF an urgent job preempts a
//! looping neighbour at the next slice boundary; a tenant over its CPU share falls behind
//! in-share work whatever its deadlines; and the summary reports what each operator cost.
//!
//! Assertions are on results and on the order of slices in the slice trace, never on time.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cameo_host::dataflow::spec::JobSpec;
use cameo_host::job::Host;
use cameo_host::sched::PolicyKind;
use cameo_host::{JobOutcome, RunOptions};
use cameo_tests::guests;
use serde_json::Value;

use crate::support::{
    Rng, options, parse, pipeline, results_under_every_policy, run, toml_path, values,
};

/// Polls `ready` until it holds, failing the test after a generous bound.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Writes `lines` to `<name>.txt` in `dir` and returns the file name.
fn write_lines(dir: &Path, name: &str, lines: &[String]) -> String {
    let file = format!("{name}.txt");
    std::fs::write(dir.join(&file), lines.join("\n")).unwrap();
    file
}

/// Positions of `label` in `trace`.
fn slices_of(trace: &[String], label: &str) -> Vec<usize> {
    trace
        .iter()
        .enumerate()
        .filter(|(_, t)| *t == label)
        .map(|(i, _)| i)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Results do not depend on the policy.

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

/// (key, window start, window end).
type Pane = (String, i64, i64);

/// (sum, count, min, max) of a pane.
type Totals = (i64, u64, i64, i64);

/// 300 readings over 5 keys with event times in [0, 2000), arriving out of order by up to
/// 150 ms. Returns the NDJSON lines and the reference totals of 100 ms tumbling windows.
fn window_input() -> (Vec<String>, BTreeMap<Pane, Totals>) {
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
    let mut reference: BTreeMap<Pane, Totals> = BTreeMap::new();
    let lines = readings
        .into_iter()
        .map(|(_, key, time, value)| {
            let start = time.div_euclid(100) * 100;
            let totals = reference
                .entry((key.clone(), start, start + 100))
                .or_insert((0, 0, i64::MAX, i64::MIN));
            totals.0 += value;
            totals.1 += 1;
            totals.2 = totals.2.min(value);
            totals.3 = totals.3.max(value);
            serde_json::json!({"k": key, "t": time, "value": value}).to_string()
        })
        .collect();
    (lines, reference)
}

fn window_job(dir: &Path) -> JobSpec {
    // A watermark delay above the 150 ms of disorder: no event is ever late.
    let toml = format!(
        r#"
name = "win"
[[source]]
name = "in"
kind = "file"
path = "readings.ndjson"
format = "ndjson"
key_field = "k"
event_time_field = "t"
watermark_delay_ms = 200
[[operator]]
name = "agg"
module = {}
inputs = ["in"]
partition = "key-hash"
parallelism = 2
config = {{ field = "value" }}
window = {{ kind = "tumbling", size_ms = 100 }}
[[sink]]
name = "out"
kind = "memory"
inputs = ["agg"]
"#,
        toml_path(guests::WINDOW_AGG)
    );
    parse(&toml, dir)
}

/// The results `window-agg` emitted, in order.
fn fired(outcome: &JobOutcome) -> Vec<(Pane, Totals)> {
    outcome.outputs["out"]
        .iter()
        .map(|event| {
            let value: Value = serde_json::from_slice(&event.value).unwrap();
            let int = |name: &str| value[name].as_i64().unwrap();
            let pane = (
                value["key"].as_str().unwrap().to_string(),
                int("window_start"),
                int("window_end"),
            );
            let totals = (int("sum"), int("count") as u64, int("min"), int("max"));
            (pane, totals)
        })
        .collect()
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
    std::fs::write(dir.path().join("readings.ndjson"), lines.join("\n")).unwrap();
    let spec = window_job(dir.path());
    results_under_every_policy(&spec, policy_options, |policy, outcome| {
        let fired = fired(outcome);
        let per_pane: BTreeMap<Pane, Totals> = fired.iter().cloned().collect();
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
    assert_eq!(fired(&outcome), [(("a".to_string(), 0, 100), (3, 1, 3, 3))]);
}

// ---------------------------------------------------------------------------------------
// An urgent job preempts a looping neighbour at the next slice boundary.

/// Makes a named pipe at `path` and opens it for reading and writing, so a source can open
/// it without blocking and reads nothing until the test writes; dropping the returned file
/// (the only writer) ends the source's input after what was written.
#[cfg(unix)]
fn gate(path: &Path) -> std::fs::File {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}: {status}", path.display());
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

#[cfg(unix)]
#[test]
fn a_newly_urgent_message_starts_within_one_slice_of_a_looping_neighbour() {
    use std::io::Write as _;

    const SLICE_FUEL: u64 = 10_000;
    const LOOPER_FIRST: usize = 2000;
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.workers = 1;
    options.policy = PolicyKind::Edf;
    options.trace_slices = true;
    options.limits.slice_fuel = SLICE_FUEL;
    // The looper's one call lasts until this much fuel is burned: 100 000 slices, a fraction
    // of a second to a second or two depending on the machine; B needs a few dozen.
    options.limits.fuel_per_call = 1_000_000_000;
    let mut host = Host::new(options).unwrap();

    // Job A loops on its only event; its deadline is 10 s away.
    let input = write_lines(dir.path(), "a", &["loop".to_string()]);
    let spec_a = pipeline(dir.path(), "a", "a", 10_000, &input, guests::LOOPER, "{}");
    let mut job_a = host.submit(&spec_a).unwrap();
    job_a.join_sources();

    // Job B is built now, so that building it does not race the looper's fuel, but its input
    // arrives only when the test writes it: its source reads a named pipe.
    let fifo = dir.path().join("b.fifo");
    let mut gate = gate(&fifo);
    let spec_b = pipeline(
        dir.path(),
        "b",
        "b",
        5,
        fifo.to_str().unwrap(),
        guests::SPIN_SLICE,
        "{ iterations = 30000 }",
    );
    let job_b = host.submit(&spec_b).unwrap();

    host.start().unwrap();
    // The looper is the only runnable task: wait until it is well into its call. Meanwhile
    // tenant "b" banks its share of the worker's time, far more than its own short call will
    // take (a few dozen slices against these 2000), so B stays within its share throughout
    // and the two jobs compete on deadlines alone.
    wait_for("the looper to run 2000 slices", || {
        host.slice_trace().len() >= LOOPER_FIRST
    });
    gate.write_all(b"urgent\n").unwrap();
    drop(gate);
    let outcome_b = job_b.wait().unwrap();
    assert_eq!(values(&outcome_b, "out"), ["urgent"]);
    assert_eq!(outcome_b.summary.errors, 0, "{:?}", outcome_b.summary);

    let outcome_a = job_a.wait().unwrap();
    let trace = host.slice_trace();
    host.shutdown();
    assert!(outcome_a.outputs["out"].is_empty());
    assert_eq!(outcome_a.summary.errors, 1, "{:?}", outcome_a.summary);
    let sample = &outcome_a.summary.error_samples[0];
    assert!(sample.contains("ran out of fuel"), "{sample}");

    // With one worker the trace is the exact order of slices. B's event came in while the
    // looper was mid-call (it had no input before), so B's first slice starts its call. That
    // call's priority is due 5 ms after ingest, the looper's 10 s: after every slice the
    // worker picks B again, and the looper runs only once B's call is done. B's call burned
    // `fuel` in slices of SLICE_FUEL, so it spans at least fuel / SLICE_FUEL - 1 slices; half
    // that is a safe lower bound. (Before B's first slice the looper may run one more slice:
    // the one in progress when the event arrived. When that was is not in the trace, so it
    // is not asserted.)
    let looper = "a/op";
    let urgent = "b/op";
    let b = slices_of(&trace, urgent);
    let first = *b.first().expect("B ran");
    let last = *b.last().unwrap();
    assert!(
        first >= LOOPER_FIRST,
        "B had no input before the looper's slice {LOOPER_FIRST}"
    );
    assert!(
        trace[..first].iter().all(|t| t == looper),
        "{:?}",
        &trace[..first]
    );
    let fuel = outcome_b.summary.operators[urgent].fuel;
    assert!(
        fuel >= 40 * SLICE_FUEL,
        "B's call should span many slices: {fuel} fuel"
    );
    let run = trace[first..].iter().take_while(|t| *t == urgent).count() as u64;
    assert!(
        run >= fuel / SLICE_FUEL / 2,
        "B's call ({fuel} fuel) was interrupted after {run} slices: {:?}",
        &trace[first..=last]
    );
    // After its call B only handles the watermark and the end of its input, which its source
    // sends after the event and which may each arrive after the call: at most two slices.
    assert!(
        b.len() as u64 <= run + 2,
        "B ran {} slices outside its call: {:?}",
        b.len() as u64 - run,
        &trace[first..=last]
    );
    // B finished while the looper was still in its call: the looper ran on after B's last
    // slice, far more than the slice or two it needs for the end of its own input.
    let after = trace[last + 1..].iter().filter(|t| *t == looper).count();
    assert!(
        after >= 10,
        "the looper ran only {after} slices after B finished"
    );
    assert_eq!(b.len() + slices_of(&trace, looper).len(), trace.len());
}

// ---------------------------------------------------------------------------------------
// A tenant over its share falls behind in-share work.

/// Tenants "greedy" and "modest" on one worker under EDF, in slices of `slice_fuel`:
/// greedy's 400 events are due 1 ms after ingest and need about 1.1e10 fuel in all (a good
/// fraction of a second); modest's 4 events are due 10 s after ingest and need about 1.5e6.
/// Both jobs' input is queued before the worker starts.
///
/// Both tenants start within their share, and greedy's deadlines are earlier: greedy runs
/// first. It keeps the worker to itself, so once it has used up what it banked (a few tens
/// of ms of worker time at most) it is over its half share and modest, within its own, goes
/// first whatever the deadlines: modest is done long before greedy. With deadlines alone
/// greedy would run to its end first.
fn over_share_tenant_falls_behind(slice_fuel: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.workers = 1;
    options.policy = PolicyKind::Edf;
    options.trace_slices = true;
    options.limits.slice_fuel = slice_fuel;
    options.limits.batch_size = 1;
    let mut host = Host::new(options).unwrap();

    let greedy_lines: Vec<String> = (0..400).map(|i| format!("g{i}")).collect();
    let input = write_lines(dir.path(), "greedy", &greedy_lines);
    let config = "{ iterations = 1500000 }";
    let spec = pipeline(
        dir.path(),
        "greedy",
        "greedy",
        1,
        &input,
        guests::SPIN_SLICE,
        config,
    );
    let mut greedy = host.submit(&spec).unwrap();
    greedy.join_sources();
    let modest_lines: Vec<String> = (0..4).map(|i| format!("m{i}")).collect();
    let input = write_lines(dir.path(), "modest", &modest_lines);
    let config = "{ iterations = 20000 }";
    let spec = pipeline(
        dir.path(),
        "modest",
        "modest",
        10_000,
        &input,
        guests::SPIN_SLICE,
        config,
    );
    let mut modest = host.submit(&spec).unwrap();
    modest.join_sources();

    host.start().unwrap();
    let modest = modest.wait().unwrap();
    let greedy = greedy.wait().unwrap();
    let trace = host.slice_trace();
    host.shutdown();
    assert_eq!(values(&modest, "out"), modest_lines);
    assert_eq!(values(&greedy, "out"), greedy_lines);
    assert_eq!(greedy.summary.errors, 0, "{:?}", greedy.summary);

    let g = slices_of(&trace, "greedy/op");
    let m = slices_of(&trace, "modest/op");
    assert_eq!(g.len() + m.len(), trace.len());
    assert_eq!(
        trace[0], "greedy/op",
        "within shares the earlier deadline goes first"
    );
    let modest_done = *m.last().unwrap();
    let greedy_after = g.iter().filter(|&&i| i > modest_done).count();
    // Not asserted: how many greedy slices come between modest's. Shares refill by the clock,
    // so any pause of the worker thread lets greedy back within its share for a while. That
    // modest finishes before greedy is half done holds whatever the pauses: greedy's head
    // start is bounded by its bank, a small part of its work.
    assert!(
        greedy_after * 2 >= g.len(),
        "modest finished after {} of greedy's {} slices (first modest slice at {})",
        g.len() - greedy_after,
        g.len(),
        m[0]
    );
}

#[test]
fn an_over_share_tenant_is_demoted_behind_in_share_work() {
    // Long slices: the time a tenant is charged for is the time of its slices, so with short
    // ones the scheduler's own work between slices is a large unaccounted part (see below).
    over_share_tenant_falls_behind(1_000_000);
}

#[test]
fn a_tenant_keeping_the_only_worker_busy_with_short_slices_is_over_a_half_share() {
    over_share_tenant_falls_behind(10_000);
}

// ---------------------------------------------------------------------------------------
// The summary.

#[test]
fn the_summary_reports_operator_costs_under_edf() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "a\nb\nc").unwrap();
    let toml = format!(
        r#"
name = "costs"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "spin"
module = {spin}
inputs = ["in"]
config = {{ iterations = 10000 }}
[[operator]]
name = "pass"
module = {pass}
inputs = ["spin"]
[[sink]]
name = "out"
kind = "memory"
inputs = ["pass"]
"#,
        spin = toml_path(guests::SPIN_SLICE),
        pass = toml_path(guests::LOOPER),
    );
    let spec = parse(&toml, dir.path());
    let mut options = options();
    options.policy = PolicyKind::Edf;
    let outcome = run(&spec, &options);
    assert_eq!(values(&outcome, "out"), ["a", "b", "c"]);
    let summary = &outcome.summary;
    assert_eq!(summary.errors, 0, "{summary:?}");
    let spin = &summary.operators["costs/spin"];
    let pass = &summary.operators["costs/pass"];
    for stats in [spin, pass] {
        assert!(stats.calls > 0 && stats.fuel > 0, "{summary:?}");
        assert_eq!(stats.errors, 0, "{summary:?}");
        assert_eq!(stats.fuel_per_call, stats.fuel / stats.calls, "{summary:?}");
    }
    assert_eq!(spin.fuel + pass.fuel, summary.fuel, "{summary:?}");
    assert_eq!(spin.calls + pass.calls, summary.calls, "{summary:?}");
    // Every one of the 30 000 loop iterations costs fuel.
    assert!(spin.fuel >= 30_000, "{summary:?}");
    assert!(spin.fuel > pass.fuel, "{summary:?}");
    // The profiled costs: per message here, and what is still ahead downstream.
    assert!(spin.cost_us > 0.0, "{summary:?}");
    assert_eq!(spin.downstream_us, pass.cost_us, "{summary:?}");
    assert_eq!(pass.downstream_us, 0.0, "{summary:?}");
}
