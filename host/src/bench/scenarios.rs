//! The scheduling scenarios of `cameo bench`: the same generated input run under every
//! policy, one after another in one process, with latency per job group. The heavy jobs
//! offer a share (`--load`, 0.9 by default) of the capacity measured just before with an
//! unpaced run of the same job.
//!
//! - `single-tenant`: one windowed job near saturation with two outputs, each its own group:
//!   `alerts` (a filter, output at once) and `rollup` (heavy one-second tumbling windows).
//! - `multi-tenant`: a latency-sensitive job (50 ms target) beside bulk jobs (5 s targets)
//!   that together saturate the host.
//! - `runaway`: a well-behaved job beside a tenant whose operator loops forever; the victim
//!   is also run alone for comparison.

use std::collections::BTreeMap;

use indicatif::ProgressBar;
use serde::Serialize;

use super::plot::BarChart;
use super::{BenchError, example_operator};
use crate::dataflow::spec::JobSpec;
use crate::job::{Host, RunOptions};
use crate::metrics::{JobSummary, LatencySummary};
use crate::sched::PolicyKind;

/// Which scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// One windowed job near saturation: alerts and rollup windows on one stream.
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
    /// The offered load of the heavy jobs as a share of what the host can do (measured first
    /// with an unpaced run of the same job): 0.9 is near saturation on any machine.
    pub load: f64,
    /// Worker threads.
    pub workers: usize,
    /// The policies to compare, in this order.
    pub policies: Vec<PolicyKind>,
    /// Fuel per slice, if not the default.
    pub slice_fuel: Option<u64>,
    /// Times every policy runs, interleaved; figures are medians over them.
    pub rounds: usize,
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
    /// The capacity measured before the runs (events per second of the heavy job, unpaced,
    /// FIFO), which the offered load is a share of; `None` when the scenario's load is fixed.
    pub capacity_eps: Option<f64>,
    /// The rounds each figure is the median of.
    pub rounds: usize,
}

/// The group of the looping tenant in `runaway`: never waited for.
const RUNAWAY: &str = "runaway";

/// One job of a scenario: its group and spec.
struct ScenarioJob {
    /// The group its figures count towards; `None`: one group per sink, named after it.
    group: Option<&'static str>,
    spec: String,
}

fn generator(name: &str, rate: f64, count: u64, keys: u64, seed: u64) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"generator\"\ncount = {count}\nrate = {rate}\nkeys = {keys}\nseed = {seed}\npayload_bytes = 32\n"
    )
}

/// The specs of a scenario's jobs, at the given input rates.
struct Specs {
    spin: String,
    filter: String,
    spin_window: String,
}

impl Specs {
    fn new(options: &ScenarioOptions) -> Result<Self, BenchError> {
        let path = |name: &str| -> Result<String, BenchError> {
            Ok(format!(
                "{:?}",
                example_operator(&options.operators, name)?
                    .display()
                    .to_string()
            ))
        };
        Ok(Specs {
            spin: path("test-guests/spin-slice")?,
            filter: path("filter")?,
            spin_window: path("test-guests/spin-window")?,
        })
    }

    /// A job with a 50 ms target: a filter, then a small computation per event.
    fn latency_sensitive(&self, name: &str, tenant: &str, source: &str) -> String {
        let (filter, spin) = (&self.filter, &self.spin);
        format!(
            "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 50\n{source}\n[[operator]]\nname = \"pick\"\nmodule = {filter}\ninputs = [\"in\"]\nconfig = {{ field = \"value\", min = 0 }}\n[[operator]]\nname = \"score\"\nmodule = {spin}\ninputs = [\"pick\"]\nconfig = {{ iterations = 2000 }}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"score\"]\n"
        )
    }

    /// A job with a 5 s target doing heavy work per event on four instances.
    fn bulk(&self, name: &str, tenant: &str, source: &str) -> String {
        let spin = &self.spin;
        format!(
            "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 5000\n{source}\n[[operator]]\nname = \"crunch\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 60000 }}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"crunch\"]\n"
        )
    }

    /// One job, one stream, two results: alerts (a filter passing one event in ten, output
    /// at once) and a rollup (one-second tumbling windows whose per-event work is heavy, output
    /// when each window closes). Window-aware priorities let the rollup's early-window work
    /// wait behind the alerts.
    fn windowed(&self, source: &str) -> String {
        let (filter, rollup) = (&self.filter, &self.spin_window);
        format!(
            "name = \"windows\"\ntenant = \"analytics\"\nlatency_target_ms = 100\n{source}\n[[operator]]\nname = \"pick-alerts\"\nmodule = {filter}\ninputs = [\"in\"]\nconfig = {{ field = \"value\", min = 90 }}\n[[operator]]\nname = \"roll-up\"\nmodule = {rollup}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 60000 }}\nwindow = {{ kind = \"tumbling\", size_ms = 1000 }}\n[[sink]]\nname = \"alerts\"\nkind = \"discard\"\ninputs = [\"pick-alerts\"]\n[[sink]]\nname = \"rollup\"\nkind = \"discard\"\ninputs = [\"roll-up\"]\n"
        )
    }

    /// A tenant whose calls never return on their own (each runs until its fuel budget is
    /// spent), on four instances, with a tiny latency target to claim priority.
    fn runaway(&self) -> String {
        let spin = &self.spin;
        format!(
            "name = \"runaway\"\ntenant = \"hostile\"\nlatency_target_ms = 1\n{}\n[[operator]]\nname = \"spin\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 1000000000000000 }}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"spin\"]\n",
            generator("in", 0.0, 64, 16, 5)
        )
    }
}

/// Events the capacity probe pushes through a job, unpaced.
const PROBE_EVENTS: u64 = 20_000;

/// Capacity probes per scenario: their median counts, so one run disturbed by the machine
/// does not set the load.
const PROBES: usize = 3;

/// Events per second `spec` (a job whose source is generated by `make`) sustains on this host
/// with every worker, measured with an unpaced source: the median of a few runs.
fn capacity(make: impl Fn(&str) -> String, options: &ScenarioOptions) -> Result<f64, BenchError> {
    let mut rates = Vec::with_capacity(PROBES);
    for seed in 0..PROBES as u64 {
        let probe = ScenarioJob {
            group: Some("probe"),
            spec: make(&generator("in", 0.0, PROBE_EVENTS, 1000, 9 + seed)),
        };
        let results = run_policy(&[probe], PolicyKind::Fifo, options)?;
        rates.push(results.first().map_or(0.0, |member| member.throughput_eps));
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates.get(PROBES / 2).copied().unwrap_or(0.0).max(1.0))
}

/// The jobs of `scenario`, and the capacity measured to set their load (if it was).
fn jobs(
    scenario: Scenario,
    options: &ScenarioOptions,
) -> Result<(Vec<ScenarioJob>, Option<f64>), BenchError> {
    let specs = Specs::new(options)?;
    let source = |rate: f64, keys: u64, seed: u64| {
        let count = (rate * options.duration_s).max(1.0) as u64;
        generator("in", rate, count, keys, seed)
    };
    let latency_sensitive = |name: &str, tenant: &str| ScenarioJob {
        group: Some("latency_sensitive"),
        spec: specs.latency_sensitive(name, tenant, &source(500.0, 50, 1)),
    };
    Ok(match scenario {
        Scenario::MultiTenant => {
            // The two bulk jobs together offer `load` times what the host can do.
            let capacity = capacity(|s| specs.bulk("probe", "probe", s), options)?;
            let rate = options.load * capacity / 2.0;
            let jobs = vec![
                latency_sensitive("latency-sensitive", "interactive"),
                ScenarioJob {
                    group: Some("bulk"),
                    spec: specs.bulk("bulk-1", "batch-1", &source(rate, 1000, 2)),
                },
                ScenarioJob {
                    group: Some("bulk"),
                    spec: specs.bulk("bulk-2", "batch-2", &source(rate, 1000, 3)),
                },
            ];
            (jobs, Some(capacity))
        }
        Scenario::SingleTenant => {
            let capacity = capacity(|s| specs.windowed(s), options)?;
            let jobs = vec![ScenarioJob {
                // Alerts and rollup windows, each its own group.
                group: None,
                spec: specs.windowed(&source(options.load * capacity, 200, 4)),
            }];
            (jobs, Some(capacity))
        }
        Scenario::Runaway => (
            vec![
                latency_sensitive("victim", "well-behaved"),
                ScenarioJob {
                    group: Some(RUNAWAY),
                    spec: specs.runaway(),
                },
            ],
            None,
        ),
    })
}

/// One group member's figures from one run.
struct Member {
    group: String,
    latency: LatencySummary,
    deadline_miss_rate: f64,
    throughput_eps: f64,
    ready_to_run_p99_us: f64,
}

/// The members a finished job contributes: itself, or each of its sinks.
fn members(group: Option<&str>, summary: &JobSummary, ready: f64) -> Vec<Member> {
    match group {
        Some(group) => vec![Member {
            group: group.to_string(),
            latency: summary.latency_ms.clone(),
            deadline_miss_rate: summary.deadline_miss_rate,
            throughput_eps: summary.throughput_eps,
            ready_to_run_p99_us: ready,
        }],
        None => summary
            .sinks
            .iter()
            .map(|(sink, stats)| Member {
                group: sink.clone(),
                latency: stats.latency_ms.clone(),
                deadline_miss_rate: stats.deadline_miss_rate,
                throughput_eps: summary.throughput_eps,
                ready_to_run_p99_us: ready,
            })
            .collect(),
    }
}

/// Runs every job of `jobs` on one host under `policy`; returns the figures of each group
/// member, with the host's ready-to-run delays per tenant.
fn run_policy(
    jobs: &[ScenarioJob],
    policy: PolicyKind,
    options: &ScenarioOptions,
) -> Result<Vec<Member>, BenchError> {
    let mut run_options = RunOptions {
        policy,
        workers: options.workers,
        ..RunOptions::default()
    };
    // A runaway's calls end only when their fuel runs out: give them a long budget.
    run_options.limits.fuel_per_call = 20_000_000_000;
    if let Some(fuel) = options.slice_fuel {
        run_options.limits.slice_fuel = fuel.max(1);
    }
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
    let mut finished = Vec::new();
    for (index, (group, handle)) in handles.into_iter().enumerate() {
        // A runaway never finishes by itself: it is measured while the others run, and
        // stopped with the host.
        if group == Some(RUNAWAY) {
            continue;
        }
        finished.push((group, handle.wait()?.summary, index));
    }
    let stats = host.sched_stats();
    host.shutdown();
    // Ready-to-run delays are per tenant, and every job here has a tenant of its own,
    // registered in submission order.
    Ok(finished
        .iter()
        .flat_map(|(group, summary, index)| {
            let ready = stats.get(*index).map_or(0.0, |t| t.ready_to_run_p99_us);
            members(*group, summary, ready)
        })
        .collect())
}

/// Figures per group: the worst latency of its members, their mean miss rate, their summed
/// throughput.
fn group_stats(members: &[Member]) -> BTreeMap<String, GroupStats> {
    let mut groups: BTreeMap<String, Vec<&Member>> = BTreeMap::new();
    for member in members {
        groups.entry(member.group.clone()).or_default().push(member);
    }
    groups
        .into_iter()
        .map(|(group, members)| {
            let n = members.len() as f64;
            let worst = |f: fn(&Member) -> f64| members.iter().map(|m| f(m)).fold(0.0, f64::max);
            let stats = GroupStats {
                p50_ms: worst(|m| m.latency.p50),
                p99_ms: worst(|m| m.latency.p99),
                deadline_miss_rate: members.iter().map(|m| m.deadline_miss_rate).sum::<f64>() / n,
                throughput_eps: members.iter().map(|m| m.throughput_eps).sum(),
                ready_to_run_p99_us: worst(|m| m.ready_to_run_p99_us),
            };
            (group, stats)
        })
        .collect()
}

/// Runs `scenario` under every policy, `rounds` times over (interleaved: round after round of
/// every policy), and reports the median of each figure over the rounds.
pub fn run(scenario: Scenario, options: &ScenarioOptions) -> Result<ScenarioReport, BenchError> {
    let (jobs, capacity_eps) = jobs(scenario, options)?;
    let rounds = options.rounds.max(1);
    let mut per_round: BTreeMap<String, Vec<BTreeMap<String, GroupStats>>> = BTreeMap::new();
    let steps = options.policies.len() as u64 + u64::from(scenario == Scenario::Runaway);
    let progress = ProgressBar::new(steps * rounds as u64).with_message(format!("{scenario:?}"));
    // The victim alone, for comparison.
    let alone: Vec<ScenarioJob> = jobs
        .iter()
        .filter(|j| j.group != Some(RUNAWAY))
        .map(|j| ScenarioJob {
            group: j.group,
            spec: j.spec.clone(),
        })
        .collect();
    let victim = |mut groups: BTreeMap<String, GroupStats>| {
        if scenario == Scenario::Runaway
            && let Some(victim) = groups.remove("latency_sensitive")
        {
            groups.insert("victim".to_string(), victim);
        }
        groups
    };
    for _ in 0..rounds {
        if scenario == Scenario::Runaway {
            let results = run_policy(&alone, PolicyKind::Edf, options)?;
            per_round
                .entry("alone".to_string())
                .or_default()
                .push(victim(group_stats(&results)));
            progress.inc(1);
        }
        for &policy in &options.policies {
            let results = run_policy(&jobs, policy, options)?;
            per_round
                .entry(policy.name().to_string())
                .or_default()
                .push(victim(group_stats(&results)));
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let policies = per_round
        .into_iter()
        .map(|(policy, rounds)| (policy, median_groups(&rounds)))
        .collect();
    Ok(ScenarioReport {
        scenario,
        policies,
        capacity_eps,
        rounds,
    })
}

/// Each group's figures, the median of each over the rounds.
fn median_groups(rounds: &[BTreeMap<String, GroupStats>]) -> BTreeMap<String, GroupStats> {
    let groups: std::collections::BTreeSet<&String> =
        rounds.iter().flat_map(|round| round.keys()).collect();
    groups
        .into_iter()
        .map(|group| {
            let all: Vec<&GroupStats> = rounds.iter().filter_map(|r| r.get(group)).collect();
            let median = |f: fn(&GroupStats) -> f64| {
                let mut values: Vec<f64> = all.iter().map(|s| f(s)).collect();
                values.sort_by(f64::total_cmp);
                values.get(values.len() / 2).copied().unwrap_or(0.0)
            };
            let stats = GroupStats {
                p50_ms: median(|s| s.p50_ms),
                p99_ms: median(|s| s.p99_ms),
                deadline_miss_rate: median(|s| s.deadline_miss_rate),
                throughput_eps: median(|s| s.throughput_eps),
                ready_to_run_p99_us: median(|s| s.ready_to_run_p99_us),
            };
            (group.clone(), stats)
        })
        .collect()
}

impl ScenarioReport {
    /// The p99 latency of every group under every policy, as a chart.
    pub fn p99_chart(&self) -> BarChart<'static> {
        let series: Vec<String> = self.policies.keys().cloned().collect();
        let mut groups: Vec<String> = self
            .policies
            .values()
            .flat_map(|groups| groups.keys().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        let categories = groups
            .into_iter()
            .map(|group| {
                let values = self
                    .policies
                    .values()
                    .map(|groups| groups.get(&group).map(|s| s.p99_ms))
                    .collect();
                (group, values)
            })
            .collect();
        BarChart {
            title: match self.scenario {
                Scenario::SingleTenant => "single-tenant: p99 latency per policy",
                Scenario::MultiTenant => "multi-tenant: p99 latency per policy",
                Scenario::Runaway => "runaway: p99 latency per policy",
            },
            unit: "p99 end-to-end latency, ms (log scale)",
            series,
            categories,
        }
    }
}

impl std::fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(capacity) = self.capacity_eps {
            writeln!(
                f,
                "capacity measured: {capacity:.0} events/s (unpaced, fifo, median of {PROBES})"
            )?;
        }
        if self.rounds > 1 {
            writeln!(f, "each figure: the median of {} rounds", self.rounds)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(p99_ms: f64, throughput_eps: f64) -> GroupStats {
        GroupStats {
            p99_ms,
            throughput_eps,
            ..GroupStats::default()
        }
    }

    #[test]
    fn each_figure_is_the_median_over_the_rounds() {
        let round = |p99: f64, eps: f64| BTreeMap::from([("g".to_string(), stats(p99, eps))]);
        // One round disturbed by a stall (p99 9.0) decides nothing.
        let rounds = [round(0.1, 100.0), round(9.0, 90.0), round(0.2, 110.0)];
        let median = median_groups(&rounds);
        assert_eq!(median["g"].p99_ms, 0.2);
        assert_eq!(median["g"].throughput_eps, 100.0);
    }
}
