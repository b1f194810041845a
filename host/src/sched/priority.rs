//! The priority context every message carries, and the priority a runnable actor is queued
//! with.

use std::time::{Duration, Instant};

/// What travels with every message besides the event: where it stands against its job's
/// latency target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityContext {
    /// When the source took in the event the message derives from (end-to-end latency is
    /// measured from here).
    pub ingest: Instant,
    /// When the message's result must reach the sink: ingest + latency target for output
    /// that follows at once; later for input that only feeds a window firing later.
    pub deadline: Instant,
    /// The message's event time (stream progress), in ms.
    pub event_time: i64,
}

impl PriorityContext {
    /// The context a source gives an event it takes in now: due `target` after ingest.
    pub fn at_source(ingest: Instant, event_time: i64, target: Duration) -> Self {
        PriorityContext {
            ingest,
            // A target too far out to represent is as good as none.
            deadline: ingest.checked_add(target).unwrap_or(ingest),
            event_time,
        }
    }
}

/// How urgent a runnable task is, as the run queue orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// Latest time the task's best pending message must be done by at this operator (its
    /// deadline minus the cost still ahead of it downstream).
    pub due: Instant,
    /// Estimated cost of the task's next message here, in ns.
    pub cost_ns: u64,
    /// The tenant whose CPU share the work counts against.
    pub tenant: usize,
}
