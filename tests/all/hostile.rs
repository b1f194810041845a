//! A hostile tenant hurts only itself: every allocation a guest or an input can steer is
//! bounded by a named limit or the memory budget, and each attack fails alone with an error
//! that says which limit, with the numbers.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use cameo_host::{BudgetConfig, JobOutcome, JobSpec, LoadError, OperatorModule, RunOptions};
use cameo_tests::guests;

use crate::support::{
    Pipeline, cameo, one_operator_job, options, parse, pipeline, run, toml_path, values,
};

/// The first error sample of `outcome` that contains `text`, or a failure listing them all.
fn error_with(outcome: &JobOutcome, text: &str) -> String {
    let samples = &outcome.summary.error_samples;
    samples
        .iter()
        .find(|sample| sample.contains(text))
        .cloned()
        .unwrap_or_else(|| panic!("no error says {text:?}: {samples:#?}"))
}

/// Runs `spec` on a thread and gives up (failing the test) after `limit`: for jobs that must
/// end, where a hang is the failure.
fn run_within(spec: JobSpec, options: RunOptions, limit: Duration) -> JobOutcome {
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(cameo_host::run_job(&spec, &options).map_err(|e| e.to_string()));
    });
    match outcome.recv_timeout(limit) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(err)) => panic!("job failed: {err}"),
        Err(_) => panic!("the job did not end within {limit:?}"),
    }
}

fn budget(job_bytes: u64) -> RunOptions {
    RunOptions {
        budget: BudgetConfig {
            host_bytes: 8 << 30,
            tenant_bytes: 8 << 30,
            job_bytes,
        },
        ..options()
    }
}

#[test]
fn a_timer_key_over_the_limit_fails_the_call_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "timer-key", bytes = 100000 }"#,
        &["a", "b"],
    );
    let outcome = run(&spec, &options());
    assert_eq!(outcome.summary.errors, 2);
    error_with(
        &outcome,
        "a timer key of 100000 bytes is over the limit of 4096 bytes",
    );
}

#[test]
fn an_on_timer_that_registers_itself_again_cannot_keep_the_job_running() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "refire" }"#,
        &["a", "b", "c"],
    );
    let outcome = run_within(spec, options(), Duration::from_secs(60));
    let fired = values(&outcome, "out")
        .iter()
        .filter(|v| v.starts_with("fired"))
        .count();
    assert!(fired >= 1, "{:?}", values(&outcome, "out"));
    error_with(
        &outcome,
        "was registered by on-timer after the end of the input",
    );
}

#[test]
fn an_event_with_too_many_headers_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "headers", count = 100000 }"#,
        &["a"],
    );
    let outcome = run(&spec, &options());
    error_with(
        &outcome,
        "emitted an event with 100000 headers, over the limit of 64 per event",
    );
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "headers", count = 64 }"#,
        &["a"],
    );
    assert_eq!(run(&spec, &options()).outputs["out"][0].headers.len(), 64);
}

#[test]
fn state_past_the_jobs_memory_budget_fails_the_call_naming_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "state", count = 2000 }"#,
        &lines,
    );
    let limit = 4 << 20;
    let outcome = run(&spec, &budget(limit));
    let error = error_with(&outcome, "more bytes for keyed state, but job \"test\"");
    assert!(
        error.contains("job \"test\" already holds") && error.contains("4194304-byte budget"),
        "{error}"
    );
    assert!(outcome.summary.errors > 0 && outcome.summary.errors < 50);
    assert!(
        outcome.summary.state_bytes <= limit,
        "{} bytes of state held",
        outcome.summary.state_bytes
    );
}

/// Bytes a timer with a key of the largest size allowed (4096 bytes) is charged: the key's
/// allocation (4096 bytes, rounded up to malloc's 16-byte granules, plus its header) and the
/// queue's slot.
const LARGEST_TIMER_CHARGE: u64 = 4112 + 64;

#[test]
fn timers_past_the_tenants_memory_budget_fail_the_call_naming_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("input.txt"),
        (0..40).map(|i| format!("e{i}\n")).collect::<String>(),
    )
    .unwrap();
    let spec = pipeline(
        dir.path(),
        Pipeline {
            tenant: "noisy",
            module: guests::HOSTILE,
            config: r#"{ attack = "timers", count = 300, key_bytes = 4096 }"#,
            ..Pipeline::default()
        },
    );
    let limit: u64 = 12 << 20;
    let options = RunOptions {
        budget: BudgetConfig {
            host_bytes: 8 << 30,
            tenant_bytes: limit,
            job_bytes: 8 << 30,
        },
        ..options()
    };
    let outcome = run(&spec, &options);
    let error = error_with(&outcome, "more bytes for timers, but tenant \"noisy\"");
    assert!(
        error.contains("memory budget exceeded: 1252800 more bytes for timers")
            && error.contains(&format!("of its {limit}-byte budget")),
        "{error}"
    );
    assert!(outcome.summary.errors > 0 && outcome.summary.errors < 40);
    // Every timer held fires at the end of the input, so the timers fired are the most the
    // host held at once: no more than the tenant's budget pays for.
    let fired = values(&outcome, "out")
        .iter()
        .filter(|v| v.starts_with("fired"))
        .count() as u64;
    assert!(fired >= 300, "{fired} timers fired");
    assert!(
        fired * LARGEST_TIMER_CHARGE <= limit,
        "{fired} timers of {LARGEST_TIMER_CHARGE} bytes held under a {limit}-byte budget"
    );
}

#[test]
fn window_panes_past_the_budget_fail_the_call_naming_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    // One event per key: the guest holds one accumulator at a time, the host all the panes
    // (64 of 128 KiB each, past the 6 MiB budget).
    let input: String = (0..64)
        .map(|i| format!("{{\"k\":\"a{i}\",\"t\":{}}}\n", 1000 + i))
        .collect();
    std::fs::write(dir.path().join("input.ndjson"), input).unwrap();
    let spec = parse(
        &format!(
            r#"
name = "panes"
[[source]]
name = "in"
kind = "file"
path = "input.ndjson"
format = "ndjson"
key_field = "k"
event_time_field = "t"
[[operator]]
name = "grow"
module = {module}
inputs = ["in"]
config = {{ bytes = 131072 }}
window = {{ kind = "tumbling", size_ms = 3600000 }}
[[sink]]
name = "out"
kind = "memory"
inputs = ["grow"]
"#,
            module = toml_path(guests::HOSTILE_WINDOW)
        ),
        dir.path(),
    );
    let mut options = budget(6 << 20);
    options.limits.batch_size = 1;
    let outcome = run(&spec, &options);
    let error = error_with(&outcome, "more bytes for window panes, but job \"panes\"");
    assert!(error.contains("job \"panes\""), "{error}");
    // The guest keeps its accumulators between batches until growing them traps on the
    // budget; the host then folds what it had logged into its own panes as far as the budget
    // allows. Every event ends in a fired pane or a dead letter that says why, never nowhere.
    let fired = values(&outcome, "out").len() as u64;
    assert!(fired < 64, "{fired} panes fired");
    assert_eq!(fired + outcome.summary.errors, 64);
}

#[test]
fn linear_memory_of_all_instances_counts_against_the_tenant_budget() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("input.txt"),
        (0..64).map(|i| format!("k{i}\n")).collect::<String>(),
    )
    .unwrap();
    let spec = parse(
        &format!(
            r#"
name = "hogs"
tenant = "greedy"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "hold"
module = {module}
inputs = ["in"]
parallelism = 8
partition = "broadcast"
config = {{ attack = "memory", mib = 16 }}
[[sink]]
name = "out"
kind = "memory"
inputs = ["hold"]
"#,
            module = toml_path(guests::HOSTILE)
        ),
        dir.path(),
    );
    let mut options = options();
    options.budget = BudgetConfig {
        host_bytes: 8 << 30,
        tenant_bytes: 64 << 20,
        job_bytes: 8 << 30,
    };
    let outcome = run(&spec, &options);
    let error = error_with(
        &outcome,
        "more bytes for linear memory, but tenant \"greedy\"",
    );
    assert!(error.contains("tenant \"greedy\""), "{error}");
    assert!(
        outcome.summary.memory_bytes <= 64 << 20,
        "{} bytes held",
        outcome.summary.memory_bytes
    );
}

#[test]
fn a_sliding_window_of_too_many_windows_per_event_is_refused() {
    let toml = r#"
name = "many"
[[source]]
name = "in"
kind = "stdin"
[[operator]]
name = "w"
module = "w.wasm"
inputs = ["in"]
window = { kind = "sliding", size_ms = 31536000000, slide_ms = 1 }
[[sink]]
name = "out"
kind = "memory"
inputs = ["w"]
"#;
    let err = JobSpec::parse(toml, "many.toml", ".".into())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("every event would fall in 31536000000 windows")
            && err.contains("over the limit of 1000")
            && err.contains("`slide_ms` at least 31536000"),
        "{err}"
    );
}

#[test]
fn an_endless_module_file_is_refused_without_reading_it_all() {
    let engine = cameo_host::OperatorEngine::new(cameo_host::Limits::default()).unwrap();
    match OperatorModule::load_file(&engine, Path::new("/dev/zero")) {
        Err(err @ LoadError::TooLarge { .. }) => assert!(
            err.to_string()
                .contains("zero is over the 67108864-byte limit for an operator module"),
            "{err}"
        ),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("an endless file was accepted"),
    }
}

#[test]
fn a_line_over_the_limit_goes_to_the_dead_letters_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(3 << 20);
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "pass" }"#,
        &["first", &long, "last"],
    );
    let outcome = run(&spec, &options());
    assert_eq!(values(&outcome, "out"), ["first", "last"]);
    error_with(
        &outcome,
        "line 2 has 3145729 bytes, over the limit of 1048576 bytes per line",
    );
}

#[test]
fn a_dead_letter_keeps_a_bounded_part_of_a_huge_event() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "y".repeat(900_000);
    let toml = format!(
        r#"
name = "letters"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "op"
module = {module}
inputs = ["in"]
config = {{ attack = "panic", message = "no" }}
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
[dead_letter]
path = "dead.ndjson"
"#,
        module = toml_path(guests::HOSTILE)
    );
    std::fs::write(dir.path().join("input.txt"), &huge).unwrap();
    let outcome = run(&parse(&toml, dir.path()), &options());
    assert_eq!(outcome.summary.errors, 1);
    let letters = std::fs::read_to_string(dir.path().join("dead.ndjson")).unwrap();
    assert!(letters.len() < 20_000, "{} bytes", letters.len());
    assert!(
        letters.contains("883616 more bytes cut: a dead letter keeps 16384"),
        "{}",
        &letters[letters.len().saturating_sub(300)..]
    );
}

#[test]
fn a_huge_log_line_is_cut_and_the_job_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "a\nb\n").unwrap();
    let toml = format!(
        r#"
name = "chatty"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "op"
module = {module}
inputs = ["in"]
config = {{ attack = "log", bytes = 10000000 }}
[[sink]]
name = "out"
kind = "stdout"
inputs = ["op"]
"#,
        module = toml_path(guests::HOSTILE)
    );
    std::fs::write(dir.path().join("job.toml"), toml).unwrap();
    let out = cameo(dir.path(), &["run", "job.toml"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\n");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.len() < 64 * 1024, "{} bytes of log", log.len());
    assert!(
        log.contains("9995904 more bytes cut: the limit is 4096 bytes per log line"),
        "{}",
        &log[..log.len().min(2000)]
    );
}

#[test]
fn a_panic_is_reported_first_with_its_message_and_the_backtrace_after() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(
        dir.path(),
        guests::HOSTILE,
        r#"{ attack = "panic", message = "the sky is falling" }"#,
        &["a"],
    );
    let outcome = run(&spec, &options());
    let error = error_with(&outcome, "the sky is falling");
    assert!(error.starts_with("test/op: panicked at "), "{error}");
    let message = error.find("the sky is falling").unwrap_or(usize::MAX);
    let backtrace = error.find("wasm backtrace").unwrap_or(0);
    assert!(message < backtrace, "{error}");
}
