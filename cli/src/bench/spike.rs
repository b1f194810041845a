//! `spike`: a latency-sensitive job (500 events/s, 50 ms target) beside a bulk tenant that
//! offers a steady share of the host's capacity and then, for a while, five times as much
//! (a second job of the same tenant joins for the burst). The latency-sensitive job's p99 is
//! followed over time in sliding windows under every policy.
//!
//! Time to recover: from the end of the burst to the first sliding-window p99 (windows of
//! [`WINDOW_S`]) back within [`RECOVERED_WITHIN`] times the p99 before the burst. A policy
//! that never lets the p99 rise recovers at once (0); one that is still above it when the
//! job ends has not recovered (`None`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;

use super::latency::{self, P99At, Sample};
use super::plot::{Axis, Chart, LineChart, Series};
use super::scenarios::{self, ScenarioOptions};
use super::specs::{Specs, generator};
use super::{BenchError, median};
use cameo_host::{Host, JobSpec, PolicyKind, RunOptions};

/// The sliding window of the p99 over time, seconds.
pub const WINDOW_S: f64 = 0.1;
/// Recovered: the sliding p99 is within this factor of the p99 before the burst.
pub const RECOVERED_WITHIN: f64 = 1.5;
/// How much more the bulk tenant offers during the burst.
pub const BURST_FACTOR: f64 = 5.0;
/// Time between copies of the latency histogram.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// Knobs of a spike run.
#[derive(Debug, Clone)]
pub struct SpikeOptions {
    /// The scheduling knobs (duration, workers, policies, rounds, operators).
    pub scenario: ScenarioOptions,
    /// The bulk tenant's steady load, as a share of the capacity measured first.
    pub base_load: f64,
}

/// The figures of one policy (medians over the rounds).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpikeStats {
    /// p99 of the latency-sensitive job before the burst, ms.
    pub before_p99_ms: f64,
    /// The highest sliding-window p99 from the burst on, ms.
    pub peak_p99_ms: f64,
    /// Seconds from the end of the burst until recovered; `None`: not within the run (in
    /// more than half the rounds).
    pub recovery_s: Option<f64>,
    /// The bulk tenant's events per second, both jobs together.
    pub bulk_throughput_eps: f64,
}

/// The report of `cameo bench spike`.
#[derive(Debug, Clone, Serialize)]
pub struct SpikeReport {
    /// Capacity of the bulk job measured first (events/s, unpaced).
    pub capacity_eps: f64,
    /// The bulk tenant's steady rate and its rate during the burst, events/s.
    pub base_rate_eps: f64,
    /// Its rate during the burst.
    pub burst_rate_eps: f64,
    /// When the burst starts and ends, seconds from the start.
    pub burst_s: (f64, f64),
    /// Rounds each figure is the median of.
    pub rounds: usize,
    /// Per policy.
    pub policies: BTreeMap<String, SpikeStats>,
    /// Per policy, the sliding p99 over time of the first round.
    pub timelines: BTreeMap<String, Vec<P99At>>,
}

/// One run's figures.
struct RunStats {
    stats: SpikeStats,
    timeline: Vec<P99At>,
}

/// Runs the spike under every policy, `rounds` times, interleaved.
pub fn run(options: &SpikeOptions) -> Result<SpikeReport, BenchError> {
    let scenario = &options.scenario;
    let specs = Specs::new(&scenario.operators)?;
    let capacity = scenarios::capacity(|s| specs.bulk("probe", "probe", s), scenario)?;
    let duration = scenario.duration_s;
    let base_rate = options.base_load * capacity;
    let burst = (duration / 3.0, duration / 2.0);
    let rounds = scenario.rounds.max(1);
    let progress = ProgressBar::new((rounds * scenario.policies.len()) as u64);
    let mut per_policy: BTreeMap<String, Vec<RunStats>> = BTreeMap::new();
    for _ in 0..rounds {
        for &policy in &scenario.policies {
            let stats = run_once(&specs, policy, scenario, base_rate, burst)?;
            per_policy
                .entry(policy.name().to_string())
                .or_default()
                .push(stats);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let mut policies = BTreeMap::new();
    let mut timelines = BTreeMap::new();
    for (policy, runs) in per_policy {
        let pick = |f: fn(&SpikeStats) -> f64| {
            median(&mut runs.iter().map(|r| f(&r.stats)).collect::<Vec<_>>())
        };
        // Not recovered counts as the longest time: the median is `None` if most rounds did
        // not recover.
        let mut recoveries: Vec<f64> = runs
            .iter()
            .map(|r| r.stats.recovery_s.unwrap_or(f64::INFINITY))
            .collect();
        let recovery = median(&mut recoveries);
        policies.insert(
            policy.clone(),
            SpikeStats {
                before_p99_ms: pick(|s| s.before_p99_ms),
                peak_p99_ms: pick(|s| s.peak_p99_ms),
                recovery_s: recovery.is_finite().then_some(recovery),
                bulk_throughput_eps: pick(|s| s.bulk_throughput_eps),
            },
        );
        if let Some(first) = runs.into_iter().next() {
            timelines.insert(policy, first.timeline);
        }
    }
    Ok(SpikeReport {
        capacity_eps: capacity,
        base_rate_eps: base_rate,
        burst_rate_eps: base_rate * BURST_FACTOR,
        burst_s: burst,
        rounds,
        policies,
        timelines,
    })
}

/// One run under `policy`: the jobs start together, the burst job joins at `burst.0`.
fn run_once(
    specs: &Specs,
    policy: PolicyKind,
    options: &ScenarioOptions,
    base_rate: f64,
    burst: (f64, f64),
) -> Result<RunStats, BenchError> {
    let duration = options.duration_s;
    let dir = std::env::temp_dir();
    let parse = |text: String| JobSpec::parse(&text, "spike.toml", dir.clone());
    let sensitive = parse(specs.latency_sensitive(
        "latency-sensitive",
        "interactive",
        &generator("in", 500.0, (500.0 * duration).max(1.0) as u64, 50, 1),
    ))?;
    let count = |rate: f64, seconds: f64| (rate * seconds).max(1.0) as u64;
    let base = parse(specs.bulk(
        "bulk",
        "batch",
        &generator("in", base_rate, count(base_rate, duration), 1000, 2),
    ))?;
    let extra = base_rate * (BURST_FACTOR - 1.0);
    let surge = parse(specs.bulk(
        "bulk-burst",
        "batch",
        &generator("in", extra, count(extra, burst.1 - burst.0), 1000, 3),
    ))?;
    let mut host = Host::new(RunOptions {
        policy,
        workers: options.workers,
        ..RunOptions::default()
    })?;
    host.start()?;
    let sensitive = host.submit(&sensitive)?;
    let base = host.submit(&base)?;
    let monitor = sensitive.monitor();
    // The clock starts with the first output: loading and compiling the modules is not part
    // of the run, and would otherwise swallow the time before the burst.
    while monitor.latency_histogram(None).is_none() && !monitor.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    let (samples, bulk_eps) = std::thread::scope(|scope| {
        let sampler =
            scope.spawn(|| latency::sample_until_finished(&monitor, started, SAMPLE_EVERY));
        let outcome = (|| -> Result<f64, BenchError> {
            std::thread::sleep(Duration::from_secs_f64(burst.0).saturating_sub(started.elapsed()));
            let surge = host.submit(&surge)?;
            sensitive.wait()?;
            let base = base.wait()?.summary;
            let surge = surge.wait()?.summary;
            Ok((base.events_in + surge.events_in) as f64 / base.elapsed_s.max(1e-9))
        })();
        // A failed job ends the sampler too: it stops when the job is finished.
        monitor.cancel();
        let samples = sampler.join().unwrap_or_default();
        outcome.map(|eps| (samples, eps))
    })?;
    host.shutdown();
    Ok(measure(&samples, burst, bulk_eps))
}

/// The figures of one run from its histogram copies.
fn measure(samples: &[Sample], burst: (f64, f64), bulk_eps: f64) -> RunStats {
    let before = latency::p99_between(samples, 0.0, burst.0).unwrap_or(0.0);
    let timeline = latency::sliding_p99(samples, WINDOW_S);
    let peak = timeline
        .iter()
        .filter(|p| p.at_s >= burst.0)
        .map(|p| p.p99_ms)
        .fold(0.0, f64::max);
    let recovery_s = recovery(&timeline, before, burst.1);
    RunStats {
        stats: SpikeStats {
            before_p99_ms: before,
            peak_p99_ms: peak,
            recovery_s,
            bulk_throughput_eps: bulk_eps,
        },
        timeline,
    }
}

/// Seconds from `burst_end` to the first window ending at or after it whose p99 is within
/// [`RECOVERED_WITHIN`] of `before`; `None` if none is.
pub fn recovery(timeline: &[P99At], before: f64, burst_end: f64) -> Option<f64> {
    timeline
        .iter()
        .filter(|p| p.at_s >= burst_end)
        .find(|p| p.p99_ms <= before * RECOVERED_WITHIN)
        .map(|p| p.at_s - burst_end)
}

impl SpikeReport {
    /// The p99 over time of every policy, with the burst marked.
    pub fn chart(&self) -> Chart {
        Chart::Line(LineChart {
            title: format!(
                "spike: latency-sensitive p99 over time ({}x bulk burst, round 1)",
                BURST_FACTOR
            ),
            x_label: "time since start, s".into(),
            y_label: format!(
                "p99 latency over the last {} ms, ms (log)",
                WINDOW_S * 1000.0
            ),
            x_axis: Axis::Linear,
            y_axis: Axis::Log,
            series: self
                .timelines
                .iter()
                .map(|(policy, points)| Series {
                    name: policy.clone(),
                    points: points.iter().map(|p| (p.at_s, p.p99_ms)).collect(),
                })
                .collect(),
            marks: vec![
                (self.burst_s.0, "burst starts".into()),
                (self.burst_s.1, "burst ends".into()),
            ],
        })
    }
}

impl std::fmt::Display for SpikeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bulk capacity {:.0} events/s; bulk offers {:.0}/s, {:.0}/s from {:.1} s to {:.1} s",
            self.capacity_eps,
            self.base_rate_eps,
            self.burst_rate_eps,
            self.burst_s.0,
            self.burst_s.1
        )?;
        writeln!(
            f,
            "recovered: the {} ms p99 back within {RECOVERED_WITHIN}x its value before the burst; medians of {} rounds",
            WINDOW_S * 1000.0,
            self.rounds
        )?;
        writeln!(
            f,
            "{:<8} {:>14} {:>12} {:>12} {:>12}",
            "policy", "before p99 ms", "peak p99 ms", "recovery s", "bulk ev/s"
        )?;
        for (policy, s) in &self.policies {
            let recovery = s
                .recovery_s
                .map_or_else(|| "not in run".to_string(), |r| format!("{r:.3}"));
            writeln!(
                f,
                "{policy:<8} {:>14.3} {:>12.3} {:>12} {:>12.0}",
                s.before_p99_ms, s.peak_p99_ms, recovery, s.bulk_throughput_eps
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_s: f64, p99_ms: f64) -> P99At {
        P99At {
            at_s,
            p99_ms,
            outputs: 10,
        }
    }

    #[test]
    fn recovery_is_the_first_window_after_the_burst_back_near_the_old_p99() {
        let timeline = [
            at(0.5, 1.0),
            at(1.0, 40.0),
            at(2.1, 20.0),
            at(2.6, 1.4),
            at(3.0, 1.0),
        ];
        // Before: 1 ms; the burst ends at 2.0; 1.4 ms is within 1.5x at 2.6.
        let r = recovery(&timeline, 1.0, 2.0).unwrap();
        assert!((r - 0.6).abs() < 1e-9, "{r}");
        // Never back within 1.5x of 0.5 ms.
        assert_eq!(recovery(&timeline, 0.5, 2.0), None);
    }
}
