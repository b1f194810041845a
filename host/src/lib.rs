//! cameo runs user-defined stream operators as sandboxed WebAssembly components.
//!
//! Every operator instance is an actor: a wasmtime store and instance, a bounded mailbox and a
//! fuel account. Calls into the guest are futures that yield every fuel slice, and the host's
//! own slice executor decides at every slice which actor runs next, by a deadline priority
//! propagated through the dataflow. A runaway, a trap or a memory blow-up fails only the call
//! that caused it; the job goes on.
//!
//! # Running a job
//!
//! A [`JobSpec`] is what the user wrote (TOML, with the line of every field for errors); it is
//! lowered once into a validated [`JobPlan`] (paths resolved, modules chosen, defaults applied,
//! channels numbered), which a [`Host`] wires onto its workers. [`run_job`] does all of it on
//! a host of its own:
//!
//! ```
//! use cameo_host::{Host, JobSpec, RunOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A job without operators: generated events straight into a sink kept in memory.
//! let spec = JobSpec::parse(
//!     r#"
//!     name = "hello"
//!     [[source]]
//!     name = "numbers"
//!     kind = "generator"
//!     count = 1000
//!     [[sink]]
//!     name = "out"
//!     kind = "memory"
//!     inputs = ["numbers"]
//!     "#,
//!     "hello.toml",
//!     std::env::current_dir()?,
//! )?;
//! let mut host = Host::new(RunOptions { workers: 1, ..RunOptions::default() })?;
//! let job = host.submit(&spec)?;
//! host.start()?;
//! let outcome = job.wait()?;
//! assert_eq!(outcome.summary.events_out, 1000);
//! assert_eq!(outcome.outputs["out"].len(), 1000);
//! host.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! Operator modules are components built against the `cameo:operator` WIT package;
//! [`OperatorModule::load_file`] validates one the way a job does, and [`build_rust`] builds a
//! Rust operator crate into one.
//!
//! # Layout
//! - `bindings`: the one `bindgen!` of the `cameo:operator` WIT world.
//! - `engine`: wasmtime engine, linker, host imports (`state`, `timers`, `log`), limits on
//!   memory and WASI.
//! - `registry`: validating and loading operator components, with clear refusals.
//! - `builder`: building operator sources into components.
//! - `job`: the [`Host`], job handles, the plan ([`JobPlan`]) and its wiring, recovery.
//! - `actor`: one operator instance as an actor; calls as parkable futures; failures.
//! - `dataflow`: the job spec, records and mailboxes, the deadline converter, routing,
//!   sources, sinks, dead letters.
//! - `sched`: scheduling only: tasks, policies, priorities, the run queue, the slice
//!   executor, timers.
//! - `time`: watermarks, windows, joins and event-time timers.
//! - `state`: host-held keyed state with per-call transactions and quotas; checkpoints.
//! - `limits`: every limit in one place: per instance, and the fixed ones.
//! - `budget`: the host's memory budget, shared out to tenants and jobs.
//! - `metrics`: counters, latency histograms, the job summary.
//!
//! The layering runs one way: job → actor → dataflow → sched; nothing below imports what is
//! above it.

#![deny(missing_docs)]

mod actor;
#[allow(missing_docs)]
mod bindings;
mod budget;
mod builder;
mod dataflow;
mod engine;
mod hashing;
mod job;
mod limits;
mod metrics;
mod registry;
mod sched;
mod state;
mod sync;
mod time;

pub use actor::shadow::report::{
    Cost, Costs, Difference, KeyCounts, OutputView, Percentiles, ShadowReport,
};
pub use bindings::{Event, Header};
pub use budget::{BudgetConfig, BudgetExceeded, Resource};
pub use builder::{BuildError, build_rust};
pub use dataflow::outlet::{Outlet, outlet_segments};
pub use dataflow::source::http::{Inlet, InletError};
pub use dataflow::spec::{JobSpec, SinkKind, SourceKind, SpecError};
pub use engine::log::{LogLine, LogSink};
pub use engine::{Allocation, EngineSetupError, OperatorEngine};
pub use job::monitor::JobMonitor;
pub use job::plan::{JobPlan, ModuleSource, PlanError};
pub use job::replay::{Replay, ReplayError};
pub use job::shadow::{ShadowError, ShadowStarted};
pub use job::upgrade::{UpgradeError, Upgraded};
pub use job::{Host, JobError, JobHandle, JobOutcome, RunOptions, run_job, run_plan};
pub use limits::{FIXED_LIMITS, Limits};
pub use metrics::{
    InstanceStats, JobSummary, LatencyBuckets, LatencySummary, MailboxDepth, OperatorStats,
    SinkStats,
};
pub use registry::{LoadError, OperatorModule};
pub use sched::executor::{PassedOver, TenantSchedStats};
pub use sched::{PolicyKind, UnknownPolicy};
pub use state::checkpoint::CheckpointStats;

/// Internals for the host's own benchmarks (the call path, checkpoint storage): not a stable
/// interface, and only with the `internals` feature.
#[cfg(feature = "internals")]
pub mod internals {
    use std::sync::Arc;

    pub use crate::actor::call::{self, BatchKind, CallContext, CallDone, CallInput, Slot};
    pub use crate::budget::{Accounts, Budget, MemoryBudget};
    pub use crate::dataflow::record::{Batch, PriorityContext, Record};
    pub use crate::state::checkpoint::{
        ActorSnapshot, Checkpoint, CheckpointError, CheckpointStore,
    };
    pub use crate::state::{Held, KeyedState, StateTxn, TenantState};
    pub use crate::time::window::{Lateness, PaneKey, WindowDef, WindowKind};
    pub use crate::time::{InputWatermarks, TimerQueue};

    /// A fresh store for an instance labelled `label` charging `accounts`, holding nothing
    /// yet.
    pub fn fresh_slot(engine: &crate::OperatorEngine, label: &str, accounts: &Accounts) -> Slot {
        Slot::Fresh(engine.new_store(
            Arc::from(label),
            Held::default(),
            None,
            None,
            accounts.clone(),
        ))
    }

    /// A fresh store for an instance of an operator with the host-managed window `window`,
    /// labelled `label` and charging `accounts`, holding `held` (what the host kept of an
    /// earlier instance: its state and panes).
    pub fn fresh_window_slot(
        engine: &crate::OperatorEngine,
        label: &str,
        held: Held,
        window: WindowDef,
        accounts: &Accounts,
    ) -> Slot {
        Slot::Fresh(engine.new_store(Arc::from(label), held, Some(window), None, accounts.clone()))
    }

    /// An operator instance made and left idle, never called: what the density benchmark
    /// counts.
    pub struct IdleInstance {
        _store: wasmtime::Store<crate::engine::HostState>,
        _instance: wasmtime::component::Instance,
    }

    /// Instantiates `module` (pre-instantiated when it was loaded) into a fresh store charging
    /// `accounts`, without calling `init`; the error says why it could not be.
    pub async fn instantiate_idle(
        engine: &crate::OperatorEngine,
        module: &crate::OperatorModule,
        accounts: &Accounts,
    ) -> Result<IdleInstance, String> {
        let mut store = engine.new_store(
            Arc::from(module.name()),
            Held::default(),
            None,
            None,
            accounts.clone(),
        );
        // Start functions, if any, run under a generous budget and no epoch deadline.
        store
            .set_fuel(u64::MAX / 4)
            .map_err(|e| format!("could not set fuel: {e:#}"))?;
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = module
            .pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|e| format!("{}: could not be instantiated: {e:#}", module.name()))?;
        Ok(IdleInstance {
            _store: store,
            _instance: instance,
        })
    }
}
