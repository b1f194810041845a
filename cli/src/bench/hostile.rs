//! `cameo bench hostile`: a well-behaved job beside every kind of misbehaving operator at
//! once, on one host with a memory budget. The hostile tenant fills state, holds linear memory
//! on many instances, registers timers without end, logs megabytes, emits events of a hundred
//! thousand headers, re-registers timers forever, panics, grows window panes and floods its
//! output; a runaway loops in another tenant and one in the victim's own tenant. The victim is
//! run alone first, then beside them; the report compares its latency, checks by `seq` that it
//! lost and duplicated nothing, and gives the process's peak RSS against the budget.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cameo_host::{
    Allocation, BudgetConfig, Host, JobSpec, LatencySummary, PassedOver, PolicyKind, RunOptions,
};
use indicatif::ProgressBar;
use serde::Serialize;

use super::specs::generator;
use super::{BenchError, example_operator};

/// Knobs of the hostile scenario.
#[derive(Debug, Clone)]
pub struct HostileOptions {
    /// The example operators' directory.
    pub operators: std::path::PathBuf,
    /// Seconds of input per job.
    pub duration_s: f64,
    /// The host's memory budget, bytes.
    pub budget_bytes: u64,
    /// Worker threads.
    pub workers: usize,
    /// The victim's events per second.
    pub victim_rate: f64,
    /// Wall time a slice may take, µs (0: fuel only).
    pub slice_micros: u64,
    /// Slots of the instance pool (0: memory mapped on demand).
    pub pooling: u32,
}

/// What the hostile scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct HostileReport {
    /// The victim's latency alone, ms.
    pub alone: LatencySummary,
    /// The victim's latency beside the hostile jobs, ms.
    pub beside: LatencySummary,
    /// p99 beside over p99 alone.
    pub p99_ratio: f64,
    /// Events the victim sent.
    pub victim_events: u64,
    /// Of those, how many never reached its sink.
    pub victim_lost: u64,
    /// Outputs the victim's sink had twice.
    pub victim_duplicates: u64,
    /// Calls of the hostile jobs that failed (each alone, with its reason).
    pub hostile_failures: u64,
    /// Per hostile job: events taken in, and failed calls.
    pub hostile_jobs: std::collections::BTreeMap<String, (u64, u64)>,
    /// One reason per kind of failure seen.
    pub hostile_reasons: Vec<String>,
    /// The memory budget, bytes.
    pub budget_bytes: u64,
    /// The most the budget held at once, bytes (sampled every 10 ms).
    pub peak_charged_bytes: u64,
    /// The process's peak resident memory, bytes.
    pub peak_rss_bytes: u64,
    /// What other tasks ran while work of the victim's tenant (its runaway's demoted calls
    /// aside) waited, beside the hostile jobs: counted per turn, so it says what the victim
    /// waited behind.
    pub victim_passed_over: PassedOver,
    /// Hostile instances thrown away after a failure and made afresh, beside the victim.
    pub hostile_restarts: u64,
}

/// The operators the scenario runs.
struct Modules {
    filter: String,
    hostile: String,
    hostile_window: String,
    flood: String,
    spin: String,
}

impl Modules {
    fn build(operators: &Path) -> Result<Self, BenchError> {
        let path = |name: &str| -> Result<String, BenchError> {
            Ok(format!(
                "{:?}",
                example_operator(operators, name)?.display().to_string()
            ))
        };
        Ok(Modules {
            filter: path("filter")?,
            hostile: path("test-guests/hostile")?,
            hostile_window: path("test-guests/hostile-window")?,
            flood: path("test-guests/flood")?,
            spin: path("test-guests/spin-slice")?,
        })
    }
}

/// A job of one operator fed by a generator.
fn job(name: &str, tenant: &str, source: &str, operator: &str) -> String {
    format!(
        "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 50\n{source}\n{operator}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"op\"]\n"
    )
}

/// The hostile tenant's jobs, and the runaway in the victim's own tenant.
fn hostile_jobs(modules: &Modules, options: &HostileOptions) -> Vec<String> {
    let rate = 100.0;
    let count = (rate * options.duration_s).max(1.0) as u64;
    let source = |seed: u64| generator("in", rate, count, 1000, seed);
    let hostile = |attack: &str, extra: &str, parallelism: usize| {
        format!(
            "[[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\nparallelism = {parallelism}\npartition = \"broadcast\"\nconfig = {{ attack = \"{attack}\"{extra} }}\n",
            modules.hostile
        )
    };
    let attacks = [
        ("state", ", count = 5000", 2),
        ("memory", ", mib = 48", 8),
        ("timers", ", count = 20000", 2),
        ("log", ", bytes = 1000000", 1),
        ("headers", ", count = 100000", 1),
        ("refire", "", 1),
        ("panic", ", message = \"hostile\"", 1),
    ];
    let mut jobs: Vec<String> = attacks
        .iter()
        .enumerate()
        .map(|(seed, (attack, extra, parallelism))| {
            job(
                &format!("hostile-{attack}"),
                "hostile",
                &source(seed as u64 + 10),
                &hostile(attack, extra, *parallelism),
            )
        })
        .collect();
    jobs.push(job(
        "hostile-panes",
        "hostile",
        &source(20),
        &format!(
            "[[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\nconfig = {{ bytes = 65536 }}\nwindow = {{ kind = \"tumbling\", size_ms = 3600000 }}\n",
            modules.hostile_window
        ),
    ));
    jobs.push(job(
        "hostile-flood",
        "hostile",
        &source(21),
        &format!(
            "[[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\nconfig = {{ copies = 100000, size = 1024 }}\n",
            modules.flood
        ),
    ));
    let runaway = |name: &str, tenant: &str| {
        job(
            name,
            tenant,
            &generator("in", 0.0, 64, 16, 5),
            &format!(
                "[[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 1000000000000000 }}\n",
                modules.spin
            ),
        )
    };
    jobs.push(runaway("hostile-runaway", "hostile"));
    jobs.push(runaway("victim-runaway", "victim"));
    jobs
}

/// The victim: a filter passing every event, into memory, so its output can be checked by
/// `seq`.
fn victim(modules: &Modules, options: &HostileOptions) -> (String, u64) {
    let count = (options.victim_rate * options.duration_s).max(1.0) as u64;
    let spec = format!(
        "name = \"victim\"\ntenant = \"victim\"\nlatency_target_ms = 50\n{}\n[[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\nconfig = {{ field = \"value\", min = 0 }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"op\"]\n",
        generator("in", options.victim_rate, count, 50, 1),
        modules.filter
    );
    (spec, count)
}

/// What one run of the victim (alone or beside the others) came to.
struct VictimRun {
    latency: LatencySummary,
    lost: u64,
    duplicates: u64,
    hostile_failures: u64,
    hostile_jobs: std::collections::BTreeMap<String, (u64, u64)>,
    hostile_reasons: Vec<String>,
    peak_charged: u64,
    passed_over: PassedOver,
    hostile_restarts: u64,
}

fn run_victim(
    victim: &str,
    events: u64,
    others: &[String],
    options: &HostileOptions,
) -> Result<VictimRun, BenchError> {
    let mut run_options = RunOptions {
        policy: PolicyKind::Edf,
        workers: options.workers,
        budget: BudgetConfig::for_host(options.budget_bytes),
        allocation: match options.pooling {
            0 => Allocation::OnDemand,
            instances => Allocation::Pooling { instances },
        },
        ..RunOptions::default()
    };
    run_options.limits.fuel_per_call = 2_000_000_000;
    run_options.limits.slice_micros = options.slice_micros;
    let mut host = Host::new(run_options)?;
    let dir = std::env::temp_dir();
    let parse = |spec: &str| JobSpec::parse(spec, "hostile.toml", dir.clone());
    let mut handles = Vec::new();
    for spec in others {
        handles.push(host.submit(&parse(spec)?)?);
    }
    let victim_job = host.submit(&parse(victim)?)?;
    host.start()?;
    let host = Arc::new(host);
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (host, peak, done) = (Arc::clone(&host), Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(host.memory_used(), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let outcome = victim_job.wait()?;
    let passed_over = host
        .sched_stats()
        .into_iter()
        .find(|stats| stats.tenant == "victim")
        .map(|stats| stats.passed_over)
        .unwrap_or_default();
    let mut hostile_restarts = 0;
    let mut hostile_failures = 0;
    let mut hostile_jobs = std::collections::BTreeMap::new();
    let mut reasons: Vec<String> = Vec::new();
    for handle in handles {
        // The runaways never end by themselves: their figures so far, then stop them.
        let summary = handle.summary();
        handle.cancel();
        let name = handle.name().to_string();
        let _ = handle.wait();
        hostile_failures += summary.errors;
        hostile_restarts += summary
            .operators
            .values()
            .map(|op| op.restarts)
            .sum::<u64>();
        hostile_jobs.insert(name, (summary.events_in, summary.errors));
        for sample in summary.error_samples {
            let kind: String = sample.chars().take(60).collect();
            if !reasons.iter().any(|r| r.starts_with(&kind)) {
                reasons.push(sample.chars().take(240).collect());
            }
        }
    }
    done.store(true, Ordering::Release);
    let _ = sampler.join();
    if let Ok(host) = Arc::try_unwrap(host) {
        host.shutdown();
    }
    let mut seen = BTreeSet::new();
    let mut duplicates = 0;
    for event in outcome.outputs.get("out").into_iter().flatten() {
        let seq = serde_json::from_slice::<serde_json::Value>(&event.value)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64));
        if let Some(seq) = seq
            && !seen.insert(seq)
        {
            duplicates += 1;
        }
    }
    let lost = (0..events).filter(|seq| !seen.contains(seq)).count() as u64;
    Ok(VictimRun {
        latency: outcome.summary.latency_ms,
        lost,
        duplicates,
        hostile_failures,
        hostile_jobs,
        hostile_reasons: reasons,
        peak_charged: peak.load(Ordering::Acquire),
        passed_over,
        hostile_restarts,
    })
}

/// The process's peak resident memory (VmHWM), bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Runs the victim alone, then beside every hostile job.
pub fn run(options: &HostileOptions) -> Result<HostileReport, BenchError> {
    let modules = Modules::build(&options.operators)?;
    let (victim, events) = victim(&modules, options);
    let others = hostile_jobs(&modules, options);
    let progress = ProgressBar::new(2).with_message("hostile");
    let alone = run_victim(&victim, events, &[], options)?;
    progress.inc(1);
    let beside = run_victim(&victim, events, &others, options)?;
    progress.finish_and_clear();
    Ok(HostileReport {
        p99_ratio: beside.latency.p99 / alone.latency.p99.max(1e-9),
        alone: alone.latency,
        beside: beside.latency,
        victim_events: events,
        victim_lost: beside.lost + alone.lost,
        victim_duplicates: beside.duplicates + alone.duplicates,
        hostile_failures: beside.hostile_failures,
        hostile_jobs: beside.hostile_jobs,
        hostile_reasons: beside.hostile_reasons,
        budget_bytes: options.budget_bytes,
        peak_charged_bytes: beside.peak_charged.max(alone.peak_charged),
        peak_rss_bytes: peak_rss(),
        victim_passed_over: beside.passed_over,
        hostile_restarts: beside.hostile_restarts,
    })
}

impl std::fmt::Display for HostileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        writeln!(
            f,
            "victim alone:  p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.alone.p50, self.alone.p99, self.alone.max
        )?;
        writeln!(
            f,
            "victim beside: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (p99 {:.2}x alone)",
            self.beside.p50, self.beside.p99, self.beside.max, self.p99_ratio
        )?;
        writeln!(
            f,
            "victim events: {} sent, {} lost, {} duplicated",
            self.victim_events, self.victim_lost, self.victim_duplicates
        )?;
        writeln!(
            f,
            "memory: budget {:.0} MiB, most charged {:.0} MiB, peak RSS {:.0} MiB",
            mib(self.budget_bytes),
            mib(self.peak_charged_bytes),
            mib(self.peak_rss_bytes)
        )?;
        let seen = &self.victim_passed_over;
        writeln!(
            f,
            "victim waited behind: {} turns of other tasks ({} fuel), {} over 1 ms, {} of them host-bound, longest {:.0} µs",
            seen.turns, seen.fuel, seen.turns_over_1ms, seen.host_bound_turns, seen.longest_us
        )?;
        writeln!(
            f,
            "hostile instances made afresh: {}",
            self.hostile_restarts
        )?;
        writeln!(f, "hostile jobs (events in, failed calls):")?;
        for (job, (events, failures)) in &self.hostile_jobs {
            writeln!(f, "  {job:<18} {events:>8} {failures:>8}")?;
        }
        writeln!(
            f,
            "hostile calls failed: {}; one of each kind:",
            self.hostile_failures
        )?;
        for reason in &self.hostile_reasons {
            writeln!(f, "  - {}", reason.lines().next().unwrap_or(""))?;
        }
        Ok(())
    }
}
