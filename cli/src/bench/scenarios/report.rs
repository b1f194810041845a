//! A scenario report's table and charts.

use super::{PROBES, ScenarioReport};
use crate::bench::plot::{Axis, BarChart, Chart, LineChart, Series};

impl ScenarioReport {
    /// The charts of the report, each with the file stem it is written under: the p99 of
    /// every group under every policy, and every group's latency distribution per policy.
    pub fn charts(&self) -> Vec<(String, Chart)> {
        let name = self.scenario.name();
        let mut charts = vec![(format!("{name}-p99"), Chart::Bar(self.p99_chart()))];
        let mut groups: Vec<&String> = self
            .distributions
            .values()
            .flat_map(|groups| groups.keys())
            .collect();
        groups.sort();
        groups.dedup();
        for group in groups {
            let series = self
                .distributions
                .iter()
                .filter_map(|(policy, groups)| {
                    Some(Series {
                        name: policy.clone(),
                        points: groups.get(group)?.clone(),
                    })
                })
                .collect();
            let chart = LineChart {
                title: format!("{name}: latency distribution of {group}, per policy"),
                x_label: "end-to-end latency, ms (log scale)".into(),
                y_label: "share of outputs at or below".into(),
                x_axis: Axis::Log,
                y_axis: Axis::Linear,
                series,
                marks: Vec::new(),
            };
            charts.push((format!("{name}-cdf-{group}"), Chart::Line(chart)));
        }
        charts
    }

    /// The p99 latency of every group under every policy, as a chart.
    pub fn p99_chart(&self) -> BarChart {
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
            title: format!("{}: p99 latency per policy", self.scenario.name()),
            unit: "p99 end-to-end latency, ms (log scale)".into(),
            category_label: "job group".into(),
            series,
            categories,
            axis: Axis::Log,
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
