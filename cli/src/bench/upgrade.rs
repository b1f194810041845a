//! What an upgrade costs a running job: a word count holding `keys` keys of state per
//! instance is switched between two versions while its input streams in, `rounds` times,
//! then twice to a version that converts every key: once one key per call (`upgrade-state`),
//! then in batches (`packed-upgrader`), so both conversions are measured side by side on the
//! same keys in one run (the second reads the decimal counts the first wrote and writes them
//! again, a little more work per key than the first's 8-byte read). Beside it in the same job,
//! another word count streams its own input to its own sink and is never upgraded.
//!
//! Two figures answer the goal. The upgraded operator's input pause: per instance, from its
//! switch (at the checkpoint barrier) to the end of the first call of the new version
//! (instantiation, `init`, any conversion, and that call's input). The other operators'
//! latency spike: the p99 of the end-to-end latency at their sink during the upgrades (from
//! the request until every instance's pause ended, plus the time a delayed event needs to
//! drain) against the p99 between them, both from the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{BenchError, example_operator};
use cameo_host::{Host, JobMonitor, JobPlan, JobSpec, OperatorModule, RunOptions};

/// Result of the upgrade benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    /// Keys of state per instance when the upgrades ran.
    pub keys: u64,
    /// Upgrades between versions that hand the state over as it is.
    pub rounds: usize,
    /// Pause of each instance's input per switch, ms: median, p99 and the largest.
    pub pause_ms: Percentiles,
    /// Pause of the switch to the version that converts every key in batches, ms.
    pub converting_pause_ms: f64,
    /// Pause of the switch to the same version converting one key per call, ms.
    pub converting_per_key_pause_ms: f64,
    /// `converting_per_key_pause_ms / converting_pause_ms`.
    pub converting_ratio: f64,
    /// End-to-end latency of the operator that is never upgraded, during the upgrades that
    /// hand the state over as it is against between them.
    pub others_ms: Spike,
    /// The same for the upgraded operator's own output (its pause shows here).
    pub upgraded_ms: Spike,
    /// Whether the goal was met: pause p99 under 50 ms, the others' p99 during the upgrades
    /// within twice their p99 between them.
    pub goal: Goal,
    /// Events the job's output counted before the first upgrade.
    pub events_before: u64,
    /// Calls of the job that failed (a conversion that could not finish makes every later
    /// call of the converting version fail): 0 when every upgrade went through.
    pub errors: u64,
}

/// Median, p99 and maximum of some figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

/// A sink's end-to-end latency during the upgrades and between them, ms.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spike {
    /// p99 between upgrades.
    pub outside_p99: f64,
    /// p99 while upgrades ran.
    pub during_p99: f64,
    /// Largest while upgrades ran.
    pub during_max: f64,
    /// `during_p99 / outside_p99`.
    pub ratio: f64,
    /// Outputs measured during / between the upgrades.
    pub outputs: (u64, u64),
}

/// The benchmark's goal, met or not.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Goal {
    /// The pause p99 is under 50 ms.
    pub pause_under_50ms: bool,
    /// The others' p99 during the upgrades is at most twice their p99 between them.
    pub others_within_2x: bool,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            values
                .get(((values.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0.0)
        };
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            max: values.last().copied().unwrap_or(0.0),
        }
    }
}

impl std::fmt::Display for UpgradeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let yes = |met: bool| if met { "met" } else { "MISSED" };
        writeln!(
            f,
            "{} upgrades of an operator holding {} keys of state, under load:",
            self.rounds, self.keys
        )?;
        writeln!(
            f,
            "  input paused: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 50 ms: {})",
            self.pause_ms.p50,
            self.pause_ms.p99,
            self.pause_ms.max,
            yes(self.goal.pause_under_50ms)
        )?;
        for (name, spike) in [
            ("other operator", &self.others_ms),
            ("upgraded operator", &self.upgraded_ms),
        ] {
            writeln!(
                f,
                "  {name} latency p99: {:.2} ms between upgrades, {:.2} ms during (x{:.2}, max {:.2} ms; {} / {} outputs)",
                spike.outside_p99,
                spike.during_p99,
                spike.ratio,
                spike.during_max,
                spike.outputs.1,
                spike.outputs.0
            )?;
        }
        writeln!(
            f,
            "  others within 2x their p99 during the upgrades: {}",
            yes(self.goal.others_within_2x)
        )?;
        writeln!(
            f,
            "  converting every key: {:.2} ms in batches, {:.2} ms one key per call (x{:.2})",
            self.converting_pause_ms, self.converting_per_key_pause_ms, self.converting_ratio
        )
    }
}

/// Events per second the upgraded operator's source streams.
const RATE: u64 = 20_000;

/// Events per second the other operator's source streams.
const OTHER_RATE: u64 = 2_000;

/// After an upgrade's last pause ended: time counted with it for the events it delayed to
/// reach the sinks.
const DRAIN: Duration = Duration::from_millis(200);

/// Time between upgrades, measured as "between".
const BETWEEN: Duration = Duration::from_millis(700);

/// Copies of one sink's cumulative latency histogram at the edges of the upgrade windows,
/// summed into what fell inside them and what fell between.
struct Windows {
    sink: &'static str,
    last: Option<Histogram<u64>>,
    during: Option<Histogram<u64>>,
    outside: Option<Histogram<u64>>,
}

impl Windows {
    fn new(sink: &'static str, monitor: &JobMonitor) -> Self {
        Windows {
            sink,
            last: monitor.latency_histogram(Some(sink)),
            during: None,
            outside: None,
        }
    }

    /// Ends the current stretch now: what the sink recorded since the last edge goes to the
    /// upgrade windows (`Some(true)`), between them (`Some(false)`), or nowhere (`None`).
    fn edge(&mut self, monitor: &JobMonitor, during: Option<bool>) {
        let now = monitor.latency_histogram(Some(self.sink));
        if let (Some(now), Some(during)) = (&now, during) {
            let mut delta = now.clone();
            if let Some(last) = &self.last {
                // Counts only grow, so the difference of two copies is always valid.
                let _ = delta.subtract(last);
            }
            let sum = if during {
                &mut self.during
            } else {
                &mut self.outside
            };
            match sum {
                Some(sum) => {
                    let _ = sum.add(&delta);
                }
                None => *sum = Some(delta),
            }
        }
        self.last = now;
    }

    fn spike(&self) -> Spike {
        let ms = |h: &Option<Histogram<u64>>, q: f64| {
            h.as_ref()
                .filter(|h| !h.is_empty())
                .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        let count = |h: &Option<Histogram<u64>>| h.as_ref().map_or(0, |h| h.len());
        let (outside, during) = (ms(&self.outside, 0.99), ms(&self.during, 0.99));
        Spike {
            outside_p99: outside,
            during_p99: during,
            during_max: ms(&self.during, 1.0),
            ratio: if outside > 0.0 { during / outside } else { 0.0 },
            outputs: (count(&self.outside), count(&self.during)),
        }
    }
}

/// The job: the upgraded word count and, beside it, one that is never upgraded.
fn spec_text(wordcount: &Path) -> String {
    let module = format!("{:?}", wordcount.display().to_string());
    format!(
        "name = \"upgrade\"\n\
         [[source]]\nname = \"in\"\nkind = \"file\"\npath = \"words.txt\"\nrate = {RATE}\n\
         [[source]]\nname = \"side\"\nkind = \"file\"\npath = \"side.txt\"\nrate = {OTHER_RATE}\n\
         [[operator]]\nname = \"count\"\nmodule = {module}\ninputs = [\"in\"]\n\
         [[operator]]\nname = \"other\"\nmodule = {module}\ninputs = [\"side\"]\n\
         [[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"count\"]\n\
         [[sink]]\nname = \"side_out\"\nkind = \"discard\"\ninputs = [\"other\"]\n"
    )
}

/// Runs the benchmark with the operators under `operators`.
pub fn run(operators: &Path, keys: u64, rounds: usize) -> Result<UpgradeReport, BenchError> {
    let v1 = example_operator(operators, "wordcount")?;
    let v2 = example_operator(operators, "test-guests/wordcount-v2")?;
    let v3 = example_operator(operators, "test-guests/wordcount-v3")?;
    let dir = tempfile::tempdir()?;
    // Every key once, then a stream over them longer than the upgrades take; the job is
    // cancelled after the last.
    let seconds = rounds as u64 * 2 + 20;
    let lines = keys + RATE * seconds;
    let input: String = (0..lines)
        .map(|i| format!("k{}\n", i % keys.max(1)))
        .collect();
    std::fs::write(dir.path().join("words.txt"), input)?;
    let side: String = (0..OTHER_RATE * (seconds + keys / RATE + 5))
        .map(|i| format!("s{}\n", i % 100))
        .collect();
    std::fs::write(dir.path().join("side.txt"), side)?;
    let spec = JobSpec::parse(&spec_text(&v1), "upgrade.toml", dir.path().to_path_buf())?;
    let mut host = Host::new(RunOptions {
        workers: 2,
        data_dir: Some(dir.path().join("data")),
        checkpoint_interval: Duration::from_secs(5),
        ..RunOptions::default()
    })?;
    let plan = JobPlan::from_spec(&spec).map_err(cameo_host::JobError::from)?;
    let job = host.submit_plan(&plan)?;
    host.start()?;
    let monitor = job.monitor();
    let waiter = std::thread::spawn(move || job.wait());
    let load = |path: &Path| OperatorModule::load_file(host.engine(), path);
    let versions = [load(&v2)?, load(&v1)?];
    // Names that say which is which (the second's from-version has `v3` in it).
    let per_key = load(&v3)?
        .named("wordcount-v3/per-key")
        .converting_per_key();
    let batched = load(&v3)?.named("wordcount-v3/batched");
    let counted = |monitor: &JobMonitor| {
        monitor
            .summary()
            .sinks
            .get("out")
            .map_or(0, |sink| sink.events_out)
    };
    while counted(&monitor) < keys && !monitor.is_finished() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let events_before = counted(&monitor);
    std::thread::sleep(BETWEEN);
    let mut others = Windows::new("side_out", &monitor);
    let mut upgraded = Windows::new("out", &monitor);
    // The conversion's window is left out of the figures: its pause is reported on its own.
    let mut upgrade = |module: &OperatorModule, counted: bool| -> Result<(), BenchError> {
        std::thread::sleep(BETWEEN);
        others.edge(&monitor, Some(false));
        upgraded.edge(&monitor, Some(false));
        let before = monitor.switch_pauses("count").len();
        monitor
            .upgrade("count", module, Duration::from_secs(30))
            .map_err(BenchError::Upgrade)?;
        // Every instance's pause ends with its first call of the new version.
        let until = Instant::now() + Duration::from_secs(30);
        while monitor.switch_pauses("count").len() == before
            && !monitor.is_finished()
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(DRAIN);
        others.edge(&monitor, counted.then_some(true));
        upgraded.edge(&monitor, counted.then_some(true));
        Ok(())
    };
    for round in 0..rounds {
        upgrade(&versions[round % 2], true)?;
    }
    let before = monitor.switch_pauses("count").len();
    upgrade(&per_key, false)?;
    upgrade(&batched, false)?;
    let pauses = monitor.switch_pauses("count");
    let errors = monitor.summary().errors;
    monitor.cancel();
    let _ = waiter.join();
    host.shutdown();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let pause_ms = Percentiles::of(pauses.iter().take(before).map(ms).collect());
    let others_ms = others.spike();
    let converting_per_key_pause_ms = pauses.get(before).map(ms).unwrap_or(0.0);
    let converting_pause_ms = pauses.get(before + 1).map(ms).unwrap_or(0.0);
    Ok(UpgradeReport {
        keys,
        rounds,
        pause_ms,
        converting_pause_ms,
        converting_per_key_pause_ms,
        converting_ratio: if converting_pause_ms > 0.0 {
            converting_per_key_pause_ms / converting_pause_ms
        } else {
            0.0
        },
        others_ms,
        upgraded_ms: upgraded.spike(),
        goal: Goal {
            pause_under_50ms: pause_ms.p99 < 50.0,
            others_within_2x: others_ms.ratio <= 2.0,
        },
        events_before,
        errors,
    })
}
