//! The module registry: versions, validation, size limits, concurrent pushes.

use std::io::{Read as _, Write as _};

use cameo_tests::guests;

use crate::support::{Server, config};

#[test]
fn pushes_make_immutable_versions_and_identical_bytes_return_the_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    let first = server.push(&token, "op", guests::FILTER);
    assert_eq!(first.status, 201, "{}", first.text);
    let first = first.json();
    assert_eq!(first["version"], 1);
    assert_eq!(first["exports"], serde_json::json!(["handler"]));
    assert_eq!(first["uploader"], "acme (deploy)");
    let again = server.push(&token, "op", guests::FILTER);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["version"], 1);
    assert_eq!(again.json()["existing"], true);
    let second = server.push(&token, "op", guests::WINDOW_AGG);
    assert_eq!(second.status, 201);
    assert_eq!(second.json()["version"], 2);
    assert_eq!(
        second.json()["exports"],
        serde_json::json!(["handler", "windowed"])
    );
    let shown = server
        .call("GET", "/v1/modules/op", Some(&token), b"")
        .json();
    let versions: Vec<u64> = shown["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    let reply = server.call("DELETE", "/v1/modules/op?version=1", Some(&token), b"");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let third = server.push(&token, "op", guests::FILTER);
    assert_eq!(
        third.json()["version"],
        3,
        "a version number is never reused"
    );
}

#[test]
fn uploads_that_are_not_operators_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_module_bytes = 100_000;
    let server = Server::start_with(config);
    let token = server.tenant("acme", "deploy");
    let big = server.push(&token, "op", guests::FILTER);
    assert_eq!(big.status, 413, "{}", big.text);
    let size = std::fs::metadata(guests::FILTER).unwrap().len();
    assert_eq!(
        big.error(),
        format!(
            "the module has {size} bytes or more, over the server's limit of 100000 bytes; \
             send less"
        )
    );
    let text = server.call("POST", "/v1/modules/op", Some(&token), b"hello, world");
    assert_eq!(text.status, 422);
    assert!(
        text.error().starts_with("op.wasm is not WebAssembly"),
        "{}",
        text.error()
    );
    let core = wat::parse_str("(module)").unwrap();
    let core = server.call("POST", "/v1/modules/op", Some(&token), &core);
    assert_eq!(core.status, 422);
    assert!(
        core.error()
            .starts_with("op.wasm is a core WebAssembly module, not a component"),
        "{}",
        core.error()
    );
    let empty = server.call("POST", "/v1/modules/op", Some(&token), b"");
    assert_eq!(empty.status, 400);
    let bad_name = server.call("POST", "/v1/modules/a.b", Some(&token), b"x");
    assert_eq!(bad_name.status, 400);
    assert_eq!(
        bad_name.error(),
        "`a.b` is not a module name; use 1 to 64 letters, digits, `-` or `_`"
    );
    let listed = server.call("GET", "/v1/modules", Some(&token), b"").json();
    assert_eq!(listed, serde_json::json!([]), "nothing refused was stored");
}

#[test]
fn a_truncated_upload_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    let bytes = std::fs::read(guests::FILTER).unwrap();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /v1/modules/op HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    stream.write_all(&bytes[..bytes.len() / 2]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    // The server answers 400 if it can still write, or closes the connection.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    if !answer.is_empty() {
        assert!(
            answer.contains("the module was cut off or could not be read"),
            "{answer}"
        );
    }
    let listed = server.call("GET", "/v1/modules", Some(&token), b"").json();
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn concurrent_pushes_of_one_module_make_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let token = server.tenant("acme", "deploy");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let pushes: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| server.push(&token, "op", guests::FILTER)))
            .collect();
        pushes
            .into_iter()
            .map(|push| {
                let reply = push.join().unwrap();
                assert_eq!(reply.json()["version"], 1, "{}", reply.text);
                reply.status
            })
            .collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 200, 200, 201], "{statuses:?}");
    let shown = server
        .call("GET", "/v1/modules/op", Some(&token), b"")
        .json();
    assert_eq!(shown["versions"].as_array().unwrap().len(), 1);
}
