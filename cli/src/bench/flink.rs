//! Cameo against Flink on one job both run exactly: the generator's exact mode (key
//! `k{seq % keys}`, value `seq % 101`, event time `seq * 1000 / event_rate` ms) into tumbling
//! 1 s windows counting and summing per key, results dropped. Cameo runs in this process
//! (`window-agg` on `workers` workers, edf, a discard sink); Flink runs
//! `bench/peers/flink/job.py` (PyFlink, the same job in the Table API) in the venv that
//! `bench/peers/flink/setup.sh` makes, one after the other at each core count.
//!
//! Cameo's figure is events over the job's run time, which starts once the module is loaded
//! and the job wired; Flink's is events over the job's wall time less that of the same job
//! over a handful of events (start-up netted out; see `bench/peers/flink/README.md`). With
//! `taskset` on the PATH, Flink at `n` cores runs on cores `0..n`; cameo at `n` cores has `n`
//! worker threads.

use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::{BenchError, example_operator, median};
use cameo_host::{JobSpec, PolicyKind, RunOptions, run_job};

/// The environment variable naming the PyFlink venv, when `--flink-venv` is not given.
pub const VENV_VAR: &str = "CAMEO_FLINK_VENV";

/// Why the comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum FlinkBenchError {
    /// The cameo side failed.
    #[error(transparent)]
    Cameo(#[from] BenchError),
    /// The cameo job did not take in every event, or some failed.
    #[error(
        "the cameo job at {cores} cores took in {events_in} of {events} events, {errors} failed"
    )]
    Incomplete {
        /// Worker threads.
        cores: usize,
        /// Events generated.
        events: u64,
        /// Events the sources took in.
        events_in: u64,
        /// Failed calls.
        errors: u64,
    },
    /// The venv has no Python.
    #[error(
        "{venv} is not a PyFlink venv (no bin/python); make one with bench/peers/flink/setup.sh"
    )]
    NoVenv {
        /// The venv given.
        venv: String,
    },
    /// The Flink job could not be started.
    #[error("could not run {python}: {source}")]
    Spawn {
        /// The venv's Python.
        python: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Flink job failed or printed no result.
    #[error("the Flink job at parallelism {parallelism} {what}; its last output:\n{output}")]
    Peer {
        /// The parallelism it ran with.
        parallelism: usize,
        /// What went wrong.
        what: String,
        /// The end of its stderr and stdout.
        output: String,
    },
}

/// Where the Flink side comes from.
#[derive(Debug, Clone)]
pub struct FlinkPeer {
    /// The venv `setup.sh` made.
    pub venv: PathBuf,
    /// `bench/peers/flink/job.py`.
    pub script: PathBuf,
    /// Confine Flink to as many cores as cameo has workers, with `taskset`, when there is one.
    pub pin: bool,
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct FlinkOptions {
    /// The example operators' directory.
    pub operators: PathBuf,
    /// Events per run.
    pub events: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Events per second of event time.
    pub event_rate: u64,
    /// Core counts to run at.
    pub cores: Vec<usize>,
    /// Runs per engine and core count; the median is reported.
    pub rounds: usize,
    /// The Flink side, if it is set up.
    pub flink: Option<FlinkPeer>,
}

/// Both engines at one core count.
#[derive(Debug, Clone, Serialize)]
pub struct CoreRow {
    /// Cameo's workers and Flink's parallelism.
    pub cores: usize,
    /// Cameo's events per second (median).
    pub cameo_eps: f64,
    /// Cameo's run time in seconds (median).
    pub cameo_seconds: f64,
    /// Flink's events per second, start-up netted out (median), when Flink ran.
    pub flink_eps: Option<f64>,
    /// Flink's net run time in seconds.
    pub flink_seconds: Option<f64>,
    /// What Flink's start-up (planning, submission, the local cluster) took, netted out.
    pub flink_overhead_seconds: Option<f64>,
    /// Whether Flink was confined to `cores` cores.
    pub flink_pinned: Option<bool>,
    /// `cameo_eps / flink_eps`: above 1, cameo is faster.
    pub ratio: Option<f64>,
}

/// Result of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct FlinkReport {
    /// Events per run.
    pub events: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Events per second of event time.
    pub event_rate: u64,
    /// Runs per engine and core count.
    pub rounds: usize,
    /// One row per core count.
    pub rows: Vec<CoreRow>,
    /// How to set Flink up, when it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_setup: Option<String>,
}

impl std::fmt::Display for FlinkReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "tumbling 1 s count+sum per key over {} exact events, {} keys, {} events/s of event \
             time (median of {}):",
            self.events, self.keys, self.event_rate, self.rounds
        )?;
        writeln!(
            f,
            "  {:>5}  {:>14}  {:>14}  {:>11}",
            "cores", "cameo ev/s", "flink ev/s", "cameo/flink"
        )?;
        let or_dash = |value: Option<f64>, precision: usize| {
            value.map_or_else(|| "-".to_string(), |v| format!("{v:.precision$}"))
        };
        for row in &self.rows {
            writeln!(
                f,
                "  {:>5}  {:>14.0}  {:>14}  {:>11}",
                row.cores,
                row.cameo_eps,
                or_dash(row.flink_eps, 0),
                or_dash(row.ratio, 2)
            )?;
        }
        if let Some(overhead) = self.rows.iter().find_map(|r| r.flink_overhead_seconds) {
            let pinned = self.rows.iter().any(|r| r.flink_pinned == Some(true));
            writeln!(
                f,
                "  flink: {overhead:.1} s of start-up per job netted out{}",
                if pinned { "; pinned with taskset" } else { "" }
            )?;
        }
        if let Some(setup) = &self.flink_setup {
            writeln!(f, "  flink did not run: {setup}")?;
        }
        Ok(())
    }
}

/// The line `job.py` prints.
#[derive(Debug, Deserialize)]
struct PeerLine {
    engine: String,
    events: u64,
    seconds: f64,
    events_per_s: f64,
    #[serde(default)]
    overhead_seconds: Option<f64>,
}

/// How to set Flink up.
pub fn setup_hint() -> String {
    format!(
        "run bench/peers/flink/setup.sh (needs Python 3.9-3.12, Java 17 and about 1 GB), then \
         pass --flink-venv target/flink-venv or set {VENV_VAR}"
    )
}

/// The cameo job at `cores` workers: the exact generator into `window-agg` with one instance
/// per worker, over a key-hash edge, into a discard sink.
fn cameo_job(module: &Path, options: &FlinkOptions, cores: usize) -> String {
    format!(
        r#"
name = "window-agg-exact"
tenant = "bench"
[[source]]
name = "seq"
kind = "generator"
mode = "exact"
count = {events}
keys = {keys}
event_rate = {event_rate}

[[operator]]
name = "agg"
module = {module:?}
inputs = ["seq"]
partition = "key-hash"
parallelism = {cores}
window = {{ kind = "tumbling", size_ms = 1000 }}

[[sink]]
name = "out"
kind = "discard"
inputs = ["agg"]
"#,
        events = options.events,
        keys = options.keys,
        event_rate = options.event_rate,
        module = module.display().to_string(),
    )
}

/// One cameo run at `cores` workers: (events per second, seconds).
fn run_cameo(
    spec: &JobSpec,
    options: &FlinkOptions,
    cores: usize,
) -> Result<(f64, f64), FlinkBenchError> {
    let run_options = RunOptions {
        workers: cores,
        policy: PolicyKind::Edf,
        ..RunOptions::default()
    };
    let summary = run_job(spec, &run_options)
        .map_err(BenchError::from)?
        .summary;
    if summary.events_in != options.events || summary.errors > 0 {
        return Err(FlinkBenchError::Incomplete {
            cores,
            events: options.events,
            events_in: summary.events_in,
            errors: summary.errors,
        });
    }
    let seconds = summary.elapsed_s.max(1e-9);
    Ok((options.events as f64 / seconds, seconds))
}

/// Whether `taskset` can be run.
fn have_taskset() -> bool {
    Command::new("taskset")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One Flink run at parallelism `cores`: its result line.
fn run_flink(
    peer: &FlinkPeer,
    options: &FlinkOptions,
    cores: usize,
    pin: bool,
) -> Result<PeerLine, FlinkBenchError> {
    let python = peer.venv.join("bin").join("python");
    let mut command = if pin {
        let mut taskset = Command::new("taskset");
        taskset
            .arg("-c")
            .arg(format!("0-{}", cores.saturating_sub(1)))
            .arg(&python);
        taskset
    } else {
        Command::new(&python)
    };
    command
        .arg(&peer.script)
        .args(["--events", &options.events.to_string()])
        .args(["--keys", &options.keys.to_string()])
        .args(["--event-rate", &options.event_rate.to_string()])
        .args(["--parallelism", &cores.to_string()]);
    let output = command.output().map_err(|source| FlinkBenchError::Spawn {
        python: python.display().to_string(),
        source,
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failed = |what: String| FlinkBenchError::Peer {
        parallelism: cores,
        what,
        output: format!("{}\n{}", tail(&stderr, 20), tail(&stdout, 5)),
    };
    if !output.status.success() {
        return Err(failed(format!("failed ({})", output.status)));
    }
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<PeerLine>(line.trim()).ok())
        .filter(|line| line.engine == "flink" && line.events == options.events)
        .ok_or_else(|| failed("printed no result line".into()))
}

/// Runs cameo and, when it is set up, Flink at each core count, one after the other.
pub fn run(options: &FlinkOptions) -> Result<FlinkReport, FlinkBenchError> {
    if let Some(peer) = &options.flink
        && !peer.venv.join("bin").join("python").exists()
    {
        return Err(FlinkBenchError::NoVenv {
            venv: peer.venv.display().to_string(),
        });
    }
    let module = example_operator(&options.operators, "window-agg")?;
    let rounds = options.rounds.max(1);
    let engines = if options.flink.is_some() { 2 } else { 1 };
    let progress = ProgressBar::new((options.cores.len() * rounds * engines) as u64);
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let pin = options.flink.as_ref().is_some_and(|p| p.pin) && have_taskset();
    let mut rows = Vec::new();
    for &cores in &options.cores {
        let cores = cores.max(1);
        let spec = JobSpec::parse(
            &cameo_job(&module, options, cores),
            "window-agg-exact.toml",
            PathBuf::new(),
        )
        .map_err(BenchError::from)?;
        let mut cameo_eps = Vec::new();
        let mut cameo_seconds = Vec::new();
        for round in 0..rounds {
            progress.set_message(format!("cameo, {cores} cores, round {}", round + 1));
            let (eps, seconds) = run_cameo(&spec, options, cores)?;
            cameo_eps.push(eps);
            cameo_seconds.push(seconds);
            progress.inc(1);
        }
        let mut row = CoreRow {
            cores,
            cameo_eps: median(&mut cameo_eps),
            cameo_seconds: median(&mut cameo_seconds),
            flink_eps: None,
            flink_seconds: None,
            flink_overhead_seconds: None,
            flink_pinned: None,
            ratio: None,
        };
        if let Some(peer) = &options.flink {
            let mut eps = Vec::new();
            let mut seconds = Vec::new();
            let mut overhead = Vec::new();
            for round in 0..rounds {
                progress.set_message(format!("flink, {cores} cores, round {}", round + 1));
                let line = run_flink(peer, options, cores, pin)?;
                eps.push(line.events_per_s);
                seconds.push(line.seconds);
                overhead.extend(line.overhead_seconds);
                progress.inc(1);
            }
            let flink_eps = median(&mut eps);
            row.flink_eps = Some(flink_eps);
            row.flink_seconds = Some(median(&mut seconds));
            row.flink_overhead_seconds = (!overhead.is_empty()).then(|| median(&mut overhead));
            row.flink_pinned = Some(pin);
            row.ratio = (flink_eps > 0.0).then(|| row.cameo_eps / flink_eps);
        }
        rows.push(row);
    }
    progress.finish_and_clear();
    Ok(FlinkReport {
        events: options.events,
        keys: options.keys,
        event_rate: options.event_rate,
        rounds,
        rows,
        flink_setup: options.flink.is_none().then(setup_hint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> FlinkOptions {
        FlinkOptions {
            operators: PathBuf::from("ops"),
            events: 100,
            keys: 10,
            event_rate: 50,
            cores: vec![1, 2],
            rounds: 1,
            flink: None,
        }
    }

    #[test]
    fn the_cameo_job_is_a_valid_exact_spec() {
        let toml = cameo_job(Path::new("w.wasm"), &options(), 2);
        let spec = JobSpec::parse(&toml, "job.toml", PathBuf::new()).unwrap();
        assert_eq!(*spec.operators[0].parallelism.get_ref(), 2);
    }

    #[test]
    fn the_report_shows_dashes_and_the_setup_without_flink() {
        let report = FlinkReport {
            events: 100,
            keys: 10,
            event_rate: 50,
            rounds: 1,
            rows: vec![CoreRow {
                cores: 1,
                cameo_eps: 1000.0,
                cameo_seconds: 0.1,
                flink_eps: None,
                flink_seconds: None,
                flink_overhead_seconds: None,
                flink_pinned: None,
                ratio: None,
            }],
            flink_setup: Some(setup_hint()),
        };
        let text = report.to_string();
        assert!(
            text.contains("      1            1000               -            -"),
            "{text}"
        );
        assert!(text.contains("setup.sh"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["rows"][0]["ratio"], serde_json::Value::Null);
    }

    #[test]
    fn a_peer_line_parses() {
        let line: PeerLine = serde_json::from_str(
            r#"{"engine":"flink","events":100,"parallelism":1,"seconds":0.5,"events_per_s":200.0,"overhead_seconds":4.0}"#,
        )
        .unwrap();
        assert_eq!(
            (line.events, line.seconds, line.events_per_s),
            (100, 0.5, 200.0)
        );
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
    }
}
