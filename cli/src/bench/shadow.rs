//! What a shadow run costs the operator it shadows: a word count over `keys` keys streams at a
//! fixed rate; its end-to-end latency is measured for `seconds` without a shadow, then for as
//! long with a shadow of the same version beside it (same job, same run, one after the
//! other), and the shadow's report gives both versions' cost per event.

use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{BenchError, example_operator};
use cameo_host::{Cost, Host, JobMonitor, JobPlan, JobSpec, OperatorModule, RunOptions};

/// Result of the shadow benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowBenchReport {
    /// Events per second the source streams.
    pub rate: u64,
    /// Keys the word count holds.
    pub keys: u64,
    /// Length of each of the two phases, seconds.
    pub seconds: u64,
    /// End-to-end latency without a shadow, ms.
    pub without_ms: Latency,
    /// End-to-end latency with a shadow of the same version beside the operator, ms.
    pub with_ms: Latency,
    /// p99 with the shadow over p99 without.
    pub p99_ratio: f64,
    /// Outputs the shadow compared, and how many differed (0 for the same version).
    pub compared: u64,
    /// Outputs that differed.
    pub differing: u64,
    /// The operator's calls while the shadow ran.
    pub primary: Cost,
    /// The shadow's calls.
    pub shadow: Cost,
}

/// Median and p99 of a phase's end-to-end latency.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl std::fmt::Display for ShadowBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "word count over {} keys at {} events/s, {} s each way:",
            self.keys, self.rate, self.seconds
        )?;
        writeln!(
            f,
            "  end-to-end latency without a shadow: p50 {:.2} ms, p99 {:.2} ms",
            self.without_ms.p50, self.without_ms.p99
        )?;
        writeln!(
            f,
            "  with a shadow beside it:             p50 {:.2} ms, p99 {:.2} ms (p99 x{:.2})",
            self.with_ms.p50, self.with_ms.p99, self.p99_ratio
        )?;
        writeln!(
            f,
            "  compared {} outputs, {} differing",
            self.compared, self.differing
        )?;
        for (name, cost) in [("operator", &self.primary), ("shadow", &self.shadow)] {
            writeln!(
                f,
                "  {name:8}: {:.0} fuel/event, {:.2} µs/event, call p50 {} µs p99 {} µs",
                cost.fuel_per_event, cost.us_per_event, cost.call_us.p50, cost.call_us.p99
            )?;
        }
        Ok(())
    }
}

/// The job's end-to-end latencies between two copies of its histogram.
fn phase(before: &Option<Histogram<u64>>, after: &Option<Histogram<u64>>) -> Latency {
    let Some(after) = after else {
        return Latency { p50: 0.0, p99: 0.0 };
    };
    let mut delta = after.clone();
    if let Some(before) = before {
        // Counts only grow, so the difference of two copies is always valid.
        let _ = delta.subtract(before);
    }
    let ms = |q: f64| delta.value_at_quantile(q) as f64 / 1000.0;
    Latency {
        p50: ms(0.5),
        p99: ms(0.99),
    }
}

/// Waits `seconds` unless the job ends first.
fn run_for(monitor: &JobMonitor, seconds: u64) {
    for _ in 0..seconds * 100 {
        if monitor.is_finished() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the benchmark with the operators under `operators`.
pub fn run(
    operators: &Path,
    keys: u64,
    rate: u64,
    seconds: u64,
) -> Result<ShadowBenchReport, BenchError> {
    let wordcount = example_operator(operators, "wordcount")?;
    let dir = tempfile::tempdir()?;
    // Longer than both phases and the warm-up; the job is cancelled after the second.
    let lines = rate * (2 * seconds + 10);
    let input: String = (0..lines)
        .map(|i| format!("k{}\n", i % keys.max(1)))
        .collect();
    std::fs::write(dir.path().join("words.txt"), input)?;
    let spec = JobSpec::parse(
        &format!(
            "name = \"shadow\"\n[[source]]\nname = \"in\"\nkind = \"file\"\npath = \"words.txt\"\nrate = {rate}\n[[operator]]\nname = \"count\"\nmodule = {:?}\ninputs = [\"in\"]\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"count\"]\n",
            wordcount.display().to_string()
        ),
        "shadow.toml",
        dir.path().to_path_buf(),
    )?;
    let mut host = Host::new(RunOptions {
        workers: 2,
        data_dir: Some(dir.path().join("data")),
        checkpoint_interval: Duration::from_secs(1),
        ..RunOptions::default()
    })?;
    let plan = JobPlan::from_spec(&spec).map_err(cameo_host::JobError::from)?;
    let job = host.submit_plan(&plan)?;
    host.start()?;
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    let same = OperatorModule::load_file(host.engine(), &wordcount)?;
    // Warm-up: every key once, and a second more.
    while monitor.summary().events_out < keys && !monitor.is_finished() {
        std::thread::sleep(Duration::from_millis(10));
    }
    run_for(&monitor, 1);
    let start = monitor.latency_histogram(None);
    run_for(&monitor, seconds);
    let without = monitor.latency_histogram(None);
    monitor.shadow("count", &same, Duration::from_secs(30))?;
    let shadowed = monitor.latency_histogram(None);
    run_for(&monitor, seconds);
    let with = monitor.latency_histogram(None);
    let report = monitor.shadow_report("count")?;
    monitor.cancel();
    let _ = waiter.join();
    host.shutdown();
    let without_ms = phase(&start, &without);
    let with_ms = phase(&shadowed, &with);
    Ok(ShadowBenchReport {
        rate,
        keys,
        seconds,
        without_ms,
        with_ms,
        p99_ratio: if without_ms.p99 > 0.0 {
            with_ms.p99 / without_ms.p99
        } else {
            0.0
        },
        compared: report.matched + report.differing,
        differing: report.differing,
        primary: report.cost.primary,
        shadow: report.cost.shadow,
    })
}
