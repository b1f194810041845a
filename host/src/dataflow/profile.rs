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

    /// The tenant index.
    pub fn tenant(&self) -> usize {
        self.tenant
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
                .assign(context.event_time)
                .first()
                .map_or(context.event_time, |(_, end)| *end),
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
mod tests {
    use super::*;

    fn profile(window: Option<WindowDef>) -> Arc<OperatorProfile> {
        OperatorProfile::new(ProfileSetup {
            name: "job/op".into(),
            tenant: 0,
            latency_target: Duration::from_millis(50),
            window,
            watermark_delay_ms: 0,
            ns_per_fuel: 1.0,
        })
    }

    #[test]
    fn a_stateless_operator_passes_the_deadline_on_minus_the_cost_downstream() {
        let op = profile(None);
        let next = profile(None);
        next.record(2_000_000, 1); // 2 ms per message at 1 ns per fuel
        op.set_successors(vec![Arc::clone(&next)]);
        let now = Instant::now();
        let context = PriorityContext::at_source(now, 0, Duration::from_millis(50));
        let priority = op.priority(&context);
        assert_eq!(priority.due, now + Duration::from_millis(48));
        assert_eq!(op.downstream_ns(), 2_000_000);
    }

    #[test]
    fn only_a_watermark_past_the_last_instant_of_a_window_fires() {
        let tumbling = profile(Some(WindowDef {
            kind: WindowKind::Tumbling,
            size: 1000,
            slide: 1000,
            gap: 0,
            allowed_lateness: 0,
        }));
        // Windows [0, 1000), [1000, 2000): their last instants are 999 and 1999.
        assert!(!tumbling.watermark_fires(500, 998));
        assert!(tumbling.watermark_fires(500, 999));
        assert!(
            !tumbling.watermark_fires(999, 1998),
            "999 closed [0, 1000) already"
        );
        assert!(tumbling.watermark_fires(998, 5000));
        assert!(!tumbling.watermark_fires(1500, 1500), "not an advance");
        assert!(
            tumbling.watermark_fires(i64::MIN, -1),
            "the first watermark"
        );
        let sliding = profile(Some(WindowDef {
            kind: WindowKind::Sliding,
            size: 1000,
            slide: 250,
            gap: 0,
            allowed_lateness: 0,
        }));
        // Windows end every 250 ms: [-750, 250), [-500, 500), ...
        assert!(!sliding.watermark_fires(250, 498));
        assert!(sliding.watermark_fires(250, 499));
        let session = profile(Some(WindowDef {
            kind: WindowKind::Session,
            size: 0,
            slide: 0,
            gap: 100,
            allowed_lateness: 0,
        }));
        assert!(session.watermark_fires(500, 501), "sessions end anywhere");
        // A watermark that closes no window here may close one downstream.
        let hourly = profile(Some(WindowDef {
            kind: WindowKind::Tumbling,
            size: 3_600_000,
            slide: 3_600_000,
            gap: 0,
            allowed_lateness: 0,
        }));
        hourly.set_successors(vec![Arc::clone(&tumbling)]);
        assert!(!hourly.watermark_fires(500, 998));
        assert!(
            hourly.watermark_fires(500, 999),
            "closes the 1 s window downstream"
        );
        assert!(
            profile(None).watermark_fires(500, 501),
            "timers may fire anywhere"
        );
    }

    #[test]
    fn a_message_that_only_feeds_a_later_window_is_not_urgent() {
        let window = WindowDef {
            kind: WindowKind::Tumbling,
            size: 10_000,
            slide: 10_000,
            gap: 0,
            allowed_lateness: 0,
        };
        let op = profile(Some(window));
        let now = Instant::now();
        // Event time runs with wall time: an event at the start of a 10 s window fires in
        // about 10 s, one at its end right away.
        let early = PriorityContext::at_source(now, 0, Duration::from_millis(50));
        let late = PriorityContext::at_source(now, 9_999, Duration::from_millis(50));
        let early_due = op.priority(&early).due;
        let late_due = op.priority(&late).due;
        assert!(
            early_due >= now + Duration::from_millis(9_999 + 50),
            "{:?}",
            early_due - now
        );
        assert_eq!(late_due, now + Duration::from_millis(50));
        // An urgent message of a stateless job goes before the early-window one.
        let urgent = profile(None).priority(&PriorityContext::at_source(
            now,
            0,
            Duration::from_millis(100),
        ));
        assert!(urgent.due < early_due);
        // A watermark carrying the early event's context may fire the window before it: it
        // is due one target after that event, not deferred to the next window.
        assert_eq!(
            op.frontier_priority(&early).due,
            now + Duration::from_millis(50)
        );
    }

    #[test]
    fn a_waiting_watermark_makes_the_work_ahead_of_it_urgent() {
        let op = profile(Some(WindowDef {
            kind: WindowKind::Tumbling,
            size: 10_000,
            slide: 10_000,
            gap: 0,
            allowed_lateness: 0,
        }));
        let now = Instant::now();
        let target = Duration::from_millis(50);
        let early = PriorityContext::at_source(now, 0, target);
        let urgent = now + target;
        let due = |pending: Pending| op.best(&pending).map(|p| p.due);
        assert_eq!(due(Pending::default()), None, "nothing pending");
        let deferred = due(Pending {
            head: Some(early),
            ..Pending::default()
        })
        .unwrap();
        assert!(
            deferred > urgent + Duration::from_secs(9),
            "an early event waits"
        );
        // The same event with a watermark behind it: the window may fire, so it is urgent.
        assert_eq!(
            due(Pending {
                head: Some(early),
                watermark: Some(early),
                ..Pending::default()
            }),
            Some(urgent)
        );
        // A batch in flight and a retry ahead of a watermark are urgent too.
        for pending in [
            Pending {
                in_flight: Some(InFlight {
                    context: early,
                    fires: false,
                }),
                watermark: Some(early),
                ..Pending::default()
            },
            Pending {
                retry: Some(early),
                watermark: Some(early),
                ..Pending::default()
            },
        ] {
            assert_eq!(due(pending), Some(urgent), "{pending:?}");
        }
        // Firings are never deferred, with or without a watermark waiting.
        for pending in [
            Pending {
                in_flight: Some(InFlight {
                    context: early,
                    fires: true,
                }),
                ..Pending::default()
            },
            Pending {
                due: Some(early),
                head: Some(early),
                ..Pending::default()
            },
        ] {
            assert_eq!(due(pending), Some(urgent), "{pending:?}");
        }
        // Without a watermark a batch in flight keeps its deferred deadline.
        assert_eq!(
            due(Pending {
                in_flight: Some(InFlight {
                    context: early,
                    fires: false,
                }),
                ..Pending::default()
            }),
            Some(deferred)
        );
    }

    #[test]
    fn costs_are_an_average_of_fuel_per_message() {
        let op = profile(None);
        op.record(1_000, 10);
        assert_eq!(op.fuel_per_message(), 100.0);
        op.record(2_000, 10);
        assert!((op.fuel_per_message() - 120.0).abs() < 1e-9);
    }
}
