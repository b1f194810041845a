//! `density`: how many idle operator instances fit in 2 GiB, and what one instantiation
//! costs, per guest and per allocation (on demand, or from a pool of slots with
//! copy-on-write memory images). Instances are made from the module's pre-instantiation
//! (imports resolved once, at load) and kept until the count is reached or their memory
//! passes 2 GiB; memory per instance is the growth of the process's resident set over them.
//!
//! Each guest and allocation is probed in a process of its own (this binary, run again with
//! a hidden subcommand), so memory one probe freed cannot hide what the next one takes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::plot::{Axis, Chart, LineChart, Series};
use super::{BenchError, example_operator, median};
use cameo_host::internals::{Accounts, instantiate_idle};
use cameo_host::{Allocation, Limits, OperatorEngine, OperatorModule};

/// The memory the instances are fitted into.
pub const BUDGET_BYTES: u64 = 2 << 30;

/// The guests measured.
pub const GUESTS: [&str; 2] = ["filter", "window-agg"];

/// The allocations measured, by name.
pub const ALLOCATIONS: [&str; 2] = ["on-demand", "pooling"];

/// What one probe measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Probe {
    /// Instances made (fewer than asked when their memory passed the budget first).
    pub instances: u64,
    /// Instantiation time, median, µs.
    pub p50_us: f64,
    /// Instantiation time, 99th percentile, µs.
    pub p99_us: f64,
    /// Resident memory per idle instance, bytes.
    pub bytes_per_instance: f64,
    /// Idle instances that fit in 2 GiB at that size.
    pub fit_in_budget: u64,
    /// (instances made, resident growth in MiB) along the way, for the density curve.
    pub curve: Vec<(u64, f64)>,
    /// Why the probe stopped before the count asked for, when an instantiation failed (e.g.
    /// the address space an on-demand instance reserves ran out).
    #[serde(default)]
    pub stopped_by: Option<String>,
}

/// The report of `cameo bench density`.
#[derive(Debug, Clone, Serialize)]
pub struct DensityReport {
    /// Instances asked for per probe.
    pub instances: u64,
    /// Rounds each figure is the median of.
    pub rounds: usize,
    /// Per guest, per allocation.
    pub probes: BTreeMap<String, BTreeMap<String, Probe>>,
}

/// The allocation named `name`, for `instances` instances.
fn allocation(name: &str, instances: u64) -> Allocation {
    if name == "pooling" {
        Allocation::Pooling {
            instances: u32::try_from(instances).unwrap_or(u32::MAX),
        }
    } else {
        Allocation::OnDemand
    }
}

/// Resident bytes of this process.
fn resident_bytes() -> u64 {
    // The second field of statm is resident pages.
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Idle instances of `bytes` each that fit in [`BUDGET_BYTES`], but no more than the `made`
/// when the allocation itself `stopped` there.
fn fit(bytes: f64, made: u64, stopped: bool) -> u64 {
    let by_memory = if bytes > 0.0 {
        (BUDGET_BYTES as f64 / bytes) as u64
    } else {
        0
    };
    if stopped {
        by_memory.min(made)
    } else {
        by_memory
    }
}

/// Makes up to `instances` idle instances of the component at `path` under `allocation`
/// (in this process) and measures them; the component's compiled code comes from `cache`
/// when given.
pub fn probe(
    path: &Path,
    allocation_name: &str,
    instances: u64,
    cache: Option<&Path>,
) -> Result<Probe, BenchError> {
    let instances = instances.max(1);
    let engine =
        OperatorEngine::with_allocation(Limits::default(), allocation(allocation_name, instances))
            .map_err(cameo_host::JobError::from)?;
    let module = OperatorModule::load_file_cached(&engine, path, cache)?;
    let accounts = Accounts::unlimited();
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut kept = Vec::with_capacity(instances as usize);
    let mut times = Vec::with_capacity(instances as usize);
    let mut curve = Vec::new();
    let step = (instances / 50).max(1);
    let before = resident_bytes();
    // One instance first, uncounted: the first pays for lazily made engine state.
    drop(
        runtime
            .block_on(instantiate_idle(&engine, &module, &accounts))
            .map_err(BenchError::Density)?,
    );
    let mut stopped_by = None;
    for made in 1..=instances {
        let started = Instant::now();
        let instance = match runtime.block_on(instantiate_idle(&engine, &module, &accounts)) {
            Ok(instance) => instance,
            // The allocation ran out of something before the budget did: that is its limit.
            Err(err) if !kept.is_empty() => {
                stopped_by = Some(err);
                curve.push((
                    made - 1,
                    resident_bytes().saturating_sub(before) as f64 / (1 << 20) as f64,
                ));
                break;
            }
            Err(err) => return Err(BenchError::Density(err)),
        };
        times.push(started.elapsed());
        kept.push(instance);
        if made % step == 0 || made == instances {
            let grown = resident_bytes().saturating_sub(before);
            curve.push((made, grown as f64 / (1 << 20) as f64));
            if grown > BUDGET_BYTES {
                break;
            }
        }
    }
    let grown = resident_bytes().saturating_sub(before);
    let made = kept.len() as u64;
    drop(kept);
    let per_instance = grown as f64 / made.max(1) as f64;
    times.sort();
    let at = |q: f64| {
        let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len().max(1)) - 1;
        times
            .get(index)
            .copied()
            .unwrap_or(Duration::ZERO)
            .as_nanos() as f64
            / 1000.0
    };
    Ok(Probe {
        instances: made,
        p50_us: at(0.5),
        p99_us: at(0.99),
        bytes_per_instance: per_instance,
        fit_in_budget: fit(per_instance, made, stopped_by.is_some()),
        curve,
        stopped_by,
    })
}

/// Runs one probe (on-demand allocation) of the component at `path` in a process of its own,
/// its compiled code from `cache` when given.
pub fn probe_command(
    path: &Path,
    instances: u64,
    cache: Option<&Path>,
) -> Result<Probe, BenchError> {
    let exe = std::env::current_exe()?;
    probe_in_process(&exe, path, ALLOCATIONS[0], instances, cache)
}

/// Runs `cameo bench density-probe` (this binary, `exe`) and reads its report.
fn probe_in_process(
    exe: &Path,
    path: &Path,
    allocation: &str,
    instances: u64,
    cache: Option<&Path>,
) -> Result<Probe, BenchError> {
    let mut command = Command::new(exe);
    command
        .args(["bench", "density-probe", "--allocation", allocation])
        .args(["--instances", &instances.to_string()]);
    if let Some(cache) = cache {
        command.arg("--cache-dir").arg(cache);
    }
    let out = command.arg(path).output()?;
    if !out.status.success() {
        return Err(BenchError::Density(format!(
            "the {allocation} probe of {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| BenchError::Density(format!("the probe's report is not readable: {e}")))
}

/// Runs every guest under every allocation `rounds` times, each in a process of its own.
pub fn run(operators: &Path, instances: u64, rounds: usize) -> Result<DensityReport, BenchError> {
    let exe = std::env::current_exe()?;
    let paths = GUESTS
        .iter()
        .map(|guest| example_operator(operators, guest))
        .collect::<Result<Vec<_>, _>>()?;
    let rounds = rounds.max(1);
    let progress = ProgressBar::new((rounds * GUESTS.len() * ALLOCATIONS.len()) as u64);
    let mut all: BTreeMap<(usize, usize), Vec<Probe>> = BTreeMap::new();
    for _ in 0..rounds {
        for (g, path) in paths.iter().enumerate() {
            for (a, allocation) in ALLOCATIONS.iter().enumerate() {
                let probe = probe_in_process(&exe, path, allocation, instances, None)?;
                all.entry((g, a)).or_default().push(probe);
                progress.inc(1);
            }
        }
    }
    progress.finish_and_clear();
    let mut probes: BTreeMap<String, BTreeMap<String, Probe>> = BTreeMap::new();
    for ((g, a), runs) in all {
        let pick = |f: fn(&Probe) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        let bytes = pick(|p| p.bytes_per_instance);
        let probe = Probe {
            instances: runs.iter().map(|p| p.instances).min().unwrap_or(0),
            p50_us: pick(|p| p.p50_us),
            p99_us: pick(|p| p.p99_us),
            bytes_per_instance: bytes,
            fit_in_budget: fit(
                bytes,
                runs.iter().map(|p| p.instances).min().unwrap_or(0),
                runs.iter().any(|p| p.stopped_by.is_some()),
            ),
            curve: runs.first().map(|p| p.curve.clone()).unwrap_or_default(),
            stopped_by: runs.iter().find_map(|p| p.stopped_by.clone()),
        };
        probes
            .entry(GUESTS[g].to_string())
            .or_default()
            .insert(ALLOCATIONS[a].to_string(), probe);
    }
    Ok(DensityReport {
        instances,
        rounds,
        probes,
    })
}

impl DensityReport {
    /// Resident memory against idle instances, one line per guest and allocation.
    pub fn chart(&self) -> Chart {
        let series = self
            .probes
            .iter()
            .flat_map(|(guest, allocations)| {
                allocations.iter().map(move |(allocation, probe)| Series {
                    name: format!("{guest}, {allocation}"),
                    points: probe
                        .curve
                        .iter()
                        .map(|&(n, mib)| (n as f64, mib))
                        .collect(),
                })
            })
            .collect();
        Chart::Line(LineChart {
            title: "density: resident memory of idle instances (round 1)".into(),
            x_label: "idle instances".into(),
            y_label: "resident memory growth, MiB".into(),
            x_axis: Axis::Linear,
            y_axis: Axis::Linear,
            series,
            marks: Vec::new(),
        })
    }
}

impl std::fmt::Display for DensityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "up to {} idle instances per probe, each probe in a process of its own; medians of {} rounds",
            self.instances, self.rounds
        )?;
        writeln!(
            f,
            "{:<11} {:<10} {:>9} {:>9} {:>9} {:>12} {:>12}",
            "guest", "allocation", "made", "p50 µs", "p99 µs", "KiB each", "fit in 2 GiB"
        )?;
        for (guest, allocations) in &self.probes {
            for (allocation, p) in allocations {
                writeln!(
                    f,
                    "{guest:<11} {allocation:<10} {:>9} {:>9.1} {:>9.1} {:>12.1} {:>12}",
                    p.instances,
                    p.p50_us,
                    p.p99_us,
                    p.bytes_per_instance / 1024.0,
                    p.fit_in_budget
                )?;
            }
        }
        for (guest, allocations) in &self.probes {
            for (allocation, p) in allocations {
                if let Some(reason) = &p.stopped_by {
                    writeln!(
                        f,
                        "{guest}, {allocation}: stopped at {} instances: {}",
                        p.instances,
                        reason.lines().next().unwrap_or("")
                    )?;
                }
            }
        }
        Ok(())
    }
}
