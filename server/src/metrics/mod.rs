//! `/metrics`: the figures of running jobs, their operators, sources and sinks, the host's
//! scheduling per tenant and the jobs kept per state, in the Prometheus text format
//! (version 0.0.4). Series carry `tenant` and `job` labels, operator series also `operator`
//! and `module` (the pinned `name@N` it runs). A tenant's token sees only its series; the
//! server's admin token sees every tenant's.
//!
//! # Layout
//! - this file: the text format, job, source, sink, tenant and job-count series.
//! - [`operators`]: per operator and per instance series.

mod operators;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cameo_host::{Inlet, JobMonitor, LatencyBuckets, TenantSchedStats};

use crate::jobs::state_name;
use crate::store::Job;

/// Upper bounds of the latency histogram's buckets, µs (100 µs to 10 s).
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A running job as the metrics see it.
pub struct LiveJob {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// Its figures.
    pub monitor: JobMonitor,
    /// The module version (`name@N`) each operator runs, by operator name.
    pub operators: BTreeMap<String, String>,
    /// Its http sources.
    pub inlets: BTreeMap<String, Inlet>,
}

/// One metric family: its help, its type and its samples, written together.
struct Family {
    help: &'static str,
    kind: &'static str,
    samples: Vec<String>,
}

/// Samples grouped by family, written in the text format.
#[derive(Default)]
pub struct Exposition {
    families: BTreeMap<&'static str, Family>,
}

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value in the text format.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{value}")
    }
}

impl Exposition {
    /// Adds a sample of family `name` (`suffix` appended to its name, e.g. `_bucket`).
    pub fn sample(
        &mut self,
        name: &'static str,
        (kind, help): (&'static str, &'static str),
        suffix: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let family = self.families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            samples: Vec::new(),
        });
        let mut line = format!("{name}{suffix}");
        if !labels.is_empty() {
            line.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                let _ = write!(line, "{key}=\"{}\"", escape(value));
            }
            line.push('}');
        }
        line.push(' ');
        line.push_str(&number(value));
        family.samples.push(line);
    }

    /// The text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, family) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {}", family.kind);
            for sample in &family.samples {
                out.push_str(sample);
                out.push('\n');
            }
        }
        out
    }
}

const COUNTER: &str = "counter";
const GAUGE: &str = "gauge";
const HISTOGRAM: &str = "histogram";

/// Adds the series of running job `job`.
pub fn job_series(out: &mut Exposition, job: &LiveJob) {
    let summary = job.monitor.summary();
    let labels = [("tenant", job.tenant.as_str()), ("job", job.id.as_str())];
    let counters: [(&'static str, &'static str, u64); 7] = [
        (
            "cameo_events_in_total",
            "Events taken in by the job's sources.",
            summary.events_in,
        ),
        (
            "cameo_events_out_total",
            "Events delivered to the job's sinks.",
            summary.events_out,
        ),
        (
            "cameo_deadline_misses_total",
            "Outputs that reached their sink after their deadline.",
            summary.deadline_misses,
        ),
        (
            "cameo_dead_letters_total",
            "Inputs whose call failed (trap, error, limit) and went to the dead letters.",
            summary.errors,
        ),
        (
            "cameo_fuel_total",
            "Fuel burned by the job's calls.",
            summary.fuel,
        ),
        (
            "cameo_calls_total",
            "Calls into the job's operators.",
            summary.calls,
        ),
        (
            "cameo_checkpoints_total",
            "Checkpoints the job completed since it (re)started.",
            summary.checkpoints.as_ref().map_or(0, |c| c.completed),
        ),
    ];
    for (name, help, value) in counters {
        out.sample(name, (COUNTER, help), "", &labels, value as f64);
    }
    let gauges: [(&'static str, &'static str, u64); 2] = [
        (
            "cameo_state_bytes",
            "Bytes of keyed state the job's operators hold.",
            summary.state_bytes,
        ),
        (
            "cameo_memory_bytes",
            "Bytes charged to the job's memory budget: instances' linear memory, state, \
             panes, buffers, timers.",
            summary.memory_bytes,
        ),
    ];
    for (name, help, value) in gauges {
        out.sample(name, (GAUGE, help), "", &labels, value as f64);
    }
    latency_histogram(out, job, &labels);
    operators::operator_series(out, job, &summary);
    for (sink, stats) in &summary.sinks {
        let labels = [
            ("tenant", job.tenant.as_str()),
            ("job", job.id.as_str()),
            ("sink", sink.as_str()),
        ];
        out.sample(
            "cameo_sink_events_out_total",
            (COUNTER, "Events delivered to the sink."),
            "",
            &labels,
            stats.events_out as f64,
        );
        for (quantile, ms) in [
            ("0.5", stats.latency_ms.p50),
            ("0.99", stats.latency_ms.p99),
        ] {
            let mut labels = labels.to_vec();
            labels.push(("quantile", quantile));
            out.sample(
                "cameo_sink_latency_seconds",
                ("summary", "End-to-end latency of the sink's events."),
                "",
                &labels,
                ms / 1e3,
            );
        }
    }
    for (source, inlet) in &job.inlets {
        let labels = [
            ("tenant", job.tenant.as_str()),
            ("job", job.id.as_str()),
            ("source", source.as_str()),
        ];
        out.sample(
            "cameo_source_lines_total",
            (COUNTER, "Lines sent to the http source."),
            "",
            &labels,
            inlet.lines() as f64,
        );
        out.sample(
            "cameo_source_unread_bytes",
            (
                GAUGE,
                "Bytes sent to the http source and not read by the job yet.",
            ),
            "",
            &labels,
            inlet.unread() as f64,
        );
    }
}

/// The job's end-to-end latency as a histogram in seconds.
fn latency_histogram(out: &mut Exposition, job: &LiveJob, labels: &[(&str, &str)]) {
    let buckets = job.monitor.latency_buckets(&LATENCY_BOUNDS_US);
    histogram(
        out,
        "cameo_latency_seconds",
        "End-to-end latency of the job's outputs, from source ingest to sink.",
        labels,
        &buckets,
    );
}

/// Writes `buckets` (µs) as histogram `name` in seconds.
fn histogram(
    out: &mut Exposition,
    name: &'static str,
    help: &'static str,
    labels: &[(&str, &str)],
    buckets: &LatencyBuckets,
) {
    let family = (HISTOGRAM, help);
    for (bound, count) in buckets.bounds_us.iter().zip(&buckets.cumulative) {
        let le = number(*bound as f64 / 1e6);
        let mut with_le = labels.to_vec();
        with_le.push(("le", le.as_str()));
        out.sample(name, family, "_bucket", &with_le, *count as f64);
    }
    let mut with_le = labels.to_vec();
    with_le.push(("le", "+Inf"));
    let (count, sum) = (buckets.count as f64, buckets.sum_us as f64 / 1e6);
    out.sample(name, family, "_bucket", &with_le, count);
    out.sample(name, family, "_sum", labels, sum);
    out.sample(name, family, "_count", labels, count);
}

/// Adds the host's scheduling figures of `stats`' tenant.
pub fn tenant_series(out: &mut Exposition, stats: &TenantSchedStats) {
    let labels = [("tenant", stats.tenant.as_str())];
    out.sample(
        "cameo_tenant_slices_total",
        (
            COUNTER,
            "Slices the tenant's tasks started on the host's workers.",
        ),
        "",
        &labels,
        stats.slices as f64,
    );
    out.sample(
        "cameo_tenant_fuel_total",
        (COUNTER, "Fuel charged to the tenant by the scheduler."),
        "",
        &labels,
        stats.fuel as f64,
    );
    for (quantile, us) in [
        ("0.5", stats.ready_to_run_p50_us),
        ("0.99", stats.ready_to_run_p99_us),
    ] {
        out.sample(
            "cameo_tenant_ready_to_run_seconds",
            (
                "summary",
                "Time from one of the tenant's tasks becoming runnable to its slice starting.",
            ),
            "",
            &[("tenant", stats.tenant.as_str()), ("quantile", quantile)],
            us / 1e6,
        );
    }
}

/// Adds how many of `jobs` are in each state, per tenant.
pub fn job_counts(out: &mut Exposition, jobs: &[Job]) {
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for job in jobs {
        *counts
            .entry((job.tenant.as_str(), state_name(job.state)))
            .or_default() += 1;
    }
    for ((tenant, state), count) in counts {
        out.sample(
            "cameo_jobs",
            (GAUGE, "Jobs the server keeps, by state."),
            "",
            &[("tenant", tenant), ("state", state)],
            count as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_once_with_escaped_labels() {
        let mut out = Exposition::default();
        let family = (COUNTER, "Things.");
        out.sample("things_total", family, "", &[("tenant", "a\"b\\c\nd")], 2.0);
        out.sample("things_total", family, "", &[("tenant", "e")], 0.5);
        let text = out.render();
        assert_eq!(
            text,
            "# HELP things_total Things.\n# TYPE things_total counter\n\
             things_total{tenant=\"a\\\"b\\\\c\\nd\"} 2\nthings_total{tenant=\"e\"} 0.5\n"
        );
    }
}
