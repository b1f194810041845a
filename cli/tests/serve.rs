//! `cameo serve` and the client verbs, as a user runs them: a real server process on an
//! ephemeral port, driven by the `cameo` binary; and a server killed with SIGKILL that
//! resumes its job when started again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Serve, cameo, ok, wait_done};

fn spec(dir: &Path) -> PathBuf {
    let path = dir.join("job.toml");
    std::fs::write(
        &path,
        r#"
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
"#,
    )
    .unwrap();
    path
}

fn events(first: u64, count: u64) -> String {
    (first..first + count)
        .map(|i| format!("{{\"key\":\"k{}\",\"value\":{}}}\n", i % 5, i % 100))
        .collect()
}

#[test]
fn a_tenant_pushes_submits_sends_and_tails_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&data);
    let home = dir.path();
    let admin_file = data.join("admin.token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&admin_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the admin token is readable only by its owner"
        );
    }
    let admin_file = admin_file.to_str().unwrap();
    ok(cameo(
        home,
        &["login", "--server", &serve.url, "--token-file", admin_file],
        None,
    ));
    ok(cameo(home, &["tenant", "create", "acme"], None));
    ok(cameo(
        home,
        &["tenant", "create", "small", "--modules", "3"],
        None,
    ));
    let small: serde_json::Value = serde_json::from_str(&ok(cameo(
        home,
        &[
            "tenant",
            "quotas",
            "small",
            "--events-per-s",
            "500",
            "--json",
        ],
        None,
    )))
    .unwrap();
    assert_eq!(small["quotas"]["modules"], 3);
    assert_eq!(small["quotas"]["events_per_s"], 500);
    assert_eq!(small["quotas"]["running_jobs"], 10, "a server default");
    let token = ok(cameo(
        home,
        &["tenant", "token", "acme", "--role", "deploy"],
        None,
    ));
    let token = token.trim();
    ok(cameo(
        home,
        &["login", "--server", &serve.url, "--token", token],
        None,
    ));
    let pushed = ok(cameo(
        home,
        &["module", "push", "filter", cameo_tests::guests::FILTER],
        None,
    ));
    assert!(pushed.starts_with("pushed filter@1 ("), "{pushed}");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(cameo(home, &["module", "list", "--json"], None))).unwrap();
    assert_eq!(listed[0]["name"], "filter");
    let spec = spec(dir.path());
    let id = ok(cameo(
        home,
        &["job", "submit", spec.to_str().unwrap()],
        None,
    ));
    let id = id.trim();
    ok(cameo(
        home,
        &["send", id, "in", "-", "--end", "--batch-bytes", "500"],
        Some(&format!("{}not json\n", events(0, 200))),
    ));
    assert_eq!(wait_done(home, id)["state"], "finished");
    let letters = ok(cameo(home, &["job", "dead-letters", id], None));
    let mut rows = letters.lines();
    assert!(rows.next().unwrap().starts_with("SEQ"), "{letters}");
    let row = rows.next().unwrap();
    assert!(
        row.starts_with("0") && row.contains("line 201") && row.ends_with("not json"),
        "{letters}"
    );
    let json = ok(cameo(
        home,
        &["job", "dead-letters", id, "--json", "--after", "0"],
        None,
    ));
    assert_eq!(json, "", "one letter, seq 0");
    let tailed = ok(cameo(home, &["tail", id, "out"], None));
    let values: Vec<u64> = tailed
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]["value"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let expected: Vec<u64> = (0..200).map(|i| i % 100).filter(|v| *v >= 50).collect();
    assert_eq!(values, expected);
    let jobs = ok(cameo(home, &["job", "list"], None));
    assert!(jobs.contains(id) && jobs.contains("finished"), "{jobs}");

    // An API error is one line with the server's reason and a failing exit.
    let out = cameo(home, &["module", "rm", "nothere"], None);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: there is no module \"nothere\"; `cameo module list` shows yours (HTTP 404)\n"
    );
    let out = cameo(home, &["job", "status", "j1", "--token", "wrong"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: this token is not known to the server; check it, or ask an admin for a new \
         one (HTTP 401)\n"
    );
    assert!(serve.terminate().success(), "SIGTERM exits 0");
}

#[test]
fn a_server_killed_with_sigkill_resumes_its_job_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path();
    let serve = Serve::start(&data);
    let admin_file = data.join("admin.token");
    ok(cameo(
        home,
        &[
            "login",
            "--server",
            &serve.url,
            "--token-file",
            admin_file.to_str().unwrap(),
        ],
        None,
    ));
    ok(cameo(
        home,
        &["module", "push", "filter", cameo_tests::guests::FILTER],
        None,
    ));
    let spec = spec(dir.path());
    let id = ok(cameo(
        home,
        &["job", "submit", spec.to_str().unwrap()],
        None,
    ));
    let id = id.trim().to_string();
    ok(cameo(home, &["send", &id, "in"], Some(&events(0, 1000))));
    // Wait for a checkpoint that covers some of the input, so the restart resumes from it.
    for _ in 0..3000 {
        let status: serde_json::Value =
            serde_json::from_str(&ok(cameo(home, &["job", "status", &id, "--json"], None)))
                .unwrap();
        if status["summary"]["checkpoints"]["completed"]
            .as_u64()
            .unwrap_or(0)
            > 0
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    serve.kill();

    let serve = Serve::start(&data);
    ok(cameo(
        home,
        &[
            "login",
            "--server",
            &serve.url,
            "--token-file",
            admin_file.to_str().unwrap(),
        ],
        None,
    ));
    let status: serde_json::Value =
        serde_json::from_str(&ok(cameo(home, &["job", "status", &id, "--json"], None))).unwrap();
    assert_eq!(status["state"], "running", "{status}");
    ok(cameo(
        home,
        &["send", &id, "in", "--end"],
        Some(&events(1000, 1000)),
    ));
    let status = wait_done(home, &id);
    assert_eq!(status["state"], "finished", "{status}");
    assert!(
        status["summary"]["checkpoints"]["restored_from"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{status}"
    );
    let seqs: Vec<u64> = ok(cameo(home, &["tail", &id, "out"], None))
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (0..1000).collect::<Vec<_>>(),
        "half of 2000 pass the filter"
    );
    drop(serve);
}

#[test]
fn pause_resume_logs_top_completions_and_an_oversized_push_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path();
    let serve = Serve::start_with(&data, &["--max-module-size", "2MiB"]);
    let admin_file = data.join("admin.token");
    ok(cameo(
        home,
        &[
            "login",
            "--server",
            &serve.url,
            "--token-file",
            admin_file.to_str().unwrap(),
        ],
        None,
    ));

    // An oversized module: one line naming the limit, the status, and a failing exit.
    let big = dir.path().join("big.wasm");
    std::fs::write(&big, vec![0u8; 3 << 20]).unwrap();
    let out = cameo(
        home,
        &["module", "push", "big", big.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("over the server's limit of 2097152 bytes")
            && stderr.contains("(HTTP 413)"),
        "{stderr}"
    );

    ok(cameo(
        home,
        &["module", "push", "filter", cameo_tests::guests::FILTER],
        None,
    ));
    let spec = spec(dir.path());
    let id = ok(cameo(
        home,
        &["job", "submit", spec.to_str().unwrap()],
        None,
    ));
    let id = id.trim().to_string();
    ok(cameo(home, &["send", &id, "in"], Some(&events(0, 100))));
    assert_eq!(
        ok(cameo(home, &["job", "pause", &id], None)),
        format!("job {id} paused\n")
    );
    let out = cameo(home, &["send", &id, "in"], Some(&events(100, 1)));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is paused; resume it"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ok(cameo(home, &["job", "resume", &id], None)),
        format!("job {id} resumed\n")
    );

    // `top --once --json`: one frame naming the running job and its operator.
    let frame: serde_json::Value =
        serde_json::from_str(&ok(cameo(home, &["top", "--once", "--json"], None))).unwrap();
    assert_eq!(frame["jobs"][0]["id"], id.as_str(), "{frame}");
    assert_eq!(frame["operators"][0]["operator"], "big", "{frame}");
    let out = cameo(home, &["top", "--interval", "0"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval 0 is not"));

    ok(cameo(
        home,
        &["send", &id, "in", "--end"],
        Some(&events(100, 100)),
    ));
    assert_eq!(wait_done(home, &id)["state"], "finished");
    let seqs: Vec<u64> = ok(cameo(home, &["tail", &id, "out"], None))
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (0..100).collect::<Vec<_>>(),
        "no gap and no duplicate across the pause"
    );
    // The filter logs nothing: an empty log, not an error.
    assert_eq!(ok(cameo(home, &["logs", &id], None)), "");

    let completions = ok(cameo(home, &["completions", "bash"], None));
    assert!(completions.contains("_cameo()"), "{completions}");
    assert!(completions.contains("resume"));
    let out = cameo(home, &["completions", "tcsh"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'tcsh'"));
    drop(serve);
}

#[test]
fn tail_follow_goes_on_across_a_sigkill_restart_without_gap_or_duplicate() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home = dir.path();
    let serve = Serve::start(&data);
    let admin_file = data.join("admin.token");
    let login = |url: &str| {
        ok(cameo(
            home,
            &[
                "login",
                "--server",
                url,
                "--token-file",
                admin_file.to_str().unwrap(),
            ],
            None,
        ))
    };
    login(&serve.url);
    ok(cameo(
        home,
        &["module", "push", "filter", cameo_tests::guests::FILTER],
        None,
    ));
    let spec = spec(dir.path());
    let id = ok(cameo(
        home,
        &["job", "submit", spec.to_str().unwrap()],
        None,
    ));
    let id = id.trim().to_string();
    ok(cameo(home, &["send", &id, "in"], Some(&events(0, 1000))));

    // `cameo tail --follow` in its own process, as a user runs it.
    let mut follower = std::process::Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["tail", &id, "out", "--follow"])
        .env("CAMEO_CONFIG", home.join("config.toml"))
        .env_remove("CAMEO_SERVER")
        .env_remove("CAMEO_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let hang_guard = Duration::from_secs(120);
    let mut seqs: Vec<u64> = Vec::new();
    let take = |until: usize, seqs: &mut Vec<u64>| {
        while seqs.len() < until {
            let line = lines
                .recv_timeout(hang_guard)
                .expect("the follower printed the next line");
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            seqs.push(value["seq"].as_u64().unwrap());
        }
    };
    // Half of the first 1000 pass the filter.
    take(500, &mut seqs);

    // The server dies; a new one on the same address resumes the job from its checkpoint.
    let addr = serve.url.trim_start_matches("http://").to_string();
    serve.kill();
    let serve = Serve::start_at(&data, &addr, &[]);
    ok(cameo(
        home,
        &["send", &id, "in", "--end"],
        Some(&events(1000, 1000)),
    ));
    take(1000, &mut seqs);
    // The job finished: the follower ends by itself, with nothing more.
    let status = follower.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut follower.stderr.take().unwrap(), &mut rest).unwrap();
    assert_eq!(rest, "", "nothing on stderr");
    assert_eq!(seqs, (0..1000).collect::<Vec<u64>>());
    assert!(lines.try_recv().is_err(), "no line after the last");
    drop(serve);
}

#[test]
fn serve_over_tls_and_a_client_that_trusts_its_ca() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let path = |name: &str| home.join(name).to_str().unwrap().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("cert.pem"), cert.pem()).unwrap();
    std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();

    // A certificate file that is not there stops the start with the reason.
    let out = cameo(
        home,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &path("unused"),
            "--tls-cert",
            &path("nothere.pem"),
            "--tls-key",
            &path("key.pem"),
        ],
        None,
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.starts_with(&format!(
            "error: the TLS certificate {} could not be used: ",
            path("nothere.pem")
        )),
        "{text}"
    );

    let data = home.join("data");
    let serve = Serve::start_with(
        &data,
        &[
            "--tls-cert",
            &path("cert.pem"),
            "--tls-key",
            &path("key.pem"),
        ],
    );
    assert!(serve.url.starts_with("https://127.0.0.1:"), "{}", serve.url);
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let token = token.trim();
    let listed = ok(cameo(
        home,
        &[
            "tenant",
            "list",
            "--server",
            &serve.url,
            "--token",
            token,
            "--ca-cert",
            &path("ca.pem"),
        ],
        None,
    ));
    assert!(listed.contains("system"), "{listed}");

    // Without the CA, or over plain HTTP: one line saying what to do.
    let out = cameo(
        home,
        &["tenant", "list", "--server", &serve.url, "--token", token],
        None,
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("give the CA that signed it with --ca-cert or CAMEO_CA_CERT"),
        "{text}"
    );
    let plain = serve.url.replace("https://", "http://");
    let out = cameo(
        home,
        &["tenant", "list", "--server", &plain, "--token", token],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: this server speaks TLS: use https:// in the server's URL (and --ca-cert or \
         CAMEO_CA_CERT for a certificate of your own CA) (HTTP 400)\n"
    );
    assert!(serve.terminate().success());
}
