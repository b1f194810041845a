//! A long-running job's inlet stays bounded on disk: segments no kept checkpoint needs are
//! deleted, and a job resumed after a restart reads on from what is kept, with no gap and no
//! duplicate.

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

#[test]
fn an_inlet_keeps_only_what_its_checkpoints_need_and_resumes_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.run_options.inlet_segment_bytes = 4096;
    let server = Server::start_with(config.clone());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 0 }"#),
    );
    let source = format!("/v1/jobs/{id}/sources/in");
    let inlet_dir = dir.path().join("host").join("inlets").join(&id);

    // About 100 KB sent in 2 KB batches, each batch in before the next is sent.
    let mut sent = 0;
    for batch in 0..50 {
        let body = events(batch * 50, 50);
        sent += body.len() as u64;
        let reply = server.call("POST", &source, Some(&token), body.as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.text);
        while server.tail(&token, &id, "out").len() < (batch as usize + 1) * 50 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Checkpoints go on every 100 ms; once three more are written the segments before the
    // oldest of them go.
    let mut kept = bytes_in(&inlet_dir);
    for _ in 0..1000 {
        if kept < 16 * 1024 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        kept = bytes_in(&inlet_dir);
    }
    assert!(
        kept < 16 * 1024,
        "the inlet keeps {kept} of the {sent} bytes sent"
    );

    // A restart resumes from the kept segments.
    server.stop();
    let server = Server::start_with(config);
    let end = format!("{source}?end=true");
    let reply = server.call("POST", &end, Some(&token), events(2500, 100).as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let out = server.tail(&token, &id, "out");
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
