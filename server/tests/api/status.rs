//! A job's status per operator and per instance: events in and out, end-to-end latency to
//! each operator, deadline misses, fuel, failures, restarts and mailboxes; and a sink
//! followed over one streamed answer.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::BufRead as _;

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

fn sum(rows: &[serde_json::Value], field: &str) -> u64 {
    rows.iter().map(|row| row[field].as_u64().unwrap()).sum()
}

#[test]
fn status_has_figures_per_operator_and_per_instance_while_running_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let spec = http_job("filter", r#"{ field = "value", min = 40 }"#)
        .replace("inputs = [\"in\"]", "inputs = [\"in\"]\nparallelism = 2");
    let id = server.submit(&token, &spec);
    let send = |body: &str, end: bool| {
        let reply = server.call(
            "POST",
            &format!("/v1/jobs/{id}/sources/in?end={end}"),
            Some(&token),
            body.as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
    };
    send(&events(0, 50), false);

    // While it runs: every instance is listed with its mailbox, and figures once it called.
    let running = loop {
        let status = server
            .call("GET", &format!("/v1/jobs/{id}"), Some(&token), b"")
            .json();
        let instances = status["instances"].as_array().unwrap().clone();
        if sum(&instances, "events") == 50 {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let instances = running["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{running}");
    for (n, instance) in instances.iter().enumerate() {
        assert_eq!(instance["operator"], "op", "{instance}");
        assert_eq!(instance["instance"], n as u64, "{instance}");
        assert!(instance["mailbox_events"].is_u64(), "{instance}");
        assert!(instance["mailbox_bytes"].is_u64(), "{instance}");
    }

    send(&events(50, 50), true);
    let done = server.wait_done(&token, &id);
    assert_eq!(done["state"], "finished", "{done}");
    let op = &done["summary"]["operators"][format!("{id}/op")];
    // 60 of 0..100 are at least 40.
    assert_eq!(
        (op["events"].as_u64(), op["events_out"].as_u64()),
        (Some(100), Some(60)),
        "{op}"
    );
    assert!(op["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{op}");
    assert!(op["latency_ms"]["p50"].as_f64().unwrap() <= op["latency_ms"]["p99"].as_f64().unwrap());
    assert!(op["fuel_per_event"].as_u64().unwrap() > 0, "{op}");
    assert!(op["deadline_misses"].is_u64(), "{op}");
    assert!(op["late_after_call"].is_u64(), "{op}");

    // After it ended, the instances' figures are kept with the job (no mailboxes then); they
    // add up to the operator's.
    let instances = done["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{done}");
    assert_eq!(sum(instances, "events"), 100);
    assert_eq!(sum(instances, "events_out"), 60);
    assert_eq!(sum(instances, "fuel"), op["fuel"].as_u64().unwrap());
    assert_eq!(sum(instances, "calls"), op["calls"].as_u64().unwrap());
    assert_eq!(
        sum(instances, "late_after_call"),
        op["late_after_call"].as_u64().unwrap()
    );
    assert_eq!(
        (sum(instances, "failures"), sum(instances, "restarts")),
        (0, 0)
    );
    for instance in instances {
        assert!(instance["mailbox_events"].is_null(), "{instance}");
        assert!(
            instance["latency_ms"]["p99"].as_f64().unwrap() > 0.0,
            "{instance}"
        );
        assert!(
            instance["call_ms"]["max"].as_f64().unwrap() > 0.0,
            "{instance}"
        );
    }
}

#[test]
fn a_followed_sink_streams_output_sent_after_it_was_asked_and_ends_with_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 0 }"#),
    );
    let send = |body: &str, end: bool| {
        let reply = server.call(
            "POST",
            &format!("/v1/jobs/{id}/sources/in?end={end}"),
            Some(&token),
            body.as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
    };
    send(&events(0, 30), false);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!(
        "http://{}/v1/jobs/{id}/sinks/out?follow=1&after=9",
        server.addr
    );
    let request = ureq::http::Request::builder()
        .uri(url)
        .header("Authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let response = agent.run(request).unwrap();
    assert_eq!(response.status(), 200);
    let reader = response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader();
    let mut lines = std::io::BufReader::new(reader).lines();
    let mut seqs = Vec::new();
    // What was there and what the job delivers after the request, on the same answer.
    while seqs.len() < 20 {
        let line: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        seqs.push(line["seq"].as_u64().unwrap());
    }
    send(&events(30, 30), true);
    for line in lines {
        let line: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        seqs.push(line["seq"].as_u64().unwrap());
    }
    // The answer ended by itself once the job finished.
    assert_eq!(seqs, (10..60).collect::<Vec<u64>>());
    assert_eq!(server.wait_done(&token, &id)["state"], "finished");

    // Another tenant cannot follow it.
    let other = server.tenant("other", "read");
    let reply = server.call(
        "GET",
        &format!("/v1/jobs/{id}/sinks/out?follow=1"),
        Some(&other),
        b"",
    );
    assert_eq!(reply.status, 404, "{}", reply.text);
    let reply = server.call(
        "GET",
        &format!("/v1/jobs/{id}/sinks/out?follow=yes"),
        Some(&token),
        b"",
    );
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.text.contains("follow must be 1 or 0"),
        "{}",
        reply.text
    );
}
