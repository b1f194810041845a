//! `cameo job upgrade` and `cameo job rollback` against a real `cameo serve` process, and a
//! server killed with SIGKILL in the middle of an upgrade: started again, the operator runs
//! one version, the job's record says which, and the output has no gap, no duplicate, and
//! switches logic at most once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Serve, cameo, counts_spec, ok, wait_done, word, words};

fn login(home: &Path, serve: &Serve, data: &Path) {
    let admin = data.join("admin.token");
    ok(cameo(
        home,
        &[
            "login",
            "--server",
            &serve.url,
            "--token-file",
            admin.to_str().unwrap(),
        ],
        None,
    ));
}

fn status(home: &Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&ok(cameo(home, &["job", "status", id, "--json"], None))).unwrap()
}

/// Checks the output lines of a job fed `n` words: every input once, in order (`seq`), each
/// counted by the version tagged on it from the count the output before left (version 1 adds
/// 1, version 2 adds 2). Returns the version of each output.
fn check_counts(tailed: &str, n: u64) -> Vec<u64> {
    let lines: Vec<serde_json::Value> = tailed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, n, "an output lost or doubled");
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let mut versions = Vec::new();
    for (i, line) in lines.iter().enumerate() {
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
    versions
}

#[test]
fn upgrade_and_rollback_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path();
    let serve = Serve::start(&data);
    login(home, &serve, &data);
    ok(cameo(
        home,
        &["module", "push", "wc", cameo_tests::guests::WORDCOUNT],
        None,
    ));
    ok(cameo(
        home,
        &["module", "push", "wc", cameo_tests::guests::WORDCOUNT_V2],
        None,
    ));
    let id = ok(cameo(
        home,
        &["job", "submit", counts_spec(home).to_str().unwrap()],
        None,
    ));
    let id = id.trim();
    ok(cameo(home, &["send", id, "in"], Some(&words(0, 1000))));
    let up = ok(cameo(home, &["job", "upgrade", id, "count", "wc@2"], None));
    assert!(
        up.starts_with(&format!(
            "operator count of job {id}: wc@1 -> wc@2 (from checkpoint "
        )),
        "{up}"
    );
    let shown = ok(cameo(home, &["job", "status", id], None));
    assert!(
        shown.contains("operator count runs wc@2 (submitted wc@1, upgraded wc@2)"),
        "{shown}"
    );
    ok(cameo(home, &["send", id, "in"], Some(&words(1000, 1000))));
    let back: serde_json::Value = serde_json::from_str(&ok(cameo(
        home,
        &["job", "rollback", id, "count", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(
        (back["from"].as_str(), back["to"].as_str()),
        (Some("wc@2"), Some("wc@1"))
    );
    let refused = cameo(home, &["job", "upgrade", id, "count", "wc@9"], None);
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "error: module \"wc\" has no version 9; it has wc@1, wc@2 (HTTP 422)\n"
    );
    ok(cameo(
        home,
        &["send", id, "in", "--end"],
        Some(&words(2000, 1000)),
    ));
    assert_eq!(wait_done(home, id)["state"], "finished");
    let versions = check_counts(&ok(cameo(home, &["tail", id, "out"], None)), 3000);
    assert_eq!(versions.windows(2).filter(|w| w[0] != w[1]).count(), 2);
    drop(serve);
}

#[test]
fn a_server_killed_during_an_upgrade_resumes_the_operator_on_one_version() {
    killed_around_an_upgrade(false);
}

#[test]
fn a_server_killed_just_after_an_upgrade_resumes_the_operator_on_the_new_version() {
    assert_eq!(killed_around_an_upgrade(true), "wc@2");
}

/// Kills the server once an upgrade has started (or, with `after`, once it has returned),
/// starts it again and checks that the operator runs one version and the output is
/// consistent with it. Returns the version it runs.
fn killed_around_an_upgrade(after: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path();
    let serve = Serve::start(&data);
    login(home, &serve, &data);
    ok(cameo(
        home,
        &["module", "push", "wc", cameo_tests::guests::WORDCOUNT],
        None,
    ));
    ok(cameo(
        home,
        &["module", "push", "wc", cameo_tests::guests::WORDCOUNT_V2],
        None,
    ));
    let id = ok(cameo(
        home,
        &["job", "submit", counts_spec(home).to_str().unwrap()],
        None,
    ));
    let id = id.trim().to_string();
    ok(cameo(home, &["send", &id, "in"], Some(&words(0, 2000))));
    for _ in 0..3000 {
        if status(home, &id)["summary"]["checkpoints"]["completed"]
            .as_u64()
            .unwrap_or(0)
            > 0
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    // The upgrade runs in its own process; the server is killed once the job's record says
    // the switch started (or, if it finished first, just after).
    let mut upgrade = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["job", "upgrade", &id, "count", "wc@2"])
        .env("CAMEO_CONFIG", home.join("config.toml"))
        .env_remove("CAMEO_SERVER")
        .env_remove("CAMEO_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if after {
        assert!(upgrade.wait().unwrap().success());
    }
    for _ in 0..3000 {
        let operator = &status(home, &id)["operators"]["count"];
        if !operator["pending"].is_null() || operator["module"] == "wc@2" {
            break;
        }
        if upgrade.try_wait().unwrap().is_some() {
            break;
        }
    }
    serve.kill();
    let _ = upgrade.wait();

    let serve = Serve::start(&data);
    login(home, &serve, &data);
    // Jobs resume once the server is up: wait until this one runs again.
    let mut resumed = status(home, &id);
    for _ in 0..3000 {
        if !resumed["operators"]["count"]["running"].is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        resumed = status(home, &id);
    }
    assert_eq!(resumed["state"], "running", "{resumed}");
    let operator = &resumed["operators"]["count"];
    assert!(operator["pending"].is_null(), "{resumed}");
    let module = operator["module"].as_str().unwrap().to_string();
    assert_eq!(
        operator["running"],
        serde_json::json!([module]),
        "{resumed}"
    );
    let last = operator["history"].as_array().unwrap().last().unwrap();
    match module.as_str() {
        "wc@2" => assert_eq!(last["change"], "upgraded", "{resumed}"),
        "wc@1" => assert_eq!(
            (last["module"].as_str(), last["change"].as_str()),
            (Some("wc@2"), Some("abandoned")),
            "{resumed}"
        ),
        other => panic!("runs {other}"),
    }

    ok(cameo(
        home,
        &["send", &id, "in", "--end"],
        Some(&words(2000, 2000)),
    ));
    assert_eq!(wait_done(home, &id)["state"], "finished");
    let versions = check_counts(&ok(cameo(home, &["tail", &id, "out"], None)), 4000);
    let switches = versions.windows(2).filter(|w| w[0] != w[1]).count();
    if module == "wc@2" {
        assert_eq!(switches, 1, "one switch, from 1 to 2");
        assert_eq!(versions.last(), Some(&2));
    } else {
        assert_eq!(switches, 0, "no output of the abandoned version is kept");
    }
    drop(serve);
    module
}
