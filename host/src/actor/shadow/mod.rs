//! Shadow runs: another version of an operator run beside the one the job runs, on a copy of
//! the same input, its output compared with the running version's instead of sent on.
//!
//! Every instance of the operator (the primary) gets a shadow instance: a second actor of the
//! same tenant, fed by the primary. At the first checkpoint barrier at or after the one the
//! run names, the primary hands it a copy of what it holds (keyed state, window panes, join
//! buffers, timers, watermarks), at the point an upgrade would switch; from then on it hands
//! it a copy of every input it takes (records, watermarks, idleness, ends; not barriers: a
//! shadow takes no part in checkpoints). Each input is a numbered step; the outputs of both
//! versions are filed under the step that made them and compared, per key, once both have
//! moved past it ([`report`]).
//!
//! The shadow never holds its primary up: its input and the outputs waiting for comparison
//! are bounded in bytes (`Limits::shadow_behind_bytes` per instance), and a shadow that falls
//! further behind stops, saying so in its report. Its work is ranked behind every other task of its
//! tenant (demoted), so it runs on its tenant's share, after the tenant's own work. Its
//! failures (traps, fuel, refused input) go to its report, never to the job's dead letters,
//! metrics or completion.
//!
//! # Layout
//! - this module: the run, the feed between a primary and its shadow, and the actor's side.
//! - [`report`]: comparing outputs and adding up costs, and the report.
//! - `start`: creating a run's shadow instances.

pub mod report;
mod start;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use report::{CallCost, ShadowReport, Side, Tally};

use super::Actor;
use crate::bindings::Event;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::edge_watermarks::ChannelGroups;
use crate::dataflow::mailbox::{Control, Taken};
use crate::dataflow::profile::OperatorProfile;
use crate::dataflow::record::{PriorityContext, Record, event_bytes};
use crate::dataflow::sink::Completion;
use crate::metrics::JobMetrics;
use crate::registry::OperatorModule;
use crate::sched::TaskId;
use crate::sched::executor::Activator;
use crate::state::checkpoint::ActorSnapshot;
use crate::sync::LockRecovered;

/// What the instances of an operator share that a shadow instance needs besides its module:
/// recorded when the job is wired.
pub(crate) struct ShadowLinks {
    /// The instances' labels, in order.
    pub instances: Vec<String>,
    /// The operator's label without the instance number.
    pub operator: Arc<str>,
    /// The instances' input channels.
    pub inputs: ChannelGroups,
    /// The job's metrics (a shadow adds nothing to them).
    pub metrics: Arc<JobMetrics>,
    /// The job's dead letters (a shadow writes none).
    pub dead_letters: Arc<DeadLetters>,
    /// The job's completion: a shadow stops with its job.
    pub completion: Arc<Completion>,
    /// Input channels below this come from the left side of a join.
    pub left_channels: usize,
    /// The job's latency target.
    pub latency_target: Duration,
    /// The operator's profile, for priorities (a shadow records no cost in it).
    pub profile: Arc<OperatorProfile>,
}

/// One shadow run of an operator: its module, its instances' feeds, and its findings.
pub struct ShadowRun {
    operator: String,
    module: OperatorModule,
    primary: String,
    /// The first checkpoint barrier at which primaries hand their state over (`u64::MAX`
    /// until the run is published).
    from: AtomicU64,
    /// By primary instance label.
    feeds: BTreeMap<String, Arc<ShadowFeed>>,
    /// Bytes a shadow instance may be behind its primary by.
    behind_bytes: u64,
    inner: Mutex<RunState>,
}

#[derive(Default)]
struct RunState {
    tally: Tally,
    started: BTreeSet<String>,
    stopped: Option<String>,
}

impl ShadowRun {
    /// A run of `module` beside operator `operator`, which runs `primary`, over instances
    /// `instances`, each at most `behind_bytes` behind its primary; not started until
    /// [`ShadowRun::publish_at`].
    pub(crate) fn new(
        operator: &str,
        module: OperatorModule,
        primary: String,
        instances: &[String],
        behind_bytes: u64,
    ) -> Arc<Self> {
        Arc::new(ShadowRun {
            behind_bytes,
            operator: operator.to_string(),
            module,
            primary,
            from: AtomicU64::new(u64::MAX),
            feeds: instances
                .iter()
                .map(|label| (label.clone(), Arc::new(ShadowFeed::default())))
                .collect(),
            inner: Mutex::new(RunState::default()),
        })
    }

    /// The module the shadow runs.
    pub fn module(&self) -> &OperatorModule {
        &self.module
    }

    /// The feed of primary instance `label`.
    pub(crate) fn feed(&self, label: &str) -> Option<&Arc<ShadowFeed>> {
        self.feeds.get(label)
    }

    /// Primaries hand their state over at barrier `from` or the first after it they align.
    pub(crate) fn publish_at(&self, from: u64) {
        self.from.store(from, Ordering::Release);
    }

    /// True once the run has stopped.
    pub fn is_stopped(&self) -> bool {
        self.inner.lock_recovered().stopped.is_some()
    }

    /// Stops the run (once; the first reason stays): feeds are emptied, primaries stop
    /// feeding at their next input and shadows drop what they hold at their next slice.
    pub(crate) fn stop(&self, reason: &str, activator: Option<&Activator>) {
        {
            let mut inner = self.inner.lock_recovered();
            if inner.stopped.is_some() {
                return;
            }
            tracing::info!(operator = %self.operator, shadow = self.module.name(), "shadow run stopped: {reason}");
            inner.stopped = Some(reason.to_string());
        }
        for feed in self.feeds.values() {
            let mut state = feed.state.lock_recovered();
            state.items.clear();
            state.outputs.clear();
            state.item_bytes = 0;
            state.output_bytes = 0;
            drop(state);
            if let (Some(activator), Some(task)) = (activator, feed.task.get()) {
                activator.wake(*task);
            }
        }
    }

    /// The run's report so far.
    pub fn report(&self) -> ShadowReport {
        let behind_bytes = self
            .feeds
            .values()
            .map(|feed| {
                let state = feed.state.lock_recovered();
                state.item_bytes + state.output_bytes
            })
            .sum();
        let inner = self.inner.lock_recovered();
        let findings = inner.tally.findings();
        ShadowReport {
            operator: self.operator.clone(),
            primary: self.primary.clone(),
            shadow: self.module.name().to_string(),
            from_checkpoint: self.from.load(Ordering::Acquire),
            instances: self.feeds.len(),
            instances_started: inner.started.len(),
            stopped: inner.stopped.clone(),
            matched: findings.matched,
            differing: findings.differing,
            keys: findings.keys,
            other_keys: findings.other_keys,
            differences: findings.differences,
            cost: findings.cost,
            failures: findings.failures,
            first_failures: findings.first_failures,
            behind_bytes,
        }
    }

    fn tally(&self, add: impl FnOnce(&mut Tally)) {
        add(&mut self.inner.lock_recovered().tally);
    }
}

/// What passes from a primary instance to its shadow, and the outputs awaiting comparison.
#[derive(Default)]
pub(crate) struct ShadowFeed {
    /// The shadow instance's task.
    pub task: OnceLock<TaskId>,
    state: Mutex<FeedState>,
}

#[derive(Default)]
struct FeedState {
    items: VecDeque<Fed>,
    item_bytes: u64,
    /// Outputs by step, until both versions are past it.
    outputs: BTreeMap<u64, (Vec<Event>, Vec<Event>)>,
    output_bytes: u64,
    /// Steps below these are done by the primary and by the shadow.
    primary_at: u64,
    shadow_at: u64,
}

/// One thing the primary handed over.
enum Fed {
    /// A copy of what the primary held at the barrier where the shadow starts.
    Start(Box<ActorSnapshot>),
    /// Records the primary took, as step `step`.
    Records { step: u64, records: Vec<Record> },
    /// A control message the primary took, as step `step`.
    Control { step: u64, control: Control },
}

impl FeedState {
    /// Compares the steps both versions are done with.
    fn compare_done(&mut self, run: &ShadowRun) {
        let upto = self.primary_at.min(self.shadow_at);
        let mut done = Vec::new();
        while let Some(entry) = self.outputs.first_entry() {
            if *entry.key() >= upto {
                break;
            }
            let (primary, shadow) = entry.remove();
            self.output_bytes = self
                .output_bytes
                .saturating_sub(primary.iter().chain(&shadow).map(event_bytes).sum());
            done.push((primary, shadow));
        }
        if !done.is_empty() {
            run.tally(|tally| {
                for (primary, shadow) in done {
                    tally.compare(primary, shadow);
                }
            });
        }
    }
}

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
    pub(super) fn start_shadow_at(&mut self, id: u64, activator: &Activator) {
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
    pub(super) fn feed_shadow(&mut self, taken: &Taken, activator: &Activator) {
        if !matches!(&self.shadow, Some(side) if side.side == Side::Primary) {
            return;
        }
        let now = self.context_now();
        let Some(side) = &mut self.shadow else {
            return;
        };
        if side.run.is_stopped() {
            // The shadow drops what it holds at its next slice: make sure it has one.
            if let Some(task) = side.feed.task.get() {
                activator.wake(*task);
            }
            self.shadow = None;
            return;
        }
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
    pub(super) fn take_fed(&mut self) -> Taken {
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
    pub(super) fn fed_head(&self) -> Option<PriorityContext> {
        let side = self.shadow.as_ref().filter(|s| s.is_shadow())?;
        let state = side.feed.state.lock_recovered();
        match state.items.front()? {
            Fed::Records { records, .. } => records.first().map(|r| r.context),
            Fed::Start(_) | Fed::Control { .. } => Some(self.context_now()),
        }
    }

    /// True when a shadow has something handed over waiting.
    pub(super) fn fed_waiting(&self) -> bool {
        self.shadow.as_ref().is_some_and(|side| {
            side.is_shadow() && !side.feed.state.lock_recovered().items.is_empty()
        })
    }

    /// Files a call's outputs for comparison: a shadow's instead of sending them on, a
    /// primary's as well as sending them. Returns true when they must not be sent on.
    pub(super) fn shadow_output(&self, events: &[Event]) -> bool {
        match &self.shadow {
            Some(side) => {
                side.output(events);
                side.is_shadow()
            }
            None => false,
        }
    }

    /// Adds a finished call to its version's cost in the run.
    pub(super) fn shadow_call(&mut self, events: u64, fuel: u64, wall: Duration) {
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
    pub(super) fn shadow_failure(&self, reason: &str) {
        if let Some(side) = &self.shadow {
            side.run.tally(|tally| tally.add_failure(reason));
        }
    }

    /// A shadow instance could not be created: the run stops, the job goes on.
    pub(super) fn shadow_fatal(&mut self, reason: &str) {
        if let Some(side) = &self.shadow {
            side.run
                .stop(&format!("the shadow could not run: {reason}"), None);
        }
    }

    /// The side ended its input: its outputs are all filed.
    pub(super) fn shadow_finished(&self) {
        if let Some(side) = &self.shadow {
            side.finished();
        }
    }

    /// True for a shadow instance.
    pub(super) fn is_shadow(&self) -> bool {
        self.shadow.as_ref().is_some_and(ShadowSide::is_shadow)
    }

    /// A shadow whose run stopped drops everything it holds, for good; true when it did.
    pub(super) fn shadow_dropped(&mut self) -> bool {
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
    pub(super) fn shadow_ran(&mut self, started: Option<Instant>) {
        if let (Some(side), Some(started)) = (&mut self.shadow, started) {
            side.ran += started.elapsed();
        }
    }
}
