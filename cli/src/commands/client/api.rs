//! The connection to a server: where, which token, requests and their errors.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use ureq::{AsSendBody, SendBody};

use super::config;

/// Bodies this large or larger show a progress bar while they are sent.
pub const PROGRESS_BYTES: u64 = 1 << 20;

/// A progress bar of `total` bytes named `what`, on stderr (hidden when it is not a
/// terminal).
pub fn bytes_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total).with_message(what.to_string());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The default server.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7070";

/// Where to connect, for every client verb.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The server's URL [default: $CAMEO_SERVER, the config file, or http://127.0.0.1:7070].
    #[arg(long, global = true)]
    server: Option<String>,
    /// The token [default: $CAMEO_TOKEN, or the config file].
    #[arg(long, global = true)]
    token: Option<String>,
    /// Trust the server's certificate if this CA (PEM) signed it, for an https:// server
    /// [default: $CAMEO_CA_CERT; else the system's usual roots].
    #[arg(long, global = true, value_name = "PEM")]
    ca_cert: Option<std::path::PathBuf>,
}

/// A reply that was not an error.
pub struct Reply {
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("the server's answer is not JSON")
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server refused it.
    #[error("{message} (HTTP {status})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// Seconds to wait before retrying, for 429.
        retry_after: Option<u64>,
    },
    /// The server could not be reached.
    #[error(
        "could not reach the server at {server}: {reason}; is `cameo serve` running there? \
         (set it with --server, CAMEO_SERVER or `cameo login`)"
    )]
    Unreachable {
        /// The server.
        server: String,
        /// Why.
        reason: String,
    },
}

/// The refusal a status of 400 or more with `body` means.
fn refusal(status: u16, body: &[u8], retry_after: Option<u64>) -> ApiError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    ApiError::Refused {
        status,
        message,
        retry_after,
    }
}

/// Why a request to `server` failed, in words, with what to do for TLS trouble.
fn describe(server: &str, err: &ureq::Error) -> String {
    let text = err.to_string();
    let tls = matches!(err, ureq::Error::Rustls(_)) || text.contains("certificate");
    if tls && server.starts_with("https://") {
        format!(
            "{text} (the server's certificate is not trusted: give the CA that signed it with \
             --ca-cert or CAMEO_CA_CERT)"
        )
    } else {
        text
    }
}

/// A client of one server.
pub struct Api {
    agent: ureq::Agent,
    server: String,
    token: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Connection {
    /// The server and token these flags, the environment and the config file give.
    pub fn resolve(&self) -> anyhow::Result<(String, Option<String>)> {
        let saved = config::load()?;
        let server = self
            .server
            .clone()
            .or_else(|| env("CAMEO_SERVER"))
            .or(saved.server)
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let token = self
            .token
            .clone()
            .or_else(|| env("CAMEO_TOKEN"))
            .or(saved.token);
        Ok((server, token))
    }

    /// A client for the server these flags name.
    pub fn api(&self) -> anyhow::Result<Api> {
        let (server, token) = self.resolve()?;
        let ca = self
            .ca_cert
            .clone()
            .or_else(|| env("CAMEO_CA_CERT").map(std::path::PathBuf::from));
        match ca {
            Some(path) => Api::with_ca(server, token, &path),
            None => Ok(Api::new(server, token)),
        }
    }
}

impl Api {
    /// A client of `server` sending `token`.
    pub fn new(server: String, token: Option<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self::with_agent(agent, server, token)
    }

    /// A client of `server` sending `token` that trusts the certificates the CA in PEM file
    /// `ca` signed (and no other).
    pub fn with_ca(server: String, token: Option<String>, ca: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(ca)
            .with_context(|| format!("could not read the CA certificate {}", ca.display()))?;
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                Ok(_) => None,
                Err(err) => Some(Err(err)),
            })
            .collect::<Result<_, _>>()
            .with_context(|| format!("the CA certificate {} is not valid PEM", ca.display()))?;
        if certs.is_empty() {
            anyhow::bail!(
                "{} holds no CERTIFICATE; give the PEM file of the CA that signed the \
                 server's certificate",
                ca.display()
            );
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .build()
            .into();
        Ok(Self::with_agent(agent, server, token))
    }

    fn with_agent(agent: ureq::Agent, server: String, token: Option<String>) -> Self {
        Api {
            agent,
            server: server.trim_end_matches('/').to_string(),
            token,
        }
    }

    /// Sends a request with `body` and returns a 2xx reply, or the server's error.
    pub fn call(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Reply, ApiError> {
        match body {
            Some(body) => self.run(method, path, body),
            None => self.run(method, path, ()),
        }
    }

    /// `call` with `body`, showing a progress bar named `what` while it is sent when it has
    /// [`PROGRESS_BYTES`] or more (and stderr is a terminal).
    pub fn call_with_progress(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        what: &str,
    ) -> Result<Reply, ApiError> {
        if (body.len() as u64) < PROGRESS_BYTES {
            return self.run(method, path, body);
        }
        let bar = bytes_bar(body.len() as u64, what);
        let reader = bar.wrap_read(std::io::Cursor::new(body));
        let reply = self.run(method, path, SendBody::from_owned_reader(reader));
        bar.finish_and_clear();
        reply
    }

    /// Sends a request and returns the response, whatever its status.
    fn start(
        &self,
        method: &str,
        path: &str,
        body: impl AsSendBody,
    ) -> Result<ureq::http::Response<ureq::Body>, ApiError> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server));
        let request = match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        };
        request
            .body(body)
            .map_err(|err| self.unreachable(err.to_string()))
            .and_then(|r| {
                self.agent
                    .run(r)
                    .map_err(|err| self.unreachable(describe(&self.server, &err)))
            })
    }

    fn unreachable(&self, reason: String) -> ApiError {
        ApiError::Unreachable {
            server: self.server.clone(),
            reason,
        }
    }

    fn run(&self, method: &str, path: &str, body: impl AsSendBody) -> Result<Reply, ApiError> {
        let mut response = self.start(method, path, body)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|err| self.unreachable(format!("the answer was cut off: {err}")))?;
        if status >= 400 {
            return Err(refusal(status, &body, retry_after));
        }
        Ok(Reply { body })
    }

    /// GETs `path` and hands each line of the answer to `each` as it arrives, until the
    /// answer ends. An answer cut off in the middle is [`ApiError::Unreachable`].
    pub fn stream_lines(&self, path: &str, mut each: impl FnMut(&str)) -> Result<(), ApiError> {
        use std::io::BufRead as _;
        let mut response = self.start("GET", path, ())?;
        let status = response.status().as_u16();
        if status >= 400 {
            let body = response
                .body_mut()
                .with_config()
                .limit(1 << 20)
                .read_to_vec()
                .unwrap_or_default();
            return Err(refusal(status, &body, None));
        }
        let reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        for line in std::io::BufReader::new(reader).lines() {
            let line =
                line.map_err(|err| self.unreachable(format!("the answer was cut off: {err}")))?;
            each(&line);
        }
        Ok(())
    }

    /// `call`, with the error as an `anyhow::Error`.
    pub fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> anyhow::Result<Reply> {
        self.call(method, path, body).map_err(|err| anyhow!(err))
    }

    /// GETs `path` as JSON.
    pub fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.send("GET", path, None)?.json()
    }
}
