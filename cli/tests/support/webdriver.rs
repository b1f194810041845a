//! A small WebDriver client for the console's browser test: it starts Debian's
//! `chromedriver` on a loopback port, opens one headless Chromium session, and speaks the
//! W3C WebDriver protocol (JSON over HTTP) to it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a wait for the page gives up after: generous, for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// A headless Chromium driven over WebDriver; closed when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    profile: tempfile::TempDir,
}

/// The first of `names` found on `PATH` or in `/usr/bin`, `/usr/lib/chromium`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push("/usr/bin".into());
    dirs.push("/usr/lib/chromium".into());
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or says why it cannot (neither
    /// installed: `scripts/setup-browser` installs both).
    pub fn start() -> Result<Browser, String> {
        let driver = find_program(&["chromedriver"])
            .ok_or("chromedriver is not installed (scripts/setup-browser installs it)")?;
        let chromium = find_program(&["chromium", "chromium-browser"])
            .ok_or("chromium is not installed (scripts/setup-browser installs it)")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|err| format!("no free loopback port: {err}"))?
            .port();
        let driver = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("{} did not start: {err}", driver.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let profile = tempfile::tempdir().map_err(|err| err.to_string())?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            profile,
        };
        let started = Instant::now();
        while browser.request("GET", "/status", None).is_err() {
            if started.elapsed() > PATIENCE {
                return Err("chromedriver did not answer on its port".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = browser.profile.path().display().to_string();
        let created = browser.request(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,960",
                             format!("--user-data-dir={profile}")],
                },
            }}})),
        )?;
        browser.session = created["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromedriver made no session: {created}"))?
            .to_string();
        Ok(browser)
    }

    /// One WebDriver request; its `value`, or the driver's error.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Content-Type", "application/json");
        let sent = match body {
            Some(body) => self
                .agent
                .run(request.body(body.to_string()).map_err(|e| e.to_string())?),
            None => self.agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = sent.map_err(|err| err.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|err| err.to_string())?;
        let answer: Value = serde_json::from_str(&text).map_err(|err| format!("{err}: {text}"))?;
        if status != 200 {
            return Err(format!(
                "WebDriver {method} {path}: HTTP {status}: {answer}"
            ));
        }
        Ok(answer["value"].clone())
    }

    /// A request of this session; panics with the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.request(method, &path, body).unwrap()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The element `css` selects (the first), waiting for it to exist.
    pub fn find(&self, css: &str) -> String {
        let selector = serde_json::to_string(css).unwrap();
        self.wait_for(
            &format!("an element {css}"),
            &format!("return document.querySelector({selector}) !== null"),
        );
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        match found[ELEMENT].as_str() {
            Some(element) => element.to_string(),
            None => panic!("WebDriver found no element {css}: {found}"),
        }
    }

    /// Types `text` into the element `css` selects.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Clicks the element `css` selects.
    pub fn click(&self, css: &str) {
        // The live page redraws its tables: an element found just before a redraw is stale by
        // the time of the click, so it is found again (a few times at most).
        for _ in 0..20 {
            let element = self.find(css);
            let path = format!("/session/{}/element/{element}/click", self.session);
            match self.request("POST", &path, Some(json!({}))) {
                Ok(_) => return,
                Err(err) if err.contains("stale element reference") => continue,
                Err(err) => panic!("{err}"),
            }
        }
        panic!("the element {css} went stale 20 times in a row");
    }

    /// True when the element `css` selects is shown (exists and is rendered).
    pub fn shown(&self, css: &str) -> bool {
        let selector = serde_json::to_string(css).unwrap();
        self.script(&format!(
            "const e = document.querySelector({selector}); \
             return e !== null && e.getClientRects().length > 0"
        ))
        .as_bool()
        .unwrap()
    }

    /// Runs `body` (a function body: `return ...`) in the page; what it returns.
    pub fn script(&self, body: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": body, "args": []})),
        )
    }

    /// Waits until `body` returns something truthy (not null, false, 0 or ""), and returns
    /// it; panics naming `what` after a generous while.
    pub fn wait_for(&self, what: &str, body: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.script(body);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {what}; the page shows: {}",
                self.script("return document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of what the window shows to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.call("GET", "/screenshot", None);
        let png = base64_decode(encoded.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Decodes standard base64 (what WebDriver sends screenshots in).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_what_it_should() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
