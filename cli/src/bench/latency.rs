//! Latency distributions from the host's latency histograms (microseconds): the points of a
//! cumulative distribution, and a p99 over time from copies of a histogram taken as a job
//! runs (the outputs of a window are the difference of two copies).

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use cameo_host::JobMonitor;

/// Quantiles a distribution is drawn at: fine in the body, finer in the tail.
fn quantiles() -> impl Iterator<Item = f64> {
    let body = (1..=98).map(|i| f64::from(i) / 100.0);
    let tail = [0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0];
    body.chain(tail)
}

/// The cumulative distribution of `histogram` as (latency ms, share of outputs at or below)
/// points, in order; none for an empty histogram.
pub fn cdf(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    quantiles()
        .map(|q| (histogram.value_at_quantile(q) as f64 / 1000.0, q))
        .collect()
}

/// Adds `other` into `into` (made from it if still empty).
pub fn merge(into: &mut Option<Histogram<u64>>, other: Option<&Histogram<u64>>) {
    let Some(other) = other else { return };
    match into {
        Some(into) => {
            // Both auto-resize: adding cannot run out of range.
            let _ = into.add(other);
        }
        None => *into = Some(other.clone()),
    }
}

/// One copy of a job's latency histogram and when it was taken, since the job started.
#[derive(Clone)]
pub struct Sample {
    /// Seconds since the run started.
    pub at_s: f64,
    /// The histogram then (every output so far), `None` before the first output.
    pub histogram: Option<Histogram<u64>>,
}

/// Copies of a running job's latency histogram every `every`, until it finishes, timed from
/// `start`.
pub fn sample_until_finished(monitor: &JobMonitor, start: Instant, every: Duration) -> Vec<Sample> {
    let mut samples = Vec::new();
    loop {
        let finished = monitor.is_finished();
        samples.push(Sample {
            at_s: start.elapsed().as_secs_f64(),
            histogram: monitor.latency_histogram(None),
        });
        if finished {
            return samples;
        }
        std::thread::sleep(every);
    }
}

/// A p99 at one point in time.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct P99At {
    /// Seconds since the job started (the window's end).
    pub at_s: f64,
    /// The 99th percentile of the outputs delivered in the window ending here, ms.
    pub p99_ms: f64,
    /// Outputs in that window.
    pub outputs: u64,
}

/// The p99 of the outputs of every sliding window of `window` seconds, at every sample
/// (windows without outputs are left out).
pub fn sliding_p99(samples: &[Sample], window: f64) -> Vec<P99At> {
    let mut series = Vec::new();
    let mut start = 0;
    for (index, sample) in samples.iter().enumerate() {
        while start < index && samples[start].at_s < sample.at_s - window {
            start += 1;
        }
        let Some(now) = &sample.histogram else {
            continue;
        };
        let mut delta = now.clone();
        if start < index
            && let Some(before) = &samples[start].histogram
            && delta.subtract(before).is_err()
        {
            continue;
        }
        if delta.is_empty() {
            continue;
        }
        series.push(P99At {
            at_s: sample.at_s,
            p99_ms: delta.value_at_quantile(0.99) as f64 / 1000.0,
            outputs: delta.len(),
        });
    }
    series
}

/// The 99th percentile of the outputs delivered between samples taken at `from_s` and `to_s`
/// (the nearest samples at or before each), ms; `None` without outputs in between.
pub fn p99_between(samples: &[Sample], from_s: f64, to_s: f64) -> Option<f64> {
    let at = |t: f64| samples.iter().rev().find(|s| s.at_s <= t);
    let end = at(to_s)?.histogram.as_ref()?;
    let mut delta = end.clone();
    if let Some(before) = at(from_s).and_then(|s| s.histogram.as_ref()) {
        delta.subtract(before).ok()?;
    }
    (!delta.is_empty()).then(|| delta.value_at_quantile(0.99) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values_us: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn a_cdf_rises_from_the_body_to_the_maximum() {
        let values: Vec<u64> = (1..=1000).collect();
        let points = cdf(&histogram(&values));
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1)
        );
        let (last_ms, last_q) = *points.last().unwrap();
        assert_eq!(last_q, 1.0);
        assert!((0.99..=1.01).contains(&last_ms), "{last_ms}");
        assert!(cdf(&histogram(&[])).is_empty());
    }

    #[test]
    fn a_sliding_p99_sees_only_the_outputs_of_its_window() {
        // Slow outputs (10 ms) in the first second, fast ones (0.1 ms) after.
        let mut all = histogram(&[]);
        let mut samples = vec![Sample {
            at_s: 0.0,
            histogram: None,
        }];
        for step in 1..=20 {
            let latency = if step <= 10 { 10_000 } else { 100 };
            for _ in 0..100 {
                all.record(latency).unwrap();
            }
            samples.push(Sample {
                at_s: f64::from(step) * 0.1,
                histogram: Some(all.clone()),
            });
        }
        let series = sliding_p99(&samples, 0.35);
        let at = |t: f64| series.iter().find(|p| (p.at_s - t).abs() < 1e-9).unwrap();
        assert!((9.9..10.1).contains(&at(0.5).p99_ms));
        assert!((0.09..0.11).contains(&at(1.8).p99_ms), "{:?}", at(1.8));
        assert_eq!(at(1.8).outputs, 300);
        let before = p99_between(&samples, 0.0, 1.0).unwrap();
        let after = p99_between(&samples, 1.0, 2.0).unwrap();
        assert!(before > 50.0 * after);
    }
}
