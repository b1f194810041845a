//! One operator instance as an actor: its wasm instance (or the call in flight that owns it),
//! its mailbox, event-time bookkeeping, and what to do when a call fails.
//!
//! # Layout
//! - [`call`]: a call as a future that owns the store, polled one fuel slice at a time.
//! - `instance`: a live instance: its store and the bindings of its exports.
//! - `checkpointing`: barrier alignment, snapshots and restore.
//! - [`failure`]: why a call failed.
//! - `outcome`: applying a finished call (output, timers, failures).
//! - `windowing`, `joining`: the guest calls behind host-managed windows and joins.
//! - `accumulate`, `packed`, `processing`: batches lowered from borrowed parts, or written in
//!   one buffer for components that export the contract's 0.2.0 `packed` or
//!   `packed-process` interfaces.
//! - `resident`: pane accumulators kept in the guest between batches (0.2.0 `resident`):
//!   folding by handle, collecting them back, folding the logged batches again.
//! - [`upgrade`]: switching an operator's module at a checkpoint barrier, after a trial.
//! - `converting`: the state an earlier version wrote, converted by the new one.
//! - `yielding`: ending a slice in the middle of a call's host-side work.
//! - [`shadow`]: running another version beside the instance, on a copy of its input.

mod accumulate;
mod packed;
mod processing;
mod resident;
pub(crate) use accumulate::{AccumulateIndex, export_index as accumulate_export};
pub(crate) use processing::export_index as packed_process_export;
pub mod call;
mod checkpointing;
mod converting;
pub(crate) use converting::export_index as upgrade_state_export;
pub mod failure;
mod instance;
mod joining;
mod outcome;
pub mod shadow;
pub mod upgrade;
mod windowing;
mod yielding;

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use call::{BatchKind, CallContext, CallFuture, CallInput, Slot};
use instance::Instance;

use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::edge_watermarks::ChannelGroups;
use crate::dataflow::mailbox::{Control, Mailbox, Taken};
use crate::dataflow::profile::{InFlight, OperatorProfile, Pending};
use crate::dataflow::record::{Batch, PriorityContext, Record};
use crate::dataflow::router::Router;
use crate::dataflow::sink::Completion;
use crate::engine::OperatorEngine;
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::{Activator, SliceOutcome, SliceReport, Task};
use crate::sched::priority::Priority;
use crate::state::Held;
use crate::state::checkpoint::Checkpointer;
use crate::time::join::Side;
use crate::time::window::PaneKey;
use crate::time::{InputWatermarks, TimerQueue};

/// Fuel a call may burn before it is demoted behind its tenant's other work (see
/// [`Priority::demoted`]): 50 slices of the default length, far more than a batch of ordinary
/// events takes. Counted in fuel, not slices, so the threshold does not move with the slice.
const LONG_CALL_FUEL: u64 = 5_000_000;

/// Work the watermark made due, with the context of the watermark (or call) that made it due.
enum Due {
    /// An event-time timer the operator registered.
    Timer {
        time: i64,
        key: Option<Vec<u8>>,
        context: PriorityContext,
    },
    /// A window pane whose end the watermark passed.
    Pane {
        pane: PaneKey,
        context: PriorityContext,
    },
}

impl Due {
    fn context(&self) -> PriorityContext {
        match self {
            Due::Timer { context, .. } | Due::Pane { context, .. } => *context,
        }
    }
}

/// Something to pass downstream once the timers it made due have fired.
enum Forward {
    Watermark { time: i64, context: PriorityContext },
    End,
}

/// The parts of a job an actor talks to.
pub struct ActorLinks {
    /// The operator's label without the instance number (`job/operator`), for metrics.
    pub operator: Arc<str>,
    /// The actor's own task id.
    pub task: TaskId,
    /// Its mailbox.
    pub mailbox: Arc<Mailbox>,
    /// Where its output goes.
    pub router: Router,
    /// The input channels feeding the mailbox (one per upstream sender), and which of them
    /// send their watermarks combined on a group channel.
    pub inputs: ChannelGroups,
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
    /// The job's dead-letter output.
    pub dead_letters: Arc<DeadLetters>,
    /// The job's completion, failed when an instance cannot be created.
    pub completion: Arc<Completion>,
    /// Where events too late for their windows go (the dead letters when `None`).
    pub late: Option<Router>,
    /// Collects snapshots when the job takes checkpoints.
    pub checkpointer: Option<Arc<Checkpointer>>,
    /// Input channels below this number come from the first input (the left side of a
    /// join).
    pub left_channels: usize,
    /// The job's latency target.
    pub latency_target: Duration,
    /// The operator's cost profile and context converter.
    pub profile: Arc<OperatorProfile>,
    /// The module the operator's instances run, and the one they switch to.
    pub switch: Arc<upgrade::ModuleSwitch>,
}

/// One operator instance.
pub struct Actor {
    label: Arc<str>,
    engine: OperatorEngine,
    cx: CallContext,
    links: ActorLinks,
    instance: Option<Instance>,
    held: Held,
    in_flight: Option<CallFuture>,
    /// Records of a failed batch, retried one by one.
    retry: VecDeque<Record>,
    timers: TimerQueue,
    due: VecDeque<Due>,
    forward: VecDeque<Forward>,
    watermarks: InputWatermarks,
    blocked: bool,
    finished: bool,
    /// Per input channel: true while it is held back waiting for a checkpoint barrier on
    /// the other channels (barrier alignment).
    held_channels: Vec<bool>,
    /// The checkpoint being aligned.
    aligning: Option<u64>,
    /// The newest checkpoint whose barrier this instance passed on: its dead letters from
    /// then on belong after that checkpoint.
    passed_barrier: u64,
    /// The priority context of the call in flight, and whether it fires windows or timers.
    in_flight_context: Option<InFlight>,
    /// Fuel already charged to the tenant for the call in flight.
    charged: u64,
    /// When the call in flight started, and the slices it ran so far.
    call_started: Option<Instant>,
    call_slices: u64,
    /// What is charged to the accounts for what the instance holds: keyed state (to the
    /// tenant's state quota) and everything held, timers included (to the memory budget).
    held_charged: HeldCharge,
    /// When the instance last switched module, until the first call after it ends.
    switched_at: Option<Instant>,
    /// Its part in a shadow run: feeding one, or being one.
    shadow: Option<shadow::ShadowSide>,
}

/// Bytes an actor has charged for what it holds.
#[derive(Debug, Clone, Copy, Default)]
struct HeldCharge {
    state: u64,
    all: u64,
}

impl Drop for Actor {
    /// What the instance held goes with it: give its charges back.
    fn drop(&mut self) {
        self.cx.accounts.state.release(self.held_charged.state);
        self.cx.accounts.budget.release(self.held_charged.all);
    }
}

impl Actor {
    /// An actor named `label` running `cx.module`; it instantiates on its first call.
    pub fn new(
        label: Arc<str>,
        engine: OperatorEngine,
        cx: CallContext,
        links: ActorLinks,
    ) -> Self {
        let watermarks = InputWatermarks::grouped(&links.inputs);
        // Group channels too: a combined watermark waits while a channel of its group is
        // held back for alignment.
        let held_channels = vec![false; links.inputs.total()];
        links.switch.running(&label, cx.module.name());
        Actor {
            label,
            engine,
            cx,
            links,
            instance: None,
            held: Held::default(),
            in_flight: None,
            retry: VecDeque::new(),
            timers: TimerQueue::default(),
            due: VecDeque::new(),
            forward: VecDeque::new(),
            watermarks,
            blocked: false,
            finished: false,
            held_channels,
            aligning: None,
            passed_barrier: 0,
            in_flight_context: None,
            charged: 0,
            call_started: None,
            call_slices: 0,
            held_charged: HeldCharge::default(),
            switched_at: None,
            shadow: None,
        }
    }

    /// The shadow of primary instance `primary` in `run`: an actor named `label` running
    /// `cx.module`, fed by the primary, its output compared instead of sent on.
    pub(crate) fn new_shadow(
        label: Arc<str>,
        engine: OperatorEngine,
        cx: CallContext,
        links: ActorLinks,
        run: &Arc<shadow::ShadowRun>,
        primary: &str,
    ) -> Self {
        let mut actor = Actor::new(label, engine, cx, links);
        actor.shadow = shadow::ShadowSide::shadow(run, primary);
        actor
    }

    /// What the host holds for this instance, wherever it is now.
    fn held_ref(&self) -> &Held {
        match &self.instance {
            Some(instance) => instance.held(),
            None => &self.held,
        }
    }

    /// Brings the charges for what the instance holds up to date with what it holds now
    /// (after a call, a watermark, a restore). Growth a call asked for was checked against
    /// the budget before it was committed; this records it.
    fn settle(&mut self) {
        let held = self.held_ref();
        let now = HeldCharge {
            state: held.state.bytes(),
            all: held.bytes() + self.timers.bytes(),
        };
        self.cx
            .accounts
            .state
            .adjust(self.held_charged.state, now.state);
        self.cx
            .accounts
            .budget
            .resize(self.held_charged.all, now.all);
        self.held_charged = now;
    }

    /// Picks the next call to make, handling control messages on the way. `None`: nothing to
    /// do now.
    fn next_input(&mut self, activator: &Activator) -> Option<CallInput> {
        // Whether a receiver is full is asked once per pick, not once per control message
        // handled on the way: on an all-to-all edge that is hundreds of mailboxes each time.
        let mut room_checked = false;
        loop {
            if let Some(record) = self.retry.pop_front() {
                return Some(self.batch_input(Batch::new([record])));
            }
            match self.due.pop_front() {
                Some(Due::Timer { time, key, context }) => {
                    return Some(CallInput::Timer { key, time, context });
                }
                Some(Due::Pane { pane, context }) => {
                    return Some(CallInput::Fire { pane, context });
                }
                None => {}
            }
            while let Some(forward) = self.forward.pop_front() {
                match forward {
                    Forward::Watermark { time, context } => {
                        self.links.router.watermark(time, context, activator);
                        if let Some(late) = &self.links.late {
                            late.watermark(time, context, activator);
                        }
                    }
                    Forward::End => {
                        self.drop_unfireable_timers();
                        self.shadow_finished();
                        if let Some(checkpointer) = &self.links.checkpointer {
                            checkpointer.actor_finished(&self.label, self.snapshot());
                        }
                        self.links.router.end(activator);
                        if let Some(late) = &self.links.late {
                            late.end(activator);
                        }
                        self.finished = true;
                    }
                }
            }
            if !room_checked {
                if self.links.router.blocked(self.links.task) {
                    self.blocked = true;
                    return None;
                }
                room_checked = true;
            }
            let taken = if self.is_shadow() {
                self.take_fed()
            } else {
                let (taken, wake) = self
                    .links
                    .mailbox
                    .take(self.cx.limits.batch_size, &self.held_channels);
                for producer in wake {
                    activator.wake(producer);
                }
                self.feed_shadow(&taken, activator);
                taken
            };
            match taken {
                Taken::Nothing => return None,
                Taken::Records(records) => return Some(self.batch_input(Batch::new(records))),
                Taken::Control(Control::Watermark {
                    channel,
                    time,
                    context,
                }) => {
                    if let Some(watermark) = self.watermarks.advance(channel, time) {
                        self.watermark_advanced(watermark, context);
                    }
                }
                Taken::Control(Control::End { channel }) => {
                    let context = self.context_now();
                    if let Some(watermark) = self.watermarks.end(channel) {
                        self.watermark_advanced(watermark, context);
                    }
                    if self.watermarks.all_ended() {
                        self.forward.push_back(Forward::End);
                    }
                    self.try_complete_alignment(activator);
                }
                Taken::Control(Control::Idle { channel }) => {
                    let context = self.context_now();
                    if let Some(watermark) = self.watermarks.set_idle(channel) {
                        self.watermark_advanced(watermark, context);
                    }
                }
                Taken::Control(Control::Barrier { channel, id }) => {
                    self.barrier_arrived(channel, id, activator);
                }
            }
        }
    }

    /// Timers still registered when the input has ended (an on-timer registered them at or
    /// after the end): nothing can fire them, so they go to the dead letters, and the job
    /// ends.
    fn drop_unfireable_timers(&mut self) {
        for (time, key) in self.timers.due(i64::MAX) {
            let key = key.map_or_else(String::new, |k| {
                format!(" for key {:?}", String::from_utf8_lossy(&k))
            });
            self.dead_letter(
                None,
                Some(time),
                &format!(
                    "timer at {time}{key} was registered by on-timer after the end of the \
                     input; no watermark can fire it any more, so it was dropped"
                ),
            );
        }
    }

    /// A context for work that no message carried in (end of input, idleness): due one
    /// latency target from now.
    fn context_now(&self) -> PriorityContext {
        PriorityContext::at_source(
            Instant::now(),
            self.watermarks.current(),
            self.links.latency_target,
        )
    }

    /// A batch as the operator takes it: `process`, a window batch, or a join batch.
    fn batch_input(&self, batch: Batch) -> CallInput {
        let kind = if self.cx.window.is_some() {
            BatchKind::Window {
                watermark: self.watermarks.current(),
            }
        } else if self.cx.join.is_some() {
            let left = self.links.left_channels;
            BatchKind::Join {
                sides: batch
                    .channels()
                    .map(|c| if c < left { Side::Left } else { Side::Right })
                    .collect(),
            }
        } else {
            BatchKind::Process
        };
        CallInput::Batch { batch, kind }
    }

    /// What the host holds for this instance, wherever it is now.
    fn held_mut(&mut self) -> &mut Held {
        match &mut self.instance {
            Some(instance) => instance.held_mut(),
            None => &mut self.held,
        }
    }

    fn watermark_advanced(&mut self, watermark: i64, context: PriorityContext) {
        for (time, key) in self.timers.due(watermark) {
            self.due.push_back(Due::Timer { time, key, context });
        }
        if let Some(def) = self.cx.join {
            self.held_mut().joins.expire(&def, watermark);
        }
        if let Some(def) = self.cx.window {
            let windows = &mut self.held_mut().windows;
            windows.expire(&def, watermark);
            let due = windows.due(watermark);
            // Marked now, so the next watermark does not queue them again; the fire calls
            // run before any later input (due work goes first), so nothing can slip in.
            for pane in &due {
                windows.mark_fired(pane);
            }
            self.due
                .extend(due.into_iter().map(|pane| Due::Pane { pane, context }));
        }
        // Panes and join buffers that expired, and timers that fired, are held no more.
        self.settle();
        if watermark < i64::MAX {
            self.forward.push_back(Forward::Watermark {
                time: watermark,
                context,
            });
        }
    }

    fn start(&mut self, input: CallInput) -> CallFuture {
        let mut slot = match self.instance.take() {
            Some(instance) => Slot::Live(Box::new(instance)),
            None => Slot::Fresh(self.engine.new_store(
                Arc::clone(&self.label),
                std::mem::take(&mut self.held),
                self.cx.window,
                self.cx.join,
                self.cx.accounts.clone(),
            )),
        };
        slot.host_mut().timers_held = self.timers.count();
        let cx = self.cx.clone();
        // Converting the state is tried once, by the first call of the new module.
        self.cx.convert_from = None;
        call::start(slot, input, cx)
    }

    /// Polls the call in flight for one slice; returns the fuel the whole call burned when
    /// it finished, `None` when it is parked again.
    fn poll_in_flight(&mut self, activator: &Activator) -> Option<u64> {
        let Some(mut future) = self.in_flight.take() else {
            return Some(0);
        };
        let mut cx = Context::from_waker(Waker::noop());
        let started = self.shadow.is_some().then(Instant::now);
        let poll = future.as_mut().poll(&mut cx);
        self.shadow_ran(started);
        match poll {
            Poll::Pending => {
                self.in_flight = Some(future);
                None
            }
            Poll::Ready(done) => {
                let fuel = done.fuel;
                self.finish(done, activator);
                self.settle();
                self.first_call_after_switch_ended();
                Some(fuel)
            }
        }
    }
}

impl Task for Actor {
    fn run_slice(&mut self, activator: &Activator) -> SliceReport {
        let idle = |fuel| SliceReport {
            outcome: SliceOutcome::Idle,
            fuel,
        };
        if self.links.completion.is_finished() {
            // The job failed: drop everything instead of working for nothing.
            self.in_flight = None;
            while !matches!(self.links.mailbox.take(usize::MAX, &[]).0, Taken::Nothing) {}
            return idle(0);
        }
        if self.shadow_dropped() {
            return idle(0);
        }
        self.blocked = false;
        if self.in_flight.is_none() {
            match self.next_input(activator) {
                Some(input) => {
                    self.in_flight_context = input.output_context().map(|context| InFlight {
                        context,
                        fires: input.fires(),
                    });
                    self.charged = 0;
                    self.call_started = Some(Instant::now());
                    self.call_slices = 0;
                    self.in_flight = Some(self.start(input));
                }
                None => return idle(0),
            }
        }
        self.call_slices += 1;
        let Some(fuel) = self.poll_in_flight(activator) else {
            // A parked call burned one slice of fuel.
            self.charged += self.cx.limits.slice_fuel;
            return SliceReport {
                outcome: SliceOutcome::Busy,
                fuel: self.cx.limits.slice_fuel,
            };
        };
        let fuel = fuel.saturating_sub(std::mem::take(&mut self.charged));
        self.in_flight_context = None;
        // A shadow whose call stopped its run (it fell behind, or could not run) lets go of
        // what it holds now.
        if self.shadow_dropped() {
            return idle(fuel);
        }
        if self.has_work() {
            SliceReport {
                outcome: SliceOutcome::Busy,
                fuel,
            }
        } else {
            idle(fuel)
        }
    }

    fn in_call(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The priority of the best pending work. Firing windows and timers is due one latency
    /// target after the event that advanced the watermark; a waiting watermark lends that
    /// urgency to the events queued before it, which must be handled first.
    fn priority(&self) -> Priority {
        let profile = &self.links.profile;
        let current = self.watermarks.current();
        let next_timer = self.timers.earliest();
        let waiting = self.links.mailbox.waiting_contexts(|time| {
            profile.watermark_fires(current, time) || next_timer.is_some_and(|at| at <= time)
        });
        let shadow = self.is_shadow();
        let pending = Pending {
            in_flight: self.in_flight_context,
            retry: self.retry.front().map(|record| record.context),
            due: self.due.front().map(Due::context),
            head: if shadow {
                self.fed_head()
            } else {
                waiting.head
            },
            watermark: waiting.watermark,
        };
        let mut priority = profile
            .best(&pending)
            .unwrap_or_else(|| profile.priority(&self.context_now()));
        // A shadow's work goes after every other task of its tenant.
        priority.demoted = shadow || (self.in_flight.is_some() && self.charged >= LONG_CALL_FUEL);
        priority
    }

    fn has_work(&self) -> bool {
        if self.finished {
            return false;
        }
        if self.in_flight.is_some()
            || !self.retry.is_empty()
            || !self.due.is_empty()
            || !self.forward.is_empty()
        {
            return true;
        }
        if self.blocked {
            return !self.links.router.any_full();
        }
        if self.is_shadow() {
            return self.fed_waiting();
        }
        self.links.mailbox.has_work(&self.held_channels)
    }
}
