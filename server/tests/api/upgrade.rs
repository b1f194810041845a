//! Upgrading and rolling back a running job's operator over HTTP: the counts carry over, the
//! output is what a run that changed logic at each switch would give (checked by `seq`), a
//! version whose init refuses the config is refused with nothing changed, and the status
//! shows the version each operator runs and its history.

use cameo_tests::guests;

use crate::support::{Reply, Server};
use crate::word_counts::{counts_job, send, word, words};

fn status(server: &Server, token: &str, id: &str) -> serde_json::Value {
    server
        .call("GET", &format!("/v1/jobs/{id}"), Some(token), b"")
        .json()
}

fn change(server: &Server, token: &str, id: &str, what: &str) -> Reply {
    server.call(
        "POST",
        &format!("/v1/jobs/{id}/operators/{what}"),
        Some(token),
        b"",
    )
}

#[test]
fn an_operator_is_upgraded_and_rolled_back_under_load_with_nothing_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    for path in [guests::WORDCOUNT, guests::WORDCOUNT_V2, guests::FILTER] {
        assert_eq!(server.push(&token, "wc", path).status, 201);
    }
    let id = server.submit(&token, &counts_job("wc@1"));
    send(&server, &token, &id, &words(0, 3000), false);

    let up = change(&server, &token, &id, "count/upgrade?module=wc@2");
    assert_eq!(up.status, 200, "{}", up.text);
    let up = up.json();
    assert_eq!(
        (up["from"].as_str(), up["to"].as_str()),
        (Some("wc@1"), Some("wc@2"))
    );
    let now = status(&server, &token, &id);
    let operator = &now["operators"]["count"];
    assert_eq!(operator["module"], "wc@2", "{now}");
    assert_eq!(operator["running"], serde_json::json!(["wc@2"]), "{now}");
    let history: Vec<(&str, &str)> = operator["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["module"].as_str().unwrap(), c["change"].as_str().unwrap()))
        .collect();
    assert_eq!(history, [("wc@1", "submitted"), ("wc@2", "upgraded")]);
    assert_eq!(operator["history"][1]["checkpoint"], up["checkpoint"]);

    // wc@3 is `filter`, whose init needs a `field` the operator's config has not.
    let refused = change(&server, &token, &id, "count/upgrade?module=wc@3");
    assert_eq!(refused.status, 422, "{}", refused.text);
    let error = refused.error();
    assert!(
        error.contains("operator \"count\" cannot run wc@3")
            && error.contains("refused its config in init")
            && error.ends_with("Nothing was changed; it still runs wc@2"),
        "{error}"
    );
    assert_eq!(
        status(&server, &token, &id)["operators"]["count"],
        *operator,
        "a refused version changes nothing"
    );
    let same = change(&server, &token, &id, "count/upgrade?module=wc@2");
    assert_eq!(same.status, 409);
    assert_eq!(
        same.error(),
        "operator \"count\" already runs wc@2; nothing to change"
    );
    let missing = change(&server, &token, &id, "nope/rollback");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.error(),
        format!("job {id} has no operator \"nope\"; its operators are: count")
    );
    let reader = server.token("acme", "read");
    let forbidden = change(&server, &reader, &id, "count/rollback");
    assert_eq!(forbidden.status, 403);
    assert!(
        forbidden.error().contains("may not roll back operators"),
        "{}",
        forbidden.error()
    );

    send(&server, &token, &id, &words(3000, 3000), false);
    let back = change(&server, &token, &id, "count/rollback");
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.json()["to"], "wc@1");
    send(&server, &token, &id, &words(6000, 3000), true);
    let done = server.wait_done(&token, &id);
    assert_eq!(done["state"], "finished", "{done}");
    let changes: Vec<&str> = done["operators"]["count"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["submitted", "upgraded", "rolled-back"]);

    // Every input once, in order, each counted by the version that made its output from the
    // count the output before left: version 1 adds 1, version 2 adds 2.
    let mut out = Vec::new();
    while out.len() < 9000 {
        let after = out.last().map_or(String::new(), |l: &serde_json::Value| {
            format!("?after={}", l["seq"])
        });
        let page = server.call(
            "GET",
            &format!("/v1/jobs/{id}/sinks/out{after}"),
            Some(&token),
            b"",
        );
        let lines: Vec<serde_json::Value> = page
            .text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!lines.is_empty(), "the output stops at {} lines", out.len());
        out.extend(lines);
    }
    assert_eq!(out.len(), 9000);
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
    let switches = versions.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(switches, 2, "one switch each way");
    assert_eq!((versions[0], versions[8999]), (1, 1));
}
