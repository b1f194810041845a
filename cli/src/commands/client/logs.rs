//! `cameo logs JOB [--follow]`: what a job's operators logged or printed, from the server's
//! log ring.

use super::api::Connection;

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

/// Prints the job's log, and with --follow what comes next until the job is over.
pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    let path = |since: Option<u64>| {
        format!(
            "/v1/jobs/{}/logs?since={}&follow={}",
            args.job,
            since.unwrap_or(0),
            u8::from(args.follow)
        )
    };
    let print = |line: &str, value: &serde_json::Value| {
        if args.json {
            println!("{line}");
        } else {
            println!("{}", human(value));
        }
    };
    let since = Some(args.since).filter(|&since| since > 0);
    if args.follow {
        return super::follow::follow(&api, &args.job, path, since, print);
    }
    api.stream_lines(&path(since), |line| {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
            print(line, &value);
        }
    })?;
    Ok(())
}
