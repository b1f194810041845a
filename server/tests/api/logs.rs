//! Operator logs over HTTP: read, followed, kept per tenant, bounded.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Server, config, events, http_job};

/// The parsed lines of job `id`'s log after `since`.
fn log_lines(server: &Server, token: &str, id: &str, since: u64) -> Vec<serde_json::Value> {
    let reply = server.call(
        "GET",
        &format!("/v1/jobs/{id}/logs?since={since}"),
        Some(token),
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn logging_job(server: &Server, token: &str) -> String {
    assert_eq!(server.push(token, "hostile", guests::HOSTILE).status, 201);
    server.submit(
        token,
        &http_job("hostile", r#"{ attack = "log", bytes = 8 }"#),
    )
}

fn send(server: &Server, token: &str, id: &str, query: &str, count: u64) {
    let reply = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in{query}"),
        Some(token),
        events(0, count).as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[test]
fn operator_log_lines_are_kept_per_job_and_followed_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    let id = logging_job(&server, &token);
    send(&server, &token, &id, "", 5);
    let mut lines = Vec::new();
    for _ in 0..3000 {
        lines = log_lines(&server, &token, &id, 0);
        if lines.len() >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], i as u64 + 1);
        assert_eq!(line["operator"], "op");
        assert_eq!(line["stream"], "log");
        assert_eq!(line["level"], "info");
        assert_eq!(line["text"], "xxxxxxxx");
    }
    assert!(log_lines(&server, &token, &id, 5).is_empty());

    // Another tenant's token does not see the job's log, nor that the job exists.
    let other = server.tenant("globex", "read");
    let refused = server.call("GET", &format!("/v1/jobs/{id}/logs"), Some(&other), b"");
    assert_eq!(refused.status, 404);
    assert!(refused.error().contains(&format!("there is no job {id}")));
    let bad = server.call(
        "GET",
        &format!("/v1/jobs/{id}/logs?follow=maybe"),
        Some(&token),
        b"",
    );
    assert_eq!(bad.status, 400, "{}", bad.text);

    // Followed: the answer streams what comes next and ends when the job does.
    let follower = {
        let addr = server.addr;
        let token = token.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            let url = format!("http://{addr}/v1/jobs/{id}/logs?since=5&follow=1");
            let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
            agent
                .get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        })
    };
    send(&server, &token, &id, "?end=true", 3);
    assert_eq!(server.wait_done(&token, &id)["state"], "finished");
    let followed: Vec<u64> = follower
        .join()
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(followed, vec![6, 7, 8]);
}

#[test]
fn a_full_log_ring_drops_its_oldest_lines_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.log_segment_bytes = 1000;
    let server = Server::start_with(config);
    let token = server.tenant("acme", "deploy");
    let id = logging_job(&server, &token);
    send(&server, &token, &id, "?end=true", 100);
    assert_eq!(server.wait_done(&token, &id)["state"], "finished");
    let lines = log_lines(&server, &token, &id, 0);
    let first = lines[0]["seq"].as_u64().unwrap();
    assert!(first > 1, "nothing was dropped");
    assert_eq!(lines.last().unwrap()["seq"], 100);
    assert_eq!(lines.len() as u64, 100 - first + 1);
    let total: usize = lines.iter().map(|l| l.to_string().len() + 1).sum();
    assert!(
        total <= 2000,
        "the ring holds {total} bytes, over two segments"
    );
}
