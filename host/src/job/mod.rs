//! Running a job embedded: build the operators' actors, wire sources, edges and sinks, run
//! the slice executor until every sink has seen the end of its input, and report.
//!
//! With a data directory the job takes periodic checkpoints and, when started again after a
//! crash, resumes from the newest intact one ([`recovery`]).
//!
//! # Layout
//! - this module: [`Host`], [`JobHandle`], [`run_job`] and their options and errors.
//! - [`plan`]: the job spec lowered into a [`plan::JobPlan`], which is all the wiring reads.
//! - `build`: wiring a plan's actors, edges and sinks onto the host's executor.
//! - `sources`: a job's sources, as timed tasks of the executor.
//! - `endpoints`: where http sources and sinks keep their data.
//! - [`monitor`]: watching and steering a job from another thread while it runs.
//! - `paths`: the operators upstream of each sink, which its deadline misses count against.
//! - [`recovery`]: finding the checkpoint to resume from.
//! - [`upgrade`]: changing an operator's module while the job runs, and going back.
//! - [`replay`]: starting rewindable sources from an earlier line or event time.
//! - [`shadow`]: running another version of an operator beside it, then promoting or
//!   stopping it.

mod build;
mod endpoints;
pub mod monitor;
mod paths;
pub mod plan;
pub mod recovery;
pub mod replay;
pub mod shadow;
mod sources;
pub mod upgrade;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::actor::upgrade::ModuleSwitch;
use crate::bindings::Event;
use crate::budget::{Accounts, BudgetConfig, MemoryBudget};
use crate::builder::BuildError;
use crate::dataflow::profile::OperatorProfile;
use crate::dataflow::sink::Completion;
use crate::dataflow::sink::Ended;
use crate::dataflow::source::http::Inlet;
use crate::dataflow::spec::JobSpec;
use crate::engine::{EngineSetupError, EpochTicker, OperatorEngine};
use crate::limits::Limits;
use crate::metrics::{JobMetrics, JobSummary};
use crate::registry::LoadError;
use crate::sched::PolicyKind;
use crate::sched::TaskId;
use crate::sched::calibrate;
use crate::sched::executor::{Activator, Executor};
use crate::sched::queue::TenantShares;
use crate::state::TenantState;
use crate::state::checkpoint::Checkpointer;
use crate::sync::LockRecovered;
use recovery::Recovery;

/// How to run a job.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub workers: usize,
    /// Scheduling policy.
    pub policy: PolicyKind,
    /// Limits for every operator instance.
    pub limits: Limits,
    /// Record which task ran each slice (for tests and diagnosis).
    pub trace_slices: bool,
    /// Let the sources finish before the workers start, so every run schedules the same
    /// input the same way. The whole input must fit in the first operators' mailboxes.
    pub start_after_sources: bool,
    /// Where checkpoints go; none: no checkpoints.
    pub data_dir: Option<PathBuf>,
    /// Time between checkpoints.
    pub checkpoint_interval: Duration,
    /// How the host's memory is shared out to tenants and jobs.
    pub budget: BudgetConfig,
    /// Bytes an http source holds pushed but not yet read, at most, before it refuses more.
    pub inlet_capacity: u64,
    /// Bytes of one segment of an http source's inlet: segments that no kept checkpoint
    /// needs are deleted whole.
    pub inlet_segment_bytes: u64,
    /// Bytes of the newest output an http sink keeps on disk at least (in segments of a
    /// quarter of that); older segments are deleted once no kept checkpoint needs them.
    pub outlet_keep_bytes: u64,
    /// Where operator components loaded from files keep their compiled code, so the next job
    /// (or the next run) loads it instead of compiling again; none: compile every time.
    pub compiled_cache: Option<PathBuf>,
    /// How instances get their memory: on demand (the default), or from a pool of slots
    /// reserved up front, which spares the kernel a mapping and an unmapping per instance.
    pub allocation: crate::Allocation,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            policy: PolicyKind::default(),
            limits: Limits::default(),
            trace_slices: false,
            start_after_sources: false,
            data_dir: None,
            checkpoint_interval: Duration::from_secs(1),
            budget: BudgetConfig::default(),
            inlet_capacity: 16 << 20,
            inlet_segment_bytes: crate::dataflow::source::http::SEGMENT_BYTES,
            outlet_keep_bytes: 64 << 20,
            compiled_cache: None,
            allocation: crate::Allocation::OnDemand,
        }
    }
}

/// What a finished job returns.
#[derive(Debug)]
pub struct JobOutcome {
    /// Counts, fuel and latency.
    pub summary: JobSummary,
    /// Events kept by `memory` sinks, by sink name.
    pub outputs: BTreeMap<String, Vec<Event>>,
    /// Operator label of the task that ran each slice, when tracing was asked for.
    pub slice_trace: Vec<String>,
}

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The engine could not be set up.
    #[error(transparent)]
    Engine(#[from] EngineSetupError),
    /// An operator module could not be built.
    #[error("operator \"{operator}\": {source}")]
    Build {
        /// The operator.
        operator: String,
        /// Why.
        #[source]
        source: BuildError,
    },
    /// An operator module was refused.
    #[error("operator \"{operator}\": {source}")]
    Load {
        /// The operator.
        operator: String,
        /// Why.
        #[source]
        source: LoadError,
    },
    /// An operator's module does not fit what the job asks of it.
    #[error("operator \"{operator}\": {reason}")]
    Mismatch {
        /// The operator.
        operator: String,
        /// What does not fit.
        reason: String,
    },
    /// An operator's spec asks for more fuel per call than the host allows.
    #[error(
        "operator \"{operator}\": fuel_per_call = {asked} is above this host's bound of \
         {ceiling} fuel per call (max_fuel_per_call); ask for less, or start the host with a \
         higher --max-fuel-per-call"
    )]
    FuelCeiling {
        /// The operator.
        operator: String,
        /// What its spec asks for.
        asked: u64,
        /// The host's bound.
        ceiling: u64,
    },
    /// A file source or sink could not be opened.
    #[error("{what} \"{name}\": could not open {path}: {source}")]
    Open {
        /// source or sink.
        what: &'static str,
        /// Its name.
        name: String,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Checkpoints could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] crate::state::checkpoint::CheckpointError),
    /// A checkpoint does not fit the job as it is now.
    #[error(
        "checkpoint {id} cannot be resumed: {reason}; the job changed since it was taken. \
         Remove {dir} to start the job from the beginning"
    )]
    Restore {
        /// The checkpoint.
        id: u64,
        /// What does not fit.
        reason: String,
        /// The job's checkpoint directory.
        dir: String,
    },
    /// The job spec could not be lowered into a plan.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The job was cancelled before it finished.
    #[error("job \"{job}\" was cancelled")]
    Cancelled {
        /// The job.
        job: String,
    },
    /// Threads could not be started.
    #[error("could not start a thread: {0}")]
    Thread(#[source] std::io::Error),
    /// An http source or sink on a host without a data directory.
    #[error(
        "\"{name}\" is an http source or sink, which keeps its data in the host's data \
         directory, and this host has none; http sources and sinks are for `cameo serve` (or \
         give the host a data directory)"
    )]
    NoDataDir {
        /// The source or sink.
        name: String,
    },
    /// The job failed while running (an operator could not be instantiated or initialised).
    #[error("job \"{job}\" failed: {reason}")]
    Failed {
        /// The job.
        job: String,
        /// Why.
        reason: String,
    },
}

/// A host: one wasmtime engine and one slice executor that any number of jobs share, so
/// their actors compete for the same workers under the same policy.
pub struct Host {
    engine: OperatorEngine,
    /// Nanoseconds per unit of fuel, measured at start-up.
    ns_per_fuel: f64,
    executor: Executor,
    options: RunOptions,
    started: bool,
    /// Label of every task, by task id.
    labels: Mutex<Vec<String>>,
    /// The memory budget every job's charges go to.
    budget: MemoryBudget,
    /// Keyed-state accounts, one per tenant, across its jobs.
    tenant_states: Mutex<HashMap<String, Arc<TenantState>>>,
    /// Ticks the engine's epoch when slices are bounded in wall time.
    _ticker: Option<EpochTicker>,
}

/// Room the host keeps back from its budget for lifting call outputs: each worker lifts one
/// call's outputs at a time, and they take at most [`crate::limits::OUTPUT_LIFT_FACTOR`] host
/// bytes per byte of the instance's linear memory.
fn output_lift_reserve(options: &RunOptions) -> u64 {
    (options.workers.max(1) as u64)
        .saturating_mul(crate::limits::OUTPUT_LIFT_FACTOR)
        .saturating_mul(options.limits.memory_bytes)
}

impl Host {
    /// A host with `options`; its workers start with [`Host::start`].
    pub fn new(options: RunOptions) -> Result<Self, JobError> {
        let engine = OperatorEngine::with_allocation(options.limits.clone(), options.allocation)?;
        let ns_per_fuel = calibrate::ns_per_fuel(engine.engine());
        let executor = Executor::new(options.policy.build(), TenantShares::new(options.workers));
        if options.trace_slices {
            executor.trace_slices();
        }
        let ticker = match options.limits.slice_micros {
            0 => None,
            micros => Some(
                engine
                    .tick_epochs(Duration::from_micros(micros), executor.timer_watch())
                    .map_err(JobError::Thread)?,
            ),
        };
        Ok(Host {
            _ticker: ticker,
            budget: MemoryBudget::with_reserve(options.budget, output_lift_reserve(&options)),
            engine,
            ns_per_fuel,
            executor,
            options,
            started: false,
            labels: Mutex::new(Vec::new()),
            tenant_states: Mutex::new(HashMap::new()),
        })
    }

    /// The engine the host's operators run on: modules handed to
    /// [`Host::submit_plan`] as [`plan::ModuleSource::Loaded`] must be loaded with it.
    pub fn engine(&self) -> &OperatorEngine {
        &self.engine
    }

    /// Bytes charged to the host's memory budget now, by all jobs.
    pub fn memory_used(&self) -> u64 {
        self.budget.used()
    }

    /// The keyed-state account of tenant `tenant`, shared by all its jobs.
    fn tenant_state(&self, tenant: &str) -> Arc<TenantState> {
        Arc::clone(
            self.tenant_states
                .lock_recovered()
                .entry(tenant.to_string())
                .or_insert_with(|| {
                    TenantState::new(tenant, self.options.limits.tenant_state_bytes)
                }),
        )
    }

    /// Nanoseconds per unit of fuel, measured when the host started.
    pub fn ns_per_fuel(&self) -> f64 {
        self.ns_per_fuel
    }

    /// Scheduling figures per tenant so far.
    pub fn sched_stats(&self) -> Vec<crate::sched::executor::TenantSchedStats> {
        self.executor.stats()
    }

    /// The options the host runs with.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Starts the worker threads (once).
    pub fn start(&mut self) -> Result<(), JobError> {
        if !self.started {
            self.executor
                .start(self.options.workers)
                .map_err(JobError::Thread)?;
            self.started = true;
        }
        Ok(())
    }

    /// Lowers `spec` into a plan (modules as paths next to the spec) and submits it.
    pub fn submit(&self, spec: &JobSpec) -> Result<JobHandle, JobError> {
        self.submit_plan(&plan::JobPlan::from_spec(spec)?)
    }

    /// Wires `plan` onto the host and starts its sources; the job runs once the workers run.
    /// A job that is refused (a module, a file, a checkpoint) leaves no task behind.
    pub fn submit_plan(&self, plan: &plan::JobPlan) -> Result<JobHandle, JobError> {
        build::build(self, plan)
    }

    /// Registers the actor `make` builds from its task id, labelled `label` in slice traces.
    fn add_task(
        &self,
        label: String,
        make: impl FnOnce(TaskId) -> Box<dyn crate::sched::executor::Task>,
    ) -> TaskId {
        let id = self
            .executor
            .add_with(|id| Ok::<_, std::convert::Infallible>(make(id)))
            .unwrap_or_else(|never| match never {});
        let mut labels = self.labels.lock_recovered();
        if labels.len() <= id {
            labels.resize(id + 1, String::new());
        }
        labels[id] = label;
        id
    }

    /// The label of the task of every slice run so far (when tracing was asked for).
    pub fn slice_trace(&self) -> Vec<String> {
        let labels = self.labels.lock_recovered();
        self.executor
            .slice_trace()
            .into_iter()
            .map(|task| {
                labels
                    .get(task)
                    .cloned()
                    .unwrap_or_else(|| format!("task {task}"))
            })
            .collect()
    }

    /// Removes what job `job` keeps in the data directory (checkpoints, http input and
    /// output), for a job that is over and will not be resumed.
    pub fn remove_job_data(&self, job: &str) -> std::io::Result<()> {
        let Some(data_dir) = &self.options.data_dir else {
            return Ok(());
        };
        for dir in endpoints::job_dirs(data_dir, job) {
            match std::fs::remove_dir_all(&dir) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }

    /// Stops the workers.
    pub fn shutdown(self) {
        self.executor.shutdown();
    }
}

/// A submitted job.
pub struct JobHandle {
    name: String,
    started: Instant,
    completion: Arc<Completion>,
    metrics: Arc<JobMetrics>,
    accounts: Accounts,
    memory_outputs: BTreeMap<String, Arc<Mutex<Vec<Event>>>>,
    /// The sources, timed tasks of the executor.
    source_tasks: Vec<TaskId>,
    activator: Activator,
    checkpointer: Option<Arc<Checkpointer>>,
    checkpoint_interval: Duration,
    recovery: Option<Recovery>,
    profiles: Vec<Arc<OperatorProfile>>,
    /// The module switch of every operator, by operator name.
    switches: BTreeMap<String, Arc<ModuleSwitch>>,
    /// The inlets of http sources, by source name.
    inlets: BTreeMap<String, Inlet>,
    /// The output files of http sinks, by sink name.
    outlets: BTreeMap<String, PathBuf>,
    /// Registers tasks (shadow instances) on the host's executor.
    spawner: crate::sched::executor::Spawner,
}

impl JobHandle {
    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The job's figures so far, while it runs.
    pub fn summary(&self) -> JobSummary {
        self.summary_at(self.started.elapsed())
    }

    /// The job's figures, over `elapsed` since it started.
    fn summary_at(&self, elapsed: Duration) -> JobSummary {
        monitor::summarize(
            &self.metrics,
            self.checkpointer.as_deref(),
            &self.accounts,
            &self.profiles,
            elapsed,
        )
    }

    /// Where the embedder pushes the input of http source `source`.
    pub fn inlet(&self, source: &str) -> Option<&Inlet> {
        self.inlets.get(source)
    }

    /// The NDJSON output file of http sink `sink`.
    pub fn outlet(&self, sink: &str) -> Option<&std::path::Path> {
        self.outlets.get(sink).map(PathBuf::as_path)
    }

    /// A handle to watch and steer the job from other threads while one waits for it.
    pub fn monitor(&self) -> monitor::JobMonitor {
        monitor::JobMonitor {
            started: self.started,
            completion: Arc::clone(&self.completion),
            metrics: Arc::clone(&self.metrics),
            accounts: self.accounts.clone(),
            checkpointer: self.checkpointer.clone(),
            profiles: self.profiles.clone(),
            switches: self.switches.clone(),
            inlets: self.inlets.clone(),
            spawner: self.spawner.clone(),
        }
    }

    /// Stops the job: its sources end, its actors drop their work, and [`JobHandle::wait`]
    /// returns [`JobError::Cancelled`].
    pub fn cancel(&self) {
        self.completion.cancel();
    }

    /// True once the job has finished, failed or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.completion.is_finished()
    }

    /// Waits until every source has read all its input (for deterministic runs whose
    /// input fits in the mailboxes).
    pub fn join_sources(&mut self) {
        // This thread runs the sources itself (before the workers start, nothing else would);
        // workers may run them too meanwhile, one at a time.
        for task in self.source_tasks.drain(..) {
            self.activator.drive(task);
        }
    }

    /// Waits for the job to finish and reports it.
    pub fn wait(mut self) -> Result<JobOutcome, JobError> {
        let checkpoint_thread = match &self.checkpointer {
            Some(checkpointer) => Some(
                checkpointer
                    .start(self.checkpoint_interval)
                    .map_err(JobError::Thread)?,
            ),
            None => None,
        };
        let result = self.completion.wait();
        if let Some(thread) = checkpoint_thread {
            thread.stop();
        }
        let elapsed = self.started.elapsed();
        // A source blocked on input (stdin) cannot be interrupted; do not wait for it after a
        // failure.
        if result.is_ok() {
            self.join_sources();
        }
        result.map_err(|end| match end {
            Ended::Cancelled => JobError::Cancelled {
                job: self.name.clone(),
            },
            Ended::Failed(reason) => JobError::Failed {
                job: self.name.clone(),
                reason,
            },
        })?;
        // The job is complete: its checkpoints would only replay finished work.
        if let Some(recovery) = &self.recovery {
            recovery.store.clear()?;
        }
        let summary = self.summary_at(elapsed);
        Ok(JobOutcome {
            summary,
            outputs: self
                .memory_outputs
                .into_iter()
                .map(|(name, kept)| {
                    let events = std::mem::take(&mut *kept.lock_recovered());
                    (name, events)
                })
                .collect(),
            slice_trace: Vec::new(),
        })
    }
}

/// Runs `spec` to completion on a host of its own and returns its summary and outputs.
pub fn run_job(spec: &JobSpec, options: &RunOptions) -> Result<JobOutcome, JobError> {
    run_plan(&plan::JobPlan::from_spec(spec)?, options)
}

/// Runs `plan` (a spec whose modules a resolver chose, see [`plan::JobPlan::with_modules`])
/// to completion on a host of its own and returns its summary and outputs.
pub fn run_plan(plan: &plan::JobPlan, options: &RunOptions) -> Result<JobOutcome, JobError> {
    let mut host = Host::new(options.clone())?;
    let mut job = host.submit_plan(plan)?;
    if options.start_after_sources {
        job.join_sources();
    }
    host.start()?;
    let outcome = job.wait();
    let trace = host.slice_trace();
    host.shutdown();
    let mut outcome = outcome?;
    outcome.slice_trace = trace;
    Ok(outcome)
}
