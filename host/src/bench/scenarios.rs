//! The scheduling scenarios of `cameo bench`: the same generated input run under every
//! policy, one after another in one process, with latency per job group.
//!
//! - `single-tenant`: one windowed aggregation job near saturation.
//! - `multi-tenant`: a latency-sensitive job (50 ms target) beside bulk jobs (5 s targets)
//!   that together saturate the host.
//! - `runaway`: a well-behaved job beside a tenant whose operator loops forever; the victim
//!   is also run alone for comparison.

use std::collections::BTreeMap;

use indicatif::ProgressBar;
use serde::Serialize;

use super::{BenchError, example_operator};
use crate::dataflow::spec::JobSpec;
use crate::job::{Host, RunOptions};
use crate::metrics::JobSummary;
use crate::sched::PolicyKind;

/// Which scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// One windowed aggregation job near saturation.
    SingleTenant,
    /// A latency-sensitive job beside bulk jobs.
    MultiTenant,
    /// A well-behaved job beside a looping tenant.
    Runaway,
}

/// Knobs of a scenario run.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    /// The example operators' directory.
    pub operators: std::path::PathBuf,
    /// Seconds of input per job.
    pub duration_s: f64,
    /// Multiplies every generator rate (to bring the host near saturation on a faster or
    /// slower machine).
    pub load: f64,
    /// Worker threads.
    pub workers: usize,
}

/// Figures of one group of jobs under one policy.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GroupStats {
    /// Median end-to-end latency, ms.
    pub p50_ms: f64,
    /// 99th percentile end-to-end latency, ms.
    pub p99_ms: f64,
    /// Share of outputs that missed their deadline.
    pub deadline_miss_rate: f64,
    /// Events taken in per second.
    pub throughput_eps: f64,
    /// Time from a task becoming runnable to its slice starting, 99th percentile, µs.
    pub ready_to_run_p99_us: f64,
}

/// A scenario's results: per policy, per job group.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The scenario.
    pub scenario: Scenario,
    /// Per policy name, per group name.
    pub policies: BTreeMap<String, BTreeMap<String, GroupStats>>,
}

/// One job of a scenario: its group, tenant and spec.
struct ScenarioJob {
    group: &'static str,
    spec: String,
}

fn generator(name: &str, rate: f64, count: u64, keys: u64, seed: u64) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"generator\"\ncount = {count}\nrate = {rate}\nkeys = {keys}\nseed = {seed}\npayload_bytes = 32\n"
    )
}

fn jobs(scenario: Scenario, options: &ScenarioOptions) -> Result<Vec<ScenarioJob>, BenchError> {
    let ops = &options.operators;
    let path = |name: &str| -> Result<String, BenchError> {
        Ok(format!(
            "{:?}",
            example_operator(ops, name)?.display().to_string()
        ))
    };
    let count = |rate: f64| (rate * options.load * options.duration_s).max(1.0) as u64;
    let rate = |rate: f64| rate * options.load;
    let spin = path("test-guests/spin-slice")?;
    let filter = path("filter")?;
    let latency_sensitive = |name: &str, tenant: &str| -> Result<ScenarioJob, BenchError> {
        Ok(ScenarioJob {
            group: "latency_sensitive",
            spec: format!(
                "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 50\n{}\n[[operator]]\nname = \"pick\"\nmodule = {filter}\ninputs = [\"in\"]\nconfig = {{ field = \"value\", min = 0 }}\n[[operator]]\nname = \"score\"\nmodule = {spin}\ninputs = [\"pick\"]\nconfig = {{ iterations = 2000 }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"score\"]\n",
                generator("in", rate(500.0), count(500.0), 50, 1)
            ),
        })
    };
    let bulk = |name: &str, tenant: &str, seed: u64| ScenarioJob {
        group: "bulk",
        spec: format!(
            "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 5000\n{}\n[[operator]]\nname = \"crunch\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 60000 }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"crunch\"]\n",
            generator("in", rate(4000.0), count(4000.0), 1000, seed)
        ),
    };
    Ok(match scenario {
        Scenario::MultiTenant => vec![
            latency_sensitive("latency-sensitive", "interactive")?,
            bulk("bulk-1", "batch-1", 2),
            bulk("bulk-2", "batch-2", 3),
        ],
        Scenario::SingleTenant => {
            let agg = path("window-agg")?;
            vec![ScenarioJob {
                group: "windowed",
                spec: format!(
                    "name = \"windows\"\ntenant = \"analytics\"\nlatency_target_ms = 100\n{}\n[[operator]]\nname = \"parse\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 30000 }}\n[[operator]]\nname = \"agg\"\nmodule = {agg}\ninputs = [\"parse\"]\npartition = \"key-hash\"\nparallelism = 4\nwindow = {{ kind = \"tumbling\", size_ms = 1000 }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"agg\"]\n",
                    generator("in", rate(12000.0), count(12000.0), 200, 4)
                ),
            }]
        }
        Scenario::Runaway => vec![
            latency_sensitive("victim", "well-behaved")?,
            // Calls that never return on their own (each runs until its fuel budget is
            // spent), on four instances, with a tiny latency target to claim priority.
            ScenarioJob {
                group: "runaway",
                spec: format!(
                    "name = \"runaway\"\ntenant = \"hostile\"\nlatency_target_ms = 1\n{}\n[[operator]]\nname = \"spin\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 1000000000000000 }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"spin\"]\n",
                    generator("in", 0.0, 64, 16, 5)
                ),
            },
        ],
    })
}

/// Runs every job of `jobs` on one host under `policy`; returns each job's group and summary
/// and the host's scheduling figures per tenant.
fn run_policy(
    jobs: &[ScenarioJob],
    policy: PolicyKind,
    options: &ScenarioOptions,
) -> Result<Vec<(&'static str, JobSummary, f64)>, BenchError> {
    let mut run_options = RunOptions {
        policy,
        workers: options.workers,
        ..RunOptions::default()
    };
    // A runaway's calls end only when their fuel runs out: give them a long budget.
    run_options.limits.fuel_per_call = 20_000_000_000;
    let mut host = Host::new(run_options)?;
    let dir = std::env::temp_dir();
    let specs = jobs
        .iter()
        .map(|job| JobSpec::parse(&job.spec, "scenario.toml", dir.clone()).map(|s| (job.group, s)))
        .collect::<Result<Vec<_>, _>>()?;
    host.start()?;
    let mut handles = Vec::new();
    for (group, spec) in &specs {
        handles.push((*group, host.submit(spec)?));
    }
    let mut results = Vec::new();
    for (index, (group, handle)) in handles.into_iter().enumerate() {
        // A runaway never finishes by itself: it is measured while the others run, and
        // stopped with the host.
        if group == "runaway" {
            continue;
        }
        let summary = handle.wait()?.summary;
        results.push((group, summary, index));
    }
    let stats = host.sched_stats();
    host.shutdown();
    // Ready-to-run delays are per tenant, and every job here has a tenant of its own,
    // registered in submission order.
    Ok(results
        .into_iter()
        .map(|(group, summary, index)| {
            let ready = stats.get(index).map_or(0.0, |t| t.ready_to_run_p99_us);
            (group, summary, ready)
        })
        .collect())
}

fn group_stats(results: &[(&'static str, JobSummary, f64)]) -> BTreeMap<String, GroupStats> {
    let mut groups: BTreeMap<String, Vec<(&JobSummary, f64)>> = BTreeMap::new();
    for (group, summary, ready) in results {
        groups
            .entry((*group).to_string())
            .or_default()
            .push((summary, *ready));
    }
    groups
        .into_iter()
        .map(|(group, members)| {
            let n = members.len() as f64;
            let stats = GroupStats {
                p50_ms: members
                    .iter()
                    .map(|(s, _)| s.latency_ms.p50)
                    .fold(0.0, f64::max),
                p99_ms: members
                    .iter()
                    .map(|(s, _)| s.latency_ms.p99)
                    .fold(0.0, f64::max),
                deadline_miss_rate: members
                    .iter()
                    .map(|(s, _)| s.deadline_miss_rate)
                    .sum::<f64>()
                    / n,
                throughput_eps: members.iter().map(|(s, _)| s.throughput_eps).sum(),
                ready_to_run_p99_us: members.iter().map(|(_, r)| *r).fold(0.0, f64::max),
            };
            (group, stats)
        })
        .collect()
}

/// Runs `scenario` under every policy.
pub fn run(scenario: Scenario, options: &ScenarioOptions) -> Result<ScenarioReport, BenchError> {
    let jobs = jobs(scenario, options)?;
    let mut policies = BTreeMap::new();
    let steps = PolicyKind::ALL.len() as u64 + u64::from(scenario == Scenario::Runaway);
    let progress = ProgressBar::new(steps).with_message(format!("{scenario:?}"));
    if scenario == Scenario::Runaway {
        // The victim alone, for comparison.
        let alone: Vec<ScenarioJob> = jobs
            .iter()
            .filter(|j| j.group != "runaway")
            .map(|j| ScenarioJob {
                group: j.group,
                spec: j.spec.clone(),
            })
            .collect();
        let results = run_policy(&alone, PolicyKind::Edf, options)?;
        let mut groups = group_stats(&results);
        if let Some(victim) = groups.remove("latency_sensitive") {
            groups.insert("victim".to_string(), victim);
        }
        policies.insert("alone".to_string(), groups);
        progress.inc(1);
    }
    for policy in PolicyKind::ALL {
        let results = run_policy(&jobs, policy, options)?;
        let mut groups = group_stats(&results);
        if scenario == Scenario::Runaway
            && let Some(victim) = groups.remove("latency_sensitive")
        {
            groups.insert("victim".to_string(), victim);
        }
        policies.insert(policy.name().to_string(), groups);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(ScenarioReport { scenario, policies })
}

impl std::fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<8} {:<18} {:>10} {:>10} {:>8} {:>12} {:>14}",
            "policy", "group", "p50 ms", "p99 ms", "miss %", "events/s", "ready p99 µs"
        )?;
        for (policy, groups) in &self.policies {
            for (group, s) in groups {
                writeln!(
                    f,
                    "{policy:<8} {group:<18} {:>10.3} {:>10.3} {:>8.2} {:>12.0} {:>14.1}",
                    s.p50_ms,
                    s.p99_ms,
                    s.deadline_miss_rate * 100.0,
                    s.throughput_eps,
                    s.ready_to_run_p99_us
                )?;
            }
        }
        Ok(())
    }
}
