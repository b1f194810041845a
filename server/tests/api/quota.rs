//! Quotas: modules, bytes stored, running jobs, operator instances and the ingest rate each
//! refuse with their numbers; the server's admin changes them per tenant.

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

/// Makes tenant `name` with `quotas` (JSON) and a deploy token for it.
fn tenant_with(server: &Server, name: &str, quotas: &str) -> String {
    let admin = server.admin_token();
    let body = format!(r#"{{"name":"{name}","quotas":{quotas}}}"#);
    let made = server.call("POST", "/v1/tenants", Some(&admin), body.as_bytes());
    assert_eq!(made.status, 201, "{}", made.text);
    server.token(name, "deploy")
}

/// Changes `name`'s quotas as the server's admin; returns the tenant.
fn set_quotas(server: &Server, name: &str, change: &str) -> serde_json::Value {
    let admin = server.admin_token();
    let reply = server.call(
        "PUT",
        &format!("/v1/tenants/{name}/quotas"),
        Some(&admin),
        change.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

#[test]
fn quotas_on_modules_bytes_jobs_and_instances_refuse_with_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = tenant_with(
        &server,
        "small",
        r#"{"modules": 1, "running_jobs": 1, "instances": 2}"#,
    );

    // Modules.
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let second = server.push(&token, "looper", guests::LOOPER);
    assert_eq!(second.status, 403, "{}", second.text);
    assert!(
        second
            .error()
            .contains("tenant \"small\" holds 1 modules, its quota is 1"),
        "{}",
        second.error()
    );

    // Bytes stored: room for the filter and ten bytes more.
    let filter_bytes = std::fs::metadata(guests::FILTER).unwrap().len();
    let looper_bytes = std::fs::metadata(guests::LOOPER).unwrap().len();
    let tenant = set_quotas(
        &server,
        "small",
        &format!(r#"{{"modules": 5, "bytes": {}}}"#, filter_bytes + 10),
    );
    assert_eq!(tenant["quotas"]["modules"], 5);
    assert_eq!(tenant["quotas"]["running_jobs"], 1, "the others stay");
    let over = server.push(&token, "looper", guests::LOOPER);
    assert_eq!(over.status, 403, "{}", over.text);
    assert!(
        over.error().contains(&format!(
            "tenant \"small\" stores {filter_bytes} bytes of modules and this one has \
             {looper_bytes}, over its quota of {} bytes",
            filter_bytes + 10
        )),
        "{}",
        over.error()
    );

    // Running jobs.
    let spec = http_job("filter", r#"{ field = "value", min = 0 }"#);
    server.submit(&token, &spec);
    let refused = server.call("POST", "/v1/jobs", Some(&token), spec.as_bytes());
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused
            .error()
            .contains("tenant \"small\" runs 1 jobs, its quota is 1"),
        "{}",
        refused.error()
    );

    // Operator instances: one runs, the next job has two, the quota is two.
    set_quotas(&server, "small", r#"{"running_jobs": 5}"#);
    let wide = spec.replace("inputs = [\"in\"]", "inputs = [\"in\"]\nparallelism = 2");
    let refused = server.call("POST", "/v1/jobs", Some(&token), wide.as_bytes());
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused.error().contains(
            "tenant \"small\" runs 1 operator instances and this job has 2, over its quota of 2"
        ),
        "{}",
        refused.error()
    );
    set_quotas(&server, "small", r#"{"instances": 3}"#);
    assert_eq!(
        server
            .call("POST", "/v1/jobs", Some(&token), wide.as_bytes())
            .status,
        201
    );

    // Only the server's admin changes quotas, of a tenant that exists, with known fields.
    let own = server.call(
        "PUT",
        "/v1/tenants/small/quotas",
        Some(&token),
        br#"{"modules": 1000}"#,
    );
    assert_eq!(own.status, 403, "{}", own.text);
    let admin = server.admin_token();
    let missing = server.call(
        "PUT",
        "/v1/tenants/nobody/quotas",
        Some(&admin),
        br#"{"modules": 1}"#,
    );
    assert_eq!(missing.status, 404);
    assert!(missing.error().contains("there is no tenant \"nobody\""));
    let bad = server.call(
        "PUT",
        "/v1/tenants/small/quotas",
        Some(&admin),
        br#"{"moduls": 1}"#,
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.error().contains("the body is not a quota change"),
        "{}",
        bad.error()
    );
}

#[test]
fn the_ingest_rate_refuses_with_its_numbers_and_retry_after_and_takes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = tenant_with(&server, "slow", r#"{"events_per_s": 100}"#);
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 0 }"#),
    );
    let path = format!("/v1/jobs/{id}/sources/in");
    let send = |body: &str| server.call("POST", &path, Some(&token), body.as_bytes());

    // One second of the rate goes in; ten more events right after do not.
    assert_eq!(send(&events(0, 100)).status, 200);
    let refused = send(&events(100, 10));
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    assert!(
        refused.error().contains(
            "tenant \"slow\" may send 100 events and 268435456 bytes per second to its jobs; \
             this batch of 10 events and"
        ),
        "{}",
        refused.error()
    );
    assert!(refused.error().contains("nothing was taken"));

    // A larger rate applies at once; then a bytes rate: a batch over one second of it goes
    // into a full bucket, and the next waits for what it owes.
    set_quotas(&server, "slow", r#"{"events_per_s": 1000000}"#);
    assert_eq!(send(&events(100, 10)).status, 200);
    set_quotas(&server, "slow", r#"{"bytes_per_s": 100}"#);
    let big = events(110, 10);
    assert!(big.len() > 200);
    assert_eq!(send(&big).status, 200);
    let owed = send(&events(120, 1));
    assert_eq!(owed.status, 429, "{}", owed.text);
    let wait: u64 = owed.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait >= 2, "owes over a second of bytes: {wait}");
    assert!(
        owed.error()
            .contains("may send 1000000 events and 100 bytes per second"),
        "{}",
        owed.error()
    );

    // What was refused was not taken.
    set_quotas(&server, "slow", r#"{"bytes_per_s": 1000000}"#);
    assert_eq!(
        server
            .call("POST", &format!("{path}?end=true"), Some(&token), b"")
            .status,
        200
    );
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let mut values: Vec<u64> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|line| line["value"]["value"].as_u64().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..120).collect::<Vec<u64>>());
}
