//! An actor's part in a shadow run: a primary hands its shadow a copy of its state and of
//! every input it takes, and files its outputs; a shadow takes what it is fed, files its
//! outputs instead of sending them, and reports its failures and costs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::report::{CallCost, Side};
use super::{Fed, ShadowFeed, ShadowRun};
use crate::actor::Actor;
use crate::bindings::Event;
use crate::dataflow::mailbox::{Control, Taken};
use crate::dataflow::record::{PriorityContext, event_bytes};
use crate::sched::executor::Activator;
use crate::state::checkpoint::ActorSnapshot;
use crate::sync::LockRecovered;

/// An actor's part in a shadow run: feeding it (a primary) or being it (a shadow).
pub(crate) struct ShadowSide {
    side: Side,
    run: Arc<ShadowRun>,
    feed: Arc<ShadowFeed>,
    /// The step being worked on: outputs are filed under it.
    step: u64,
    /// Time the call in flight has run on a worker so far.
    pub ran: Duration,
}

impl ShadowSide {
    /// The side of shadow instance of primary `label` in `run`.
    pub(crate) fn shadow(run: &Arc<ShadowRun>, label: &str) -> Option<Self> {
        Some(ShadowSide {
            side: Side::Shadow,
            feed: Arc::clone(run.feed(label)?),
            run: Arc::clone(run),
            step: 0,
            ran: Duration::ZERO,
        })
    }

    /// True for the shadow's side.
    pub(crate) fn is_shadow(&self) -> bool {
        self.side == Side::Shadow
    }

    /// Files `events`, made by the current step, for comparison.
    fn output(&self, events: &[Event]) {
        let bytes: u64 = events.iter().map(event_bytes).sum();
        let mut state = self.feed.state.lock_recovered();
        if state.stopped {
            return;
        }
        if state.item_bytes + state.output_bytes + bytes > self.run.behind_bytes {
            drop(state);
            self.run.stop(&behind(self.run.behind_bytes), None);
            return;
        }
        state.output_bytes += bytes;
        let entry = state.outputs.entry(self.step).or_default();
        let kept = match self.side {
            Side::Primary => &mut entry.0,
            Side::Shadow => &mut entry.1,
        };
        kept.extend_from_slice(events);
    }

    /// This side has done all its steps.
    fn finished(&self) {
        let mut state = self.feed.state.lock_recovered();
        match self.side {
            Side::Primary => state.primary_at = u64::MAX,
            Side::Shadow => state.shadow_at = u64::MAX,
        }
        state.compare_done(&self.run);
    }
}

/// Why a run stopped when a shadow fell `bytes` behind.
fn behind(bytes: u64) -> String {
    format!(
        "the shadow fell more than {bytes} bytes of input and output behind the operator \
         (shadow_behind_bytes); start it again when the job is less loaded, or give the \
         tenant a larger share"
    )
}

impl Actor {
    /// At checkpoint barrier `id`, after any module switch and before the snapshot: starts
    /// feeding the operator's shadow run if it starts here, with a copy of what the instance
    /// holds. Not while work made due before the barrier is still queued (it is in no
    /// snapshot): then at the next barrier.
    pub(in crate::actor) fn start_shadow_at(&mut self, id: u64, activator: &Activator) {
        if self.shadow.is_some() || !self.due.is_empty() || !self.retry.is_empty() {
            return;
        }
        let Some(run) = self.links.switch.shadow_run() else {
            return;
        };
        if id < run.from.load(Ordering::Acquire) || run.is_stopped() {
            return;
        }
        let Some(feed) = run.feed(&self.label).cloned() else {
            return;
        };
        let snapshot = self.snapshot();
        {
            let mut state = feed.state.lock_recovered();
            if state.stopped {
                return;
            }
            state.items.push_back(Fed::Start(Box::new(snapshot)));
        }
        run.inner
            .lock_recovered()
            .started
            .insert(self.label.to_string());
        if let Some(task) = feed.task.get() {
            activator.wake(*task);
        }
        self.shadow = Some(ShadowSide {
            side: Side::Primary,
            run,
            feed,
            step: 0,
            ran: Duration::ZERO,
        });
    }

    /// A primary hands a copy of what it took to its shadow (barriers excepted), unless the
    /// run stopped; the copy is a new step.
    pub(in crate::actor) fn feed_shadow(&mut self, taken: &Taken, activator: &Activator) {
        if !matches!(&self.shadow, Some(side) if side.side == Side::Primary) {
            return;
        }
        let now = self.context_now();
        let Some(side) = &mut self.shadow else {
            return;
        };
        let (fed, bytes, context) = match taken {
            Taken::Nothing | Taken::Control(Control::Barrier { .. }) => return,
            Taken::Records(records) => (
                Fed::Records {
                    step: side.step + 1,
                    records: records.clone(),
                },
                records.iter().map(|r| event_bytes(&r.event)).sum(),
                records.first().map(|r| r.context),
            ),
            Taken::Control(control) => (
                Fed::Control {
                    step: side.step + 1,
                    control: *control,
                },
                0,
                None,
            ),
        };
        side.step += 1;
        let mut state = side.feed.state.lock_recovered();
        if state.stopped {
            drop(state);
            // The shadow drops what it holds at its next slice: make sure it has one.
            if let Some(task) = side.feed.task.get() {
                activator.wake(*task);
            }
            self.shadow = None;
            return;
        }
        if state.item_bytes + state.output_bytes + bytes > side.run.behind_bytes {
            drop(state);
            side.run
                .stop(&behind(side.run.behind_bytes), Some(activator));
            self.shadow = None;
            return;
        }
        state.item_bytes += bytes;
        state.items.push_back(fed);
        state.primary_at = side.step;
        state.compare_done(&side.run);
        drop(state);
        if let Some(task) = side.feed.task.get() {
            let context = context.unwrap_or(now);
            let mut priority = self.links.profile.priority(&context);
            priority.demoted = true;
            activator.activate(*task, &priority);
        }
    }

    /// A shadow takes what its primary handed over: its starting state (restored here, then
    /// the next thing), or an input.
    pub(in crate::actor) fn take_fed(&mut self) -> Taken {
        loop {
            let Some(side) = &mut self.shadow else {
                return Taken::Nothing;
            };
            let mut state = side.feed.state.lock_recovered();
            let Some(fed) = state.items.pop_front() else {
                return Taken::Nothing;
            };
            let (step, taken) = match fed {
                Fed::Start(snapshot) => {
                    drop(state);
                    self.restore_shadow(*snapshot);
                    continue;
                }
                Fed::Records { step, records } => {
                    state.item_bytes = state
                        .item_bytes
                        .saturating_sub(records.iter().map(|r| event_bytes(&r.event)).sum());
                    (step, Taken::Records(records))
                }
                Fed::Control { step, control } => (step, Taken::Control(control)),
            };
            side.step = step;
            state.shadow_at = step;
            state.compare_done(&side.run);
            return taken;
        }
    }

    /// A shadow starts from its primary's state; state its primary's version wrote is
    /// converted by the shadow's, as an upgrade would.
    fn restore_shadow(&mut self, snapshot: ActorSnapshot) {
        let primary = snapshot.module.clone();
        let converting = snapshot.converting_from.is_some();
        self.restore(snapshot);
        if !converting
            && let Some(primary) = primary
            && primary != self.cx.module.name()
        {
            self.cx.convert_from = Some(primary.into());
        }
    }

    /// The context of the next input waiting in a shadow's feed.
    pub(in crate::actor) fn fed_head(&self) -> Option<PriorityContext> {
        let side = self.shadow.as_ref().filter(|s| s.is_shadow())?;
        let state = side.feed.state.lock_recovered();
        match state.items.front()? {
            Fed::Records { records, .. } => records.first().map(|r| r.context),
            Fed::Start(_) | Fed::Control { .. } => Some(self.context_now()),
        }
    }

    /// True when a shadow has something handed over waiting.
    pub(in crate::actor) fn fed_waiting(&self) -> bool {
        self.shadow.as_ref().is_some_and(|side| {
            side.is_shadow() && !side.feed.state.lock_recovered().items.is_empty()
        })
    }

    /// Files a call's outputs for comparison: a shadow's instead of sending them on, a
    /// primary's as well as sending them. Returns true when they must not be sent on.
    pub(in crate::actor) fn shadow_output(&self, events: &[Event]) -> bool {
        match &self.shadow {
            Some(side) => {
                side.output(events);
                side.is_shadow()
            }
            None => false,
        }
    }

    /// Adds a finished call to its version's cost in the run.
    pub(in crate::actor) fn shadow_call(&mut self, events: u64, fuel: u64, wall: Duration) {
        if let Some(side) = &mut self.shadow {
            let call = CallCost {
                events,
                fuel,
                ran: std::mem::take(&mut side.ran),
                wall,
            };
            side.run.tally(|tally| tally.add_call(side.side, &call));
        }
    }

    /// Something of the shadow failed: to its report.
    pub(in crate::actor) fn shadow_failure(&self, reason: &str) {
        if let Some(side) = &self.shadow {
            side.run.tally(|tally| tally.add_failure(reason));
        }
    }

    /// A shadow instance could not be created: the run stops, the job goes on.
    pub(in crate::actor) fn shadow_fatal(&mut self, reason: &str) {
        if let Some(side) = &self.shadow {
            side.run
                .stop(&format!("the shadow could not run: {reason}"), None);
        }
    }

    /// The side ended its input: its outputs are all filed.
    pub(in crate::actor) fn shadow_finished(&self) {
        if let Some(side) = &self.shadow {
            side.finished();
        }
    }

    /// True for a shadow instance.
    pub(in crate::actor) fn is_shadow(&self) -> bool {
        self.shadow.as_ref().is_some_and(ShadowSide::is_shadow)
    }

    /// A shadow whose run stopped drops everything it holds, for good; true when it did.
    pub(in crate::actor) fn shadow_dropped(&mut self) -> bool {
        let stopped = self
            .shadow
            .as_ref()
            .is_some_and(|side| side.is_shadow() && side.run.is_stopped());
        if stopped {
            self.shadow = None;
            self.in_flight = None;
            self.instance = None;
            self.held = crate::state::Held::default();
            self.timers = crate::time::TimerQueue::default();
            self.retry.clear();
            self.due.clear();
            self.forward.clear();
            self.finished = true;
            self.settle();
        }
        stopped
    }

    /// Time a slice of the call in flight ran, for the run's cost figures.
    pub(in crate::actor) fn shadow_ran(&mut self, started: Option<Instant>) {
        if let (Some(side), Some(started)) = (&mut self.shadow, started) {
            side.ran += started.elapsed();
        }
    }
}
