//! `cameo run`: a job embedded, without a server.

use std::path::PathBuf;
use std::time::Duration;

use cameo_host::{
    BudgetConfig, JobOutcome, JobPlan, JobSpec, Limits, ModuleSource, PolicyKind, RunOptions,
};
use cameo_lang::Language;

/// Flags of `cameo run`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = super::limits_help())]
pub struct RunArgs {
    /// The job spec (TOML).
    job: PathBuf,
    /// Print the summary as one JSON object (events_in, events_out, errors, fuel, latency_ms).
    #[arg(long)]
    json: bool,
    /// Keep checkpoints in this directory and, if the job was interrupted, resume it from the
    /// newest intact one. The checkpoints are removed when the job completes.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    replay: ReplayArgs,
    #[command(flatten)]
    cache: super::compiled_cache::CacheArgs,
    #[command(flatten)]
    host: HostArgs,
}

/// Where the job's rewindable sources (file and http sources) start reading, on this start.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ReplayArgs {
    /// Replay: file and http sources skip this many lines and read on from there, instead of
    /// where the checkpoint the job resumes from left them (0: from the start). The job's
    /// state is the checkpoint's, so replayed input is counted again.
    #[arg(long, value_name = "LINES")]
    from_offset: Option<u64>,
    /// Replay: file and http sources leave out the events before this event time (ms since
    /// the Unix epoch); they need an event_time_field.
    #[arg(long, value_name = "MS")]
    from_time: Option<i64>,
}

impl ReplayArgs {
    /// The replay these flags ask for.
    pub fn replay(self) -> cameo_host::Replay {
        cameo_host::Replay {
            from_offset: self.from_offset,
            from_time: self.from_time,
        }
    }
}

/// The policy and limits of the host, shared by `cameo run` and `cameo serve`.
#[derive(Debug, clap::Args)]
pub struct HostArgs {
    /// Worker threads [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// Scheduling policy: edf (earliest deadline first) meets latency targets best; fifo
    /// (calls run to completion, in arrival order) is the baseline it is measured against.
    #[arg(long, default_value_t = PolicyKind::default(), value_parser = super::policy_parser())]
    policy: PolicyKind,
    /// Fuel per slice: a call yields to the scheduler after burning this much.
    #[arg(long)]
    slice_fuel: Option<u64>,
    /// Wall time a slice may take, in microseconds, besides its fuel, so work fuel does not
    /// meter (host calls, page faults) cannot hold a worker longer. 0 (the default, as under
    /// `cameo serve`) bounds slices in fuel only: a bound compiles an epoch check into every
    /// loop of every operator, which costs tight loops up to a third of their speed and a
    /// windowed aggregation about a tenth.
    #[arg(long, default_value_t = 0)]
    slice_us: u64,
    /// Fuel one call may burn before it fails as out-of-fuel, for operators whose spec does
    /// not set its own `fuel_per_call`.
    #[arg(long)]
    fuel_per_call: Option<u64>,
    /// The most fuel per call an operator's spec may ask for (the runaway bound)
    /// [default: 8000000000, 16 times the default fuel per call].
    #[arg(long)]
    max_fuel_per_call: Option<u64>,
    /// Linear memory one operator instance may hold, in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Events per `process` call at most.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Milliseconds between checkpoints (with a data directory).
    #[arg(long, default_value_t = 1000)]
    checkpoint_interval_ms: u64,
    /// Memory the host may hold for guests and inputs (linear memory, state, window panes,
    /// join buffers, timers, queued events), e.g. 2GiB or 512MiB [default: half the machine's
    /// memory]. A tenant may hold half of it, one job all of its tenant's share, unless
    /// --tenant-budget or --job-budget say otherwise.
    #[arg(long, value_parser = super::parse_bytes)]
    memory_budget: Option<u64>,
    /// Memory one tenant may hold, across its jobs (see --memory-budget).
    #[arg(long, value_parser = super::parse_bytes)]
    tenant_budget: Option<u64>,
    /// Memory one job may hold (see --memory-budget).
    #[arg(long, value_parser = super::parse_bytes)]
    job_budget: Option<u64>,
}

impl HostArgs {
    /// The run options these flags ask for, keeping checkpoints in `data_dir`.
    pub fn options(&self, data_dir: Option<PathBuf>) -> anyhow::Result<RunOptions> {
        let mut limits = Limits::default();
        if let Some(fuel) = self.slice_fuel {
            limits.slice_fuel = fuel;
        }
        limits.slice_micros = self.slice_us;
        if let Some(fuel) = self.fuel_per_call {
            limits.fuel_per_call = fuel;
        }
        if let Some(fuel) = self.max_fuel_per_call {
            limits.max_fuel_per_call = fuel;
        }
        if let Some(mib) = self.memory_mib {
            limits.memory_bytes = mib.saturating_mul(1 << 20);
        }
        if let Some(batch) = self.batch_size {
            anyhow::ensure!(batch > 0, "--batch-size must be at least 1");
            limits.batch_size = batch;
        }
        anyhow::ensure!(
            self.checkpoint_interval_ms > 0,
            "--checkpoint-interval-ms must be at least 1"
        );
        let mut budget = self
            .memory_budget
            .map_or_else(BudgetConfig::default, BudgetConfig::for_host);
        if let Some(bytes) = self.tenant_budget {
            budget.tenant_bytes = bytes;
            budget.job_bytes = budget.job_bytes.min(bytes);
        }
        if let Some(bytes) = self.job_budget {
            budget.job_bytes = bytes;
        }
        let mut options = RunOptions {
            policy: self.policy,
            limits,
            data_dir,
            checkpoint_interval: Duration::from_millis(self.checkpoint_interval_ms),
            budget,
            ..RunOptions::default()
        };
        if let Some(workers) = self.workers {
            anyhow::ensure!(workers > 0, "--workers must be at least 1");
            options.workers = workers;
        }
        Ok(options)
    }
}

/// Runs the job and prints its summary.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let spec = JobSpec::from_file(&args.job)?;
    let mut options = args.host.options(args.data_dir.clone())?;
    options.compiled_cache = args.cache.dir();
    let outcome = run_job(&spec, &options, args.replay.replay())?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome.summary)?);
    } else {
        eprint!("{}", outcome.summary);
    }
    Ok(())
}

/// Runs `spec` on a host of its own, as `cameo_host::run_job` does, except that an operator
/// whose module is a Python, JavaScript or C project directory is first built into a
/// component (a Rust crate is built by the host itself).
fn run_job(
    spec: &JobSpec,
    options: &RunOptions,
    replay: cameo_host::Replay,
) -> anyhow::Result<JobOutcome> {
    let mut plan = JobPlan::with_modules(spec, |module| {
        let path = spec.resolve(module);
        if !path.is_dir() {
            return Ok(ModuleSource::Component(path));
        }
        match cameo_lang::detect(&path) {
            Ok(Language::Rust) | Err(_) => Ok(ModuleSource::RustCrate(path)),
            Ok(_) => {
                let component = cameo_lang::build(&path, None).map_err(|err| err.to_string())?;
                Ok(ModuleSource::Component(component))
            }
        }
    })?;
    if !replay.is_none() {
        plan.replay(replay)?;
    }
    Ok(cameo_host::run_plan(&plan, options)?)
}
