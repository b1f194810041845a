//! What checkpoints cost: a windowed job over generated input, run alternately without and
//! with checkpoints (1 s apart), throughput compared run against run.

use std::path::Path;
use std::time::Duration;

use indicatif::ProgressBar;
use serde::Serialize;

use super::{BenchError, example_operator, median};
use cameo_host::{JobSpec, RunOptions, run_job};

/// Result of the checkpoint benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    /// Events per run.
    pub events: u64,
    /// Runs of each kind.
    pub rounds: usize,
    /// Median throughput without checkpoints (events/s).
    pub plain_eps: f64,
    /// Median throughput with checkpoints (events/s).
    pub checkpointed_eps: f64,
    /// Median of the per-round ratios checkpointed/plain (1.0 = free).
    pub ratio: f64,
    /// Checkpoints taken per checkpointed run (median).
    pub checkpoints_per_run: f64,
    /// Checkpoint interval used, ms.
    pub interval_ms: u64,
}

impl std::fmt::Display for CheckpointReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checkpoints every {} ms over {} events, {} rounds (medians):",
            self.interval_ms, self.events, self.rounds
        )?;
        writeln!(f, "  without: {:.0} events/s", self.plain_eps)?;
        writeln!(
            f,
            "  with:    {:.0} events/s ({:.1} checkpoints per run)",
            self.checkpointed_eps, self.checkpoints_per_run
        )?;
        writeln!(f, "  ratio with/without: {:.3}", self.ratio)
    }
}

fn job(module: &Path, events: u64) -> String {
    format!(
        r#"
name = "bench-windows"
[[source]]
name = "readings"
kind = "generator"
count = {events}
keys = 1000
payload_bytes = 16

[[operator]]
name = "window"
module = {module:?}
inputs = ["readings"]
partition = "key-hash"
parallelism = 2
config = {{ size_ms = 100, field = "value" }}

[[sink]]
name = "sums"
kind = "memory"
inputs = ["window"]
"#,
        module = module.display().to_string()
    )
}

/// Runs `rounds` pairs of runs of `events` events each.
pub fn run(
    operators: &Path,
    events: u64,
    rounds: usize,
    interval: Duration,
) -> Result<CheckpointReport, BenchError> {
    let module = example_operator(operators, "tumbling-sum")?;
    let scratch = tempfile_dir()?;
    let spec = JobSpec::parse(&job(&module, events), "bench-windows.toml", scratch.clone())?;
    let progress = ProgressBar::new((rounds * 2) as u64).with_message("checkpoint benchmark");
    let mut plain = Vec::new();
    let mut checkpointed = Vec::new();
    let mut ratios = Vec::new();
    let mut taken = Vec::new();
    for round in 0..rounds {
        let options = RunOptions::default();
        let without = run_job(&spec, &options)?.summary;
        progress.inc(1);
        let options = RunOptions {
            data_dir: Some(scratch.join(format!("data-{round}"))),
            checkpoint_interval: interval,
            ..RunOptions::default()
        };
        let with = run_job(&spec, &options)?.summary;
        progress.inc(1);
        plain.push(without.throughput_eps);
        checkpointed.push(with.throughput_eps);
        ratios.push(with.throughput_eps / without.throughput_eps.max(1.0));
        taken.push(with.checkpoints.map_or(0, |c| c.completed) as f64);
    }
    progress.finish_and_clear();
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(CheckpointReport {
        events,
        rounds,
        plain_eps: median(&mut plain),
        checkpointed_eps: median(&mut checkpointed),
        ratio: median(&mut ratios),
        checkpoints_per_run: median(&mut taken),
        interval_ms: interval.as_millis() as u64,
    })
}

/// A fresh scratch directory under the system's temporary directory.
pub(super) fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cameo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
