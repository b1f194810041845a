//! Helpers shared by the tests: job specs around built guests, runs, and the `cameo` binary;
//! `window_agg` has those for windowed jobs, `conformance` the runner of the conformance
//! tables.

pub mod conformance;
pub mod window_agg;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cameo_host::JobSpec;
use cameo_host::PolicyKind;
use cameo_host::{JobOutcome, RunOptions};

/// A TOML string literal holding `path`.
pub fn toml_path(path: &str) -> String {
    serde_json::to_string(path).expect("a path is valid JSON")
}

/// A job reading `input` (lines) from a file, through one operator `module` with `config`
/// (a TOML inline table), into a memory sink named `out`: a [`Pipeline`] with the defaults.
pub fn one_operator_job(dir: &Path, module: &str, config: &str, input: &[&str]) -> JobSpec {
    std::fs::write(dir.join("input.txt"), input.join("\n")).expect("write input");
    pipeline(
        dir,
        Pipeline {
            module,
            config,
            ..Pipeline::default()
        },
    )
}

/// A job of one operator: the lines of `input` → `op` running `module` with `config` →
/// memory sink `out`. Every field but `module` has a default.
pub struct Pipeline<'a> {
    /// The job's name; "test" by default.
    pub name: &'a str,
    /// The job's tenant; "default" by default.
    pub tenant: &'a str,
    /// The job's end-to-end latency target; 1000 ms by default.
    pub latency_target_ms: u64,
    /// The input: a file in the job's directory, or any readable path; "input.txt" by default.
    pub input: &'a str,
    /// The operator's module (required).
    pub module: &'a str,
    /// The operator's config, a TOML inline table; empty by default.
    pub config: &'a str,
}

impl Default for Pipeline<'_> {
    fn default() -> Self {
        Pipeline {
            name: "test",
            tenant: "default",
            latency_target_ms: 1000,
            input: "input.txt",
            module: "",
            config: "{}",
        }
    }
}

/// The job spec of `job`, with relative paths anchored at `dir`.
pub fn pipeline(dir: &Path, job: Pipeline) -> JobSpec {
    assert!(!job.module.is_empty(), "a pipeline needs a module");
    let toml = format!(
        r#"
name = "{name}"
tenant = "{tenant}"
latency_target_ms = {target_ms}
[[source]]
name = "in"
kind = "file"
path = {input}
[[operator]]
name = "op"
module = {module}
inputs = ["in"]
config = {config}
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
        name = job.name,
        tenant = job.tenant,
        target_ms = job.latency_target_ms,
        input = toml_path(job.input),
        module = toml_path(job.module),
        config = job.config,
    );
    parse(&toml, dir)
}

/// Parses a job spec whose relative paths are anchored at `dir`.
pub fn parse(toml: &str, dir: &Path) -> JobSpec {
    JobSpec::parse(toml, "job.toml", dir.to_path_buf()).expect("valid job spec")
}

/// Run options for tests: two workers and small fuel budgets so runaways end quickly.
pub fn options() -> RunOptions {
    let mut options = RunOptions {
        workers: 2,
        ..RunOptions::default()
    };
    options.limits.fuel_per_call = 50_000_000;
    options
}

/// Runs a job and returns its outcome, failing the test on a job error.
pub fn run(spec: &JobSpec, options: &RunOptions) -> JobOutcome {
    cameo_host::run_job(spec, options).unwrap_or_else(|err| panic!("job failed: {err}"))
}

/// The values written to the memory sink `sink`, as strings.
pub fn values(outcome: &JobOutcome, sink: &str) -> Vec<String> {
    outcome
        .outputs
        .get(sink)
        .map(|events| {
            events
                .iter()
                .map(|e| String::from_utf8_lossy(&e.value).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// How long [`wait_for`] waits before failing the test: far longer than any wait should take.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Polls `ready` every millisecond until it holds, failing the test (naming `what`) after
/// [`WAIT_LIMIT`].
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < WAIT_LIMIT,
            "gave up waiting for {what} after {WAIT_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `cameo` binary built alongside this test binary.
pub fn cameo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/all-<hash> -> target/<profile>/cameo
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("cameo"))
        .expect("test binary lives in target/<profile>/deps");
    assert!(
        bin.exists(),
        "{} is missing; run the tests with `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// Runs `cameo` with `args` in `dir`.
pub fn cameo(dir: &Path, args: &[&str]) -> Output {
    Command::new(cameo_binary())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cameo runs")
}

/// A small deterministic generator (splitmix64), so every run sees the same input.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs `spec` under every policy (with `options` per policy), checks that no run had an
/// error, turns each outcome into a result with `result`, and checks that all results are
/// the same: priorities must never change what a job computes.
pub fn results_under_every_policy<T: PartialEq + std::fmt::Debug>(
    spec: &JobSpec,
    options: impl Fn(PolicyKind) -> RunOptions,
    result: impl Fn(PolicyKind, &JobOutcome) -> T,
) {
    let mut results: Vec<(PolicyKind, T)> = Vec::new();
    for policy in PolicyKind::ALL {
        let outcome = run(spec, &options(policy));
        assert_eq!(
            outcome.summary.errors, 0,
            "{policy:?}: {:?}",
            outcome.summary
        );
        results.push((policy, result(policy, &outcome)));
    }
    let (first, expected) = &results[0];
    for (policy, other) in &results[1..] {
        assert_eq!(other, expected, "{policy:?} vs {first:?}");
    }
}
