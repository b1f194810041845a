//! The latency run of `cameo bench serve`: batches posted at a steady pace on one connection
//! while a watcher asks the sink, over HTTP, for the last output of the next batch, so each
//! batch's time from being sent to its output being readable at the sink is measured, not
//! bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{BenchError, Client, failed};

/// Longest the watcher waits for one batch's output.
const WATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Pause between two questions of the watcher, so it does not take a core from the server
/// (each question is a request the server answers): the figures are up to this late.
const WATCH_STEP: Duration = Duration::from_micros(500);

/// What the run measured, per batch.
pub(super) struct Paced {
    /// Request sent to acknowledged.
    pub acks: Vec<Duration>,
    /// Request sent to the batch's last output readable at the sink.
    pub visible: Vec<Duration>,
}

/// Posts `batches` to `path` one every `every`, while a watcher waits for output `last_seqs[i]`
/// (the seq of batch i's last output) at `sink` of job `id`.
pub(super) fn run(
    url: &str,
    token: &str,
    (path, sink): (&str, &str),
    batches: Vec<Vec<u8>>,
    last_seqs: Vec<u64>,
    every: Duration,
) -> Result<Paced, BenchError> {
    let started = Instant::now();
    let watcher = {
        let client = Client::new(url, token);
        let sink = sink.to_string();
        std::thread::spawn(move || -> Result<Vec<Instant>, String> {
            let mut seen = Vec::with_capacity(last_seqs.len());
            for seq in last_seqs {
                let query = match seq.checked_sub(1) {
                    Some(after) => format!("{sink}?after={after}&limit=1"),
                    None => format!("{sink}?limit=1"),
                };
                let asked = Instant::now();
                loop {
                    let (status, text) = client
                        .call("GET", &query, None)
                        .map_err(|e| e.to_string())?;
                    if status != 200 {
                        return Err(format!("the sink answered HTTP {status}: {text}"));
                    }
                    if !text.is_empty() {
                        seen.push(Instant::now());
                        break;
                    }
                    if asked.elapsed() > WATCH_TIMEOUT {
                        return Err(format!("output {seq} did not come within a minute"));
                    }
                    std::thread::sleep(WATCH_STEP);
                }
            }
            Ok(seen)
        })
    };
    let client = Client::new(url, token);
    let batches = Arc::new(batches);
    let mut sent = Vec::with_capacity(batches.len());
    let mut acks = Vec::with_capacity(batches.len());
    for (i, batch) in batches.iter().enumerate() {
        let due = started + every * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let at = Instant::now();
        client.send(path, batch)?;
        acks.push(at.elapsed());
        sent.push(at);
    }
    let seen = watcher
        .join()
        .map_err(|_| failed("the watcher", "it panicked"))?
        .map_err(|err| failed("the watcher", err))?;
    let visible = sent
        .iter()
        .zip(&seen)
        .map(|(sent, seen)| seen.saturating_duration_since(*sent))
        .collect();
    Ok(Paced { acks, visible })
}
