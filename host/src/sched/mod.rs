//! Scheduling: which runnable actor gets the next fuel slice.
//!
//! The executor ([`executor`]) owns the worker threads and asks the [`queue::RunQueue`] for
//! the next runnable task at every slice boundary; the decision is always ours, never a
//! general-purpose async runtime's. The queue orders tasks by a [`Policy`] over each task's
//! [`priority::Priority`], and only within its tenant's CPU share ([`queue::TenantShares`]).
//!
//! # Layout
//! - [`priority`]: the priority context messages carry and the priority tasks queue with.
//! - [`profile`]: per-operator cost profiles and the context converter.
//! - [`queue`]: the run queue and tenant shares.
//! - [`executor`]: worker threads running slices.
//! - [`timers`]: timed tasks (sources), run at set times outside the policy's order.
//! - [`keyed_heap`]: the heap with re-keying behind the run queue and the timers.
//! - [`calibrate`]: fuel-to-time calibration at start-up.

pub mod calibrate;
pub mod executor;
pub mod keyed_heap;
pub mod priority;
pub mod profile;
pub mod queue;
pub mod timers;

use std::time::Instant;

use priority::Priority;

/// Identifies a task (an actor) registered with an executor.
pub type TaskId = usize;

/// Orders runnable tasks: a smaller key runs first. Keys are fixed when a task is queued;
/// `seq` numbers the pushes (arrival order) and `epoch` is the host's start.
pub trait Policy: Send {
    /// The policy's name, as given on the command line.
    fn name(&self) -> &'static str;
    /// The order key of a task queued with `priority`.
    fn key(&self, priority: &Priority, seq: u64, epoch: Instant) -> i128;
    /// Whether a call may be parked at a slice boundary for better work. Without preemption
    /// a worker runs each call to completion, as message-at-a-time engines do.
    fn preempts(&self) -> bool {
        true
    }
    /// How much smaller a waiting task's key must be than a running task's for the waiting
    /// one to take the worker at a slice boundary. Switching costs (the parked call's caches
    /// go cold), so near-ties keep their worker.
    fn margin(&self) -> i128 {
        0
    }
    /// Whether tenant CPU shares come before the key. The FIFO baseline serves every tenant
    /// in arrival order, as engines without tenant scheduling do.
    fn shares(&self) -> bool {
        true
    }
}

/// Deadlines closer than this count as ties for preemption under `edf` and `llf`.
const DEADLINE_MARGIN_NS: i128 = 1_000_000;

fn nanos_since(epoch: Instant, at: Instant) -> i128 {
    if at >= epoch {
        at.duration_since(epoch).as_nanos() as i128
    } else {
        -(epoch.duration_since(at).as_nanos() as i128)
    }
}

/// First come, first served, each call run to completion: the baseline of message-at-a-time
/// engines and actor runtimes, with no tenant shares. (Slices still end at every fuel quantum, so fuel and the
/// runaway cap apply; the worker just keeps polling the same call.)
#[derive(Debug, Default)]
pub struct Fifo;

impl Policy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn key(&self, _priority: &Priority, seq: u64, _epoch: Instant) -> i128 {
        seq as i128
    }

    fn preempts(&self) -> bool {
        false
    }

    fn shares(&self) -> bool {
        false
    }
}

/// Round robin: arrival order, and a task that yields at a slice boundary goes to the back,
/// so runnable tasks share the workers slice by slice (processor sharing).
#[derive(Debug, Default)]
pub struct RoundRobin;

impl Policy for RoundRobin {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn key(&self, _priority: &Priority, seq: u64, _epoch: Instant) -> i128 {
        seq as i128
    }
}

/// Earliest deadline first.
#[derive(Debug, Default)]
pub struct Edf;

impl Policy for Edf {
    fn name(&self) -> &'static str {
        "edf"
    }

    fn key(&self, priority: &Priority, _seq: u64, epoch: Instant) -> i128 {
        nanos_since(epoch, priority.due)
    }

    fn margin(&self) -> i128 {
        DEADLINE_MARGIN_NS
    }
}

/// Least laxity first: deadline minus the work still to do for it.
#[derive(Debug, Default)]
pub struct Llf;

impl Policy for Llf {
    fn name(&self) -> &'static str {
        "llf"
    }

    fn key(&self, priority: &Priority, _seq: u64, epoch: Instant) -> i128 {
        nanos_since(epoch, priority.due) - priority.cost_ns as i128
    }

    fn margin(&self) -> i128 {
        DEADLINE_MARGIN_NS
    }
}

/// Shortest job first: the least estimated cost.
#[derive(Debug, Default)]
pub struct Sjf;

impl Policy for Sjf {
    fn name(&self) -> &'static str {
        "sjf"
    }

    fn key(&self, priority: &Priority, seq: u64, _epoch: Instant) -> i128 {
        // Ties (equal cost) go in arrival order.
        ((priority.cost_ns as i128) << 64) | seq as i128
    }
}

/// The scheduling policies a host can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// First come, first served, calls run to completion (the baseline).
    #[default]
    Fifo,
    /// Round robin over slices: fair sharing, no deadlines.
    #[value(name = "rr")]
    #[serde(rename = "rr")]
    RoundRobin,
    /// Earliest deadline first.
    Edf,
    /// Least laxity first.
    Llf,
    /// Shortest job first.
    Sjf,
}

impl PolicyKind {
    /// Every policy, in the order benchmarks report them.
    pub const ALL: [PolicyKind; 5] = [
        PolicyKind::Fifo,
        PolicyKind::RoundRobin,
        PolicyKind::Edf,
        PolicyKind::Llf,
        PolicyKind::Sjf,
    ];

    /// A fresh policy of this kind.
    pub fn build(self) -> Box<dyn Policy> {
        match self {
            PolicyKind::Fifo => Box::new(Fifo),
            PolicyKind::RoundRobin => Box::new(RoundRobin),
            PolicyKind::Edf => Box::new(Edf),
            PolicyKind::Llf => Box::new(Llf),
            PolicyKind::Sjf => Box::new(Sjf),
        }
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        self.build().name()
    }
}
