//! Replay on a resume: a paused job's http source reads its input again from the line asked
//! for, on top of the state of the checkpoint it paused at, with the output's `seq` going on.

use std::time::Duration;

use cameo_tests::guests;

use crate::support::Server;

fn counts_job() -> &'static str {
    r#"
name = "counts"
[[source]]
name = "in"
kind = "http"
format = "ndjson"
[[operator]]
name = "count"
module = "wc"
inputs = ["in"]
[[sink]]
name = "out"
kind = "http"
inputs = ["count"]
"#
}

fn word(i: u64) -> String {
    format!("w{}", i % 3)
}

fn words(first: u64, count: u64) -> String {
    (first..first + count)
        .map(|i| format!("{{\"text\":\"{}\"}}\n", word(i)))
        .collect()
}

#[test]
fn a_resumed_job_replays_its_http_input_from_the_line_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "wc", guests::WORDCOUNT).status, 201);
    let id = server.submit(&token, counts_job());
    let path = |verb: &str| format!("/v1/jobs/{id}/{verb}");
    let sent = server.call(
        "POST",
        &path("sources/in"),
        Some(&token),
        words(0, 100).as_bytes(),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let paused = server.call("POST", &path("pause"), Some(&token), b"");
    assert_eq!(paused.status, 200, "{}", paused.text);

    let by_time = server.call("POST", &path("resume?from_time=5"), Some(&token), b"");
    assert_eq!(by_time.status, 422, "{}", by_time.text);
    assert!(
        by_time
            .error()
            .starts_with("source \"in\" has no event_time_field"),
        "{}",
        by_time.error()
    );
    let resumed = server.call("POST", &path("resume?from_offset=0"), Some(&token), b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.json()["state"], "running");
    let mut more = server.call(
        "POST",
        &path("sources/in?end=true"),
        Some(&token),
        words(100, 100).as_bytes(),
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
            words(100, 100).as_bytes(),
        );
    }
    assert_eq!(more.status, 200, "{}", more.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");

    // What was counted before the pause's checkpoint (the first `before` lines), then every
    // line again from the first, counted on top of it.
    let out = server.tail(&token, &id, "out");
    let before = out.len() as u64 - 200;
    assert!(before <= 100, "{} outputs", out.len());
    let replayed = (0..before).chain(0..200);
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for (seq, (line, i)) in out.iter().zip(replayed).enumerate() {
        assert_eq!(line["seq"], seq as u64, "a gap or a duplicate");
        let count = counts.entry(word(i)).or_default();
        *count += 1;
        assert_eq!(line["value"]["word"], word(i).as_str(), "{line}");
        assert_eq!(line["value"]["count"], *count, "{line}");
    }
}

#[test]
fn a_job_submitted_with_a_replay_starts_its_http_input_from_the_line_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "wc", guests::WORDCOUNT).status, 201);

    let by_time = server.call(
        "POST",
        "/v1/jobs?from_time=5",
        Some(&token),
        counts_job().as_bytes(),
    );
    assert_eq!(by_time.status, 422, "{}", by_time.text);
    assert!(
        by_time
            .error()
            .starts_with("source \"in\" has no event_time_field"),
        "{}",
        by_time.error()
    );
    let listed = server.call("GET", "/v1/jobs", Some(&token), b"").json();
    assert_eq!(
        listed,
        serde_json::json!([]),
        "a refused replay makes no job"
    );

    let submitted = server.call(
        "POST",
        "/v1/jobs?from_offset=40",
        Some(&token),
        counts_job().as_bytes(),
    );
    assert_eq!(submitted.status, 201, "{}", submitted.text);
    let id = submitted.json()["id"].as_str().unwrap().to_string();
    let sent = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in?end=true"),
        Some(&token),
        words(0, 100).as_bytes(),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let done = server.wait_done(&token, &id);
    assert_eq!(done["state"], "finished", "{done}");
    // Lines 40 to 99, counted from nothing: the first 40 were left out.
    let out = server.tail(&token, &id, "out");
    assert_eq!(out.len(), 60);
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for (line, i) in out.iter().zip(40..) {
        let w = word(i);
        let count = counts.entry(w.clone()).or_default();
        *count += 1;
        assert_eq!(line["value"]["word"], w.as_str(), "{line}");
        assert_eq!(line["value"]["count"], *count, "{line}");
    }
}
