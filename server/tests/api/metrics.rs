//! `/metrics`: the Prometheus text format, scoped to the caller's tenant.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

/// Runs a filter job for the tenant of `token` with 100 events sent and its source left
/// open; returns the job id once all 60 outputs are in its sink.
fn running_job(server: &Server, token: &str) -> String {
    assert_eq!(server.push(token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        token,
        &http_job("filter", r#"{ field = "value", min = 40 }"#),
    );
    let reply = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in"),
        Some(token),
        events(0, 100).as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    for _ in 0..3000 {
        if server.tail(token, &id, "out").len() == 60 {
            return id;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("job {id} did not deliver its 60 outputs");
}

/// Every sample line as (series, value); panics on a line that is not the text format.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name_end = series.find('{').unwrap_or(series.len());
            assert!(
                series[..name_end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            let value = match value {
                "+Inf" => f64::INFINITY,
                other => other.parse().unwrap_or_else(|_| panic!("{line}")),
            };
            (series.to_string(), value)
        })
        .collect()
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .unwrap_or_else(|| panic!("no series {series} in {samples:?}"))
        .1
}

#[test]
fn metrics_show_a_tenant_its_jobs_and_the_admin_everyones() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let acme = server.tenant("acme", "deploy");
    let globex = server.tenant("globex", "deploy");
    let acme_job = running_job(&server, &acme);
    let globex_job = running_job(&server, &globex);

    let reply = server.call("GET", "/metrics", Some(&acme), b"");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .text
            .contains("# TYPE cameo_latency_seconds histogram\n")
    );
    let acme_samples = samples(&reply.text);
    let job = format!("tenant=\"acme\",job=\"{acme_job}\"");
    // Sources count what they read; the job may not have counted every event yet when
    // the outputs are in, so only the outputs are exact.
    assert!(value(&acme_samples, &format!("cameo_events_in_total{{{job}}}")) >= 60.0);
    assert_eq!(
        value(&acme_samples, &format!("cameo_events_out_total{{{job}}}")),
        60.0
    );
    assert_eq!(
        value(
            &acme_samples,
            &format!("cameo_latency_seconds_count{{{job}}}")
        ),
        60.0
    );
    assert_eq!(
        value(
            &acme_samples,
            &format!("cameo_latency_seconds_bucket{{{job},le=\"+Inf\"}}")
        ),
        60.0
    );
    let calls = value(
        &acme_samples,
        &format!("cameo_operator_calls_total{{{job},operator=\"op\",module=\"filter@1\"}}"),
    );
    assert!(calls >= 1.0, "{calls}");
    assert_eq!(
        value(
            &acme_samples,
            &format!("cameo_source_lines_total{{{job},source=\"in\"}}")
        ),
        100.0
    );
    assert_eq!(
        value(
            &acme_samples,
            "cameo_jobs{tenant=\"acme\",state=\"running\"}"
        ),
        1.0
    );
    assert!(
        acme_samples.iter().all(|(s, _)| !s.contains("globex")),
        "a tenant saw another's series: {}",
        reply.text
    );

    let globex_text = server.call("GET", "/metrics", Some(&globex), b"").text;
    assert!(globex_text.contains(&format!("job=\"{globex_job}\"")));
    assert!(!globex_text.contains("acme"), "{globex_text}");

    let admin = server.admin_token();
    let all = server.call("GET", "/metrics", Some(&admin), b"");
    assert_eq!(all.status, 200);
    assert!(all.text.contains("tenant=\"acme\"") && all.text.contains("tenant=\"globex\""));

    let anonymous = server.call("GET", "/metrics", None, b"");
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.error().contains("Authorization: Bearer"),
        "{}",
        anonymous.error()
    );
}

#[test]
fn health_answers_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let health = server.call("GET", "/healthz", None, b"");
    assert_eq!((health.status, health.text.as_str()), (200, "ok\n"));
    let ready = server.call("GET", "/readyz", None, b"");
    assert_eq!((ready.status, ready.text.as_str()), (200, "ready\n"));
}

/// The samples of family `name` whose series has every one of `labels` (`key="value"`).
fn matching<'a>(
    samples: &'a [(String, f64)],
    name: &str,
    labels: &[&str],
) -> Vec<&'a (String, f64)> {
    samples
        .iter()
        .filter(|(series, _)| {
            series.split('{').next() == Some(name) && labels.iter().all(|l| series.contains(l))
        })
        .collect()
}

#[test]
fn operator_series_count_slices_preemptions_failures_by_kind_call_times_and_mailboxes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "trapper", guests::TRAPPER).status, 201);
    assert_eq!(server.push(&token, "looper", guests::LOOPER).status, 201);
    let id = server.submit(
        &token,
        r#"
name = "two"
[[source]]
name = "in"
kind = "http"
[[operator]]
name = "trap"
module = "trapper"
inputs = ["in"]
parallelism = 2
[[operator]]
name = "spin"
module = "looper"
inputs = ["trap"]
[[sink]]
name = "out"
kind = "http"
inputs = ["spin"]
"#,
    );
    let sent = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in"),
        Some(&token),
        b"a\nboom\nloop\nb\n",
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let mut text = String::new();
    // Read until the looper failed and a scrape's figures are settled: its calls counted
    // twice alike and in its call-time histogram.
    let calls_in = |text: &str, suffix: &str| {
        let now = samples(text);
        matching(
            &now,
            &format!("cameo_operator_{suffix}"),
            &["operator=\"spin\""],
        )
        .first()
        .map(|(_, v)| *v)
    };
    let mut before = None;
    for _ in 0..3000 {
        text = server.call("GET", "/metrics", Some(&token), b"").text;
        let failed = calls_in(&text, "failures_total").is_some();
        let calls = calls_in(&text, "calls_total");
        let settled =
            calls.is_some() && calls == before && calls == calls_in(&text, "call_seconds_count");
        if failed && settled && server.tail(&token, &id, "out").len() == 2 {
            break;
        }
        before = calls;
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = samples(&text);
    let trap = format!("tenant=\"acme\",job=\"{id}\",operator=\"trap\",module=\"trapper@1\"");
    let spin = format!("tenant=\"acme\",job=\"{id}\",operator=\"spin\",module=\"looper@1\"");

    // Failures by kind: the trapper's panic (its batch's call, then the event's own when
    // the batch was retried one by one), the looper's fuel.
    let panics = value(
        &all,
        &format!("cameo_operator_failures_total{{{trap},kind=\"panic\"}}"),
    );
    assert!((1.0..=2.0).contains(&panics), "{text}");
    let out_of_fuel = value(
        &all,
        &format!("cameo_operator_failures_total{{{spin},kind=\"out_of_fuel\"}}"),
    );
    assert!((1.0..=2.0).contains(&out_of_fuel), "{text}");
    // The spinning call ran many slices, all but its last ending parked.
    let calls = value(&all, &format!("cameo_operator_calls_total{{{spin}}}"));
    let slices = value(&all, &format!("cameo_operator_slices_total{{{spin}}}"));
    let preemptions = value(&all, &format!("cameo_operator_preemptions_total{{{spin}}}"));
    assert!(slices > calls, "{slices} slices, {calls} calls");
    assert_eq!(preemptions, slices - calls);
    // Call times: a histogram per operator, cumulative, its +Inf bucket the count of calls.
    let buckets: Vec<f64> = matching(&all, "cameo_operator_call_seconds_bucket", &[&spin])
        .iter()
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 17, "{text}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets[16], calls);
    assert_eq!(
        value(
            &all,
            &format!("cameo_operator_call_seconds_count{{{spin}}}")
        ),
        calls
    );
    assert!(value(&all, &format!("cameo_operator_call_seconds_sum{{{spin}}}")) > 0.0);
    // Mailboxes per instance: both instances of the trapper, the looper's one; drained.
    for (operator, instance) in [("trap", "0"), ("trap", "1"), ("spin", "0")] {
        let series = matching(
            &all,
            "cameo_mailbox_events",
            &[
                &format!("operator=\"{operator}\""),
                &format!("instance=\"{instance}\""),
            ],
        );
        assert_eq!(series.len(), 1, "{operator}#{instance}: {text}");
        assert_eq!(series[0].1, 0.0);
    }
    // The job's status names its instances and their mailboxes, and the operators' slices.
    let status = server
        .call("GET", &format!("/v1/jobs/{id}"), Some(&token), b"")
        .json();
    let instances: Vec<(String, u64)> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["mailbox_events"], 0, "{i}");
            (
                i["operator"].as_str().unwrap().to_string(),
                i["instance"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(instances.len(), 3, "{status}");
    for expected in [("trap", 0), ("trap", 1), ("spin", 0)] {
        assert!(
            instances.contains(&(expected.0.to_string(), expected.1)),
            "{status}"
        );
    }
    let operator = &status["summary"]["operators"][format!("{id}/spin")];
    assert_eq!(operator["slices"].as_f64(), Some(slices), "{status}");
    // The spinning call took over a slice: its call time p99 is above 0.
    assert!(
        operator["call_ms"]["p99"].as_f64().unwrap() > 0.0,
        "{status}"
    );
    assert!(text.contains("# TYPE cameo_operator_call_seconds histogram\n"));
    assert!(text.contains("# TYPE cameo_mailbox_bytes gauge\n"));
}
