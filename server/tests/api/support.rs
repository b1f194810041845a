//! A real server on an ephemeral port, and a small client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cameo_server::Config;

/// A server running on its own thread and runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The test configuration: two workers, frequent checkpoints.
pub fn config(dir: &Path) -> Config {
    let mut config = Config::new(dir.to_path_buf());
    config.run_options.workers = 2;
    config.run_options.checkpoint_interval = Duration::from_millis(100);
    config.run_options.limits.fuel_per_call = 50_000_000;
    config
}

impl Server {
    /// Starts a server on `dir` with the test configuration.
    pub fn start(dir: &Path) -> Server {
        Self::start_with(config(dir))
    }

    /// Starts a server with `config`, and waits until it is ready.
    pub fn start_with(config: Config) -> Server {
        let dir = config.data_dir.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                cameo_server::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        let server = Server {
            addr,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        };
        for _ in 0..2000 {
            if server.call("GET", "/readyz", None, b"").status == 200 {
                return server;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the server did not get ready");
    }

    /// The admin token written at first start.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Stops the server gracefully and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    /// Sends a request.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("http://{}{path}", self.addr);
        let request = ureq::http::Request::builder().method(method).uri(url);
        let request = match token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        };
        let sent = if body.is_empty() {
            agent.run(request.body(()).unwrap())
        } else {
            agent.run(request.body(body.to_vec()).unwrap())
        };
        let mut response = match sent {
            Ok(response) => response,
            // The server answered before reading the whole body (a refusal) and closed the
            // connection while the client was still writing: read its answer directly.
            Err(_) => return self.call_raw(method, path, token, body),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let first_seq = response
            .headers()
            .get("x-cameo-first-seq")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let text = response
            .body_mut()
            .with_config()
            .limit(100 << 20)
            .read_to_string()
            .unwrap();
        Reply {
            status,
            text,
            retry_after,
            first_seq,
        }
    }

    /// Sends a request over a plain socket, ignoring a failed write, and reads the answer.
    fn call_raw(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no answer from the server: {answer}"));
        let retry_after = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after: ")
                .map(str::to_string)
        });
        Reply {
            status,
            text: text.to_string(),
            retry_after,
            first_seq: None,
        }
    }

    /// Makes tenant `name` and a token of `role` for it.
    pub fn tenant(&self, name: &str, role: &str) -> String {
        let admin = self.admin_token();
        let body = format!(r#"{{"name":"{name}"}}"#);
        let reply = self.call("POST", "/v1/tenants", Some(&admin), body.as_bytes());
        assert!(reply.status == 201 || reply.status == 409, "{}", reply.text);
        self.token(name, role)
    }

    /// A new token of `role` for existing tenant `name`.
    pub fn token(&self, name: &str, role: &str) -> String {
        let admin = self.admin_token();
        let body = format!(r#"{{"role":"{role}"}}"#);
        let reply = self.call(
            "POST",
            &format!("/v1/tenants/{name}/tokens"),
            Some(&admin),
            body.as_bytes(),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["token"].as_str().unwrap().to_string()
    }

    /// Pushes guest component `path` as module `name`.
    pub fn push(&self, token: &str, name: &str, path: &str) -> Reply {
        let bytes = std::fs::read(path).unwrap();
        self.call("POST", &format!("/v1/modules/{name}"), Some(token), &bytes)
    }

    /// Submits `spec`; returns the job id.
    pub fn submit(&self, token: &str, spec: &str) -> String {
        let reply = self.call("POST", "/v1/jobs", Some(token), spec.as_bytes());
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["id"].as_str().unwrap().to_string()
    }

    /// Waits until job `id` is no longer running; returns its status.
    pub fn wait_done(&self, token: &str, id: &str) -> serde_json::Value {
        for _ in 0..6000 {
            let status = self
                .call("GET", &format!("/v1/jobs/{id}"), Some(token), b"")
                .json();
            if status["state"] != "running" {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("job {id} did not end");
    }

    /// Every line of sink `sink` of job `id`, read page by page (a read gives at most
    /// 10 000).
    pub fn tail(&self, token: &str, id: &str, sink: &str) -> Vec<serde_json::Value> {
        let mut lines: Vec<serde_json::Value> = Vec::new();
        loop {
            let after = lines
                .last()
                .map_or(String::new(), |l| format!("?after={}", l["seq"]));
            let reply = self.call(
                "GET",
                &format!("/v1/jobs/{id}/sinks/{sink}{after}"),
                Some(token),
                b"",
            );
            assert_eq!(reply.status, 200, "{}", reply.text);
            let before = lines.len();
            lines.extend(
                reply
                    .text
                    .lines()
                    .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()),
            );
            if lines.len() == before {
                return lines;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A reply: status, body, Retry-After.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub retry_after: Option<String>,
    /// `x-cameo-first-seq`, when given and not empty.
    pub first_seq: Option<u64>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }

    /// The `error` of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A job: an http source of NDJSON keyed by `key`, operator `module` with `config`, an http
/// sink.
pub fn http_job(module: &str, config: &str) -> String {
    format!(
        r#"
name = "keep-big"
latency_target_ms = 50
[[source]]
name = "in"
kind = "http"
format = "ndjson"
key_field = "key"
[[operator]]
name = "op"
module = "{module}"
inputs = ["in"]
config = {config}
[[sink]]
name = "out"
kind = "http"
inputs = ["op"]
"#
    )
}

/// `count` NDJSON events `{"key": "k<i % 7>", "value": i}` from `first`.
pub fn events(first: u64, count: u64) -> String {
    (first..first + count)
        .map(|i| format!("{{\"key\":\"k{}\",\"value\":{i}}}\n", i % 7))
        .collect()
}
