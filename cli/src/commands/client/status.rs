//! `cameo job status ID` for a person: the job's state and figures, a table of its
//! operators and one of their instances.

use serde_json::Value;

use super::job::text;
use super::print_table;

/// A number of milliseconds with two decimals, or empty.
fn ms(value: &Value) -> String {
    value.as_f64().map_or(String::new(), |v| format!("{v:.2}"))
}

/// Operator `label` (`job/operator`) of job `id` without the job.
fn short<'a>(id: &str, label: &'a str) -> &'a str {
    label
        .strip_prefix(id)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(label)
}

/// Failed calls by kind, as `kind=N,...`, or `0`.
fn failures(by_kind: &Value) -> String {
    let kinds: Vec<String> = by_kind
        .as_object()
        .into_iter()
        .flatten()
        .map(|(kind, n)| format!("{kind}={}", text(n)))
        .collect();
    if kinds.is_empty() {
        "0".into()
    } else {
        kinds.join(",")
    }
}

/// Prints `job` (the answer of `GET /v1/jobs/{id}`).
pub fn print(job: &Value) {
    let id = text(&job["id"]);
    let summary = &job["summary"];
    println!("job {id} ({}): {}", text(&job["name"]), text(&job["state"]));
    if !job["error"].is_null() {
        println!("  error: {}", text(&job["error"]));
    }
    println!(
        "  events in {}, out {}, errors {}, deadline misses {}",
        text(&summary["events_in"]),
        text(&summary["events_out"]),
        text(&summary["errors"]),
        text(&summary["deadline_misses"]),
    );
    println!(
        "  latency ms p50 {} p99 {}",
        text(&summary["latency_ms"]["p50"]),
        text(&summary["latency_ms"]["p99"])
    );
    if let Some(operators) = job["operators"].as_object() {
        for (name, versions) in operators {
            let history: Vec<String> = versions["history"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("{} {}", text(&c["change"]), text(&c["module"])))
                .collect();
            let pending = match &versions["pending"] {
                Value::Null => String::new(),
                to => format!(", switching to {}", text(to)),
            };
            println!(
                "  operator {name} runs {}{pending}{}",
                text(&versions["module"]),
                if history.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", history.join(", "))
                }
            );
        }
    }
    if let Some(sinks) = summary["sinks"].as_object() {
        for (name, sink) in sinks {
            println!(
                "  sink {name}: out {}, deadline misses {}, latency ms p50 {} p99 {}",
                text(&sink["events_out"]),
                text(&sink["deadline_misses"]),
                ms(&sink["latency_ms"]["p50"]),
                ms(&sink["latency_ms"]["p99"])
            );
        }
    }
    let operators: Vec<Vec<String>> = summary["operators"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(label, s)| {
            vec![
                short(&id, label).to_string(),
                text(&s["events"]),
                text(&s["events_out"]),
                ms(&s["latency_ms"]["p50"]),
                ms(&s["latency_ms"]["p99"]),
                text(&s["deadline_misses"]),
                text(&s["fuel"]),
                text(&s["fuel_per_event"]),
                format!("{:.2}", s["cost_us"].as_f64().unwrap_or(0.0)),
                text(&s["errors"]),
                text(&s["restarts"]),
                text(&s["calls"]),
                ms(&s["call_ms"]["p99"]),
                text(&s["preemptions"]),
                failures(&s["failures"]),
            ]
        })
        .collect();
    if !operators.is_empty() {
        println!();
        print_table(
            &[
                "OPERATOR",
                "IN",
                "OUT",
                "P50_MS",
                "P99_MS",
                "MISSED",
                "FUEL",
                "FUEL/EV",
                "COST_US",
                "ERRORS",
                "RESTARTS",
                "CALLS",
                "CALL_P99_MS",
                "PREEMPT",
                "FAILURES",
            ],
            &operators,
        );
    }
    let instances: Vec<Vec<String>> = job["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            vec![
                format!("{}#{}", text(&i["operator"]), text(&i["instance"])),
                text(&i["events"]),
                text(&i["events_out"]),
                ms(&i["latency_ms"]["p50"]),
                ms(&i["latency_ms"]["p99"]),
                text(&i["late_after_call"]),
                text(&i["fuel"]),
                text(&i["fuel_per_event"]),
                match (&i["mailbox_events"], &i["mailbox_bytes"]) {
                    (Value::Null, _) => "-".into(),
                    (events, bytes) => format!("{}/{}B", text(events), text(bytes)),
                },
                text(&i["failures"]),
                text(&i["restarts"]),
                text(&i["calls"]),
                ms(&i["call_ms"]["p99"]),
            ]
        })
        .collect();
    if !instances.is_empty() {
        println!();
        print_table(
            &[
                "INSTANCE",
                "IN",
                "OUT",
                "P50_MS",
                "P99_MS",
                "LATE",
                "FUEL",
                "FUEL/EV",
                "MAILBOX",
                "FAILURES",
                "RESTARTS",
                "CALLS",
                "CALL_P99_MS",
            ],
            &instances,
        );
    }
}
