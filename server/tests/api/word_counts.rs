//! The word-count job the upgrade and shadow tests run over HTTP, its input, and sending it.

use std::time::Duration;

use crate::support::Server;

/// A job counting the words of its http input with module `module`.
pub fn counts_job(module: &str) -> String {
    format!(
        r#"
name = "counts"
[[source]]
name = "in"
kind = "http"
format = "ndjson"
[[operator]]
name = "count"
module = "{module}"
inputs = ["in"]
[[sink]]
name = "out"
kind = "http"
inputs = ["count"]
"#
    )
}

/// The word of input `i`: five keys, `w0` to `w4`.
pub fn word(i: u64) -> String {
    format!("w{}", i % 5)
}

/// `count` events `{"text": word}` from `first`.
pub fn words(first: u64, count: u64) -> String {
    (first..first + count)
        .map(|i| format!("{{\"text\":\"{}\"}}\n", word(i)))
        .collect()
}

/// Sends `body` to job `id`'s source, retrying while the job is behind.
pub fn send(server: &Server, token: &str, id: &str, body: &str, end: bool) {
    let path = format!(
        "/v1/jobs/{id}/sources/in{}",
        if end { "?end=true" } else { "" }
    );
    let mut reply = server.call("POST", &path, Some(token), body.as_bytes());
    for _ in 0..1000 {
        if reply.status != 429 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        reply = server.call("POST", &path, Some(token), body.as_bytes());
    }
    assert_eq!(reply.status, 200, "{}", reply.text);
}
