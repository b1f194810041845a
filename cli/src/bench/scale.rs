//! `scale`: throughput and p99 latency of two pipelines, unpaced, with 1..N workers and as
//! many operator instances: a filter, and a keyed one-second tumbling window-agg. On a
//! machine with more cores the same command draws the longer curve; past the number of cores
//! more workers only share the same cores.

use std::collections::BTreeMap;
use std::path::Path;

use indicatif::ProgressBar;
use serde::Serialize;

use super::plot::{Axis, Chart, LineChart, Series};
use super::{BenchError, example_operator, median};
use cameo_host::{JobSpec, PolicyKind, RunOptions, run_job};

/// The pipelines measured.
const PIPELINES: [&str; 2] = ["filter", "window-agg"];

/// One point of a curve (medians over the rounds).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScalePoint {
    /// Worker threads, and instances of the operator.
    pub workers: usize,
    /// Events per second through the pipeline.
    pub events_per_s: f64,
    /// p99 end-to-end latency, ms.
    pub p99_ms: f64,
}

/// The report of `cameo bench scale`.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// Cores of this machine.
    pub cores: usize,
    /// Events per run.
    pub events: u64,
    /// Rounds each figure is the median of.
    pub rounds: usize,
    /// Per pipeline, one point per worker count.
    pub pipelines: BTreeMap<String, Vec<ScalePoint>>,
}

/// The job of `pipeline` over `events` exact events with `workers` instances.
fn spec(pipeline: &str, module: &Path, events: u64, workers: usize) -> String {
    let config = if pipeline == "filter" {
        "config = { field = \"value\", min = 50 }\n"
    } else {
        "window = { kind = \"tumbling\", size_ms = 1000 }\n"
    };
    format!(
        "name = \"scale\"\ntenant = \"bench\"\nlatency_target_ms = 1000\n\
         [[source]]\nname = \"seq\"\nkind = \"generator\"\nmode = \"exact\"\ncount = {events}\n\
         keys = 1000\nevent_rate = 1000000\n\
         [[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"seq\"]\n\
         partition = \"key-hash\"\nparallelism = {workers}\n{config}\
         [[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"op\"]\n",
        module.display().to_string()
    )
}

/// Runs both pipelines with 1..=`max_workers` workers, `rounds` times, interleaved.
pub fn run(
    operators: &Path,
    events: u64,
    max_workers: usize,
    rounds: usize,
) -> Result<ScaleReport, BenchError> {
    let modules = PIPELINES
        .iter()
        .map(|name| example_operator(operators, name))
        .collect::<Result<Vec<_>, _>>()?;
    let max_workers = max_workers.max(1);
    let rounds = rounds.max(1);
    let progress = ProgressBar::new((rounds * max_workers * PIPELINES.len()) as u64);
    let mut runs: BTreeMap<(usize, usize), Vec<(f64, f64)>> = BTreeMap::new();
    let dir = std::env::temp_dir();
    for _ in 0..rounds {
        for workers in 1..=max_workers {
            for (index, (name, module)) in PIPELINES.iter().zip(&modules).enumerate() {
                let job = JobSpec::parse(
                    &spec(name, module, events, workers),
                    "scale.toml",
                    dir.clone(),
                )?;
                let options = RunOptions {
                    workers,
                    policy: PolicyKind::Edf,
                    ..RunOptions::default()
                };
                let summary = run_job(&job, &options)?.summary;
                runs.entry((index, workers))
                    .or_default()
                    .push((summary.throughput_eps, summary.latency_ms.p99));
                progress.inc(1);
            }
        }
    }
    progress.finish_and_clear();
    let mut pipelines: BTreeMap<String, Vec<ScalePoint>> = BTreeMap::new();
    for ((index, workers), figures) in runs {
        let mut eps: Vec<f64> = figures.iter().map(|f| f.0).collect();
        let mut p99: Vec<f64> = figures.iter().map(|f| f.1).collect();
        pipelines
            .entry(PIPELINES[index].to_string())
            .or_default()
            .push(ScalePoint {
                workers,
                events_per_s: median(&mut eps),
                p99_ms: median(&mut p99),
            });
    }
    Ok(ScaleReport {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        events,
        rounds,
        pipelines,
    })
}

impl ScaleReport {
    /// Throughput against workers, and p99 against workers.
    pub fn charts(&self) -> Vec<(String, Chart)> {
        let series = |f: fn(&ScalePoint) -> f64| {
            self.pipelines
                .iter()
                .map(|(name, points)| Series {
                    name: name.clone(),
                    points: points.iter().map(|p| (p.workers as f64, f(p))).collect(),
                })
                .collect()
        };
        let note = format!("this machine has {} cores", self.cores);
        vec![
            (
                "scale-throughput".to_string(),
                Chart::Line(LineChart {
                    title: format!("scale: throughput against workers ({note})"),
                    x_label: "workers (and operator instances)".into(),
                    y_label: "events per second".into(),
                    x_axis: Axis::Linear,
                    y_axis: Axis::Linear,
                    series: series(|p| p.events_per_s),
                    marks: Vec::new(),
                }),
            ),
            (
                "scale-p99".to_string(),
                Chart::Line(LineChart {
                    title: format!("scale: p99 latency against workers, unpaced ({note})"),
                    x_label: "workers (and operator instances)".into(),
                    y_label: "p99 end-to-end latency, ms (log)".into(),
                    x_axis: Axis::Linear,
                    y_axis: Axis::Log,
                    series: series(|p| p.p99_ms),
                    marks: Vec::new(),
                }),
            ),
        ]
    }
}

impl std::fmt::Display for ScaleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "this machine has {} cores: past {} workers the curve only shows workers sharing them; \
             on a machine with more cores the same command draws the longer curve",
            self.cores, self.cores
        )?;
        writeln!(
            f,
            "{} events per run, unpaced; medians of {} rounds",
            self.events, self.rounds
        )?;
        writeln!(
            f,
            "{:<12} {:>8} {:>14} {:>10} {:>9}",
            "pipeline", "workers", "events/s", "p99 ms", "speed-up"
        )?;
        for (name, points) in &self.pipelines {
            let one = points.first().map_or(0.0, |p| p.events_per_s);
            for p in points {
                let speedup = if one > 0.0 { p.events_per_s / one } else { 0.0 };
                writeln!(
                    f,
                    "{name:<12} {:>8} {:>14.0} {:>10.3} {:>8.2}x",
                    p.workers, p.events_per_s, p.p99_ms, speedup
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pipelines_are_valid_specs_with_as_many_instances_as_workers() {
        for name in PIPELINES {
            let text = spec(name, Path::new("op.wasm"), 10, 3);
            let job = JobSpec::parse(&text, "scale.toml", std::env::temp_dir()).unwrap();
            assert_eq!(job.operators.len(), 1, "{text}");
            assert!(text.contains("parallelism = 3"));
        }
    }
}
