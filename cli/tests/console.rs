//! The web console in a real headless browser (Debian's chromium and chromedriver, over
//! WebDriver) against a real `cameo serve`: signing in with a token, the tenant's job list,
//! a latency chart that grows, upgrade and rollback from the page, a log tail, actions
//! hidden from a read token (and refused by the server), and nothing of another tenant.
//! Screenshots of the main pages go to `target/console-screenshots/`.
//!
//! Without chromium and chromedriver the test says why and passes, unless
//! `CAMEO_BROWSER_TEST=required` (set by `.ci/run`, which installs them) makes it fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::{Path, PathBuf};

use support::{Serve, cameo, ok};
use webdriver::Browser;

const SPEC: &str = r#"
name = "keep-big"
[[source]]
name = "in"
kind = "http"
format = "ndjson"
key_field = "key"
[[operator]]
name = "big"
module = "filter"
inputs = ["in"]
config = { field = "value", min = 50 }
[[sink]]
name = "out"
kind = "http"
inputs = ["big"]
"#;

fn events(first: u64, count: u64) -> String {
    (first..first + count)
        .map(|i| format!("{{\"key\":\"k{}\",\"value\":{}}}\n", i % 5, i % 100))
        .collect()
}

/// Where the screenshots go: `target/console-screenshots/`.
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A client home logged in to `url` as `token`.
fn home_of(root: &Path, name: &str, url: &str, token: &str) -> PathBuf {
    let home = root.join(name);
    std::fs::create_dir_all(&home).unwrap();
    ok(cameo(
        &home,
        &["login", "--server", url, "--token", token],
        None,
    ));
    home
}

/// Pushes the filter module and submits a job reading an http source that stays open;
/// the job's id.
fn running_job(home: &Path) -> String {
    ok(cameo(
        home,
        &["module", "push", "filter", cameo_tests::guests::FILTER],
        None,
    ));
    let spec = home.join("job.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let id = ok(cameo(
        home,
        &["job", "submit", spec.to_str().unwrap()],
        None,
    ));
    id.trim().to_string()
}

fn sign_in(browser: &Browser, token: &str) {
    browser.wait_for(
        "the sign-in form",
        "return !document.getElementById('signin').hidden",
    );
    browser.type_into("#token", token);
    browser.click("#signin-button");
    browser.wait_for(
        "the signed-in page",
        "return !document.getElementById('app').hidden",
    );
}

fn open_job(browser: &Browser, id: &str) {
    browser.click(&format!("button[data-open='{id}']"));
    browser.wait_for(
        "the job's operators",
        "return document.querySelector('#operators tr[data-operator=big]') !== null",
    );
}

/// How many samples the latency chart draws.
fn chart_points(browser: &Browser) -> u64 {
    browser
        .script("return Number(document.getElementById('chart').dataset.points || 0)")
        .as_u64()
        .unwrap()
}

#[test]
fn the_console_shows_a_tenants_jobs_live_chart_versions_and_logs_and_hides_actions_from_a_read_token()
 {
    let browser = match Browser::start() {
        Ok(browser) => browser,
        Err(reason) => {
            assert_ne!(
                std::env::var("CAMEO_BROWSER_TEST").as_deref(),
                Ok("required"),
                "the browser test is required here, but: {reason}"
            );
            eprintln!("skipping the console's browser test: {reason}");
            return;
        }
    };
    let shots = screenshots();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&data);
    let admin = dir.path().join("admin");
    std::fs::create_dir_all(&admin).unwrap();
    let admin_file = data.join("admin.token");
    ok(cameo(
        &admin,
        &[
            "login",
            "--server",
            &serve.url,
            "--token-file",
            admin_file.to_str().unwrap(),
        ],
        None,
    ));
    let token = |tenant: &str, role: &str| {
        ok(cameo(
            &admin,
            &["tenant", "token", tenant, "--role", role],
            None,
        ))
        .trim()
        .to_string()
    };
    ok(cameo(&admin, &["tenant", "create", "acme"], None));
    ok(cameo(&admin, &["tenant", "create", "other"], None));
    let deployer = token("acme", "deploy");
    let reader = token("acme", "read");
    let acme = home_of(dir.path(), "acme", &serve.url, &deployer);
    let other = home_of(dir.path(), "other", &serve.url, &token("other", "deploy"));
    let mine = running_job(&acme);
    let pushed = ok(cameo(
        &acme,
        &["module", "push", "filter", cameo_tests::guests::FILTER_RAW],
        None,
    ));
    assert!(pushed.starts_with("pushed filter@2"), "{pushed}");
    let theirs = running_job(&other);
    assert_ne!(mine, theirs);
    ok(cameo(
        &acme,
        &["send", &mine, "in", "-"],
        Some(&events(0, 500)),
    ));

    // Sign in as acme's deployer: acme's job is listed, the other tenant's is not.
    browser.goto(&serve.url);
    browser.screenshot(&shots.join("sign-in.png"));
    sign_in(&browser, &deployer);
    browser.find(&format!("#jobs tr[data-job='{mine}']"));
    browser.find("#modules tr[data-module=filter]");
    let listed = browser.script(
        "return [...document.querySelectorAll('#jobs tr[data-job]')].map(r => r.dataset.job)",
    );
    assert_eq!(listed, serde_json::json!([mine]), "only acme's job");
    assert_eq!(
        browser.script("return document.getElementById('who').textContent"),
        "acme (deploy)"
    );
    browser.screenshot(&shots.join("jobs.png"));

    // The job's page: its graph, and a chart whose samples grow while the job runs.
    open_job(&browser, &mine);
    browser.find("#graph g[data-node=big]");
    browser.wait_for(
        "a first sample",
        "return Number(document.getElementById('chart').dataset.points) >= 1",
    );
    let first = chart_points(&browser);
    // Events keep coming while the chart is watched, so its points have latencies to show.
    let mut sent = 500;
    for _ in 0..600 {
        if chart_points(&browser) > first + 2 {
            break;
        }
        ok(cameo(
            &acme,
            &["send", &mine, "in", "-"],
            Some(&events(sent, 100)),
        ));
        sent += 100;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(chart_points(&browser) > first + 2, "the chart grows");
    browser.wait_for(
        "a latency line",
        "return document.querySelector('#chart polyline.p99') !== null",
    );
    // One operator's end-to-end latency, from the series' per-operator figures: the chart
    // draws a line only from samples that have them.
    browser.script(
        "const s = document.getElementById('chart-of'); s.value = 'big'; s.onchange(); return 0",
    );
    browser.wait_for(
        "the operator's end-to-end latency line",
        "return document.getElementById('chart-of').value === 'big' \
         && document.querySelector('#chart polyline.p99') !== null",
    );
    browser.screenshot(&shots.join("job-operator-latency.png"));
    browser.script(
        "const s = document.getElementById('chart-of'); s.value = ''; s.onchange(); return 0",
    );
    browser.wait_for(
        "the operator's calls",
        "return Number(document.querySelector('#operators tr[data-operator=big] td:nth-child(4)').textContent) > 0",
    );
    assert!(
        browser.shown("[data-action=pause]"),
        "a deploy token may pause"
    );
    assert!(
        browser.shown("[data-upgrade=big]"),
        "a deploy token may upgrade"
    );
    assert_eq!(
        browser.script(
            "return document.querySelector('#operators tr[data-operator=big] td:nth-child(2)').textContent"
        ),
        "filter@1"
    );
    browser.screenshot(&shots.join("job.png"));

    // Upgrade to the module's other version from the page, then roll back.
    browser.script("const s = document.querySelector('#operators tr[data-operator=big] select'); s.value = 'filter@2'; return s.value");
    browser.click("[data-upgrade=big]");
    browser.wait_for(
        "the upgrade",
        "const row = document.querySelector('#operators tr[data-operator=big]'); \
         return row.cells[1].textContent === 'filter@2' && row.cells[10].textContent.includes('filter@2 upgraded') && /^[0-9]+$/.test(row.cells[8].textContent)",
    );
    browser.wait_for(
        "the rollback button",
        "return !document.querySelector('[data-rollback=big]').disabled",
    );
    browser.click("[data-rollback=big]");
    browser.wait_for(
        "the rollback",
        "const row = document.querySelector('#operators tr[data-operator=big]'); \
         return row.cells[1].textContent === 'filter@1' && row.cells[10].textContent.includes('filter@1 rolled-back')",
    );
    browser.screenshot(&shots.join("job-after-rollback.png"));

    // A shadow of the module's other version, started from the page: its panel reports the
    // outputs it compared, and stops from the page.
    browser.wait_for(
        "the shadow's start button",
        "return document.querySelector('[data-shadow=big]') !== null",
    );
    browser.script("const s = document.querySelector('[data-shadow-operator=big] select'); s.value = 'filter@2'; s.dispatchEvent(new Event('change')); return s.value");
    browser.click("[data-shadow=big]");
    browser.wait_for(
        "the shadow's report",
        "return document.querySelector('[data-shadow-operator=big] .shadow-summary') !== null",
    );
    ok(cameo(
        &acme,
        &["send", &mine, "in", "-"],
        Some(&events(500, 200)),
    ));
    let compared = browser.wait_for(
        "outputs compared",
        "const s = document.querySelector('[data-shadow-operator=big] .shadow-summary'); \
         return s && Number(s.dataset.matched) + Number(s.dataset.differing) > 0 ? s.textContent : null",
    );
    assert!(
        compared
            .as_str()
            .unwrap()
            .starts_with("big: filter@2 beside filter@1"),
        "{compared}"
    );
    browser.screenshot(&shots.join("job-shadow.png"));
    browser.click("[data-stop-shadow=big]");
    browser.wait_for(
        "the stopped shadow",
        "const s = document.querySelector('[data-shadow-operator=big] .shadow-summary'); \
         return s && s.textContent.includes('stopped')",
    );

    // A job whose operator logs: its page tails the log.
    ok(cameo(
        &acme,
        &["module", "push", "talker", cameo_tests::guests::HOSTILE],
        None,
    ));
    let talking = acme.join("talk.toml");
    let spec = SPEC
        .replace("module = \"filter\"", "module = \"talker\"")
        .replace(
            "{ field = \"value\", min = 50 }",
            "{ attack = \"log\", bytes = 8 }",
        );
    std::fs::write(&talking, spec).unwrap();
    let talks = ok(cameo(
        &acme,
        &["job", "submit", talking.to_str().unwrap()],
        None,
    ));
    let talks = talks.trim();
    ok(cameo(
        &acme,
        &["send", talks, "in", "-"],
        Some(&events(0, 3)),
    ));
    open_job(&browser, talks);
    let logs = browser.wait_for(
        "three log lines",
        "const t = document.getElementById('logs').textContent; \
         return t.split('\\n').filter(l => l).length >= 3 ? t : null",
    );
    assert!(
        logs.as_str().unwrap().starts_with("big#0 info xxxxxxxx\n"),
        "{logs}"
    );
    open_job(&browser, &mine);

    // A read token sees the same job, and no button that changes anything.
    browser.click("#signout");
    sign_in(&browser, &reader);
    assert_eq!(
        browser.script("return document.getElementById('who').textContent"),
        "acme (read)"
    );
    open_job(&browser, &mine);
    browser.wait_for(
        "a sample",
        "return Number(document.getElementById('chart').dataset.points) >= 1",
    );
    for hidden in [
        "[data-action=pause]",
        "[data-action=cancel]",
        "[data-upgrade=big]",
        "[data-rollback=big]",
        "[data-shadow=big]",
        "[data-stop-shadow=big]",
    ] {
        assert!(!browser.shown(hidden), "a read token does not see {hidden}");
    }
    browser.screenshot(&shots.join("job-read-only.png"));

    // And the server refuses what the page hides.
    let refused = cameo(&acme, &["job", "pause", &mine, "--token", &reader], None);
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "error: a read token may not pause jobs; it needs an operate token (ask an admin of \
         tenant \"acme\" for one) (HTTP 403)\n"
    );
    let refused = cameo(
        &acme,
        &[
            "job", "upgrade", &mine, "big", "filter@1", "--token", &reader,
        ],
        None,
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("a read token may not"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let status: serde_json::Value = serde_json::from_str(&ok(cameo(
        &other,
        &["job", "status", &theirs, "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(status["state"], "running", "the other tenant's job exists");
}
