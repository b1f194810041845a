//! `cameo bench serve`: the HTTP path of `cameo serve`, with a server in this process on a
//! loopback port and clients on other threads, all on this machine.
//!
//! - Ingest: batched NDJSON posted to an http source of a filter job (half the events pass)
//!   from several connections as fast as the server takes them; events per second from the
//!   first request to the last output counted at the sink.
//! - Latency at half that rate, in smaller batches (a batch's last event waits for the ones
//!   before it, so the batch size bounds what the latency can be): each request's time to
//!   acknowledgement (the events are on disk for the job), the job's own latency from the
//!   source reading an event to the sink, and, measured by a watcher asking the sink over
//!   HTTP, each batch's time from being sent to its last output being readable at the sink.
//! - Push to running: a 2 MB component (the filter, padded with a custom section) pushed and
//!   submitted in a job until the job runs, first with the compile cache cold (new bytes),
//!   then warm (the same bytes pushed by another tenant).
//!
//! The benchmark's client retries a refused (429) batch after 2 ms rather than the
//! `Retry-After` second `cameo send` waits, so back-pressure costs little time here.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;

mod latency;

/// Events per request.
pub const BATCH_EVENTS: usize = 5_000;

/// The size the pushed component is padded to.
const PUSH_BYTES: usize = 2 << 20;

/// What the benchmark measured.
#[derive(Debug, Serialize)]
pub struct ServeReport {
    /// Events sent in the ingest run.
    pub events: u64,
    /// Connections posting at once.
    pub connections: usize,
    /// Events per request.
    pub batch_events: usize,
    /// Events per second, first request to last output.
    pub ingest_events_per_s: f64,
    /// The rate of the latency run (half the ingest rate, or the rate asked for).
    pub half_rate_events_per_s: f64,
    /// Request to acknowledgement at half rate, ms: median.
    pub ack_p50_ms: f64,
    /// Same, 99th percentile.
    pub ack_p99_ms: f64,
    /// Events per request in the latency run.
    pub latency_batch_events: usize,
    /// Source read to sink at half rate, ms, as the job measured it: 99th percentile.
    pub pipeline_p99_ms: f64,
    /// Request sent to its last output readable at the sink, at half rate, ms: median.
    pub sent_to_sink_p50_ms: f64,
    /// Same, 99th percentile: the added latency of the HTTP path.
    pub sent_to_sink_p99_ms: f64,
    /// Bytes of the pushed component.
    pub component_bytes: usize,
    /// Push and submit until running, compile cache cold, ms.
    pub push_to_running_cold_ms: f64,
    /// The same with the compile cache warm, ms.
    pub push_to_running_warm_ms: f64,
}

impl std::fmt::Display for ServeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "ingest: {:.0} events/s ({} events, batches of {}, {} connections; goal 300000)",
            self.ingest_events_per_s, self.events, self.batch_events, self.connections
        )?;
        writeln!(
            f,
            "at {:.0} events/s in batches of {}: ack p50 {:.3} ms, p99 {:.3} ms; source to \
             sink p99 {:.3} ms; sent to readable at the sink p50 {:.3} ms, p99 {:.3} ms (goal \
             < 5)",
            self.half_rate_events_per_s,
            self.latency_batch_events,
            self.ack_p50_ms,
            self.ack_p99_ms,
            self.pipeline_p99_ms,
            self.sent_to_sink_p50_ms,
            self.sent_to_sink_p99_ms
        )?;
        writeln!(
            f,
            "push of {} bytes to running: {:.0} ms cold, {:.0} ms with the compile cache warm \
             (goal < 1000)",
            self.component_bytes, self.push_to_running_cold_ms, self.push_to_running_warm_ms
        )
    }
}

/// A server on a loopback port in this process, stopped when dropped.
struct InProcess {
    url: String,
    admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    fn start(data_dir: &Path, workers: usize) -> Result<InProcess, BenchError> {
        let mut config = cameo_server::Config::new(data_dir.to_path_buf());
        config.run_options.workers = workers;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = addr_tx.send(Err(err));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(err) => {
                        let _ = addr_tx.send(Err(err));
                        return;
                    }
                };
                let _ = addr_tx.send(listener.local_addr());
                let served = cameo_server::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await;
                if let Err(err) = served {
                    eprintln!("the benchmark's server stopped: {err}");
                }
            });
        });
        let addr = addr_rx
            .recv()
            .map_err(|_| std::io::Error::other("the benchmark's server did not start"))??;
        let url = format!("http://{addr}");
        let admin = loop {
            // The admin token is written before the server answers.
            if let Ok(token) = std::fs::read_to_string(data_dir.join("admin.token")) {
                break token.trim().to_string();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let server = InProcess {
            url,
            admin,
            stop: Some(stop),
            thread: Some(thread),
        };
        let client = Client::new(&server.url, &server.admin);
        for _ in 0..2000 {
            if client.call("GET", "/readyz", None).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(std::io::Error::other("the benchmark's server did not get ready").into())
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A keep-alive client with one token.
struct Client {
    agent: ureq::Agent,
    url: String,
    token: String,
}

fn failed(what: &str, reason: impl std::fmt::Display) -> BenchError {
    BenchError::Io(std::io::Error::other(format!("{what}: {reason}")))
}

impl Client {
    fn new(url: &str, token: &str) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            url: url.to_string(),
            token: token.to_string(),
        }
    }

    /// Status and body of a request.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, String), BenchError> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {}", self.token));
        let sent = match body {
            Some(body) => request
                .body(body)
                .map_err(|err| failed(path, err))
                .and_then(|r| self.agent.run(r).map_err(|err| failed(path, err))),
            None => request
                .body(())
                .map_err(|err| failed(path, err))
                .and_then(|r| self.agent.run(r).map_err(|err| failed(path, err))),
        };
        let mut response = sent?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|err| failed(path, err))?;
        Ok((status, text))
    }

    /// The JSON body of a request that must answer `expected`.
    fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        expected: &[u16],
    ) -> Result<serde_json::Value, BenchError> {
        let (status, text) = self.call(method, path, body)?;
        if !expected.contains(&status) {
            return Err(failed(path, format!("HTTP {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|err| failed(path, err))
    }

    /// Posts a batch, retrying after 2 ms while the job is behind (429).
    fn send(&self, path: &str, batch: &[u8]) -> Result<(), BenchError> {
        loop {
            let (status, text) = self.call("POST", path, Some(batch.to_vec()))?;
            match status {
                200 => return Ok(()),
                429 => std::thread::sleep(Duration::from_millis(2)),
                _ => return Err(failed(path, format!("HTTP {status}: {text}"))),
            }
        }
    }
}

/// Batches of `size` of `count` events from `first`; half have a value of at least 50.
fn batches(first: u64, count: u64, size: usize) -> Vec<Vec<u8>> {
    let lines: Vec<String> = (first..first + count)
        .map(|i| format!("{{\"key\":\"k{}\",\"value\":{}}}\n", i % 64, i % 100))
        .collect();
    lines
        .chunks(size.max(1))
        .map(|chunk| chunk.concat().into_bytes())
        .collect()
}

/// How many of the first `events` events of [`batches`] the job's filter passes: values are
/// `i % 100` and the filter keeps 50 and up.
fn passing(events: u64) -> u64 {
    events / 100 * 50 + (events % 100).saturating_sub(50)
}

/// A filter job over an http source and sink, using module `module`.
fn job_spec(module: &str) -> String {
    format!(
        r#"
name = "bench-serve"
[[source]]
name = "in"
kind = "http"
format = "ndjson"
key_field = "key"
[[operator]]
name = "filter"
module = "{module}"
inputs = ["in"]
config = {{ field = "value", min = 50 }}
[[sink]]
name = "out"
kind = "http"
inputs = ["filter"]
"#
    )
}

/// Waits until job `id` counted `outputs` at its sinks; returns its summary.
fn wait_outputs(client: &Client, id: &str, outputs: u64) -> Result<serde_json::Value, BenchError> {
    loop {
        let status = client.json("GET", &format!("/v1/jobs/{id}"), None, &[200])?;
        if status["summary"]["events_out"].as_u64().unwrap_or(0) >= outputs {
            return Ok(status["summary"].clone());
        }
        if status["state"] != "running" {
            return Err(failed(
                "the benchmark's job",
                format!("it stopped: {status}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Posts `batches` from `connections` threads; returns each request's time to its answer.
fn post_all(
    url: &str,
    token: &str,
    path: &str,
    batches: Arc<Vec<Vec<u8>>>,
    connections: usize,
) -> Result<Vec<Duration>, BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (client, batches, next) = (
                Client::new(url, token),
                Arc::clone(&batches),
                Arc::clone(&next),
            );
            let path = path.to_string();
            std::thread::spawn(move || -> Result<Vec<Duration>, String> {
                let mut times = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else {
                        return Ok(times);
                    };
                    let sent = Instant::now();
                    client.send(&path, batch).map_err(|err| err.to_string())?;
                    times.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut times = Vec::new();
    for thread in threads {
        let done = thread
            .join()
            .map_err(|_| failed("a client thread", "it panicked"))?
            .map_err(|err| failed("a client thread", err))?;
        times.extend(done);
    }
    Ok(times)
}

fn quantile_ms(times: &mut [Duration], q: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort();
    let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
    times[index].as_secs_f64() * 1e3
}

/// `component` with a custom section appended so that it has `size` bytes.
fn padded(component: &[u8], size: usize, tag: u8) -> Vec<u8> {
    let name = b"cameo-bench-padding";
    let mut out = component.to_vec();
    let payload = size.saturating_sub(component.len() + name.len() + 8).max(1);
    let mut section = Vec::with_capacity(payload + name.len() + 1);
    section.push(name.len() as u8);
    section.extend_from_slice(name);
    section.extend(std::iter::repeat_n(tag, payload));
    out.push(0); // custom section
    let mut len = section.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&section);
    out
}

/// Pushes `bytes` as module `name` and submits a job on it; ms until it runs.
fn push_to_running(client: &Client, name: &str, bytes: Vec<u8>) -> Result<f64, BenchError> {
    let started = Instant::now();
    client.json(
        "POST",
        &format!("/v1/modules/{name}"),
        Some(bytes),
        &[200, 201],
    )?;
    let job = client.json(
        "POST",
        "/v1/jobs",
        Some(job_spec(name).into_bytes()),
        &[201],
    )?;
    let took = started.elapsed().as_secs_f64() * 1e3;
    if job["state"] != "running" {
        return Err(failed("the pushed module's job", job));
    }
    let id = job["id"].as_str().unwrap_or_default();
    client.call("POST", &format!("/v1/jobs/{id}/cancel"), None)?;
    Ok(took)
}

/// Runs the benchmark with `events` in the ingest run, over `connections` connections, and
/// batches of `latency_batch` events in the latency run.
pub fn run(
    operators: &Path,
    (events, connections, latency_batch): (u64, usize, usize),
    latency_rate: Option<f64>,
    workers: usize,
) -> Result<ServeReport, BenchError> {
    let filter = std::fs::read(super::example_operator(operators, "filter")?)?;
    let scratch = std::env::temp_dir().join(format!("cameo-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let server = InProcess::start(&scratch, workers)?;
    let admin = Client::new(&server.url, &server.admin);
    let mut tokens = Vec::new();
    for tenant in ["bench", "bench-warm"] {
        admin.json(
            "POST",
            "/v1/tenants",
            Some(format!(r#"{{"name":"{tenant}"}}"#).into_bytes()),
            &[201, 409],
        )?;
        let token = admin.json(
            "POST",
            &format!("/v1/tenants/{tenant}/tokens"),
            Some(br#"{"role":"deploy"}"#.to_vec()),
            &[201],
        )?;
        tokens.push(token["token"].as_str().unwrap_or_default().to_string());
    }
    let client = Client::new(&server.url, &tokens[0]);
    let progress = indicatif::ProgressBar::new(4).with_message("serve benchmark");

    // Push to running: cold, then the same bytes from another tenant with the cache warm.
    let component = padded(&filter, PUSH_BYTES, 1);
    let cold = push_to_running(&client, "padded", component.clone())?;
    let warm = push_to_running(
        &Client::new(&server.url, &tokens[1]),
        "padded",
        component.clone(),
    )?;
    progress.inc(1);

    // Ingest as fast as the server takes it.
    client.json("POST", "/v1/modules/filter", Some(filter), &[200, 201])?;
    let job = client.json(
        "POST",
        "/v1/jobs",
        Some(job_spec("filter").into_bytes()),
        &[201],
    )?;
    let id = job["id"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/jobs/{id}/sources/in");
    let all = Arc::new(batches(0, events, BATCH_EVENTS));
    let started = Instant::now();
    post_all(&server.url, &tokens[0], &path, all, connections)?;
    wait_outputs(&client, &id, passing(events))?;
    let ingest = events as f64 / started.elapsed().as_secs_f64();
    client.call("POST", &format!("/v1/jobs/{id}/cancel"), None)?;
    progress.inc(1);

    // Half that rate (or the rate asked for), paced, in smaller batches, on a fresh job.
    let half = latency_rate.unwrap_or(ingest / 2.0);
    let job = client.json(
        "POST",
        "/v1/jobs",
        Some(job_spec("filter").into_bytes()),
        &[201],
    )?;
    let id = job["id"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/jobs/{id}/sources/in");
    let size = latency_batch.max(2);
    let paced_events = ((half * 3.0) as u64).max(size as u64) / size as u64 * size as u64;
    let every = Duration::from_secs_f64(size as f64 / half);
    let paced_batches = batches(0, paced_events, size);
    // The seq of each batch's last output: the filter passes half of every hundred.
    let last_seqs = (1..=paced_batches.len() as u64)
        .map(|b| passing(b * size as u64).saturating_sub(1))
        .collect();
    let paced = latency::run(
        &server.url,
        &tokens[0],
        (&path, &format!("/v1/jobs/{id}/sinks/out")),
        paced_batches,
        last_seqs,
        every,
    )?;
    let summary = wait_outputs(&client, &id, passing(paced_events))?;
    progress.inc(1);
    let pipeline_p99_ms = summary["latency_ms"]["p99"].as_f64().unwrap_or(0.0);
    let (mut acks, mut visible) = (paced.acks, paced.visible);
    progress.finish_and_clear();
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(ServeReport {
        events,
        connections,
        batch_events: BATCH_EVENTS,
        ingest_events_per_s: ingest,
        half_rate_events_per_s: half,
        ack_p50_ms: quantile_ms(&mut acks, 0.5),
        ack_p99_ms: quantile_ms(&mut acks, 0.99),
        latency_batch_events: size,
        pipeline_p99_ms,
        sent_to_sink_p50_ms: quantile_ms(&mut visible, 0.5),
        sent_to_sink_p99_ms: quantile_ms(&mut visible, 0.99),
        component_bytes: component.len(),
        push_to_running_cold_ms: cold,
        push_to_running_warm_ms: warm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_gives_the_size_asked_for_within_a_few_bytes() {
        let component = vec![0u8; 1000];
        let out = padded(&component, 100_000, 7);
        assert!((99_990..=100_010).contains(&out.len()), "{}", out.len());
        assert_eq!(&out[..1000], &component[..]);
        assert_eq!(out[1000], 0, "a custom section follows");
    }

    #[test]
    fn passing_counts_what_the_filter_keeps() {
        let kept = |n: u64| (0..n).filter(|i| i % 100 >= 50).count() as u64;
        for n in [0, 1, 50, 51, 99, 100, 137, 100_037, 300_000] {
            assert_eq!(passing(n), kept(n), "{n} events");
        }
    }

    #[test]
    fn batches_hold_every_event_once() {
        let all = batches(0, 12_345, BATCH_EVENTS);
        let lines: usize = all
            .iter()
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .sum();
        assert_eq!(lines, 12_345);
        assert_eq!(all.len(), 3);
    }
}
