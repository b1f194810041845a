//! Per operator series (calls, fuel, slices, preemptions, failures by kind, cost, the
//! wall-clock time of calls as a histogram) and per instance series (mailbox depth).
//! Operator series carry `tenant`, `job`, `operator` and `module`; instance series also
//! `instance`.

use cameo_host::JobSummary;

use super::{COUNTER, Exposition, GAUGE, LATENCY_BOUNDS_US, LiveJob, histogram};

/// Adds the series of `job`'s operators and their instances, from its `summary`.
pub(super) fn operator_series(out: &mut Exposition, job: &LiveJob, summary: &JobSummary) {
    let prefix = format!("{}/", job.id);
    let calls = job.monitor.call_buckets(&LATENCY_BOUNDS_US);
    for (label, stats) in &summary.operators {
        let operator = label.strip_prefix(&prefix).unwrap_or(label);
        let module = job.operators.get(operator).map_or("", String::as_str);
        let labels = [
            ("tenant", job.tenant.as_str()),
            ("job", job.id.as_str()),
            ("operator", operator),
            ("module", module),
        ];
        let ops: [(&'static str, &'static str, &'static str, f64); 6] = [
            (
                "cameo_operator_calls_total",
                COUNTER,
                "Calls into the operator.",
                stats.calls as f64,
            ),
            (
                "cameo_operator_fuel_total",
                COUNTER,
                "Fuel the operator burned.",
                stats.fuel as f64,
            ),
            (
                "cameo_operator_errors_total",
                COUNTER,
                "The operator's failed inputs (traps, errors, limits), each sent to the dead \
                 letters.",
                stats.errors as f64,
            ),
            (
                "cameo_operator_slices_total",
                COUNTER,
                "Slices the operator's calls ran in.",
                stats.slices as f64,
            ),
            (
                "cameo_operator_preemptions_total",
                COUNTER,
                "Times a call of the operator was parked at the end of its slice to go on \
                 later.",
                stats.preemptions as f64,
            ),
            (
                "cameo_operator_cost_seconds",
                GAUGE,
                "Profiled cost of one message in the operator.",
                stats.cost_us / 1e6,
            ),
        ];
        for (name, kind, help, value) in ops {
            out.sample(name, (kind, help), "", &labels, value);
        }
        for (kind, count) in &stats.failures {
            let mut with_kind = labels.to_vec();
            with_kind.push(("kind", kind.as_str()));
            out.sample(
                "cameo_operator_failures_total",
                (
                    COUNTER,
                    "The operator's failed calls by kind: out_of_fuel, memory_cap, budget, \
                     state_quota, panic, trap, operator_error, too_many_headers, \
                     output_too_large.",
                ),
                "",
                &with_kind,
                *count as f64,
            );
        }
        if let Some(buckets) = calls.get(label) {
            histogram(
                out,
                "cameo_operator_call_seconds",
                "Wall-clock time of the operator's calls, from start to end, parked time \
                 included.",
                &labels,
                buckets,
            );
        }
    }
    for (label, depth) in job.monitor.mailbox_depths() {
        let name = label.strip_prefix(&prefix).unwrap_or(&label);
        let (operator, instance) = name.split_once('#').unwrap_or((name, "0"));
        let module = job.operators.get(operator).map_or("", String::as_str);
        let labels = [
            ("tenant", job.tenant.as_str()),
            ("job", job.id.as_str()),
            ("operator", operator),
            ("module", module),
            ("instance", instance),
        ];
        out.sample(
            "cameo_mailbox_events",
            (GAUGE, "Events waiting in the instance's mailbox."),
            "",
            &labels,
            depth.events as f64,
        );
        out.sample(
            "cameo_mailbox_bytes",
            (
                GAUGE,
                "Bytes of the events waiting in the instance's mailbox.",
            ),
            "",
            &labels,
            depth.bytes as f64,
        );
    }
}
