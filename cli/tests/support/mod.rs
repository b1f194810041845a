//! What the tests of `cameo serve` share: a real server process on an ephemeral port, and
//! the `cameo` binary run as a user runs it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A `cameo serve` process.
pub struct Serve {
    pub child: Child,
    pub url: String,
}

impl Serve {
    pub fn start(data_dir: &Path) -> Serve {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, flags: &[&str]) -> Serve {
        Self::start_at(data_dir, "127.0.0.1:0", flags)
    }

    /// Starts a server listening on `listen` (an address, or port 0 for any).
    pub fn start_at(data_dir: &Path, listen: &str, flags: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cameo"))
            .args(["serve", "--listen", listen, "--workers", "2"])
            .args(["--checkpoint-interval-ms", "100"])
            .args(flags)
            .arg("--data-dir")
            .arg(data_dir)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(url) = line.strip_prefix("cameo serve: listening on ") {
                break url.to_string();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Serve { child, url }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cameo` with the client config in `home`.
pub fn cameo(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cameo"));
    command
        .args(args)
        .env("CAMEO_CONFIG", home.join("config.toml"))
        .env_remove("CAMEO_SERVER")
        .env_remove("CAMEO_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until `job status` says the job is no longer running.
pub fn wait_done(home: &Path, id: &str) -> serde_json::Value {
    for _ in 0..3000 {
        let status: serde_json::Value =
            serde_json::from_str(&ok(cameo(home, &["job", "status", id, "--json"], None))).unwrap();
        if status["state"] != "running" {
            return status;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("job {id} did not end");
}

/// Writes into `dir` the word-count job the upgrade and shadow tests run (module `wc@1`,
/// http in and out), and returns its path.
pub fn counts_spec(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("counts.toml");
    std::fs::write(
        &path,
        r#"
name = "counts"
[[source]]
name = "in"
kind = "http"
format = "ndjson"
[[operator]]
name = "count"
module = "wc@1"
inputs = ["in"]
[[sink]]
name = "out"
kind = "http"
inputs = ["count"]
"#,
    )
    .unwrap();
    path
}

/// The word of input `i`.
pub fn word(i: u64) -> String {
    format!("w{}", i % 5)
}

/// `count` events `{"text": word}` from `first`.
pub fn words(first: u64, count: u64) -> String {
    (first..first + count)
        .map(|i| format!("{{\"text\":\"{}\"}}\n", word(i)))
        .collect()
}
