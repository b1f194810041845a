//! Pause and resume: the job stops at a checkpoint barrier and goes on from it, with nothing
//! lost or repeated.

use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

#[test]
fn a_paused_job_resumes_from_its_checkpoint_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 40 }"#),
    );
    let path = |verb: &str| format!("/v1/jobs/{id}/{verb}");
    let sent = server.call(
        "POST",
        &path("sources/in"),
        Some(&token),
        events(0, 100).as_bytes(),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);

    let paused = server.call("POST", &path("pause"), Some(&token), b"");
    assert_eq!(paused.status, 200, "{}", paused.text);
    assert_eq!(paused.json()["state"], "paused");
    let status = server
        .call("GET", &format!("/v1/jobs/{id}"), Some(&token), b"")
        .json();
    assert_eq!(status["state"], "paused", "{status}");

    // While paused it takes no events, says why, and cannot be paused again.
    let refused = server.call(
        "POST",
        &path("sources/in"),
        Some(&token),
        b"{\"key\":\"k\"}\n",
    );
    assert_eq!(refused.status, 409);
    assert!(
        refused.error().contains("is paused; resume it"),
        "{}",
        refused.error()
    );
    let again = server.call("POST", &path("pause"), Some(&token), b"");
    assert_eq!(again.status, 409);
    assert!(
        again.error().contains("is paused, not running"),
        "{}",
        again.error()
    );

    // A read token may look but not resume.
    let reader = server.token("acme", "read");
    let forbidden = server.call("POST", &path("resume"), Some(&reader), b"");
    assert_eq!(forbidden.status, 403);
    assert!(
        forbidden.error().contains("may not resume jobs"),
        "{}",
        forbidden.error()
    );

    let resumed = server.call("POST", &path("resume"), Some(&token), b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.json()["state"], "running");
    let not_paused = server.call("POST", &path("resume"), Some(&token), b"");
    assert_eq!(not_paused.status, 409);
    assert!(
        not_paused.error().contains("not paused"),
        "{}",
        not_paused.error()
    );

    let mut more = server.call(
        "POST",
        &path("sources/in?end=true"),
        Some(&token),
        events(100, 100).as_bytes(),
    );
    for _ in 0..500 {
        if more.status != 429 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        more = server.call(
            "POST",
            &path("sources/in?end=true"),
            Some(&token),
            events(100, 100).as_bytes(),
        );
    }
    assert_eq!(more.status, 200, "{}", more.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let out = server.tail(&token, &id, "out");
    let seqs: Vec<u64> = out
        .iter()
        .map(|line| line["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..160).collect::<Vec<u64>>(), "a gap or a duplicate");
    let mut values: Vec<u64> = out
        .iter()
        .map(|line| line["value"]["value"].as_u64().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (40..100).chain(100..200).collect::<Vec<u64>>());
}

#[test]
fn a_paused_job_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 40 }"#),
    );
    let pause = server.call("POST", &format!("/v1/jobs/{id}/pause"), Some(&token), b"");
    assert_eq!(pause.status, 200, "{}", pause.text);
    let cancel = server.call("POST", &format!("/v1/jobs/{id}/cancel"), Some(&token), b"");
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    let status = server
        .call("GET", &format!("/v1/jobs/{id}"), Some(&token), b"")
        .json();
    assert_eq!(status["state"], "cancelled");
    let resume = server.call("POST", &format!("/v1/jobs/{id}/resume"), Some(&token), b"");
    assert_eq!(resume.status, 409);
}
