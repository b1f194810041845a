//! Dead letters over HTTP: a job's failed inputs with their reasons, resumable by `seq`,
//! seen only by the job's tenant, kept on disk as a bounded tail.

use cameo_tests::guests;

use crate::support::Server;

const SPEC: &str = r#"
name = "traps"
[[source]]
name = "in"
kind = "http"
[[operator]]
name = "op"
module = "trapper"
inputs = ["in"]
[[sink]]
name = "out"
kind = "http"
inputs = ["op"]
"#;

#[test]
fn a_jobs_dead_letters_are_read_by_seq_and_only_by_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "trapper", guests::TRAPPER).status, 201);
    let id = server.submit(&token, SPEC);
    let letters = format!("/v1/jobs/{id}/dead-letters");
    let none = server.call("GET", &letters, Some(&token), b"");
    assert_eq!(none.status, 200, "{}", none.text);

    let sent = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in?end=true"),
        Some(&token),
        b"a\nboom\nb\nboom\nc\n",
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let out: Vec<String> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|l| l["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(out, ["a", "b", "c"]);

    let reader = server.token("acme", "read");
    let all = server.call("GET", &letters, Some(&reader), b"");
    assert_eq!(all.status, 200, "{}", all.text);
    let lines: Vec<serde_json::Value> = all
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", all.text);
    for (seq, letter) in lines.iter().enumerate() {
        assert_eq!(letter["seq"], seq as u64, "{letter}");
        assert_eq!(letter["value"], "boom", "{letter}");
        assert!(
            letter["operator"].as_str().unwrap().ends_with("op"),
            "{letter}"
        );
        assert!(
            letter["reason"]
                .as_str()
                .unwrap()
                .contains("trapper: trapping on event value"),
            "{letter}"
        );
    }
    let after = server.call("GET", &format!("{letters}?after=0"), Some(&reader), b"");
    assert_eq!(after.text.lines().count(), 1, "{}", after.text);
    assert!(after.text.contains("\"seq\":1"), "{}", after.text);

    // Another tenant's job does not exist for it.
    let other = server.tenant("other", "admin");
    let hidden = server.call("GET", &letters, Some(&other), b"");
    assert_eq!(hidden.status, 404);
    assert!(
        hidden.error().contains(&format!("there is no job {id}")),
        "{}",
        hidden.error()
    );
    let nobody = server.call("GET", &letters, None, b"");
    assert_eq!(nobody.status, 401);

    // A spec may not name a file for them on the server.
    let with_file = format!("{SPEC}\n[dead_letter]\npath = \"/tmp/x.ndjson\"\n");
    let refused = server.call("POST", "/v1/jobs", Some(&token), with_file.as_bytes());
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused
            .error()
            .contains("read them with `cameo job dead-letters JOB`"),
        "{}",
        refused.error()
    );
}

#[test]
fn dead_letters_keep_a_bounded_tail_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::config(dir.path());
    config.run_options.outlet_keep_bytes = 4096;
    let server = Server::start_with(config);
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "trapper", guests::TRAPPER).status, 201);
    let id = server.submit(&token, SPEC);
    let letters = format!("/v1/jobs/{id}/dead-letters");
    let outlets = dir.path().join("host").join("outlets").join(&id);
    let kept = || -> u64 {
        std::fs::read_dir(&outlets)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".dead-letters"))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    // 400 failing events, each letter a few hundred bytes with its reason.
    for _ in 0..8 {
        let body = "boom\n".repeat(50);
        let sent = server.call(
            "POST",
            &format!("/v1/jobs/{id}/sources/in"),
            Some(&token),
            body.as_bytes(),
        );
        assert_eq!(sent.status, 200, "{}", sent.text);
    }
    let mut last = String::new();
    for _ in 0..3000 {
        last = server
            .call("GET", &format!("{letters}?after=398"), Some(&token), b"")
            .text;
        if !last.is_empty() && kept() < 16 * 1024 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(last.contains("\"seq\":399"), "{last}");
    assert!(kept() < 16 * 1024, "{} bytes of dead letters kept", kept());
    let tail = server.call("GET", &letters, Some(&token), b"").text;
    let first: serde_json::Value = serde_json::from_str(tail.lines().next().unwrap()).unwrap();
    assert!(
        first["seq"].as_u64().unwrap() > 0,
        "the oldest were released"
    );
    assert!(tail.lines().last().unwrap().contains("\"seq\":399"));
}
