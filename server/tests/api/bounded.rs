//! A long-running job's inlet and outlet stay bounded on disk: segments no kept checkpoint
//! needs (and, of an outlet, past the tail it keeps) are deleted, and a job resumed after a
//! restart goes on from what is kept, with no gap and no duplicate.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Server, config, events, http_job};

/// Bytes of the files in `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The sink's lines after `after` (all for `None`), and the oldest seq it keeps.
fn tail_after(
    server: &Server,
    token: &str,
    id: &str,
    after: Option<u64>,
) -> (Vec<serde_json::Value>, Option<u64>) {
    let query = after.map_or(String::new(), |seq| format!("?after={seq}"));
    let reply = server.call(
        "GET",
        &format!("/v1/jobs/{id}/sinks/out{query}"),
        Some(token),
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let lines = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, reply.first_seq)
}

#[test]
fn inlets_and_outlets_keep_only_what_checkpoints_and_readers_need_and_resume_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.run_options.inlet_segment_bytes = 4096;
    config.run_options.outlet_keep_bytes = 8192;
    let server = Server::start_with(config.clone());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 0 }"#),
    );
    let source = format!("/v1/jobs/{id}/sources/in");
    let inlet_dir = dir.path().join("host").join("inlets").join(&id);
    let outlet_dir = dir.path().join("host").join("outlets").join(&id);

    // About 100 KB sent in 2 KB batches, each batch read from the sink before the next is
    // sent.
    let mut sent = 0;
    let mut out: Vec<serde_json::Value> = Vec::new();
    let last = |out: &[serde_json::Value]| out.last().map(|l| l["seq"].as_u64().unwrap());
    for batch in 0..50 {
        let body = events(batch * 50, 50);
        sent += body.len() as u64;
        let reply = server.call("POST", &source, Some(&token), body.as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.text);
        while out.len() < (batch as usize + 1) * 50 {
            out.extend(tail_after(&server, &token, &id, last(&out)).0);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Checkpoints go on every 100 ms; once three more are written the segments before the
    // oldest of them go.
    let bounded = |dir: &Path, most: u64| {
        let mut kept = bytes_in(dir);
        for _ in 0..1000 {
            if kept < most {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            kept = bytes_in(dir);
        }
        kept
    };
    let kept = bounded(&inlet_dir, 16 * 1024);
    assert!(
        kept < 16 * 1024,
        "the inlet keeps {kept} of the {sent} bytes sent"
    );
    let kept = bounded(&outlet_dir, 16 * 1024);
    assert!(kept < 16 * 1024, "the outlet keeps {kept} bytes");
    let (tail, first) = tail_after(&server, &token, &id, None);
    let first = first.expect("the sink says where its kept output starts");
    assert!(first > 0, "the oldest output was released");
    assert_eq!(tail[0]["seq"], first);
    assert_eq!(last(&tail), Some(2499));

    // A restart resumes from the kept segments.
    server.stop();
    let server = Server::start_with(config);
    let end = format!("{source}?end=true");
    let reply = server.call("POST", &end, Some(&token), events(2500, 100).as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    out.extend(tail_after(&server, &token, &id, last(&out)).0);
    let seqs: Vec<u64> = out.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..2600).collect::<Vec<u64>>(),
        "a gap or a duplicate"
    );
    let values: Vec<u64> = out
        .iter()
        .map(|l| l["value"]["value"].as_u64().unwrap())
        .collect();
    assert_eq!(values, (0..2600).collect::<Vec<u64>>());
}
