//! Scheduling: which runnable actor gets the next fuel slice.
//!
//! The executor ([`executor`]) owns the worker threads and asks the [`queue::RunQueue`] for
//! the next runnable task at every slice boundary; the decision is always ours, never a
//! general-purpose async runtime's. The queue orders tasks by a [`Policy`] over each task's
//! [`priority::Priority`], and only within its tenant's CPU share ([`queue::TenantShares`]).
//!
//! # Layout
//! - [`priority`]: the priority tasks queue with.
//! - [`queue`]: the run queue and tenant shares.
//! - [`passed_over`]: what other tenants ran while a tenant's task waited.
//! - [`executor`]: worker threads running slices.
//! - [`timers`]: timed tasks (sources), run at set times outside the policy's order.
//! - [`keyed_heap`]: the heap with re-keying behind the run queue and the timers.
//! - [`calibrate`]: fuel-to-time calibration at start-up.

pub mod calibrate;
pub mod executor;
pub mod keyed_heap;
pub mod passed_over;
pub mod priority;
pub mod queue;
pub mod timers;

use std::time::Instant;

use priority::Priority;

/// Identifies a task (an actor) registered with an executor.
pub type TaskId = usize;

/// Orders runnable tasks: a smaller key runs first. Keys are fixed when a task is queued;
/// `seq` numbers the pushes (arrival order) and `epoch` is the host's start.
pub trait Policy: Send {
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
    /// Whether a call that has run for many slices goes after its tenant's other work (see
    /// [`priority::Priority::demoted`]): deadline and cost policies do; round robin already
    /// shares the workers slice by slice.
    fn demotes(&self) -> bool {
        self.preempts()
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
    fn demotes(&self) -> bool {
        false
    }

    fn key(&self, _priority: &Priority, seq: u64, _epoch: Instant) -> i128 {
        seq as i128
    }
}

/// Earliest deadline first.
#[derive(Debug, Default)]
pub struct Edf;

impl Policy for Edf {
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
    fn key(&self, priority: &Priority, seq: u64, _epoch: Instant) -> i128 {
        // Ties (equal cost) go in arrival order.
        ((priority.cost_ns as i128) << 64) | seq as i128
    }
}

/// The scheduling policies a host can run with. The default is [`PolicyKind::Edf`], the
/// deadline policy measured best (`cameo bench multi-tenant`); [`PolicyKind::Fifo`] is the
/// message-at-a-time baseline it is measured against.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// First come, first served, calls run to completion (the baseline).
    Fifo,
    /// Round robin over slices: fair sharing, no deadlines.
    #[serde(rename = "rr")]
    RoundRobin,
    /// Earliest deadline first.
    #[default]
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

    /// The names policies are given by, in the order of [`PolicyKind::ALL`].
    pub const NAMES: [&'static str; 5] = ["fifo", "rr", "edf", "llf", "sjf"];

    /// A fresh policy of this kind.
    pub(crate) fn build(self) -> Box<dyn Policy> {
        match self {
            PolicyKind::Fifo => Box::new(Fifo),
            PolicyKind::RoundRobin => Box::new(RoundRobin),
            PolicyKind::Edf => Box::new(Edf),
            PolicyKind::Llf => Box::new(Llf),
            PolicyKind::Sjf => Box::new(Sjf),
        }
    }

    /// The policy's name, as [`str::parse`] takes it.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Fifo => "fifo",
            PolicyKind::RoundRobin => "rr",
            PolicyKind::Edf => "edf",
            PolicyKind::Llf => "llf",
            PolicyKind::Sjf => "sjf",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is none of [`PolicyKind::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy \"{0}\"; use one of fifo, rr, edf, llf, sjf")]
pub struct UnknownPolicy(pub String);

impl std::str::FromStr for PolicyKind {
    type Err = UnknownPolicy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL
            .into_iter()
            .find(|policy| policy.name() == name)
            .ok_or_else(|| UnknownPolicy(name.to_string()))
    }
}

#[cfg(test)]
mod policy_kind_tests {
    use super::*;

    #[test]
    fn every_policy_parses_from_its_name_and_nothing_else_does() {
        for (policy, name) in PolicyKind::ALL.into_iter().zip(PolicyKind::NAMES) {
            assert_eq!(name.parse::<PolicyKind>(), Ok(policy));
            assert_eq!(policy.to_string(), name);
        }
        assert_eq!(
            "EDF".parse::<PolicyKind>().map_err(|e| e.to_string()),
            Err("unknown policy \"EDF\"; use one of fifo, rr, edf, llf, sjf".to_string())
        );
    }

    #[test]
    fn the_default_is_the_deadline_policy() {
        assert_eq!(PolicyKind::default(), PolicyKind::Edf);
    }
}
