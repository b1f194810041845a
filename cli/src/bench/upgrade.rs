//! How long an upgrade holds up the upgraded operator's input: a word count holding `keys`
//! keys of state per instance is switched between two versions while its input streams in,
//! `rounds` times, then once to a version that converts every key (`upgrade-state`). Each
//! instance's pause runs from its switch (at the checkpoint barrier) to the end of the first
//! call of the new version: instantiation, `init`, any conversion, and that call's input.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::{BenchError, example_operator};
use cameo_host::{Host, JobPlan, JobSpec, OperatorModule, RunOptions};

/// Result of the upgrade benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    /// Keys of state per instance when the upgrades ran.
    pub keys: u64,
    /// Upgrades between versions that hand the state over as it is.
    pub rounds: usize,
    /// Pause of each instance's input per switch, ms: median, p99 and the largest.
    pub pause_ms: Percentiles,
    /// Pause of the switch to the version that converts every key, ms.
    pub converting_pause_ms: f64,
    /// Events the job's output counted before the first upgrade.
    pub events_before: u64,
}

/// Median, p99 and maximum of some figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            values
                .get(((values.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0.0)
        };
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            max: values.last().copied().unwrap_or(0.0),
        }
    }
}

impl std::fmt::Display for UpgradeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} upgrades of an operator holding {} keys of state, under load:",
            self.rounds, self.keys
        )?;
        writeln!(
            f,
            "  input paused: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.pause_ms.p50, self.pause_ms.p99, self.pause_ms.max
        )?;
        writeln!(
            f,
            "  with upgrade-state converting every key: {:.2} ms",
            self.converting_pause_ms
        )
    }
}

/// Events per second the source streams.
const RATE: u64 = 20_000;

/// Runs the benchmark with the operators under `operators`.
pub fn run(operators: &Path, keys: u64, rounds: usize) -> Result<UpgradeReport, BenchError> {
    let v1 = example_operator(operators, "wordcount")?;
    let v2 = example_operator(operators, "test-guests/wordcount-v2")?;
    let v3 = example_operator(operators, "test-guests/wordcount-v3")?;
    let dir = tempfile::tempdir()?;
    // Every key once, then a stream over them longer than the upgrades take (each waits for
    // its checkpoint, then 0.3 s); the job is cancelled after the last.
    let lines = keys + RATE * (rounds as u64 + 10);
    let input: String = (0..lines)
        .map(|i| format!("k{}\n", i % keys.max(1)))
        .collect();
    std::fs::write(dir.path().join("words.txt"), input)?;
    let spec = JobSpec::parse(
        &format!(
            "name = \"upgrade\"\n[[source]]\nname = \"in\"\nkind = \"file\"\npath = \"words.txt\"\nrate = {RATE}\n[[operator]]\nname = \"count\"\nmodule = {:?}\ninputs = [\"in\"]\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"count\"]\n",
            v1.display().to_string()
        ),
        "upgrade.toml",
        dir.path().to_path_buf(),
    )?;
    let mut host = Host::new(RunOptions {
        workers: 2,
        data_dir: Some(dir.path().join("data")),
        checkpoint_interval: Duration::from_secs(5),
        ..RunOptions::default()
    })?;
    let plan = JobPlan::from_spec(&spec).map_err(cameo_host::JobError::from)?;
    let job = host.submit_plan(&plan)?;
    host.start()?;
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    let load = |path: &Path| OperatorModule::load_file(host.engine(), path);
    let versions = [load(&v2)?, load(&v1)?];
    let converting = load(&v3)?;
    while monitor.summary().events_out < keys && !monitor.is_finished() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let events_before = monitor.summary().events_out;
    let upgrade = |module: &OperatorModule| {
        monitor
            .upgrade("count", module, Duration::from_secs(30))
            .map_err(BenchError::Upgrade)
    };
    for round in 0..rounds {
        upgrade(&versions[round % 2])?;
        std::thread::sleep(Duration::from_millis(300));
    }
    let before = monitor.switch_pauses("count").len();
    upgrade(&converting)?;
    while monitor.switch_pauses("count").len() == before && !monitor.is_finished() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pauses = monitor.switch_pauses("count");
    monitor.cancel();
    let _ = waiter.join();
    host.shutdown();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    Ok(UpgradeReport {
        keys,
        rounds,
        pause_ms: Percentiles::of(pauses.iter().take(before).map(ms).collect()),
        converting_pause_ms: pauses.get(before).map(ms).unwrap_or(0.0),
        events_before,
    })
}
