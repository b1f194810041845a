//! Fuel slicing: calls yield every slice and the executor interleaves actors (deterministic:
//! one worker, all input queued before the workers start; no sleeps, no timing).

use cameo_tests::guests;

use crate::support::{options, parse, run, toml_path, values};

/// A job that burns `iterations` loop iterations per line of `input` on `parallelism`
/// instances of the spin-slice guest.
struct SpinJob<'a> {
    input: &'a str,
    parallelism: usize,
    iterations: u64,
}

/// The job spec of `job`, its input written to `input.txt` in `dir`.
fn spin_job(dir: &std::path::Path, job: SpinJob) -> cameo_host::JobSpec {
    let SpinJob {
        input,
        parallelism,
        iterations,
    } = job;
    std::fs::write(dir.join("input.txt"), input).unwrap();
    let toml = format!(
        "name = \"spin\"\n[[source]]\nname = \"in\"\nkind = \"file\"\npath = \"input.txt\"\n\
         [[operator]]\nname = \"burn\"\nmodule = {}\ninputs = [\"in\"]\nparallelism = {parallelism}\n\
         config = {{ iterations = {iterations} }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"burn\"]\n",
        toml_path(guests::SPIN_SLICE)
    );
    parse(&toml, dir)
}

#[test]
fn two_busy_actors_interleave_slice_by_slice_on_one_worker() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spin_job(
        dir.path(),
        SpinJob {
            input: "first\nsecond",
            parallelism: 2,
            iterations: 2_000_000,
        },
    );
    let mut options = options();
    options.workers = 1;
    // Round robin: a yielding call goes to the back of the queue.
    options.policy = cameo_host::PolicyKind::RoundRobin;
    options.trace_slices = true;
    options.start_after_sources = true;
    options.limits.batch_size = 1;
    options.limits.slice_fuel = 10_000;
    let outcome = run(&spec, &options);
    let mut out = values(&outcome, "out");
    out.sort();
    assert_eq!(out, ["first", "second"]);

    let trace = &outcome.slice_trace;
    let a = "spin/burn#0";
    let b = "spin/burn#1";
    let last = |label: &str| trace.iter().rposition(|t| t == label).unwrap();
    let both_busy_until = last(a).min(last(b));
    assert!(
        both_busy_until > 20,
        "each call should take many slices: {trace:?}"
    );
    for pair in trace[..=both_busy_until].windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "one actor ran two slices in a row while the other waited: {trace:?}"
        );
    }
}

#[test]
fn a_longer_slice_means_fewer_slices_for_the_same_work() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spin_job(
        dir.path(),
        SpinJob {
            input: "x",
            parallelism: 1,
            iterations: 1_000_000,
        },
    );
    let slices = |slice_fuel: u64| {
        let mut options = options();
        options.workers = 1;
        options.policy = cameo_host::PolicyKind::RoundRobin;
        options.trace_slices = true;
        options.start_after_sources = true;
        options.limits.slice_fuel = slice_fuel;
        let outcome = run(&spec, &options);
        (outcome.slice_trace.len() as u64, outcome.summary.fuel)
    };
    let (short, fuel) = slices(10_000);
    let (long, _) = slices(1_000_000);
    // A slice burns about slice_fuel (fuel is checked at loop heads, so it may overshoot a
    // little): the number of slices follows the fuel burned.
    assert!(short >= fuel / 11_000, "{short} slices for {fuel} fuel");
    assert!(long < short / 10, "{long} vs {short}");
}

#[test]
fn fifo_runs_each_call_to_completion_as_message_at_a_time_engines_do() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spin_job(
        dir.path(),
        SpinJob {
            input: "first\nsecond",
            parallelism: 2,
            iterations: 2_000_000,
        },
    );
    let mut options = options();
    options.workers = 1;
    options.policy = cameo_host::PolicyKind::Fifo;
    options.trace_slices = true;
    options.start_after_sources = true;
    options.limits.batch_size = 1;
    options.limits.slice_fuel = 10_000;
    let outcome = run(&spec, &options);
    assert_eq!(values(&outcome, "out").len(), 2);
    // The worker takes an actor and polls its call to the end, however many slices it spans
    // (thousands here): each actor gets one turn for its call and one for the end of its
    // input, where round robin gives thousands of turns.
    let turns = &outcome.slice_trace;
    assert_eq!(turns.len(), 4, "{turns:?}");
    assert_ne!(
        turns[0], turns[1],
        "one call ran to completion before the other: {turns:?}"
    );
}

/// One call of the hostile guest writing `writes` state entries, on one worker with slices
/// bounded in fuel far beyond the call and in time by `slice_micros` (0: not at all): the
/// slices it took, and the job's summary.
fn state_writer_slices(writes: u64, slice_micros: u64) -> (usize, cameo_host::JobSummary) {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::support::one_operator_job(
        dir.path(),
        guests::HOSTILE,
        &format!("{{ attack = \"state\", count = {writes} }}"),
        &["a"],
    );
    let mut options = options();
    options.workers = 1;
    options.trace_slices = true;
    options.policy = cameo_host::PolicyKind::RoundRobin;
    options.limits.slice_fuel = 1_000_000_000;
    options.limits.fuel_per_call = 50_000_000_000;
    options.limits.slice_micros = slice_micros;
    let outcome = run(&spec, &options);
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
    let slices = outcome
        .slice_trace
        .iter()
        .filter(|t| *t == "test/op")
        .count();
    (slices, outcome.summary)
}

/// A call that spends its time in host calls burns little fuel: with slices bounded in wall
/// time as well (`slice_micros`), it still yields to the scheduler; bounded in fuel alone, its
/// slice lasts the whole call. (200 000 state writes take many milliseconds on any machine,
/// against slices of 100 µs.)
#[test]
fn a_call_busy_in_host_calls_yields_when_its_slice_time_is_up() {
    let (by_fuel, _) = state_writer_slices(200_000, 0);
    let (by_time, _) = state_writer_slices(200_000, 100);
    // Bounded in fuel alone, the call is one slice of guest work, then its 200 000 writes
    // committed in pieces of 1024 (see the next test).
    assert!(by_fuel <= 3 + 196, "{by_fuel} slices bounded in fuel alone");
    assert!(
        by_time >= 2 * by_fuel,
        "only {by_time} slices bounded in time (against {by_fuel} in fuel)"
    );
}

#[test]
fn a_call_that_wrote_many_keys_commits_them_in_pieces() {
    // The guest work is one slice (fuel bounds it far beyond the call); committing 20 000
    // writes is host work no fuel meters, cut into pieces of 1024 writes with a slice end
    // between two, so one call cannot hold a worker for the whole commit.
    let (slices, summary) = state_writer_slices(20_000, 0);
    assert!(
        (20..=23).contains(&slices),
        "{slices} slices for one call committing 20 000 writes"
    );
    assert!(
        summary.state_bytes >= 20_000 * 16,
        "not every write was committed: {summary:?}"
    );
}

/// A job of one operator of `module` (with `config`) fed by a generator of `count` events at
/// `rate` per second (0: all at once), for `tenant`.
fn generated(tenant: &str, module: &str, config: &str, rate: u32, count: u32) -> String {
    format!(
        "name = \"{tenant}\"\ntenant = \"{tenant}\"\n[[source]]\nname = \"in\"\nkind = \"generator\"\n\
         count = {count}\nrate = {rate}\nkeys = 4\n[[operator]]\nname = \"op\"\nmodule = {}\n\
         inputs = [\"in\"]\nconfig = {config}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"op\"]\n",
        toml_path(module)
    )
}

/// A source that falls due while a long call runs cuts that call's slice at once: with slices
/// bounded neither by fuel (far beyond the call) nor by regular ticks (one every 10 s), the
/// only thing that can end the long call's slice on the one worker is the ticker advancing the
/// epoch for the due source. Without it the paced job would wait for the whole call (seconds).
#[test]
fn a_due_source_cuts_a_running_call_short() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.workers = 1;
    options.policy = cameo_host::PolicyKind::Edf;
    options.limits.slice_fuel = 1_000_000_000_000;
    options.limits.max_fuel_per_call = 100_000_000_000;
    options.limits.fuel_per_call = 100_000_000_000;
    options.limits.slice_micros = 10_000_000;
    let mut host = cameo_host::Host::new(options).unwrap();
    let long = generated(
        "bulk",
        guests::SPIN_SLICE,
        "{ iterations = 500000000 }",
        0,
        1,
    );
    let paced = generated(
        "quick",
        guests::FILTER,
        "{ field = \"value\", min = 0 }",
        40,
        4,
    );
    let long = host.submit(&parse(&long, dir.path())).unwrap();
    let paced = host.submit(&parse(&paced, dir.path())).unwrap();
    host.start().unwrap();
    let outcome = paced.wait().unwrap();
    let long_then = long.summary();
    let long = long.wait().unwrap();
    host.shutdown();
    assert_eq!(outcome.outputs["out"].len(), 4, "{:?}", outcome.summary);
    assert_eq!(
        (long.outputs["out"].len(), long.summary.errors),
        (1, 0),
        "the long call did not end well: {:?}",
        long.summary
    );
    assert_eq!(
        (long_then.events_in, long_then.events_out, long_then.errors),
        (1, 0, 0),
        "the paced job ended only after the long call: {long_then:?}"
    );
}
