//! A restart keeps tenants, modules and jobs, and a running job resumes from its checkpoint
//! with no gap and no duplicate in its output.

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

#[test]
fn a_graceful_restart_keeps_everything_and_resumes_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let config = r#"{ field = "value", min = 0 }"#;
    let id = server.submit(&token, &http_job("filter", config));
    let path = format!("/v1/jobs/{id}/sources/in");
    assert_eq!(
        server
            .call("POST", &path, Some(&token), events(0, 500).as_bytes())
            .status,
        200
    );
    let admin = server.admin_token();
    server.stop();

    let server = Server::start(dir.path());
    assert_eq!(server.admin_token(), admin, "the admin token is made once");
    let tenants = server.call("GET", "/v1/tenants", Some(&admin), b"").json();
    let names: Vec<&str> = tenants
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "system"]);
    let module = server
        .call("GET", "/v1/modules/filter", Some(&token), b"")
        .json();
    assert_eq!(module["versions"][0]["version"], 1);
    let status = server
        .call("GET", &format!("/v1/jobs/{id}"), Some(&token), b"")
        .json();
    assert_eq!(status["state"], "running", "{status}");
    let end = format!("{path}?end=true");
    assert_eq!(
        server
            .call("POST", &end, Some(&token), events(500, 500).as_bytes())
            .status,
        200
    );
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    let values: Vec<u64> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|line| line["value"]["value"].as_u64().unwrap())
        .collect();
    assert_eq!(
        values,
        (0..1000).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let seqs: Vec<u64> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|line| line["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..1000).collect::<Vec<_>>());
}
