//! The web console: its embedded files are served, `/v1/whoami` tells the page which tenant
//! and role it signed in as, and a job's status and series carry what its page draws.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

#[test]
fn the_console_is_served_and_whoami_names_the_tokens_tenant_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let page = server.call("GET", "/", None, b"");
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<title>cameo</title>"), "{}", page.text);
    for file in ["app.js", "chart.js", "graph.js", "job.js"] {
        let tag = format!(r#"<script src="/console/{file}">"#);
        assert!(page.text.contains(&tag), "the page loads {file}");
        let script = server.call("GET", &format!("/console/{file}"), None, b"");
        assert_eq!(script.status, 200, "{file}");
    }
    let script = server.call("GET", "/console/app.js", None, b"");
    assert!(script.text.contains("/v1/whoami"));
    assert!(
        script.text.contains("cameo.can = (role)"),
        "actions are shown by role"
    );
    assert_eq!(
        server.call("GET", "/console/style.css", None, b"").status,
        200
    );
    let missing = server.call("GET", "/console/nothere.js", None, b"");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.error(),
        "the console has no file \"nothere.js\"; open the console at /"
    );

    let reader = server.tenant("acme", "read");
    let who = server.call("GET", "/v1/whoami", Some(&reader), b"");
    assert_eq!(who.status, 200, "{}", who.text);
    assert_eq!(
        who.json(),
        serde_json::json!({"tenant": "acme", "role": "read"})
    );
    assert_eq!(server.call("GET", "/v1/whoami", None, b"").status, 401);
}

#[test]
fn a_running_jobs_series_gains_a_sample_a_second_and_its_status_has_its_graph() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    let reader = server.token("acme", "read");
    let stranger = server.tenant("other", "admin");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 0 }"#),
    );
    let reply = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in"),
        Some(&token),
        events(0, 300).as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);

    let status = server.call("GET", &format!("/v1/jobs/{id}"), Some(&reader), b"");
    let graph = &status.json()["graph"];
    assert_eq!(
        graph["edges"],
        serde_json::json!([{"from": "in", "to": "op"}, {"from": "op", "to": "out"}])
    );
    let kinds: Vec<_> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("in", "source"), ("op", "operator"), ("out", "sink")]
    );

    // Samples come once a second; wait (generously) for one that saw the events.
    let series = |after: u64| {
        let reply = server.call(
            "GET",
            &format!("/v1/jobs/{id}/series?after={after}"),
            Some(&reader),
            b"",
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    };
    let mut seen = Vec::new();
    for _ in 0..600 {
        let answer = series(0);
        assert_eq!(answer["interval_ms"], 1000);
        seen = answer["samples"].as_array().unwrap().clone();
        let events_out: u64 = seen.iter().map(|s| s["events_out"].as_u64().unwrap()).sum();
        if events_out == 300 && seen.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let events_in: u64 = seen.iter().map(|s| s["events_in"].as_u64().unwrap()).sum();
    assert_eq!(events_in, 300, "events in over {} samples", seen.len());
    let busy = seen
        .iter()
        .find(|s| s["operators"]["op"]["events"].as_u64().unwrap() > 0)
        .unwrap();
    let op = &busy["operators"]["op"];
    assert!(op["calls"].as_u64().unwrap() > 0, "{op}");
    assert!(op["fuel_per_event"].as_f64().unwrap() > 0.0, "{op}");
    assert!(op["call_ms"]["p99"].as_f64().unwrap() > 0.0, "{op}");
    assert!(busy["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{busy}");
    let times: Vec<u64> = seen.iter().map(|s| s["t_ms"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let last = *times.last().unwrap();
    let later = series(last)["samples"].as_array().unwrap().clone();
    assert!(later.iter().all(|s| s["t_ms"].as_u64().unwrap() > last));

    let theirs = server.call(
        "GET",
        &format!("/v1/jobs/{id}/series"),
        Some(&stranger),
        b"",
    );
    assert_eq!(theirs.status, 404, "another tenant's job is not found");
    assert_eq!(
        server
            .call("GET", &format!("/v1/jobs/{id}/series"), None, b"")
            .status,
        401
    );
}
