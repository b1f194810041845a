//! A job's operator instances as its status lists them: each instance's figures from the
//! job's summary beside what waits in its mailbox now.

use cameo_host::MailboxDepth;
use serde_json::{Value, json};

/// Operator name and instance number of an instance label (`job/operator` or
/// `job/operator#N`) of job `id`.
fn split_label<'a>(id: &str, label: &'a str) -> (&'a str, u64) {
    let name = label
        .strip_prefix(id)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(label);
    match name.split_once('#') {
        Some((operator, instance)) => (operator, instance.parse().unwrap_or(0)),
        None => (name, 0),
    }
}

/// One entry per operator instance of job `id`: `operator`, `instance`, the instance's
/// figures from `summary` (`calls`, `events`, `events_out`, `fuel`, `fuel_per_event`,
/// `failures`, `restarts`, `late_after_call`, `latency_ms`, `call_ms`) and, for a running
/// job (`depths` given), `mailbox_events` and `mailbox_bytes`. An instance that has made no
/// call yet has its mailbox and zero figures.
pub fn instances(id: &str, summary: &Value, depths: Option<&[(String, MailboxDepth)]>) -> Value {
    let mut rows: Vec<(String, u64, Value)> = Vec::new();
    let operators = summary["operators"].as_object().into_iter().flatten();
    for (_, stats) in operators {
        for (label, figures) in stats["instances"].as_object().into_iter().flatten() {
            let (operator, instance) = split_label(id, label);
            rows.push((operator.to_string(), instance, figures.clone()));
        }
    }
    for (label, depth) in depths.unwrap_or_default() {
        let (operator, instance) = split_label(id, label);
        let found = rows
            .iter_mut()
            .find(|(o, i, _)| o == operator && *i == instance);
        let figures = match found {
            Some((_, _, figures)) => figures,
            None => {
                rows.push((operator.to_string(), instance, zero_figures()));
                let last = rows.len() - 1;
                &mut rows[last].2
            }
        };
        figures["mailbox_events"] = json!(depth.events);
        figures["mailbox_bytes"] = json!(depth.bytes);
    }
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Value::Array(
        rows.into_iter()
            .map(|(operator, instance, mut figures)| {
                figures["operator"] = json!(operator);
                figures["instance"] = json!(instance);
                figures
            })
            .collect(),
    )
}

/// The figures of an instance that has made no call yet.
fn zero_figures() -> Value {
    let none = json!({"p50": 0.0, "p99": 0.0, "max": 0.0});
    json!({
        "calls": 0, "events": 0, "events_out": 0, "fuel": 0, "fuel_per_event": 0,
        "failures": 0, "restarts": 0, "late_after_call": 0,
        "latency_ms": none, "call_ms": none,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_and_mailboxes_are_listed_per_instance_in_order() {
        let summary = json!({"operators": {"j1/count": {"instances": {
            "j1/count#1": {"calls": 3, "events": 9},
            "j1/count#0": {"calls": 2, "events": 4},
        }}}});
        let depths = vec![
            (
                "j1/count#0".to_string(),
                MailboxDepth {
                    events: 5,
                    bytes: 50,
                },
            ),
            (
                "j1/count#2".to_string(),
                MailboxDepth {
                    events: 1,
                    bytes: 10,
                },
            ),
            ("j1/upper".to_string(), MailboxDepth::default()),
        ];
        let listed = instances("j1", &summary, Some(&depths));
        let rows = listed.as_array().cloned().unwrap_or_default();
        let keys: Vec<(String, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r["operator"].to_string(),
                    r["instance"].as_u64().unwrap_or(99),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("\"count\"".into(), 0),
                ("\"count\"".into(), 1),
                ("\"count\"".into(), 2),
                ("\"upper\"".into(), 0)
            ]
        );
        assert_eq!(
            (
                rows[0]["calls"].as_u64(),
                rows[0]["mailbox_events"].as_u64()
            ),
            (Some(2), Some(5))
        );
        assert!(
            rows[1]["mailbox_events"].is_null(),
            "no depth given for #1: {}",
            rows[1]
        );
        assert_eq!(rows[2]["calls"].as_u64(), Some(0));
        let finished = instances("j1", &summary, None);
        assert_eq!(finished.as_array().map(Vec::len), Some(2));
    }
}
