//! Jobs end to end: push, submit, send, tail, against `cameo run` on the same spec; and
//! specs the server refuses.

use cameo_host::{JobSpec, RunOptions};
use cameo_tests::guests;

use crate::support::{Server, events, http_job};

#[test]
fn pushed_submitted_sent_and_tailed_output_matches_cameo_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let config = r#"{ field = "value", min = 40 }"#;
    let id = server.submit(&token, &http_job("filter", config));
    let input = events(0, 100);
    let reply = server.call(
        "POST",
        &format!("/v1/jobs/{id}/sources/in?end=true"),
        Some(&token),
        input.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["accepted"], 100);
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    assert_eq!(status["summary"]["events_in"], 100);
    let served: Vec<(String, serde_json::Value)> = server
        .tail(&token, &id, "out")
        .iter()
        .map(|line| {
            (
                line["key"].as_str().unwrap().to_string(),
                line["value"].clone(),
            )
        })
        .collect();

    // The same spec, embedded: the module as a path, the input from a file, kept in memory.
    let input_path = dir.path().join("input.ndjson");
    std::fs::write(&input_path, &input).unwrap();
    let embedded = http_job(guests::FILTER, config)
        .replace(
            "kind = \"http\"\nformat",
            &format!(
                "kind = \"file\"\npath = {:?}\nformat",
                input_path.display().to_string()
            ),
        )
        .replace("kind = \"http\"\ninputs", "kind = \"memory\"\ninputs");
    let spec = JobSpec::parse(&embedded, "job.toml", dir.path().to_path_buf()).unwrap();
    let options = RunOptions {
        workers: 2,
        ..RunOptions::default()
    };
    let outcome = cameo_host::run_job(&spec, &options).unwrap();
    let expected: Vec<(String, serde_json::Value)> = outcome.outputs["out"]
        .iter()
        .map(|event| {
            (
                String::from_utf8(event.key.clone().unwrap()).unwrap(),
                serde_json::from_slice(&event.value).unwrap(),
            )
        })
        .collect();
    assert_eq!(served.len(), 60);
    assert_eq!(served, expected);
}

#[test]
fn malformed_and_unsafe_job_specs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let cases: Vec<(String, u16, &str)> = vec![
        ("name = ".into(), 422, "job.toml"),
        ("{\"name\": ".into(), 400, "the job spec is not valid JSON"),
        (
            http_job("filter", "{}").replace("kind = \"http\"\nformat", "kind = \"stdin\"\nformat"),
            422,
            "source \"in\" reads from the server's machine, which a server does not allow",
        ),
        (
            http_job("filter", "{}")
                .replace("kind = \"http\"\ninputs", "kind = \"stdout\"\ninputs"),
            422,
            "sink \"out\" writes on the server's machine",
        ),
        (
            http_job("./filter.wasm", "{}"),
            422,
            "operator \"op\": module \"./filter.wasm\" is a local path, and a server runs only \
             modules pushed to it",
        ),
        (
            http_job("nothere", "{}"),
            422,
            "operator \"op\": module there is no module \"nothere\"; push it with `cameo module \
             push nothere FILE`",
        ),
        (
            http_job("filter@7", "{}"),
            422,
            "module \"filter\" has no version 7; it has filter@1",
        ),
    ];
    for (spec, status, expected) in cases {
        let reply = server.call("POST", "/v1/jobs", Some(&token), spec.as_bytes());
        assert_eq!(reply.status, status, "{spec}: {}", reply.text);
        assert!(
            reply.error().contains(expected),
            "{spec}: expected `{expected}` in `{}`",
            reply.error()
        );
    }
    let listed = server.call("GET", "/v1/jobs", Some(&token), b"").json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        0,
        "a refused spec makes no job"
    );
}

#[test]
fn a_job_spec_in_json_runs_like_toml() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let spec = serde_json::json!({
        "name": "j",
        "source": [{"name": "in", "kind": "generator", "count": 10}],
        "operator": [{"name": "op", "module": "filter@1", "inputs": ["in"],
                      "config": {"field": "seq", "min": 5}}],
        "sink": [{"name": "out", "kind": "http", "inputs": ["op"]}],
    });
    let id = server.submit(&token, &spec.to_string());
    let status = server.wait_done(&token, &id);
    assert_eq!(status["state"], "finished", "{status}");
    assert_eq!(status["modules"]["filter@1"], "filter@1");
}

#[test]
fn cancelling_a_job_ends_it_and_frees_its_module() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    assert_eq!(server.push(&token, "filter", guests::FILTER).status, 201);
    let id = server.submit(&token, &http_job("filter", "{}"));
    let reply = server.call("DELETE", "/v1/modules/filter", Some(&token), b"");
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(
        reply.error(),
        format!(
            "filter@1 is used by running job {id}; cancel the job first (`cameo job cancel {id}`)"
        )
    );
    let reply = server.call("POST", &format!("/v1/jobs/{id}/cancel"), Some(&token), b"");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(server.wait_done(&token, &id)["state"], "cancelled");
    let reply = server.call("POST", &format!("/v1/jobs/{id}/cancel"), Some(&token), b"");
    assert_eq!(reply.status, 409);
    assert_eq!(
        reply.error(),
        format!("job {id} is cancelled, not running; there is nothing to cancel")
    );
    let reply = server.call("DELETE", "/v1/modules/filter", Some(&token), b"");
    assert_eq!(reply.status, 200, "{}", reply.text);
}
