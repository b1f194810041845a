//! `cameo send` and `cameo tail`: events into a job's http source, out of its http sink.

use std::io::{BufRead as _, Read as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::api::{ApiError, Connection};

/// Most bytes in one request.
const BATCH_BYTES: usize = 1 << 20;

/// Flags of `cameo send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    connection: Connection,
    /// The job's id.
    job: String,
    /// The job's http source.
    source: String,
    /// NDJSON (or plain lines) to send; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// End the source after this input (the job finishes once it has processed it).
    #[arg(long)]
    end: bool,
    /// Most bytes of whole lines in one request: smaller requests come out of the job
    /// sooner (a request's last event waits for the ones before it), larger ones carry more
    /// events per second. A line longer than this goes in a request of its own.
    #[arg(long, default_value_t = BATCH_BYTES)]
    batch_bytes: usize,
}

/// Sends the input in batches of whole lines, waiting and retrying while the job is behind.
pub fn send(args: SendArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    let (reader, size): (Box<dyn std::io::Read>, Option<u64>) = match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            let size = file.metadata().map(|m| m.len()).ok();
            (Box::new(file), size)
        }
        _ => (Box::new(std::io::stdin()), None),
    };
    // A bar for files over one batch; standard input has no known end.
    let batch_bytes = args.batch_bytes.max(1);
    let bar = size
        .filter(|&size| size > batch_bytes as u64)
        .map(|size| super::api::bytes_bar(size, "sending"));
    let mut reader = std::io::BufReader::new(reader);
    let path = format!("/v1/jobs/{}/sources/{}", args.job, args.source);
    let mut sent = 0u64;
    let mut batch = Vec::with_capacity(batch_bytes.min(BATCH_BYTES));
    loop {
        let mut line = Vec::new();
        // At most a batch (and a megabyte) of one line at a time: a longer line is sent in
        // pieces, as the server takes it, rather than read whole into memory.
        let read = reader
            .by_ref()
            .take(batch_bytes.max(BATCH_BYTES) as u64)
            .read_until(b'\n', &mut line)
            .context("could not read the input")?;
        // A line that would take the batch past its size goes in the next one.
        if read > 0 && !batch.is_empty() && batch.len() + line.len() > batch_bytes {
            let bytes = batch.len() as u64;
            sent += post(&api, &path, std::mem::take(&mut batch))?;
            if let Some(bar) = &bar {
                bar.inc(bytes);
            }
        }
        if read > 0 {
            batch.extend_from_slice(&line);
        }
        let last = read == 0;
        if batch.len() >= batch_bytes || (last && !batch.is_empty()) {
            let bytes = batch.len() as u64;
            sent += post(&api, &path, std::mem::take(&mut batch))?;
            if let Some(bar) = &bar {
                bar.inc(bytes);
            }
        }
        if last {
            break;
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if args.end {
        api.send("POST", &format!("{path}?end=true"), None)?;
    }
    eprintln!("sent {sent} events to {} of job {}", args.source, args.job);
    Ok(())
}

/// Posts one batch, waiting as the server asks while the job is behind (429) or starting
/// again after a restart (503 with Retry-After).
fn post(api: &super::api::Api, path: &str, batch: Vec<u8>) -> anyhow::Result<u64> {
    loop {
        match api.call("POST", path, Some(batch.clone())) {
            Ok(reply) => return Ok(reply.json()?["accepted"].as_u64().unwrap_or_default()),
            Err(ApiError::Refused {
                status: 429,
                retry_after,
                ..
            }) => std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(1).min(10))),
            Err(ApiError::Refused {
                status: 503,
                retry_after: Some(seconds),
                ..
            }) => std::thread::sleep(Duration::from_secs(seconds.min(10))),
            Err(err) => return Err(err.into()),
        }
    }
}

/// Flags of `cameo tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    #[command(flatten)]
    connection: Connection,
    /// The job's id.
    job: String,
    /// The job's http sink.
    sink: String,
    /// Only events whose seq is above this.
    #[arg(long)]
    after: Option<u64>,
    /// Keep printing new events until the job ends.
    #[arg(long, short)]
    follow: bool,
}

/// Prints the sink's events as NDJSON, with their `seq`; with --follow, what comes next
/// as it is written, until the job is over.
pub fn tail(args: TailArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    let path = |after: Option<u64>| {
        let after = after.map_or(String::new(), |seq| format!("&after={seq}"));
        format!(
            "/v1/jobs/{}/sinks/{}?follow={}{after}",
            args.job,
            args.sink,
            u8::from(args.follow)
        )
    };
    if args.follow {
        return super::follow::follow(&api, &args.job, path, args.after, |line, _| {
            println!("{line}");
        });
    }
    // Page by page until a page comes back empty.
    let mut after = args.after;
    loop {
        let mut got = false;
        api.stream_lines(&path(after), |line| {
            println!("{line}");
            got = true;
            if let Some(seq) = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["seq"].as_u64())
            {
                after = Some(seq);
            }
        })?;
        if !got {
            return Ok(());
        }
    }
}
