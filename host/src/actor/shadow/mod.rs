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
//! - `side`: an actor's part: a primary feeding its shadow, a shadow taking what it is fed.

pub mod report;
mod side;
mod start;

pub(crate) use side::ShadowSide;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use report::{ShadowReport, Tally};

use crate::bindings::Event;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::edge_watermarks::ChannelGroups;
use crate::dataflow::mailbox::Control;
use crate::dataflow::profile::OperatorProfile;
use crate::dataflow::record::{Record, event_bytes};
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
            state.stopped = true;
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
    /// The run stopped: nothing more is filed or handed over (checked under this lock, so
    /// a side that has not yet seen the stop cannot leave anything behind).
    stopped: bool,
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
