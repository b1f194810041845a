//! Following a job's output or log: one streamed answer after another, each asking for
//! what comes after the last `seq` printed, across a server restart (the server is asked
//! again until it answers, at most [`RECONNECT_FOR`]), until the job is over.

use std::time::{Duration, Instant};

use super::api::{Api, ApiError};

/// How long a follower waits for a server that went away to answer again.
pub const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// Pause between two attempts to reach the server, or to look at a paused job again.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// Streams `path(last)` and prints each line (by `print`, with its parsed JSON) whose `seq`
/// is above `last`; when an answer ends, goes on while job `job` runs (or is paused), with
/// `last` the last `seq` printed, so nothing is printed twice and nothing is left out.
pub fn follow(
    api: &Api,
    job: &str,
    path: impl Fn(Option<u64>) -> String,
    mut last: Option<u64>,
    mut print: impl FnMut(&str, &serde_json::Value),
) -> anyhow::Result<()> {
    let mut gone_since: Option<Instant> = None;
    loop {
        let mut printed = false;
        let streamed = api.stream_lines(&path(last), |line| {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                return;
            };
            let seq = value["seq"].as_u64();
            if let (Some(seq), Some(last)) = (seq, last)
                && seq <= last
            {
                return;
            }
            print(line, &value);
            printed = true;
            last = seq.or(last);
        });
        match streamed {
            Ok(()) => {}
            Err(err @ ApiError::Unreachable { .. }) => {
                gone(job, &err, &mut gone_since)?;
                continue;
            }
            Err(err) => return Err(err.into()),
        }
        // The answer ended: the job stopped running here. Over, paused, or the server
        // going away?
        match api.call("GET", &format!("/v1/jobs/{job}"), None) {
            Ok(reply) => {
                gone_since = None;
                let state = reply.json()?["state"].as_str().unwrap_or("").to_string();
                match state.as_str() {
                    "running" | "paused" => {
                        if !printed {
                            std::thread::sleep(RETRY_EVERY);
                        }
                    }
                    _ => return Ok(()),
                }
            }
            Err(err @ ApiError::Unreachable { .. }) => gone(job, &err, &mut gone_since)?,
            Err(err) => return Err(err.into()),
        }
    }
}

/// Waits a little before the server is asked again, or fails once it has not answered for
/// [`RECONNECT_FOR`].
fn gone(job: &str, reason: &ApiError, since: &mut Option<Instant>) -> anyhow::Result<()> {
    let since = *since.get_or_insert_with(Instant::now);
    if since.elapsed() > RECONNECT_FOR {
        anyhow::bail!(
            "stopped following job {job}: {reason}; the server did not answer for {} s",
            RECONNECT_FOR.as_secs()
        );
    }
    std::thread::sleep(RETRY_EVERY);
    Ok(())
}
