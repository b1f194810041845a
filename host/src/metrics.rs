//! Job metrics: event counts, fuel, errors and the end-to-end latency histogram, and the
//! summary `cameo run` prints.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::dataflow::record::PriorityContext;
use crate::state::checkpoint::CheckpointStats;
use serde::Serialize;

/// Reasons kept verbatim for the summary; the rest are only counted.
const KEPT_ERRORS: usize = 20;

/// Counters and histograms of one job, updated from every worker.
pub struct JobMetrics {
    events_in: AtomicU64,
    events_out: AtomicU64,
    deadline_misses: AtomicU64,
    errors: AtomicU64,
    fuel: AtomicU64,
    calls: AtomicU64,
    /// End-to-end latency of every output of the job.
    latency: Mutex<LatencyTally>,
    /// The same, per sink.
    sinks: Mutex<BTreeMap<String, LatencyTally>>,
    error_samples: Mutex<Vec<String>>,
    operators: Mutex<BTreeMap<String, OperatorTally>>,
    /// How deep each instance's mailbox is, by instance label.
    mailboxes: Mutex<Vec<(String, DepthProbe)>>,
    /// Per sink: the operators upstream of it, which its deadline misses count against.
    sink_paths: Mutex<BTreeMap<String, Vec<String>>>,
}

/// Reads how deep one mailbox is now.
pub type DepthProbe = Box<dyn Fn() -> MailboxDepth + Send + Sync>;

/// What one operator instance's mailbox holds now.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct MailboxDepth {
    /// Events waiting.
    pub events: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What one finished call did, for the operator's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFigures {
    /// Fuel it burned.
    pub fuel: u64,
    /// Slices it ran in.
    pub slices: u64,
    /// Wall-clock time from its start to its end, parked time included.
    pub wall: Duration,
    /// Events it took in (each event of a batch; 0 for a window firing or a timer).
    pub events: u64,
    /// Events it sent downstream.
    pub outputs: u64,
    /// When it ended: the end-to-end latency of each event it took in is measured to here.
    pub ended: Option<Instant>,
}

/// An operator's figures of one of its instances.
#[derive(Default)]
struct InstanceTally {
    stats: InstanceStats,
    calls: LatencyTally,
    reached: LatencyTally,
}

/// What one operator instance did: the figures of [`OperatorStats`] that are counted per
/// instance.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct InstanceStats {
    /// Calls made.
    pub calls: u64,
    /// Events its calls took in.
    pub events: u64,
    /// Events its calls sent downstream.
    pub events_out: u64,
    /// Fuel burned.
    pub fuel: u64,
    /// Fuel per event taken in (0 before the first event).
    pub fuel_per_event: u64,
    /// Failed calls, of every kind.
    pub failures: u64,
    /// Times it was thrown away after a failure and made afresh (state kept).
    pub restarts: u64,
    /// Events whose deadline had passed when its call on them ended.
    pub late_after_call: u64,
    /// End-to-end latency of the events it took in: from the source's ingest to the end of
    /// the call that took the event in, ms.
    pub latency_ms: LatencySummary,
    /// Wall-clock time of its calls, start to end with parked time, ms.
    pub call_ms: LatencySummary,
}

/// An operator's counters, the wall-clock times of its calls, the end-to-end latency of
/// the events it took in, and the same per instance.
#[derive(Default)]
struct OperatorTally {
    stats: OperatorStats,
    calls: LatencyTally,
    reached: LatencyTally,
    instances: BTreeMap<String, InstanceTally>,
}

/// Calls, fuel and failures of one operator (all its instances).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OperatorStats {
    /// Calls made.
    pub calls: u64,
    /// Events its calls took in (each event of a batch; firings and timers take none).
    pub events: u64,
    /// Fuel burned.
    pub fuel: u64,
    /// Times one of its instances failed so that it could not be entered again and was
    /// thrown away, to be made afresh (state kept by the host) for its next call.
    pub restarts: u64,
    /// Inputs sent to the dead-letter output.
    pub errors: u64,
    /// Outputs that reached a sink downstream of it (directly or through other operators)
    /// after their deadline: counted against every operator upstream of that sink.
    pub deadline_misses: u64,
    /// Average fuel per call.
    pub fuel_per_call: u64,
    /// Profiled cost of one message here, µs (fuel per message times the calibration).
    pub cost_us: f64,
    /// Profiled cost still ahead of a message after this operator, µs.
    pub downstream_us: f64,
    /// Slices its calls ran in.
    pub slices: u64,
    /// Times a call of it was parked at the end of a slice to go on later (each slice of a
    /// call but its last).
    pub preemptions: u64,
    /// Failed calls by kind: `out_of_fuel`, `memory_cap`, `budget`, `state_quota`,
    /// `panic`, `trap`, `operator_error`, `too_many_headers`, `output_too_large`.
    pub failures: BTreeMap<String, u64>,
    /// Wall-clock time of its calls, start to end with parked time, in milliseconds.
    pub call_ms: LatencySummary,
    /// Events its calls sent downstream.
    pub events_out: u64,
    /// Events whose deadline had already passed when the call that took them in ended
    /// (their output could no longer reach its sink in time; [`OperatorStats::deadline_misses`]
    /// counts the misses at sinks downstream instead).
    pub late_after_call: u64,
    /// End-to-end latency of the events it took in: from the source's ingest to the end of
    /// the call that took the event in, ms.
    pub latency_ms: LatencySummary,
    /// Fuel per event taken in (0 before the first event).
    pub fuel_per_event: u64,
    /// The same figures per instance, by instance label (`job/operator`, or
    /// `job/operator#N` when it has several).
    pub instances: BTreeMap<String, InstanceStats>,
}

impl Default for JobMetrics {
    fn default() -> Self {
        JobMetrics {
            events_in: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            deadline_misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            fuel: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            latency: Mutex::new(LatencyTally::default()),
            sinks: Mutex::new(BTreeMap::new()),
            error_samples: Mutex::new(Vec::new()),
            operators: Mutex::new(BTreeMap::new()),
            mailboxes: Mutex::new(Vec::new()),
            sink_paths: Mutex::new(BTreeMap::new()),
        }
    }
}

impl JobMetrics {
    /// Events delivered to the job's sinks so far.
    pub fn events_out(&self) -> u64 {
        self.events_out.load(Ordering::Relaxed)
    }

    /// Counts events taken in by sources.
    pub fn add_in(&self, n: u64) {
        self.events_in.fetch_add(n, Ordering::Relaxed);
    }

    fn with_operator(&self, operator: &str, update: impl FnOnce(&mut OperatorTally)) {
        if let Ok(mut operators) = self.operators.lock() {
            with_entry(&mut operators, operator, update);
        }
    }

    /// Counts a finished call of `instance` of `operator`: its fuel, slices, wall-clock
    /// time, outputs, and for each event it took in (`inputs`, the events' priority
    /// contexts) the end-to-end latency to the call's end and whether its deadline had passed.
    pub fn add_call(
        &self,
        operator: &str,
        instance: &str,
        call: CallFigures,
        inputs: impl Iterator<Item = PriorityContext>,
    ) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.fuel.fetch_add(call.fuel, Ordering::Relaxed);
        let ended = call.ended.unwrap_or_else(Instant::now);
        let reached: Vec<(Duration, bool)> = inputs
            .map(|context| {
                (
                    ended.saturating_duration_since(context.ingest),
                    ended > context.deadline,
                )
            })
            .collect();
        self.with_operator(operator, |tally| {
            let stats = &mut tally.stats;
            stats.calls += 1;
            stats.events += call.events;
            stats.events_out += call.outputs;
            stats.fuel += call.fuel;
            stats.slices += call.slices;
            stats.preemptions += call.slices.saturating_sub(1);
            tally.calls.record_all(&[(call.wall, false)]);
            let (_, missed) = tally.reached.record_all(&reached);
            stats.late_after_call += missed;
            with_entry(&mut tally.instances, instance, |own| {
                let stats = &mut own.stats;
                stats.calls += 1;
                stats.events += call.events;
                stats.events_out += call.outputs;
                stats.fuel += call.fuel;
                stats.late_after_call += missed;
                own.calls.record_all(&[(call.wall, false)]);
                own.reached.record_all(&reached);
            });
        });
    }

    /// Counts a failed call of `instance` of `operator` by the kind of its failure.
    pub fn add_failure(&self, operator: &str, instance: &str, kind: &str) {
        self.with_operator(operator, |tally| {
            with_entry(&mut tally.stats.failures, kind, |count| *count += 1);
            with_entry(&mut tally.instances, instance, |own| {
                own.stats.failures += 1
            });
        });
    }

    /// Counts `instance` of `operator` thrown away after a failure, to be made afresh.
    pub fn add_restart(&self, operator: &str, instance: &str) {
        self.with_operator(operator, |tally| {
            tally.stats.restarts += 1;
            with_entry(&mut tally.instances, instance, |own| {
                own.stats.restarts += 1
            });
        });
    }

    /// Watches the mailbox of instance `label` through `probe`.
    pub fn watch_mailbox(&self, label: String, probe: DepthProbe) {
        if let Ok(mut mailboxes) = self.mailboxes.lock() {
            mailboxes.push((label, probe));
        }
    }

    /// How deep each instance's mailbox is now, by instance label (`job/operator`, or
    /// `job/operator#N` when it has several).
    pub fn mailbox_depths(&self) -> Vec<(String, MailboxDepth)> {
        self.mailboxes
            .lock()
            .map(|mailboxes| {
                mailboxes
                    .iter()
                    .map(|(label, probe)| (label.clone(), probe()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The wall-clock times of each operator's calls so far, as cumulative histograms over
    /// `bounds_us`, by operator label.
    pub fn call_buckets(&self, bounds_us: &[u64]) -> BTreeMap<String, LatencyBuckets> {
        let Ok(operators) = self.operators.lock() else {
            return BTreeMap::new();
        };
        operators
            .iter()
            .map(|(name, tally)| (name.clone(), tally.calls.buckets(bounds_us)))
            .collect()
    }

    /// The end-to-end latencies of the events each operator took in so far (from the
    /// source's ingest to the end of the call that took the event in), as cumulative
    /// histograms over `bounds_us`, by operator label.
    pub fn reached_buckets(&self, bounds_us: &[u64]) -> BTreeMap<String, LatencyBuckets> {
        let Ok(operators) = self.operators.lock() else {
            return BTreeMap::new();
        };
        operators
            .iter()
            .map(|(name, tally)| (name.clone(), tally.reached.buckets(bounds_us)))
            .collect()
    }

    /// Counts a failed input of `operator` (or source) and keeps the reason if few were kept
    /// so far.
    pub fn add_error(&self, operator: &str, reason: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.with_operator(operator, |tally| tally.stats.errors += 1);
        let reason = format!("{operator}: {reason}");
        if let Ok(mut samples) = self.error_samples.lock()
            && samples.len() < KEPT_ERRORS
        {
            samples.push(reason);
        }
    }

    /// Records events delivered to `sink` with their end-to-end latencies and whether each
    /// missed its deadline.
    pub fn add_out(&self, sink: &str, outputs: &[(Duration, bool)]) {
        let (count, missed) = match self.latency.lock() {
            Ok(mut tally) => tally.record_all(outputs),
            Err(_) => (0, 0),
        };
        if let Ok(mut sinks) = self.sinks.lock() {
            with_entry(&mut sinks, sink, |tally| tally.record_all(outputs));
        }
        self.events_out.fetch_add(count, Ordering::Relaxed);
        self.deadline_misses.fetch_add(missed, Ordering::Relaxed);
        if missed > 0
            && let Ok(paths) = self.sink_paths.lock()
            && let Some(operators) = paths.get(sink)
        {
            for operator in operators {
                self.with_operator(operator, |tally| tally.stats.deadline_misses += missed);
            }
        }
    }

    /// Names, per sink, the operators upstream of it (by label), which the outputs that miss
    /// their deadline there are counted against.
    pub fn set_sink_paths(&self, paths: BTreeMap<String, Vec<String>>) {
        if let Ok(mut sink_paths) = self.sink_paths.lock() {
            *sink_paths = paths;
        }
    }

    /// A snapshot for the summary.
    pub fn summary(&self, elapsed: Duration) -> JobSummary {
        let latency_ms = self
            .latency
            .lock()
            .map(|tally| tally.latency())
            .unwrap_or_default();
        let sinks = self
            .sinks
            .lock()
            .map(|sinks| {
                sinks
                    .iter()
                    .map(|(name, tally)| (name.clone(), tally.stats()))
                    .collect()
            })
            .unwrap_or_default();
        let events_in = self.events_in.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let events_out = self.events_out.load(Ordering::Relaxed);
        let deadline_misses = self.deadline_misses.load(Ordering::Relaxed);
        JobSummary {
            events_in,
            events_out,
            deadline_misses,
            deadline_miss_rate: if events_out > 0 {
                deadline_misses as f64 / events_out as f64
            } else {
                0.0
            },
            errors: self.errors.load(Ordering::Relaxed),
            fuel: self.fuel.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            latency_ms,
            sinks,
            elapsed_s: secs,
            throughput_eps: if secs > 0.0 {
                events_in as f64 / secs
            } else {
                0.0
            },
            error_samples: self
                .error_samples
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default(),
            operators: self.operator_stats(),
            checkpoints: None,
            state_bytes: 0,
            memory_bytes: 0,
        }
    }

    /// A copy of the end-to-end latency histogram, in microseconds, of `sink` (or of every
    /// output of the job for `None`); `None` when that sink has delivered nothing yet.
    pub fn latency_histogram(&self, sink: Option<&str>) -> Option<Histogram<u64>> {
        match sink {
            None => self.latency.lock().ok()?.histogram.clone(),
            Some(sink) => self.sinks.lock().ok()?.get(sink)?.histogram.clone(),
        }
    }

    /// The job's end-to-end latencies so far as a cumulative histogram over `bounds_us`.
    pub fn latency_buckets(&self, bounds_us: &[u64]) -> LatencyBuckets {
        self.latency
            .lock()
            .map(|tally| tally.buckets(bounds_us))
            .unwrap_or_default()
    }

    fn operator_stats(&self) -> BTreeMap<String, OperatorStats> {
        let Ok(operators) = self.operators.lock() else {
            return BTreeMap::new();
        };
        operators
            .iter()
            .map(|(name, tally)| {
                let mut stats = tally.stats.clone();
                stats.fuel_per_call = stats.fuel.checked_div(stats.calls).unwrap_or(0);
                stats.fuel_per_event = stats.fuel.checked_div(stats.events).unwrap_or(0);
                stats.call_ms = tally.calls.latency();
                stats.latency_ms = tally.reached.latency();
                stats.instances = tally
                    .instances
                    .iter()
                    .map(|(label, own)| {
                        let mut stats = own.stats.clone();
                        stats.fuel_per_event = stats.fuel.checked_div(stats.events).unwrap_or(0);
                        stats.call_ms = own.calls.latency();
                        stats.latency_ms = own.reached.latency();
                        (label.clone(), stats)
                    })
                    .collect();
                (name.clone(), stats)
            })
            .collect()
    }
}

impl LatencyTally {
    /// What was recorded, as a cumulative histogram over `bounds_us`.
    fn buckets(&self, bounds_us: &[u64]) -> LatencyBuckets {
        match self.histogram.as_ref().filter(|h| !h.is_empty()) {
            Some(h) => LatencyBuckets {
                bounds_us: bounds_us.to_vec(),
                cumulative: bounds_us.iter().map(|&b| h.count_between(0, b)).collect(),
                count: h.len(),
                sum_us: (h.mean() * h.len() as f64) as u64,
            },
            None => LatencyBuckets {
                bounds_us: bounds_us.to_vec(),
                cumulative: vec![0; bounds_us.len()],
                ..LatencyBuckets::default()
            },
        }
    }
}

/// Applies `update` to the value under `key`, inserted as the default first if missing
/// (the key is copied only then).
fn with_entry<V: Default, R>(
    map: &mut BTreeMap<String, V>,
    key: &str,
    update: impl FnOnce(&mut V) -> R,
) -> R {
    match map.get_mut(key) {
        Some(value) => update(value),
        None => update(map.entry(key.to_string()).or_default()),
    }
}

/// Records `value` in `histogram`, growing it as needed, or at its limit if it cannot grow.
pub fn record(histogram: &mut Histogram<u64>, value: u64) {
    if histogram.record(value).is_err() {
        histogram.saturating_record(value);
    }
}

/// Outputs and their end-to-end latencies, for a job or one of its sinks.
struct LatencyTally {
    /// Microseconds; 3 significant digits, auto-resizing: never fails to record.
    histogram: Option<Histogram<u64>>,
    events: u64,
    misses: u64,
}

impl Default for LatencyTally {
    fn default() -> Self {
        LatencyTally {
            histogram: Histogram::new(3).ok(),
            events: 0,
            misses: 0,
        }
    }
}

impl LatencyTally {
    /// Records `outputs` (latency, deadline missed); returns how many and how many missed.
    fn record_all(&mut self, outputs: &[(Duration, bool)]) -> (u64, u64) {
        let mut missed = 0;
        for &(latency, late) in outputs {
            let us = u64::try_from(latency.as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            if let Some(histogram) = &mut self.histogram {
                record(histogram, us);
            }
            missed += u64::from(late);
        }
        let count = outputs.len() as u64;
        self.events += count;
        self.misses += missed;
        (count, missed)
    }

    fn latency(&self) -> LatencySummary {
        match self.histogram.as_ref().filter(|h| !h.is_empty()) {
            Some(h) => LatencySummary {
                p50: h.value_at_quantile(0.50) as f64 / 1000.0,
                p99: h.value_at_quantile(0.99) as f64 / 1000.0,
                max: h.max() as f64 / 1000.0,
            },
            None => LatencySummary::default(),
        }
    }

    fn stats(&self) -> SinkStats {
        SinkStats {
            events_out: self.events,
            deadline_misses: self.misses,
            deadline_miss_rate: if self.events > 0 {
                self.misses as f64 / self.events as f64
            } else {
                0.0
            },
            latency_ms: self.latency(),
        }
    }
}

/// End-to-end latencies as a cumulative histogram (the shape Prometheus exposes).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LatencyBuckets {
    /// Upper bounds of the buckets, µs, ascending.
    pub bounds_us: Vec<u64>,
    /// Per bound, outputs whose latency was at most it (to the histogram's precision).
    pub cumulative: Vec<u64>,
    /// All outputs recorded.
    pub count: u64,
    /// Sum of their latencies, µs (from the histogram's mean).
    pub sum_us: u64,
}

/// What one sink received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SinkStats {
    /// Events delivered.
    pub events_out: u64,
    /// How many of them arrived after their deadline.
    pub deadline_misses: u64,
    /// Share of them that arrived after their deadline.
    pub deadline_miss_rate: f64,
    /// Their end-to-end latency.
    pub latency_ms: LatencySummary,
}

/// End-to-end latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// What a finished job reports (`cameo run --json` prints exactly this).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobSummary {
    /// Events taken in by all sources.
    pub events_in: u64,
    /// Events delivered to all sinks.
    pub events_out: u64,
    /// Outputs that reached their sink after their deadline.
    pub deadline_misses: u64,
    /// `deadline_misses / events_out`.
    pub deadline_miss_rate: f64,
    /// Failed calls (each sent its input to the dead-letter output).
    pub errors: u64,
    /// Fuel burned by all calls.
    pub fuel: u64,
    /// Calls into operators.
    pub calls: u64,
    /// End-to-end latency from source ingest to sink.
    pub latency_ms: LatencySummary,
    /// Wall-clock run time in seconds.
    pub elapsed_s: f64,
    /// Events in per second of run time.
    pub throughput_eps: f64,
    /// The first failure reasons, verbatim.
    pub error_samples: Vec<String>,
    /// Per sink (by name): outputs, deadline misses and latency.
    pub sinks: BTreeMap<String, SinkStats>,
    /// Per operator (by its label, `job/operator`): calls, fuel and failures.
    pub operators: BTreeMap<String, OperatorStats>,
    /// Bytes of keyed state the job's operators held at the end.
    pub state_bytes: u64,
    /// Bytes charged to the job's memory budget (linear memory, state, panes, buffers,
    /// timers).
    pub memory_bytes: u64,
    /// Checkpoints taken, when the job ran with a data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<CheckpointStats>,
}

impl std::fmt::Display for JobSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "events in {}, out {}, errors {}, calls {}, fuel {}",
            self.events_in, self.events_out, self.errors, self.calls, self.fuel
        )?;
        writeln!(
            f,
            "latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, deadlines missed {:.1}%; {:.2} s, {:.0} events/s",
            self.latency_ms.p50,
            self.latency_ms.p99,
            self.latency_ms.max,
            self.deadline_miss_rate * 100.0,
            self.elapsed_s,
            self.throughput_eps
        )?;
        if self.sinks.len() > 1 {
            for (name, sink) in &self.sinks {
                writeln!(
                    f,
                    "  sink {name}: {} out, latency p50 {:.3} ms, p99 {:.3} ms, deadlines missed {:.1}%",
                    sink.events_out,
                    sink.latency_ms.p50,
                    sink.latency_ms.p99,
                    sink.deadline_miss_rate * 100.0
                )?;
            }
        }
        for (name, stats) in &self.operators {
            writeln!(
                f,
                "  {name}: {} calls, {} fuel ({} per call), {:.1} µs per message, {:.1} µs downstream, {} errors, {} deadlines missed downstream",
                stats.calls,
                stats.fuel,
                stats.fuel_per_call,
                stats.cost_us,
                stats.downstream_us,
                stats.errors,
                stats.deadline_misses
            )?;
        }
        if let Some(checkpoints) = &self.checkpoints {
            writeln!(
                f,
                "checkpoints: {} taken{}",
                checkpoints.completed,
                checkpoints
                    .restored_from
                    .map(|id| format!(", resumed from checkpoint {id}"))
                    .unwrap_or_default()
            )?;
        }
        for sample in &self.error_samples {
            writeln!(f, "error: {sample}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_summed_up_per_job_and_per_sink() {
        let metrics = JobMetrics::default();
        let ms = Duration::from_millis;
        metrics.add_out("alerts", &[(ms(1), false), (ms(1), false)]);
        metrics.add_out("rollup", &[(ms(40), true)]);
        let summary = metrics.summary(Duration::from_secs(1));
        assert_eq!(summary.events_out, 3);
        assert_eq!(summary.deadline_misses, 1);
        assert!((39.0..41.0).contains(&summary.latency_ms.max));
        let alerts = &summary.sinks["alerts"];
        assert_eq!(alerts.events_out, 2);
        assert_eq!(alerts.deadline_miss_rate, 0.0);
        assert!((0.9..1.1).contains(&alerts.latency_ms.p99), "{alerts:?}");
        let buckets = metrics.latency_buckets(&[500, 5_000, 100_000]);
        assert_eq!(buckets.cumulative, vec![0, 2, 3]);
        assert_eq!(buckets.count, 3);
        let ended = Instant::now() + ms(100);
        let ingested = |ago: u64, due: u64| PriorityContext {
            ingest: ended - ms(ago),
            deadline: ended - ms(ago) + ms(due),
            event_time: 0,
        };
        metrics.add_call(
            "job/op",
            "job/op#1",
            CallFigures {
                fuel: 14,
                slices: 3,
                wall: ms(2),
                events: 7,
                outputs: 5,
                ended: Some(ended),
            },
            // 10 ms after ingest, due after 20 (in time); 30 ms after, due after 20 (missed).
            [ingested(10, 20), ingested(30, 20)].into_iter(),
        );
        metrics.add_failure("job/op", "job/op#0", "out_of_fuel");
        metrics.add_failure("job/op", "job/op#1", "out_of_fuel");
        metrics.add_restart("job/op", "job/op#1");
        let op = &metrics.summary(Duration::from_secs(1)).operators["job/op"];
        assert_eq!((op.calls, op.slices, op.preemptions), (1, 3, 2));
        assert_eq!((op.events, op.events_out, op.restarts), (7, 5, 1));
        assert_eq!((op.fuel_per_event, op.late_after_call), (2, 1));
        assert_eq!(op.failures["out_of_fuel"], 2);
        assert!((1.9..2.1).contains(&op.call_ms.p99), "{op:?}");
        assert!((29.0..31.0).contains(&op.latency_ms.max), "{op:?}");
        assert!((9.0..11.0).contains(&op.latency_ms.p50), "{op:?}");
        let first = &op.instances["job/op#1"];
        assert_eq!((first.calls, first.events, first.events_out), (1, 7, 5));
        assert_eq!(
            (first.failures, first.restarts, first.late_after_call),
            (1, 1, 1)
        );
        assert_eq!((first.fuel, first.fuel_per_event), (14, 2));
        assert!((29.0..31.0).contains(&first.latency_ms.p99), "{first:?}");
        let other = &op.instances["job/op#0"];
        assert_eq!((other.calls, other.failures, other.restarts), (0, 1, 0));
        let calls = &metrics.call_buckets(&[1_000, 5_000])["job/op"];
        assert_eq!(calls.cumulative, vec![0, 1]);
        metrics.watch_mailbox(
            "job/op#0".into(),
            Box::new(|| MailboxDepth {
                events: 4,
                bytes: 40,
            }),
        );
        assert_eq!(metrics.mailbox_depths()[0].1.events, 4);
        let rollup = &summary.sinks["rollup"];
        assert_eq!(rollup.events_out, 1);
        assert_eq!(rollup.deadline_miss_rate, 1.0);
        assert!(summary.to_string().contains("sink rollup: 1 out"));
    }

    #[test]
    fn a_missed_deadline_counts_against_every_operator_upstream_of_its_sink() {
        let metrics = JobMetrics::default();
        let ms = Duration::from_millis;
        metrics.set_sink_paths(BTreeMap::from([
            ("fast".to_string(), vec!["j/parse".to_string()]),
            (
                "slow".to_string(),
                vec!["j/parse".to_string(), "j/count".to_string()],
            ),
        ]));
        metrics.add_out("fast", &[(ms(1), false), (ms(90), true)]);
        metrics.add_out("slow", &[(ms(90), true), (ms(95), true), (ms(1), false)]);
        metrics.add_out("raw", &[(ms(90), true)]);
        let summary = metrics.summary(Duration::from_secs(1));
        assert_eq!(summary.operators["j/parse"].deadline_misses, 3);
        assert_eq!(summary.operators["j/count"].deadline_misses, 2);
        assert_eq!(summary.sinks["slow"].deadline_misses, 2);
        assert_eq!(summary.sinks["raw"].deadline_misses, 1);
        assert_eq!(summary.deadline_misses, 4);
        assert!(
            summary
                .to_string()
                .contains("j/count: 0 calls, 0 fuel (0 per call), 0.0 µs per message, 0.0 µs downstream, 0 errors, 2 deadlines missed downstream"),
            "{summary}"
        );
    }
}
