//! Events in and out: back-pressure answers 429 with Retry-After and takes nothing, and
//! every event sent is in the output once.

use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Server, config};

#[test]
fn a_job_behind_answers_429_and_every_event_retried_comes_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.run_options.inlet_capacity = 4096;
    // The `loop` event spins until its fuel runs out, holding the job back meanwhile.
    config.run_options.limits.fuel_per_call = 3_000_000_000;
    let server = Server::start_with(config);
    let token = server.tenant("acme", "operate");
    let deployer = server.token("acme", "deploy");
    assert_eq!(server.push(&deployer, "looper", guests::LOOPER).status, 201);
    let spec = r#"
name = "held"
[[source]]
name = "in"
kind = "http"
[[operator]]
name = "op"
module = "looper"
inputs = ["in"]
[[sink]]
name = "out"
kind = "http"
inputs = ["op"]
"#;
    let id = server.submit(&token, spec);
    let send = |body: &str| {
        server.call(
            "POST",
            &format!("/v1/jobs/{id}/sources/in"),
            Some(&token),
            body.as_bytes(),
        )
    };
    assert_eq!(send("loop\n").status, 200);
    let mut sent = Vec::new();
    let mut refused = None;
    for batch in 0..2000 {
        let body: String = (0..50).map(|i| format!("e{batch}-{i}\n")).collect();
        let reply = send(&body);
        if reply.status == 429 {
            refused = Some((reply, body));
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text);
        sent.push(body);
    }
    let (reply, body) = refused.expect("the job never pushed back");
    assert_eq!(reply.retry_after.as_deref(), Some("1"));
    assert!(
        reply.error().starts_with("the job is behind: ")
            && reply
                .error()
                .ends_with("retry after a moment (nothing of this request was taken)"),
        "{}",
        reply.error()
    );
    // Retry until taken, as a client would.
    loop {
        let reply = send(&body);
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 429, "{}", reply.text);
        std::thread::sleep(Duration::from_millis(50));
    }
    sent.push(body);
    let end = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in?end=true"),
        Some(&token),
        b"",
    );
    assert_eq!(end.status, 200, "{}", end.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let out: Vec<String> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|line| line["value"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = sent
        .iter()
        .flat_map(|body| body.lines().map(str::to_string))
        .collect();
    assert_eq!(
        out, expected,
        "every event once, in order, the looping one failed"
    );
    let seqs: Vec<u64> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|line| line["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..expected.len() as u64).collect::<Vec<_>>());
    let after = server.call(
        "GET",
        &format!("/v1/jobs/{id}/sinks/out?after=9&limit=5"),
        Some(&token),
        b"",
    );
    let seqs: Vec<u64> = after
        .text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [10, 11, 12, 13, 14]);
}
