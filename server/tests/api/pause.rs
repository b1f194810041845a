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

#[test]
fn sends_while_a_job_pauses_are_taken_or_refused_whole_and_nothing_taken_is_lost() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Server::start(dir.path()));
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(
        &token,
        &http_job("filter", r#"{ field = "value", min = 0 }"#),
    );
    let source = format!("/v1/jobs/{id}/sources/in");

    // A sender posts batches of ten until told to stop, keeping those taken.
    let (stop, taken, refused) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let sender = {
        let (server, token, source) = (Arc::clone(&server), token.clone(), source.clone());
        let (stop, taken, refused) = (Arc::clone(&stop), Arc::clone(&taken), Arc::clone(&refused));
        std::thread::spawn(move || {
            let mut accepted = Vec::new();
            let mut batch = 0;
            while !stop.load(Ordering::Acquire) && batch < 2000 {
                let reply = server.call(
                    "POST",
                    &source,
                    Some(&token),
                    events(batch * 10, 10).as_bytes(),
                );
                match reply.status {
                    200 => {
                        accepted.extend(batch * 10..batch * 10 + 10);
                        taken.fetch_add(1, Ordering::Release);
                    }
                    409 => {
                        assert!(
                            reply.error().contains(&"is paused; resume it".to_string()),
                            "{}",
                            reply.error()
                        );
                        assert!(reply.error().contains("nothing of this request was taken"));
                        refused.fetch_add(1, Ordering::Release);
                    }
                    429 => {}
                    other => panic!("{other}: {}", reply.text),
                }
                batch += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            accepted
        })
    };
    while taken.load(Ordering::Acquire) < 5 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let paused = server.call("POST", &format!("/v1/jobs/{id}/pause"), Some(&token), b"");
    assert_eq!(paused.status, 200, "{}", paused.text);
    while refused.load(Ordering::Acquire) < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Release);
    let accepted = sender.join().unwrap();

    let resumed = server.call("POST", &format!("/v1/jobs/{id}/resume"), Some(&token), b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    let end = server.call("POST", &format!("{source}?end=true"), Some(&token), b"");
    assert_eq!(end.status, 200, "{}", end.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let out = server.tail(&token, &id, "out");
    let seqs: Vec<u64> = out.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..accepted.len() as u64).collect::<Vec<u64>>());
    let mut values: Vec<u64> = out
        .iter()
        .map(|l| l["value"]["value"].as_u64().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, accepted, "every event taken comes out once");
}
