//! `cameo job shadow` against a real `cameo serve` process: a planted difference shows in the
//! report (text and JSON), `stop` leaves the job's output as it was, `promote` upgrades the
//! operator, and a missing argument or a refused version says what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Serve, cameo, counts_spec, ok, wait_done, words};

fn report(home: &Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&ok(cameo(
        home,
        &["job", "shadow", "report", id, "count", "--json"],
        None,
    )))
    .unwrap()
}

#[test]
fn a_shadow_run_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path();
    let serve = Serve::start(&data);
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
    for path in [
        cameo_tests::guests::WORDCOUNT,
        cameo_tests::guests::WORDCOUNT_SKEW,
        cameo_tests::guests::FILTER,
        cameo_tests::guests::WORDCOUNT_V2,
    ] {
        ok(cameo(home, &["module", "push", "wc", path], None));
    }
    let id = ok(cameo(
        home,
        &["job", "submit", counts_spec(home).to_str().unwrap()],
        None,
    ));
    let id = id.trim();
    ok(cameo(home, &["send", id, "in"], Some(&words(0, 500))));

    let missing = cameo(home, &["job", "shadow", id, "count"], None);
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(error.contains("<MODULE>"), "{error}");
    let refused = cameo(home, &["job", "shadow", id, "count", "wc@3"], None);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("operator \"count\" cannot run wc@3")
            && error.contains("No shadow was started"),
        "{error}"
    );

    let started = ok(cameo(home, &["job", "shadow", id, "count", "wc@2"], None));
    assert!(
        started.starts_with(&format!(
            "shadow wc@2 runs beside wc@1 (operator count of job {id}) from checkpoint "
        )) && started.contains("1 of 1 instances started"),
        "{started}"
    );
    ok(cameo(home, &["send", id, "in"], Some(&words(500, 1500))));
    let mut waited = 0;
    while report(home, id)["differing"].as_u64() < Some(50) {
        waited += 1;
        assert!(waited < 3000, "the shadow compared nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    let shown = ok(cameo(home, &["job", "shadow", "report", id, "count"], None));
    assert!(
        shown.starts_with("shadow wc@2 beside wc@1 (operator count), from checkpoint "),
        "{shown}"
    );
    assert!(
        shown.contains("KEY") && shown.contains("DIFFERING"),
        "{shown}"
    );
    assert!(
        shown.contains("first differing outputs:\n  key w3\n    primary: {"),
        "{shown}"
    );
    assert!(
        shown.contains("FUEL/EVENT") && shown.contains("\nshadow "),
        "{shown}"
    );

    let stopped = ok(cameo(home, &["job", "shadow", "stop", id, "count"], None));
    assert!(
        stopped.contains("stopped (stopped by the user)"),
        "{stopped}"
    );
    let again = cameo(home, &["job", "shadow", "stop", id, "count"], None);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("has no shadow running"),
        "{again:?}"
    );

    // Then a version that doubles every count, promoted: an upgrade.
    ok(cameo(home, &["job", "shadow", id, "count", "wc@4"], None));
    ok(cameo(home, &["send", id, "in"], Some(&words(2000, 500))));
    let promoted = ok(cameo(
        home,
        &["job", "shadow", "promote", id, "count"],
        None,
    ));
    assert!(
        promoted.starts_with(&format!(
            "operator count of job {id}: wc@1 -> wc@4 (from checkpoint "
        )),
        "{promoted}"
    );
    ok(cameo(
        home,
        &["send", id, "in", "--end"],
        Some(&words(2500, 500)),
    ));
    let done = wait_done(home, id);
    assert_eq!(done["state"], "finished", "{done}");
    let tailed = ok(cameo(home, &["tail", id, "out"], None));
    let lines: Vec<serde_json::Value> = tailed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3000, "an output lost, doubled or leaked");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], i as u64, "a gap or a duplicate");
    }
    let versions: Vec<u64> = lines
        .iter()
        .map(|l| l["value"]["version"].as_u64().unwrap_or(1))
        .collect();
    assert_eq!(versions.windows(2).filter(|w| w[0] != w[1]).count(), 1);
}
