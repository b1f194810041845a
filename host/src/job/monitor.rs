//! Watching and steering a running job from other threads: its figures, its http inlets, a
//! checkpoint on demand, cancelling, while one thread waits for it with [`super::JobHandle::wait`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::actor::upgrade::ModuleSwitch;
use crate::budget::Accounts;
use crate::dataflow::profile::OperatorProfile;
use crate::dataflow::sink::Completion;
use crate::dataflow::source::http::Inlet;
use crate::metrics::{JobMetrics, JobSummary, LatencyBuckets, MailboxDepth};
use crate::state::checkpoint::Checkpointer;

/// A job's figures over `elapsed` since it started.
pub(super) fn summarize(
    metrics: &JobMetrics,
    checkpointer: Option<&Checkpointer>,
    accounts: &Accounts,
    profiles: &[Arc<OperatorProfile>],
    elapsed: Duration,
) -> JobSummary {
    let mut summary = metrics.summary(elapsed);
    summary.checkpoints = checkpointer.map(Checkpointer::stats);
    summary.state_bytes = accounts.state.held();
    summary.memory_bytes = accounts.budget.used();
    for profile in profiles {
        let stats = summary
            .operators
            .entry(profile.name().to_string())
            .or_default();
        stats.cost_us = profile.cost_ns() as f64 / 1000.0;
        stats.downstream_us = profile.downstream_ns() as f64 / 1000.0;
    }
    summary
}

/// A cloneable handle on a running job: see the module docs.
#[derive(Clone)]
pub struct JobMonitor {
    pub(super) started: Instant,
    pub(super) completion: Arc<Completion>,
    pub(super) metrics: Arc<JobMetrics>,
    pub(super) accounts: Accounts,
    pub(super) checkpointer: Option<Arc<Checkpointer>>,
    pub(super) profiles: Vec<Arc<OperatorProfile>>,
    pub(super) switches: BTreeMap<String, Arc<ModuleSwitch>>,
    pub(super) inlets: BTreeMap<String, Inlet>,
    /// Registers shadow instances on the host's executor.
    pub(super) spawner: crate::sched::executor::Spawner,
}

impl JobMonitor {
    /// The job's figures so far.
    pub fn summary(&self) -> JobSummary {
        summarize(
            &self.metrics,
            self.checkpointer.as_deref(),
            &self.accounts,
            &self.profiles,
            self.started.elapsed(),
        )
    }

    /// Events delivered to the job's sinks so far: cheap enough to watch for new output.
    pub fn events_out(&self) -> u64 {
        self.metrics.events_out()
    }

    /// The end-to-end latencies of the job's outputs so far, in microseconds, as a histogram
    /// (of `sink` alone, or of every output for `None`): for benchmarks that draw latency
    /// distributions, or latency over time from the difference of two copies.
    pub fn latency_histogram(&self, sink: Option<&str>) -> Option<hdrhistogram::Histogram<u64>> {
        self.metrics.latency_histogram(sink)
    }

    /// The job's end-to-end latencies so far, as a cumulative histogram over `bounds_us`.
    pub fn latency_buckets(&self, bounds_us: &[u64]) -> LatencyBuckets {
        self.metrics.latency_buckets(bounds_us)
    }

    /// The wall-clock times of each operator's calls so far (start to end, parked time
    /// included), as cumulative histograms over `bounds_us`, by operator label
    /// (`job/operator`).
    pub fn call_buckets(&self, bounds_us: &[u64]) -> BTreeMap<String, LatencyBuckets> {
        self.metrics.call_buckets(bounds_us)
    }

    /// The end-to-end latencies of the events each operator took in so far (from the
    /// source's ingest to the end of the call that took the event in), as cumulative
    /// histograms over `bounds_us`, by operator label (`job/operator`).
    pub fn operator_latency_buckets(&self, bounds_us: &[u64]) -> BTreeMap<String, LatencyBuckets> {
        self.metrics.reached_buckets(bounds_us)
    }

    /// How deep each operator instance's mailbox is now, by instance label (`job/operator`,
    /// or `job/operator#N` when it has several).
    pub fn mailbox_depths(&self) -> Vec<(String, MailboxDepth)> {
        self.metrics.mailbox_depths()
    }

    /// Stops the job (as [`super::JobHandle::cancel`]); its checkpoints are kept, so a host
    /// that submits it again resumes it from the newest. Its inlets' readers are released.
    pub fn cancel(&self) {
        self.completion.cancel();
        for inlet in self.inlets.values() {
            inlet.stop();
        }
    }

    /// True once the job has finished, failed or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.completion.is_finished()
    }

    /// Where the embedder pushes the input of http source `source`.
    pub fn inlet(&self, source: &str) -> Option<&Inlet> {
        self.inlets.get(source)
    }

    /// Takes a checkpoint now and waits until one started after this call is written, at most
    /// `timeout`; false when the job takes no checkpoints, is over, or the time ran out. The
    /// job must be waited for meanwhile ([`super::JobHandle::wait`] writes checkpoints).
    pub fn checkpoint(&self, timeout: Duration) -> bool {
        let Some(checkpointer) = &self.checkpointer else {
            return false;
        };
        let until = Instant::now() + timeout;
        // Checkpoints completed when ours was triggered.
        let mut before: Option<u64> = None;
        while Instant::now() < until && !self.completion.is_finished() {
            let completed = checkpointer.stats().completed;
            match before {
                None if checkpointer.trigger().is_some() => before = Some(completed),
                Some(before) if completed > before => return true,
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}
