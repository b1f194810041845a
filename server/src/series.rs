//! Figures over time: once a second, each running job's figures are sampled, and what
//! changed since the sample before is kept in a bounded ring per job. The console draws its
//! charts from these rings (`GET /v1/jobs/{id}/series`), so a page opened late still sees
//! the last minutes, and percentiles are of one interval, not of the whole run.
//!
//! A sample holds counts of the interval (events, deadline misses, calls, fuel, failures,
//! restarts) and the p50/p99 of the latencies recorded in it (the job's end to end; per
//! operator, its calls' wall-clock time and the end-to-end latency of the events it took in), read from the difference of
//! two cumulative histograms. Rings live in memory only: a restarted server starts them
//! again, and a job's ring is dropped when the job stops running.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use cameo_host::{JobMonitor, LatencyBuckets};
use serde::Serialize;

/// How often a sample is taken.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Samples kept per job: ten minutes at one a second.
pub const KEPT: usize = 600;

/// Bucket bounds of the interval histograms, µs: 10 µs to about 60 s, 20 % apart, so an
/// interval's percentile is read within a fifth of its value.
fn bounds_us() -> Vec<u64> {
    let mut bounds = Vec::new();
    let mut bound = 10.0_f64;
    while bound < 60_000_000.0 {
        bounds.push(bound.round() as u64);
        bound *= 1.2;
    }
    bounds
}

/// The p50 and p99 of the latencies recorded in one interval, ms; absent when none were.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// What one operator did in one interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperatorSample {
    /// Calls that ended.
    pub calls: u64,
    /// Events those calls took in.
    pub events: u64,
    /// Fuel they burned.
    pub fuel: u64,
    /// `fuel / events`, when it took events in.
    pub fuel_per_event: Option<f64>,
    /// Failed calls.
    pub failures: u64,
    /// Instances thrown away after a failure and made afresh.
    pub restarts: u64,
    /// Outputs that reached a sink downstream of it after their deadline.
    pub deadline_misses: u64,
    /// Wall-clock time of its calls, parked time included.
    pub call_ms: Option<Percentiles>,
    /// End-to-end latency of the events it took in: from the source's ingest to the end of
    /// the call that took each in.
    pub latency_ms: Option<Percentiles>,
}

/// What a job did in one interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    /// When it was taken, ms since the Unix epoch; the interval ends here.
    pub t_ms: u64,
    /// Events taken in by its sources.
    pub events_in: u64,
    /// Events delivered to its sinks.
    pub events_out: u64,
    /// Outputs that reached their sink after their deadline.
    pub deadline_misses: u64,
    /// End-to-end latency of the outputs delivered.
    pub latency_ms: Option<Percentiles>,
    /// Per operator, by name.
    pub operators: BTreeMap<String, OperatorSample>,
}

/// A job's cumulative figures at one moment, to subtract from the next.
#[derive(Default)]
struct Totals {
    events_in: u64,
    events_out: u64,
    deadline_misses: u64,
    latency: LatencyBuckets,
    operators: BTreeMap<String, OperatorTotals>,
}

#[derive(Default, Clone)]
struct OperatorTotals {
    calls: u64,
    events: u64,
    fuel: u64,
    failures: u64,
    restarts: u64,
    deadline_misses: u64,
    call_times: LatencyBuckets,
    latency: LatencyBuckets,
}

/// One job's ring and the totals of its last sample.
struct Ring {
    last: Totals,
    samples: VecDeque<Sample>,
}

impl Ring {
    /// Keeps what changed from the last totals to `now`, the oldest sample going first
    /// once the ring is full.
    fn push(&mut self, now: Totals, t_ms: u64) {
        let sample = difference(&self.last, &now, t_ms);
        if self.samples.len() == KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.last = now;
    }
}

/// The rings of every running job.
#[derive(Default)]
pub struct Series {
    rings: Mutex<HashMap<String, Ring>>,
}

impl Series {
    /// Samples every job of `running` (id and monitor) and drops the rings of the others.
    /// A job's first sample holds what it did since it started (or resumed).
    pub fn sample(&self, running: &[(String, JobMonitor)], t_ms: u64) {
        let bounds = bounds_us();
        let totals: Vec<(String, Totals)> = running
            .iter()
            .map(|(id, monitor)| (id.clone(), totals_of(id, monitor, &bounds)))
            .collect();
        let Ok(mut rings) = self.rings.lock() else {
            return;
        };
        rings.retain(|id, _| running.iter().any(|(r, _)| r == id));
        for (id, now) in totals {
            rings
                .entry(id)
                .or_insert_with(|| Ring {
                    last: Totals::default(),
                    samples: VecDeque::new(),
                })
                .push(now, t_ms);
        }
    }

    /// The samples of job `id` taken after `after_ms`, oldest first (none when it does not
    /// run).
    pub fn after(&self, id: &str, after_ms: u64) -> Vec<Sample> {
        let Ok(rings) = self.rings.lock() else {
            return Vec::new();
        };
        rings
            .get(id)
            .map(|ring| {
                ring.samples
                    .iter()
                    .filter(|s| s.t_ms > after_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Job `id`'s cumulative figures now.
fn totals_of(id: &str, monitor: &JobMonitor, bounds: &[u64]) -> Totals {
    let summary = monitor.summary();
    let mut call_times = monitor.call_buckets(bounds);
    let mut latencies = monitor.operator_latency_buckets(bounds);
    let prefix = format!("{id}/");
    let operators = summary
        .operators
        .iter()
        .map(|(label, stats)| {
            let name = label.strip_prefix(&prefix).unwrap_or(label).to_string();
            let totals = OperatorTotals {
                calls: stats.calls,
                events: stats.events,
                fuel: stats.fuel,
                failures: stats.failures.values().sum(),
                restarts: stats.restarts,
                deadline_misses: stats.deadline_misses,
                call_times: call_times.remove(label).unwrap_or_default(),
                latency: latencies.remove(label).unwrap_or_default(),
            };
            (name, totals)
        })
        .collect();
    Totals {
        events_in: summary.events_in,
        events_out: summary.events_out,
        deadline_misses: summary.deadline_misses,
        latency: monitor.latency_buckets(bounds),
        operators,
    }
}

/// What happened between `before` and `now`.
fn difference(before: &Totals, now: &Totals, t_ms: u64) -> Sample {
    let operators = now
        .operators
        .iter()
        .map(|(name, now)| {
            let before = before.operators.get(name).cloned().unwrap_or_default();
            let events = now.events.saturating_sub(before.events);
            let fuel = now.fuel.saturating_sub(before.fuel);
            let sample = OperatorSample {
                calls: now.calls.saturating_sub(before.calls),
                events,
                fuel,
                fuel_per_event: (events > 0).then(|| fuel as f64 / events as f64),
                failures: now.failures.saturating_sub(before.failures),
                restarts: now.restarts.saturating_sub(before.restarts),
                deadline_misses: now.deadline_misses.saturating_sub(before.deadline_misses),
                call_ms: interval_percentiles(&before.call_times, &now.call_times),
                latency_ms: interval_percentiles(&before.latency, &now.latency),
            };
            (name.clone(), sample)
        })
        .collect();
    Sample {
        t_ms,
        events_in: now.events_in.saturating_sub(before.events_in),
        events_out: now.events_out.saturating_sub(before.events_out),
        deadline_misses: now.deadline_misses.saturating_sub(before.deadline_misses),
        latency_ms: interval_percentiles(&before.latency, &now.latency),
        operators,
    }
}

/// The p50 and p99 of what was recorded between two cumulative histograms over the same
/// bounds, in ms; `None` when nothing was.
fn interval_percentiles(before: &LatencyBuckets, now: &LatencyBuckets) -> Option<Percentiles> {
    let counts: Vec<u64> = now
        .cumulative
        .iter()
        .enumerate()
        .map(|(i, n)| n.saturating_sub(before.cumulative.get(i).copied().unwrap_or(0)))
        .collect();
    let total = now.count.saturating_sub(before.count);
    if total == 0 {
        return None;
    }
    let quantile = |q: f64| quantile(&now.bounds_us, &counts, total, q) / 1000.0;
    Some(Percentiles {
        p50: quantile(0.5),
        p99: quantile(0.99),
    })
}

/// The `q` quantile, µs, of `total` values whose cumulative counts at `bounds` are
/// `cumulative`, interpolated linearly within its bucket (as Prometheus does); values past
/// the last bound count as that bound.
fn quantile(bounds: &[u64], cumulative: &[u64], total: u64, q: f64) -> f64 {
    let rank = q * total as f64;
    let mut below = 0u64;
    let mut lower = 0.0;
    for (&bound, &count) in bounds.iter().zip(cumulative) {
        if count as f64 >= rank && count > below {
            let within = (rank - below as f64) / (count - below) as f64;
            return lower + (bound as f64 - lower) * within.clamp(0.0, 1.0);
        }
        below = count;
        lower = bound as f64;
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(bounds: &[u64], cumulative: &[u64]) -> LatencyBuckets {
        LatencyBuckets {
            bounds_us: bounds.to_vec(),
            cumulative: cumulative.to_vec(),
            count: cumulative.last().copied().unwrap_or(0),
            sum_us: 0,
        }
    }

    #[test]
    fn percentiles_are_of_the_interval_between_two_histograms() {
        let bounds = [1_000, 2_000, 4_000];
        // Before: 100 values at most 1 ms. Then 100 more, all between 2 and 4 ms.
        let before = buckets(&bounds, &[100, 100, 100]);
        let now = buckets(&bounds, &[100, 100, 200]);
        let p = interval_percentiles(&before, &now).unwrap();
        assert!((2.9..3.1).contains(&p.p50), "{p:?}");
        assert!((3.9..4.0).contains(&p.p99), "{p:?}");
        assert_eq!(interval_percentiles(&now, &now), None, "nothing new");
    }

    #[test]
    fn an_operators_deadline_misses_are_counted_per_interval() {
        let totals = |misses| Totals {
            operators: BTreeMap::from([(
                "count".to_string(),
                OperatorTotals {
                    deadline_misses: misses,
                    ..OperatorTotals::default()
                },
            )]),
            ..Totals::default()
        };
        let sample = difference(&totals(3), &totals(10), 1);
        assert_eq!(sample.operators["count"].deadline_misses, 7);
    }

    #[test]
    fn an_operators_end_to_end_latency_is_of_the_interval_and_apart_from_its_call_time() {
        let bounds = [1_000, 10_000, 100_000];
        let totals = |calls: [u64; 3], reached: [u64; 3]| Totals {
            operators: BTreeMap::from([(
                "count".to_string(),
                OperatorTotals {
                    call_times: buckets(&bounds, &calls),
                    latency: buckets(&bounds, &reached),
                    ..OperatorTotals::default()
                },
            )]),
            ..Totals::default()
        };
        // Calls under 1 ms throughout; the events they took in waited 10 to 100 ms in the
        // interval, after 50 under 1 ms before it.
        let sample = difference(
            &totals([10, 10, 10], [50, 50, 50]),
            &totals([20, 20, 20], [50, 50, 150]),
            1,
        );
        let count = &sample.operators["count"];
        let call = count.call_ms.unwrap();
        let latency = count.latency_ms.unwrap();
        assert!(call.p99 <= 1.0, "{call:?}");
        assert!((10.0..=100.0).contains(&latency.p50), "{latency:?}");
        assert!(latency.p99 > 90.0, "{latency:?}");
        let idle = difference(
            &totals([20, 20, 20], [50, 50, 150]),
            &totals([20, 20, 20], [50, 50, 150]),
            2,
        );
        assert_eq!(idle.operators["count"].latency_ms, None, "nothing new");
    }

    #[test]
    fn a_ring_keeps_what_changed_per_interval_and_at_most_its_bound() {
        let series = Series::default();
        let mut ring = Ring {
            last: Totals::default(),
            samples: VecDeque::new(),
        };
        for i in 1..=(KEPT as u64 + 5) {
            let now = Totals {
                events_in: i * 10,
                deadline_misses: i / 2,
                ..Totals::default()
            };
            ring.push(now, i);
        }
        assert!(ring.samples.iter().all(|s| s.events_in == 10));
        series.rings.lock().unwrap().insert("j1".into(), ring);
        let all = series.after("j1", 0);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all[0].t_ms, 6, "the oldest went first");
        assert_eq!(series.after("j1", KEPT as u64 + 3).len(), 2);
        assert!(series.after("j2", 0).is_empty());
        series.sample(&[], 1);
        assert!(
            series.after("j1", 0).is_empty(),
            "a job that stopped loses its ring"
        );
    }
}
