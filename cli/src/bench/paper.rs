//! The paper's two headline experiments, side by side with its figures: single-tenant (one
//! windowed job, alerts and rollup outputs) and multi-tenant (a latency-sensitive job beside
//! bulk jobs), FIFO against the deadline policies. Cameo reports 2.7x lower latency
//! single-tenant and 4.6x multi-tenant; each ratio here is FIFO's p99 over the best deadline
//! policy's, from the medians over the rounds.

use std::collections::BTreeMap;

use serde::Serialize;

use super::BenchError;
use super::scenarios::{self, GroupStats, Scenario, ScenarioOptions, ScenarioReport};
use cameo_host::PolicyKind;

/// The paper's single-tenant latency ratio.
pub const PAPER_SINGLE_TENANT: f64 = 2.7;
/// The paper's multi-tenant latency ratio.
pub const PAPER_MULTI_TENANT: f64 = 4.6;

/// Policies that schedule by deadline (what the paper calls cameo's).
const DEADLINE_POLICIES: [PolicyKind; 3] = [PolicyKind::Edf, PolicyKind::Llf, PolicyKind::Sjf];

/// One ratio beside the paper's.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ratio {
    /// The experiment.
    pub experiment: String,
    /// The job group (output) the ratio is of.
    pub group: String,
    /// FIFO's p99, ms.
    pub fifo_p99_ms: f64,
    /// The best deadline policy's p99, ms.
    pub best_p99_ms: f64,
    /// Which policy that was.
    pub best_policy: String,
    /// `fifo_p99_ms / best_p99_ms`.
    pub ratio: f64,
    /// The paper's ratio for this experiment.
    pub paper_ratio: f64,
}

/// The report of `cameo bench paper`.
#[derive(Debug, Clone, Serialize)]
pub struct PaperReport {
    /// Every ratio, single-tenant first.
    pub ratios: Vec<Ratio>,
    /// Bulk throughput under the best deadline policy for the latency-sensitive job, as a share
    /// of FIFO's (multi-tenant): what the latency costs the bulk jobs.
    pub bulk_throughput_ratio: Option<f64>,
    /// The two scenario reports the ratios come from.
    pub scenarios: Vec<ScenarioReport>,
}

/// The policies the paper compares: FIFO and the deadline policies among `policies` (all of
/// them when none is given).
pub fn policies(asked: &[PolicyKind]) -> Vec<PolicyKind> {
    let mut chosen = vec![PolicyKind::Fifo];
    chosen.extend(
        DEADLINE_POLICIES
            .iter()
            .filter(|p| asked.is_empty() || asked.contains(p)),
    );
    chosen
}

/// Runs both experiments; `options.policies` must hold FIFO and at least one deadline policy.
pub fn run(options: &ScenarioOptions) -> Result<PaperReport, BenchError> {
    let mut ratios = Vec::new();
    let mut reports = Vec::new();
    let mut bulk_throughput_ratio = None;
    for (scenario, paper, groups) in [
        (
            Scenario::SingleTenant,
            PAPER_SINGLE_TENANT,
            &["alerts", "rollup"][..],
        ),
        (
            Scenario::MultiTenant,
            PAPER_MULTI_TENANT,
            &["latency_sensitive"][..],
        ),
    ] {
        let report = scenarios::run(scenario, options)?;
        for group in groups {
            if let Some(ratio) = ratio_of(&report.policies, scenario, group, paper) {
                if scenario == Scenario::MultiTenant {
                    bulk_throughput_ratio =
                        throughput_share(&report.policies, &ratio.best_policy, "bulk");
                }
                ratios.push(ratio);
            }
        }
        reports.push(report);
    }
    Ok(PaperReport {
        ratios,
        bulk_throughput_ratio,
        scenarios: reports,
    })
}

/// FIFO's p99 of `group` over the lowest p99 among the deadline policies.
fn ratio_of(
    policies: &BTreeMap<String, BTreeMap<String, GroupStats>>,
    scenario: Scenario,
    group: &str,
    paper_ratio: f64,
) -> Option<Ratio> {
    let fifo = policies.get(PolicyKind::Fifo.name())?.get(group)?.p99_ms;
    let (best_policy, best) = DEADLINE_POLICIES
        .iter()
        .filter_map(|p| Some((p.name(), policies.get(p.name())?.get(group)?.p99_ms)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Ratio {
        experiment: scenario.name().to_string(),
        group: group.to_string(),
        fifo_p99_ms: fifo,
        best_p99_ms: best,
        best_policy: best_policy.to_string(),
        ratio: if best > 0.0 { fifo / best } else { 0.0 },
        paper_ratio,
    })
}

/// `group`'s throughput under `policy` as a share of FIFO's.
fn throughput_share(
    policies: &BTreeMap<String, BTreeMap<String, GroupStats>>,
    policy: &str,
    group: &str,
) -> Option<f64> {
    let fifo = policies
        .get(PolicyKind::Fifo.name())?
        .get(group)?
        .throughput_eps;
    let other = policies.get(policy)?.get(group)?.throughput_eps;
    (fifo > 0.0).then(|| other / fifo)
}

impl std::fmt::Display for PaperReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for report in &self.scenarios {
            writeln!(f, "== {}", report.scenario.name())?;
            write!(f, "{report}")?;
        }
        writeln!(f, "== p99 latency, FIFO over the best deadline policy")?;
        writeln!(
            f,
            "{:<14} {:<18} {:>11} {:>11} {:>6} {:>8} {:>7}",
            "experiment", "output", "fifo p99 ms", "best p99 ms", "best", "ratio", "paper"
        )?;
        for r in &self.ratios {
            writeln!(
                f,
                "{:<14} {:<18} {:>11.3} {:>11.3} {:>6} {:>7.1}x {:>6.1}x",
                r.experiment,
                r.group,
                r.fifo_p99_ms,
                r.best_p99_ms,
                r.best_policy,
                r.ratio,
                r.paper_ratio
            )?;
        }
        if let Some(share) = self.bulk_throughput_ratio {
            writeln!(
                f,
                "multi-tenant bulk throughput under the best policy: {share:.3}x of FIFO's"
            )?;
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
    fn the_ratio_is_fifo_over_the_best_deadline_policy() {
        let policies = BTreeMap::from([
            (
                "fifo".to_string(),
                BTreeMap::from([("g".to_string(), stats(90.0, 100.0))]),
            ),
            (
                "edf".to_string(),
                BTreeMap::from([("g".to_string(), stats(30.0, 96.0))]),
            ),
            (
                "llf".to_string(),
                BTreeMap::from([("g".to_string(), stats(10.0, 90.0))]),
            ),
            // Round robin is not a deadline policy: it never counts as the best.
            (
                "rr".to_string(),
                BTreeMap::from([("g".to_string(), stats(1.0, 90.0))]),
            ),
        ]);
        let ratio = ratio_of(&policies, Scenario::MultiTenant, "g", 4.6).unwrap();
        assert_eq!(ratio.best_policy, "llf");
        assert_eq!(ratio.ratio, 9.0);
        assert_eq!(throughput_share(&policies, "edf", "g"), Some(0.96));
        assert!(ratio_of(&policies, Scenario::MultiTenant, "missing", 4.6).is_none());
    }

    #[test]
    fn fifo_is_always_compared() {
        assert_eq!(
            policies(&[PolicyKind::Edf]),
            vec![PolicyKind::Fifo, PolicyKind::Edf]
        );
        assert_eq!(policies(&[]).len(), 4);
    }
}
