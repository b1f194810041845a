//! Cost profiles and the deadline converter of one operator.
//!
//! Each operator learns what a message costs it (an EWMA of fuel per message, turned into
//! time by the start-up calibration), and knows its successors, so the cost still ahead of a
//! message downstream flows back upstream. The converter turns a message's priority context
//! into the priority its actor is queued with: the deadline minus the downstream cost, where
//! for a windowed operator the deadline of a message that only feeds a later window firing is
//! that firing's estimated time plus the latency target (so early-window messages yield to
//! urgent work).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::record::PriorityContext;
use crate::sched::priority::Priority;
use crate::time::window::{WindowDef, WindowKind};

/// Weight of a new sample in the cost average.
const EWMA_WEIGHT: f64 = 0.2;

/// What the scheduler knows about one operator.
pub struct OperatorProfile {
    name: String,
    tenant: usize,
    latency_target: Duration,
    window: Option<WindowDef>,
    watermark_delay_ms: i64,
    ns_per_fuel: f64,
    /// f64 bits of the fuel-per-message average; 0 until the first call.
    fuel_per_message: AtomicU64,
    successors: OnceLock<Vec<Arc<OperatorProfile>>>,
    /// First (ingest, event time) seen, to estimate how fast event time advances.
    origin: OnceLock<(Instant, i64)>,
}

/// How the profile of an operator starts.
pub struct ProfileSetup {
    /// `job/operator`.
    pub name: String,
    /// The tenant's index in the run queue.
    pub tenant: usize,
    /// The job's latency target.
    pub latency_target: Duration,
    /// The operator's window, if host-managed.
    pub window: Option<WindowDef>,
    /// Largest watermark delay of the sources upstream.
    pub watermark_delay_ms: i64,
    /// Calibration.
    pub ns_per_fuel: f64,
}

impl OperatorProfile {
    /// A profile with no samples yet.
    pub fn new(setup: ProfileSetup) -> Arc<Self> {
        Arc::new(OperatorProfile {
            name: setup.name,
            tenant: setup.tenant,
            latency_target: setup.latency_target,
            window: setup.window,
            watermark_delay_ms: setup.watermark_delay_ms,
            ns_per_fuel: setup.ns_per_fuel,
            fuel_per_message: AtomicU64::new(0),
            successors: OnceLock::new(),
            origin: OnceLock::new(),
        })
    }

    /// The operator's label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the operators this one feeds (once, after the job is wired).
    pub fn set_successors(&self, successors: Vec<Arc<OperatorProfile>>) {
        let _ = self.successors.set(successors);
    }

    /// Records a call that burned `fuel` for `messages` messages.
    pub fn record(&self, fuel: u64, messages: usize) {
        let sample = fuel as f64 / messages.max(1) as f64;
        let _ = self
            .fuel_per_message
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let old = f64::from_bits(bits);
                let new = if bits == 0 {
                    sample
                } else {
                    old + EWMA_WEIGHT * (sample - old)
                };
                Some(new.max(f64::MIN_POSITIVE).to_bits())
            });
    }

    /// Average fuel per message so far.
    pub fn fuel_per_message(&self) -> f64 {
        f64::from_bits(self.fuel_per_message.load(Ordering::Relaxed))
    }

    /// Estimated time one message takes here, ns.
    pub fn cost_ns(&self) -> u64 {
        (self.fuel_per_message() * self.ns_per_fuel) as u64
    }

    /// Estimated time still ahead of a message after this operator, ns: the costliest path
    /// to a sink.
    pub fn downstream_ns(&self) -> u64 {
        self.successors
            .get()
            .map(|successors| {
                successors
                    .iter()
                    .map(|s| s.cost_ns().saturating_add(s.downstream_ns()))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// The deadline a message has at this operator (the context converter).
    pub fn deadline(&self, context: &PriorityContext) -> Instant {
        let Some(window) = &self.window else {
            return context.deadline;
        };
        if context.event_time == i64::MIN {
            // No event time yet (work made by the end of input before any watermark).
            return context.deadline;
        }
        let origin = *self
            .origin
            .get_or_init(|| (context.ingest, context.event_time));
        let end = match window.kind {
            WindowKind::Session => context.event_time.saturating_add(window.gap),
            WindowKind::Tumbling | WindowKind::Sliding => window
                .first_end(context.event_time)
                .unwrap_or(context.event_time),
        };
        // The window fires when an event with time end - 1 + delay arrives. Estimate when
        // that is from how fast event time has been advancing against ingest time.
        let ahead_ms = end
            .saturating_sub(1)
            .saturating_add(self.watermark_delay_ms)
            .saturating_sub(context.event_time)
            .max(0) as f64;
        let wall_ms = context
            .ingest
            .saturating_duration_since(origin.0)
            .as_secs_f64()
            * 1000.0;
        let event_ms = context.event_time.saturating_sub(origin.1) as f64;
        let rate = if wall_ms > 100.0 && event_ms > 0.0 {
            event_ms / wall_ms
        } else {
            1.0
        };
        let longest = Duration::from_secs(3600);
        let wait = Duration::try_from_secs_f64((ahead_ms / rate.max(1e-3)) / 1000.0)
            .unwrap_or(longest)
            .min(longest);
        let fires = context
            .ingest
            .checked_add(wait + self.latency_target)
            .unwrap_or(context.deadline);
        context.deadline.max(fires)
    }

    /// True when a watermark at `time` may make output due at this operator, whose watermark
    /// is `current`: when it passes the last instant of one of its windows (tumbling,
    /// sliding) or of a window downstream. Without such a window here (sessions, guest
    /// timers) any watermark may.
    pub fn watermark_fires(&self, current: i64, time: i64) -> bool {
        match self
            .window
            .and_then(|window| window.closes_between(current, time))
        {
            Some(false) => self.closes_downstream(current, time),
            Some(true) | None => true,
        }
    }

    /// True when a watermark moving from `current` to `time` passes the end of a window of an
    /// operator downstream (taking its watermark to trail this one's).
    fn closes_downstream(&self, current: i64, time: i64) -> bool {
        self.successors.get().is_some_and(|successors| {
            successors.iter().any(|next| {
                match next
                    .window
                    .map(|window| window.closes_between(current, time))
                {
                    Some(Some(true) | None) => true,
                    Some(Some(false)) | None => next.closes_downstream(current, time),
                }
            })
        })
    }

    /// The priority of an actor's best pending work, `None` when nothing is pending. The
    /// first of the call in flight, a retry, a due firing and the mailbox's head event is
    /// what runs next; firings are never deferred; and everything pending comes before the
    /// first waiting watermark, so it takes that watermark's urgency when that is greater.
    pub fn best(&self, pending: &Pending) -> Option<Priority> {
        let next = match (pending.in_flight, pending.retry, pending.due) {
            (
                Some(InFlight {
                    context,
                    fires: true,
                }),
                _,
                _,
            )
            | (None, None, Some(context)) => Some(self.frontier_priority(&context)),
            (
                Some(InFlight {
                    context,
                    fires: false,
                }),
                _,
                _,
            )
            | (None, Some(context), _) => Some(self.priority(&context)),
            (None, None, None) => pending.head.map(|context| self.priority(&context)),
        };
        let frontier = pending
            .watermark
            .map(|context| self.frontier_priority(&context));
        match (next, frontier) {
            (Some(next), Some(frontier)) if frontier.due < next.due => Some(frontier),
            (Some(best), _) | (None, Some(best)) => Some(best),
            (None, None) => None,
        }
    }

    /// The priority of work that makes output now (a watermark that may fire windows, a
    /// firing, a timer): due one latency target after its context's ingest, minus the cost
    /// downstream, never deferred to a later window.
    pub fn frontier_priority(&self, context: &PriorityContext) -> Priority {
        let downstream = Duration::from_nanos(self.downstream_ns());
        Priority {
            due: context
                .deadline
                .checked_sub(downstream)
                .unwrap_or(context.deadline),
            cost_ns: self.cost_ns(),
            tenant: self.tenant,
            demoted: false,
        }
    }

    /// The priority of a message waiting at this operator.
    pub fn priority(&self, context: &PriorityContext) -> Priority {
        let downstream = Duration::from_nanos(self.downstream_ns());
        let deadline = self.deadline(context);
        Priority {
            due: deadline.checked_sub(downstream).unwrap_or(deadline),
            cost_ns: self.cost_ns(),
            tenant: self.tenant,
            demoted: false,
        }
    }
}

/// A call in flight, as the converter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// The context its outputs inherit.
    pub context: PriorityContext,
    /// True when it fires a window or a timer (output now, never deferred).
    pub fires: bool,
}

/// What an actor has pending, by priority context (see [`OperatorProfile::best`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pending {
    /// The call in flight.
    pub in_flight: Option<InFlight>,
    /// The first event waiting to be retried on its own.
    pub retry: Option<PriorityContext>,
    /// The first due firing (a pane or a timer).
    pub due: Option<PriorityContext>,
    /// The event at the head of the mailbox.
    pub head: Option<PriorityContext>,
    /// The first watermark waiting in the mailbox.
    pub watermark: Option<PriorityContext>,
}

#[cfg(test)]
mod tests;
