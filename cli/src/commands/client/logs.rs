//! `cameo logs JOB [--follow]`: what a job's operators logged or printed, from the server's
//! log ring.

use std::time::Duration;

use super::api::{Api, Connection};

/// Flags of `cameo logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    connection: Connection,
    /// The job's id.
    job: String,
    /// Only lines whose seq is above this.
    #[arg(long, default_value_t = 0)]
    since: u64,
    /// Keep printing new lines until the job ends.
    #[arg(long, short)]
    follow: bool,
    /// Print the lines as the server keeps them: NDJSON with seq, time, operator, instance,
    /// stream, level and text.
    #[arg(long)]
    json: bool,
}

/// One log line for a person: `operator#instance level [stream] text`.
fn human(line: &serde_json::Value) -> String {
    let stream = line["stream"].as_str().unwrap_or("");
    let stream = if stream == "log" {
        String::new()
    } else {
        format!("[{stream}] ")
    };
    format!(
        "{}#{} {:<5} {stream}{}",
        line["operator"].as_str().unwrap_or("?"),
        line["instance"].as_u64().unwrap_or(0),
        line["level"].as_str().unwrap_or(""),
        line["text"].as_str().unwrap_or("")
    )
}

/// Prints the lines after `since`; returns the last seq printed, if any.
fn print_after(api: &Api, args: &LogsArgs, since: u64) -> anyhow::Result<Option<u64>> {
    let reply = api.send(
        "GET",
        &format!("/v1/jobs/{}/logs?since={since}", args.job),
        None,
    )?;
    let mut last = None;
    for line in String::from_utf8_lossy(&reply.body).lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        last = value["seq"].as_u64().or(last);
        if args.json {
            println!("{line}");
        } else {
            println!("{}", human(&value));
        }
    }
    Ok(last)
}

/// Prints the job's log, and with --follow what comes next until the job ends.
pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    let mut since = args.since;
    loop {
        let last = print_after(&api, &args, since)?;
        if let Some(last) = last {
            since = last;
        }
        if !args.follow {
            return Ok(());
        }
        if last.is_none() {
            let job = api.get_json(&format!("/v1/jobs/{}", args.job))?;
            if job["state"] != "running" {
                // Lines written just before the job ended.
                print_after(&api, &args, since)?;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
