//! Shadow runs over HTTP: a planted difference is reported per key with its first pairs, and
//! stopping the shadow leaves the job's output as it would have been; promoting it upgrades
//! the operator with nothing lost or doubled (checked by `seq`); a version that cannot run
//! the operator is refused with nothing started; a read token may read the report but not
//! start, promote or stop, and another tenant sees no such job; a shadow comes back when its
//! job resumes (after a pause, after a server restart), and its report says it started over.

use std::time::Duration;

use cameo_tests::guests;

use crate::support::{Reply, Server};
use crate::word_counts::{counts_job, send, word, words};

fn shadow(server: &Server, token: &str, id: &str, method: &str, what: &str) -> Reply {
    server.call(
        method,
        &format!("/v1/jobs/{id}/operators/count/shadow{what}"),
        Some(token),
        b"",
    )
}

/// Polls the report until `ready` holds.
fn report_until(
    server: &Server,
    token: &str,
    id: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..6000 {
        let reply = shadow(server, token, id, "GET", "");
        assert_eq!(reply.status, 200, "{}", reply.text);
        let report = reply.json();
        if ready(&report) {
            return report;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the shadow report never got there");
}

/// Checks the job's output: `n` lines, `seq` without gap or duplicate, one per input word in
/// order, each count the one before plus the weight of the version that made it (version 2
/// adds 2); returns how often the version changed.
fn check_output(server: &Server, token: &str, id: &str, n: usize) -> usize {
    let out = server.tail(token, id, "out");
    assert_eq!(
        out.len(),
        n,
        "an output lost, doubled or leaked from the shadow"
    );
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let mut versions = Vec::new();
    for (i, line) in out.iter().enumerate() {
        assert_eq!(line["seq"], i as u64, "a gap or a duplicate");
        let value = &line["value"];
        let version = value["version"].as_u64().unwrap_or(1);
        let w = word(i as u64);
        assert_eq!(value["word"], w.as_str(), "output {i}");
        let count = counts.entry(w).or_default();
        *count += version;
        assert_eq!(value["count"], *count, "output {i}: {line}");
        versions.push(version);
    }
    versions.windows(2).filter(|w| w[0] != w[1]).count()
}

/// The counts of `key` in `report`.
fn key(report: &serde_json::Value, key: &str) -> (u64, u64) {
    let entry = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no key {key} in {report}"));
    (
        entry["matched"].as_u64().unwrap(),
        entry["differing"].as_u64().unwrap(),
    )
}

#[test]
fn a_planted_difference_is_reported_over_http_and_stopping_leaves_the_output_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    let reader = server.token("acme", "read");
    let stranger = server.tenant("other", "admin");
    for path in [guests::WORDCOUNT, guests::WORDCOUNT_SKEW, guests::FILTER] {
        assert_eq!(server.push(&token, "wc", path).status, 201);
    }
    let id = server.submit(&token, &counts_job("wc@1"));
    send(&server, &token, &id, &words(0, 1000), false);

    let none = shadow(&server, &reader, &id, "GET", "");
    assert_eq!(none.status, 404);
    assert_eq!(
        none.error(),
        "operator \"count\" has no shadow run; start one with `cameo job shadow JOB count \
         MODULE@N`"
    );
    let forbidden = shadow(&server, &reader, &id, "POST", "?module=wc@2");
    assert_eq!(forbidden.status, 403);
    assert!(
        forbidden.error().contains("may not start shadow runs"),
        "{}",
        forbidden.error()
    );
    let hidden = shadow(&server, &stranger, &id, "POST", "?module=wc@2");
    assert_eq!(hidden.status, 404);
    assert_eq!(
        hidden.error(),
        format!("there is no job {id}; `cameo job list` shows your jobs")
    );
    // wc@3 is `filter`, whose init needs a `field` the operator's config has not.
    let refused = shadow(&server, &token, &id, "POST", "?module=wc@3");
    assert_eq!(refused.status, 422, "{}", refused.text);
    let error = refused.error();
    assert!(
        error.starts_with("operator \"count\" cannot run wc@3: ")
            && error.contains("refused its config in init")
            && error.ends_with("No shadow was started; the operator still runs wc@1"),
        "{error}"
    );
    assert_eq!(shadow(&server, &reader, &id, "GET", "").status, 404);

    let started = shadow(&server, &token, &id, "POST", "?module=wc@2");
    assert_eq!(started.status, 200, "{}", started.text);
    let started = started.json();
    assert_eq!(
        (started["primary"].as_str(), started["shadow"].as_str()),
        (Some("wc@1"), Some("wc@2"))
    );
    assert_eq!(started["instances_started"], 1, "{started}");
    let twice = shadow(&server, &token, &id, "POST", "?module=wc@2");
    assert_eq!(twice.status, 409);
    send(&server, &token, &id, &words(1000, 2000), false);

    // A read token reads the report.
    let report = report_until(&server, &reader, &id, |r| {
        r["differing"].as_u64() >= Some(100) && r["matched"].as_u64() >= Some(400)
    });
    assert_eq!(shadow(&server, &stranger, &id, "GET", "").status, 404);
    assert_eq!(shadow(&server, &reader, &id, "POST", "/stop").status, 403);
    assert_eq!(
        shadow(&server, &reader, &id, "POST", "/promote").status,
        403
    );
    assert_eq!(key(&report, "w3").0, 0, "{report}");
    for other in ["w0", "w1", "w2", "w4"] {
        let (matched, differing) = key(&report, other);
        assert!(matched > 0 && differing == 0, "{other}: {report}");
    }
    let first = &report["differences"][0];
    assert_eq!(first["key"], "w3", "{report}");
    let value = |side: &str| -> serde_json::Value {
        serde_json::from_str(first[side]["value"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        value("shadow")["count"].as_u64().unwrap(),
        value("primary")["count"].as_u64().unwrap() * 10
    );
    for version in ["primary", "shadow"] {
        let cost = &report["cost"][version];
        assert!(cost["fuel_per_event"].as_f64().unwrap() > 0.0, "{report}");
        assert!(cost["us_per_event"].as_f64().unwrap() > 0.0, "{report}");
        assert!(cost["call_us"]["p99"].as_u64().is_some(), "{report}");
    }

    let stopped = shadow(&server, &token, &id, "POST", "/stop");
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.json()["stopped"], "stopped by the user");
    let again = shadow(&server, &token, &id, "POST", "/stop");
    assert_eq!(again.status, 404);
    assert_eq!(
        again.error(),
        "operator \"count\" has no shadow running; start one with `cameo job shadow JOB count \
         MODULE@N`"
    );
    send(&server, &token, &id, &words(3000, 1000), true);
    let done = server.wait_done(&token, &id);
    assert_eq!(done["state"], "finished", "{done}");
    assert_eq!(check_output(&server, &token, &id, 4000), 0);
}

#[test]
fn a_promoted_shadow_upgrades_the_operator_over_http_with_nothing_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    for path in [guests::WORDCOUNT, guests::WORDCOUNT_V2] {
        assert_eq!(server.push(&token, "wc", path).status, 201);
    }
    let id = server.submit(&token, &counts_job("wc@1"));
    send(&server, &token, &id, &words(0, 1000), false);
    let started = shadow(&server, &token, &id, "POST", "?module=wc@2");
    assert_eq!(started.status, 200, "{}", started.text);
    send(&server, &token, &id, &words(1000, 2000), false);
    report_until(&server, &token, &id, |r| {
        r["differing"].as_u64() >= Some(100)
    });

    let promoted = shadow(&server, &token, &id, "POST", "/promote");
    assert_eq!(promoted.status, 200, "{}", promoted.text);
    let promoted = promoted.json();
    assert_eq!(
        (promoted["from"].as_str(), promoted["to"].as_str()),
        (Some("wc@1"), Some("wc@2"))
    );
    let report = shadow(&server, &token, &id, "GET", "").json();
    assert_eq!(
        report["stopped"],
        format!(
            "promoted: the operator runs wc@2 from checkpoint {}",
            promoted["checkpoint"]
        )
    );
    let status = server
        .call("GET", &format!("/v1/jobs/{id}"), Some(&token), b"")
        .json();
    let changes: Vec<&str> = status["operators"]["count"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["submitted", "promoted"], "{status}");
    assert_eq!(shadow(&server, &token, &id, "POST", "/promote").status, 404);

    send(&server, &token, &id, &words(3000, 1000), true);
    let done = server.wait_done(&token, &id);
    assert_eq!(done["state"], "finished", "{done}");
    assert_eq!(
        check_output(&server, &token, &id, 4000),
        1,
        "one switch, to wc@2"
    );
}

/// Polls the report until it answers 200 and `ready` holds.
fn restarted_report(
    server: &Server,
    token: &str,
    id: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..6000 {
        let reply = shadow(server, token, id, "GET", "");
        if reply.status == 200 && ready(&reply.json()) {
            return reply.json();
        }
        assert!(
            reply.status == 200 || reply.status == 409,
            "{} {}",
            reply.status,
            reply.text
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the shadow never came back with its job");
}

#[test]
fn a_shadow_comes_back_when_its_job_resumes_and_its_report_says_it_started_over() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    for path in [guests::WORDCOUNT, guests::WORDCOUNT_SKEW] {
        assert_eq!(server.push(&token, "wc", path).status, 201);
    }
    let id = server.submit(&token, &counts_job("wc@1"));
    let job = |what: &str| format!("/v1/jobs/{id}/{what}");
    send(&server, &token, &id, &words(0, 1000), false);
    let started = shadow(&server, &token, &id, "POST", "?module=wc@2");
    assert_eq!(started.status, 200, "{}", started.text);
    let first_checkpoint = started.json()["checkpoint"].as_u64().unwrap();
    send(&server, &token, &id, &words(1000, 1000), false);
    let report = report_until(&server, &token, &id, |r| {
        r["differing"].as_u64() >= Some(50)
    });
    assert_eq!(report["restarts"], serde_json::json!([]), "{report}");
    assert_eq!(report["note"], serde_json::Value::Null, "{report}");

    // Paused, the job has no report to give, and says the shadow comes back.
    let paused = server.call("POST", &job("pause"), Some(&token), b"");
    assert_eq!(paused.status, 200, "{}", paused.text);
    let while_paused = shadow(&server, &token, &id, "GET", "");
    assert_eq!(while_paused.status, 409);
    assert_eq!(
        while_paused.error(),
        format!(
            "job {id} is paused, not running; a shadow's report lives as long as the job runs \
             (its shadow starts again when the job resumes)"
        )
    );
    let resumed = server.call("POST", &job("resume"), Some(&token), b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    let report = restarted_report(&server, &token, &id, |r| {
        r["restarts"].as_array().is_some_and(|a| a.len() == 1) && r["instances_started"] == 1
    });
    let restart = &report["restarts"][0];
    assert_eq!(restart["error"], serde_json::Value::Null, "{report}");
    let second_checkpoint = restart["checkpoint"].as_u64().unwrap();
    assert!(second_checkpoint > first_checkpoint, "{report}");
    assert_eq!(report["from_checkpoint"], second_checkpoint, "{report}");
    assert_eq!(report["stopped"], serde_json::Value::Null, "{report}");
    let note = report["note"].as_str().unwrap();
    assert!(
        note.starts_with(&format!(
            "the job resumed 1 time(s) since this shadow first started at checkpoint \
             {first_checkpoint}"
        )) && note.contains(&format!("(last at checkpoint {second_checkpoint})")),
        "{note}"
    );
    // It compares again, from its new copy of the state: w3 still differs, the rest match.
    send(&server, &token, &id, &words(2000, 1000), false);
    let report = report_until(&server, &token, &id, |r| {
        r["differing"].as_u64() >= Some(50) && r["matched"].as_u64() >= Some(200)
    });
    assert_eq!(key(&report, "w3").0, 0, "{report}");
    assert_eq!(key(&report, "w1").1, 0, "{report}");

    // A server restart resumes the job, and the shadow with it, once more.
    server.stop();
    let server = Server::start(dir.path());
    let report = restarted_report(&server, &token, &id, |r| {
        r["restarts"].as_array().is_some_and(|a| a.len() == 2) && r["instances_started"] == 1
    });
    assert!(
        report["note"]
            .as_str()
            .unwrap()
            .starts_with("the job resumed 2 time(s)"),
        "{report}"
    );

    // Stopped, it is forgotten: the next resume runs without it.
    assert_eq!(shadow(&server, &token, &id, "POST", "/stop").status, 200);
    let paused = server.call("POST", &job("pause"), Some(&token), b"");
    assert_eq!(paused.status, 200, "{}", paused.text);
    let resumed = server.call("POST", &job("resume"), Some(&token), b"");
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    let none = shadow(&server, &token, &id, "GET", "");
    assert_eq!(none.status, 404, "{}", none.text);

    send(&server, &token, &id, &words(3000, 1000), true);
    let done = server.wait_done(&token, &id);
    assert_eq!(done["state"], "finished", "{done}");
    assert_eq!(
        check_output(&server, &token, &id, 4000),
        0,
        "the shadow's output never reached the job's"
    );
}
