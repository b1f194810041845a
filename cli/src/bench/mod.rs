//! `cameo bench`: scenarios that measure the host side by side in one run (this machine is
//! shared and noisy, so every figure is a ratio of runs made together, alternating).
//!
//! # Layout
//! - [`checkpoint`]: throughput of a windowed job with and without checkpoints.
//! - [`density`]: idle instances in 2 GiB and instantiation time, per guest and allocation.
//! - [`flink`]: cameo against Flink on a job both compute exactly.
//! - [`held_cost`]: resident memory per byte charged for a guest's state entries or timers.
//! - [`hostile`]: a well-behaved job beside every kind of misbehaving operator, with a memory
//!   budget.
//! - [`kernels`]: the `compute-kernel` kernels as a guest and natively, on the same bytes.
//! - [`languages`]: the same operators in Rust, Python, JavaScript and C: size, compile
//!   time, instantiation, memory, events/s, time to first output, SDK glue.
//! - [`latency`]: latency distributions and p99 over time from the host's histograms.
//! - [`overhead`]: per-event host cost against batch size, the cost of preemptible slices,
//!   Wasm against native.
//! - [`paper`]: the paper's two headline experiments beside its figures.
//! - [`plot`]: charts of the results (plotters, SVG and PNG).
//! - [`recovery`]: time to read back and restore a checkpoint of a million keys.
//! - [`scale`]: throughput and p99 against workers.
//! - [`serve`]: the HTTP path of `cameo serve`: ingest, acknowledgement latency, push to
//!   running.
//! - [`scenarios`]: the scheduling scenarios (single-tenant, multi-tenant, runaway) under
//!   every policy.
//! - `specs`: the job specs those scenarios run.
//! - [`spike`]: a latency-sensitive job through a 5x burst of another tenant's input.
//! - [`stages`]: what each stage of the data path costs per event, from a ladder of
//!   pipelines that each add one stage.
//! - [`upgrade`]: how long an upgrade holds up the upgraded operator's input, and the
//!   latency of the job's other operators during it.
//! - [`shadow`]: what a shadow run costs the operator it shadows.

pub mod checkpoint;
pub mod density;
pub mod flink;
pub mod held_cost;
pub mod hostile;
pub mod kernels;
pub mod languages;
pub mod latency;
pub mod overhead;
pub mod paper;
pub mod plot;
pub mod recovery;
pub mod scale;
pub mod scenarios;
pub mod serve;
pub mod shadow;
mod specs;
pub mod spike;
pub mod stages;
pub mod upgrade;

use std::path::{Path, PathBuf};

use cameo_host::{BuildError, LoadError};

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An example operator could not be built.
    #[error("building {operator}: {source}")]
    Build {
        /// The operator crate.
        operator: String,
        /// Why.
        #[source]
        source: BuildError,
    },
    /// A module could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The job failed.
    #[error(transparent)]
    Job(#[from] cameo_host::JobError),
    /// A job spec built by the benchmark was refused (a bug in the benchmark).
    #[error(transparent)]
    Spec(#[from] cameo_host::SpecError),
    /// Checkpoint storage failed.
    #[error(transparent)]
    Checkpoint(#[from] cameo_host::internals::CheckpointError),
    /// A scratch directory or output file could not be made.
    #[error("benchmark scratch space: {0}")]
    Io(#[from] std::io::Error),
    /// An upgrade the benchmark asked for was refused.
    #[error(transparent)]
    Upgrade(#[from] cameo_host::UpgradeError),
    /// A shadow run the benchmark asked for was refused.
    #[error(transparent)]
    Shadow(#[from] cameo_host::ShadowError),
    /// A Python, JavaScript or C example operator could not be built.
    #[error("building {operator}: {source}")]
    Language {
        /// The operator, as `language/name`.
        operator: String,
        /// Why.
        #[source]
        source: cameo_lang::BuildError,
    },
    /// An idle instance could not be made, or a density probe failed.
    #[error("density: {0}")]
    Density(String),
    /// A `cameo` process the benchmark ran failed.
    #[error("{0}")]
    Run(String),
    /// A benchmark's own check of what it measured failed.
    #[error("{0}")]
    Check(String),
}

/// Builds the example operator crate `name` under `operators` (the `example-operators/rust`
/// directory) and returns its component.
pub fn example_operator(operators: &Path, name: &str) -> Result<PathBuf, BenchError> {
    cameo_host::build_rust(&operators.join(name)).map_err(|source| BenchError::Build {
        operator: name.to_string(),
        source,
    })
}

/// Median of `values` (0 for none).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
