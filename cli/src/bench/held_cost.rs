//! `cameo bench held-cost`: what the host really holds for a guest's state entries or timers
//! against what it charges them to the memory budget. One job of the `hostile` test guest
//! writes many small state entries (or registers many timers with keys of the largest size
//! allowed); while it runs, the process's resident memory and the bytes charged are sampled,
//! and the report gives their peaks above the baseline and the ratio: resident bytes per
//! charged byte. Above about 1.5 the charge undercounts, and a tenant could hold more of the
//! host's memory than its share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cameo_host::{BudgetConfig, Host, JobSpec, PolicyKind, RunOptions};
use indicatif::ProgressBar;
use serde::Serialize;

use super::specs::generator;
use super::{BenchError, example_operator};

/// What the guest fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Held {
    /// State entries of 8-byte keys and values.
    State,
    /// Timers with keys of the largest size allowed.
    Timers,
}

/// Knobs of the held-cost scenario.
#[derive(Debug, Clone)]
pub struct HeldCostOptions {
    /// The example operators' directory.
    pub operators: std::path::PathBuf,
    /// What the guest fills.
    pub held: Held,
    /// Entries (or timers) in all.
    pub entries: u64,
}

/// What the scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct HeldCostReport {
    /// What the guest filled.
    pub held: Held,
    /// Entries (or timers) written.
    pub entries: u64,
    /// The most charged to the budget at once, bytes.
    pub peak_charged_bytes: u64,
    /// The most resident memory above the baseline before the job, bytes.
    pub peak_rss_growth_bytes: u64,
    /// Resident bytes per charged byte.
    pub rss_per_charged: f64,
    /// Charged bytes per entry.
    pub charged_per_entry: f64,
    /// Resident bytes per entry.
    pub rss_per_entry: f64,
    /// Resident bytes gained per charged byte gained, from the first sample past a fifth of
    /// the peak charge to the peak: the cost of each further entry, without what starting the
    /// job (compiling the module, making the instance) left resident.
    pub marginal_rss_per_charged: f64,
}

/// Resident growth over charged growth from the first sample past a fifth of the peak charge
/// to the sample of the peak charge.
fn marginal(samples: &[(u64, u64)]) -> f64 {
    let Some(peak) = samples.iter().copied().max_by_key(|(charged, _)| *charged) else {
        return 0.0;
    };
    let Some(low) = samples
        .iter()
        .copied()
        .find(|(charged, _)| *charged >= peak.0 / 5)
    else {
        return 0.0;
    };
    peak.1.saturating_sub(low.1) as f64 / peak.0.saturating_sub(low.0).max(1) as f64
}

/// The process's resident memory now (VmRSS), bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Entries one event writes (or timers it registers): one call's worth.
const PER_EVENT: u64 = 5_000;

/// The largest timer key the host allows, bytes.
fn largest_timer_key() -> u64 {
    cameo_host::FIXED_LIMITS
        .iter()
        .find(|(name, _, _)| *name == "timer key")
        .map_or(4096, |(_, bytes, _)| *bytes)
}

/// Runs the job and samples memory while it runs.
pub fn run(options: &HeldCostOptions) -> Result<HeldCostReport, BenchError> {
    let module = example_operator(&options.operators, "test-guests/hostile")?;
    let events = options.entries.div_ceil(PER_EVENT).max(1);
    let config = match options.held {
        Held::State => format!("{{ attack = \"state\", count = {PER_EVENT} }}"),
        Held::Timers => format!(
            "{{ attack = \"timers\", count = {PER_EVENT}, key_bytes = {} }}",
            largest_timer_key()
        ),
    };
    let spec = format!(
        "name = \"held-cost\"\ntenant = \"held\"\n{}\n[[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"in\"]\nconfig = {config}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"op\"]\n",
        generator("in", 0.0, events, 1, 3),
        module.display().to_string()
    );
    let mut run_options = RunOptions {
        policy: PolicyKind::Edf,
        workers: 1,
        budget: BudgetConfig {
            host_bytes: u64::MAX,
            tenant_bytes: u64::MAX,
            job_bytes: u64::MAX,
        },
        ..RunOptions::default()
    };
    run_options.limits.fuel_per_call = 20_000_000_000;
    run_options.limits.state_bytes = u64::MAX;
    run_options.limits.tenant_state_bytes = u64::MAX;
    let mut host = Host::new(run_options)?;
    let parsed = JobSpec::parse(&spec, "held-cost.toml", std::env::temp_dir())?;
    let baseline = rss();
    let job = host.submit(&parsed)?;
    host.start()?;
    let host = Arc::new(host);
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let progress = ProgressBar::new_spinner().with_message("held-cost");
    let sampler = {
        let (host, samples, done) = (Arc::clone(&host), Arc::clone(&samples), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut taken = Vec::new();
            while !done.load(Ordering::Acquire) {
                taken.push((host.memory_used(), rss()));
                std::thread::sleep(Duration::from_millis(2));
            }
            if let Ok(mut samples) = samples.lock() {
                *samples = taken;
            }
        })
    };
    let outcome = job.wait();
    done.store(true, Ordering::Release);
    let _ = sampler.join();
    progress.finish_and_clear();
    if let Ok(host) = Arc::try_unwrap(host) {
        host.shutdown();
    }
    let summary = outcome?.summary;
    if summary.errors > 0 {
        return Err(BenchError::Run(format!(
            "the held-cost job had {} failed calls, so it did not hold what it should: {}",
            summary.errors,
            summary.error_samples.first().map_or("", String::as_str)
        )));
    }
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let charged = samples.iter().map(|(c, _)| *c).max().unwrap_or(0);
    let growth = samples
        .iter()
        .map(|(_, r)| *r)
        .max()
        .unwrap_or(0)
        .saturating_sub(baseline);
    let entries = events * PER_EVENT;
    Ok(HeldCostReport {
        held: options.held,
        entries,
        peak_charged_bytes: charged,
        peak_rss_growth_bytes: growth,
        rss_per_charged: growth as f64 / charged.max(1) as f64,
        charged_per_entry: charged as f64 / entries as f64,
        rss_per_entry: growth as f64 / entries as f64,
        marginal_rss_per_charged: marginal(&samples),
    })
}

impl std::fmt::Display for HeldCostReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        writeln!(f, "{:?}: {} entries", self.held, self.entries)?;
        writeln!(
            f,
            "charged: peak {:.1} MiB, {:.1} bytes per entry",
            mib(self.peak_charged_bytes),
            self.charged_per_entry
        )?;
        writeln!(
            f,
            "resident: peak growth {:.1} MiB, {:.1} bytes per entry",
            mib(self.peak_rss_growth_bytes),
            self.rss_per_entry
        )?;
        writeln!(
            f,
            "resident per charged byte: {:.2} overall, {:.2} per further entry",
            self.rss_per_charged, self.marginal_rss_per_charged
        )
    }
}
