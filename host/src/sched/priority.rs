//! The priority a runnable task is queued with.

use std::time::Instant;

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
    /// True for a call that has already run for many slices: it goes after every task of its
    /// tenant that is not, whatever its deadline, so a call that keeps burning its fuel
    /// cannot hold the tenant's share against its siblings (a multi-level feedback queue's
    /// demotion).
    pub demoted: bool,
}
