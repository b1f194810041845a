//! `cameo job submit|list|status|pause|resume|cancel|dead-letters|upgrade|rollback|shadow`:
//! the tenant's jobs.

use std::path::PathBuf;

use anyhow::Context as _;

use super::api::Connection;

/// `cameo job` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Submit a job spec (TOML or JSON) whose operators name modules as NAME or NAME@N.
    Submit {
        /// The job spec.
        file: PathBuf,
        /// Replay: its http sources start reading from this line (0: the first).
        #[arg(long, value_name = "LINES")]
        from_offset: Option<u64>,
        /// Replay: its http sources leave out the events before this event time (ms since
        /// the Unix epoch); they need an event_time_field.
        #[arg(long, value_name = "MS")]
        from_time: Option<i64>,
        /// Print the job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List jobs.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A job's state and figures.
    Status {
        /// The job's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a running job: its sources stop at a checkpoint barrier and it stops there,
    /// nothing lost; `resume` goes on from that checkpoint.
    Pause {
        /// The job's id.
        id: String,
    },
    /// Resume a paused job from the checkpoint it paused at.
    Resume {
        /// The job's id.
        id: String,
        /// Replay: its http sources read on from this line (0: the first) instead of where
        /// the checkpoint left them; the job's state is the checkpoint's.
        #[arg(long, value_name = "LINES")]
        from_offset: Option<u64>,
        /// Replay: its http sources leave out the events before this event time (ms since
        /// the Unix epoch); they need an event_time_field.
        #[arg(long, value_name = "MS")]
        from_time: Option<i64>,
    },
    /// Cancel a running or paused job.
    Cancel {
        /// The job's id.
        id: String,
    },
    /// The job's dead letters: inputs whose call failed, and input lines that made no event,
    /// with the reason.
    DeadLetters {
        /// The job's id.
        id: String,
        /// Only letters whose seq is above this.
        #[arg(long)]
        after: Option<u64>,
        /// Print the letters as NDJSON, as the server keeps them.
        #[arg(long)]
        json: bool,
    },
    /// Switch a running job's operator to another module version, keeping its keyed state,
    /// windows, join buffers and timers: the version is tried first (it must load and its
    /// init accept the operator's config; otherwise nothing changes), then the operator
    /// switches at the next checkpoint barrier. Returns once that checkpoint is written.
    Upgrade {
        /// The job's id.
        id: String,
        /// The operator, as the job spec names it.
        operator: String,
        /// The module version: NAME@N, or NAME for its newest version.
        module: String,
        /// Print the change as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Switch a running job's operator back to the version it ran before its current one,
    /// the way `upgrade` does.
    Rollback {
        /// The job's id.
        id: String,
        /// The operator, as the job spec names it.
        operator: String,
        /// Print the change as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run another module version beside a running job's operator on a copy of its input,
    /// from a copy of its state taken at the next checkpoint barrier; its output is compared
    /// with the operator's per key and never sent on. The version is tried as an upgrade's
    /// is. `cameo job shadow report|promote|stop JOB OPERATOR` follow it.
    Shadow(super::shadow::ShadowArgs),
}

/// Prints a module change the API answered.
pub(super) fn print_change(change: &serde_json::Value, json: bool) {
    if json {
        println!("{change}");
    } else {
        println!(
            "operator {} of job {}: {} -> {} (from checkpoint {})",
            text(&change["operator"]),
            text(&change["job"]),
            text(&change["from"]),
            text(&change["to"]),
            text(&change["checkpoint"]),
        );
    }
}

/// Flags of `cameo job`.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: JobCommand,
}

/// A JSON value as text: strings bare, null empty.
pub(super) fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `path` with the replay asked for as its query.
fn with_replay(path: &str, from_offset: Option<u64>, from_time: Option<i64>) -> String {
    let query: Vec<String> = [
        from_offset.map(|n| format!("from_offset={n}")),
        from_time.map(|t| format!("from_time={t}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Runs a `cameo job` verb.
pub fn run(args: JobArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    match args.command {
        JobCommand::Submit {
            file,
            from_offset,
            from_time,
            json,
        } => {
            let spec = std::fs::read(&file)
                .with_context(|| format!("could not read {}", file.display()))?;
            let path = with_replay("/v1/jobs", from_offset, from_time);
            let job = api.send("POST", &path, Some(spec))?.json()?;
            if json {
                println!("{job}");
            } else if job["state"] == "failed" {
                anyhow::bail!(
                    "job {} could not start: {}",
                    text(&job["id"]),
                    text(&job["error"])
                );
            } else {
                println!("{}", text(&job["id"]));
            }
        }
        JobCommand::List { json } => {
            let jobs = api.get_json("/v1/jobs")?;
            if json {
                println!("{jobs}");
            } else {
                let rows: Vec<Vec<String>> = jobs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|j| {
                        vec![
                            text(&j["id"]),
                            text(&j["name"]),
                            text(&j["state"]),
                            j["modules"]
                                .as_object()
                                .map(|m| m.values().map(text).collect::<Vec<_>>().join(","))
                                .unwrap_or_default(),
                            text(&j["error"]),
                        ]
                    })
                    .collect();
                super::print_table(&["JOB", "NAME", "STATE", "MODULES", "ERROR"], &rows);
            }
        }
        JobCommand::Status { id, json } => {
            let job = api.get_json(&format!("/v1/jobs/{id}"))?;
            if json {
                println!("{job}");
            } else {
                let summary = &job["summary"];
                println!(
                    "job {} ({}): {}",
                    text(&job["id"]),
                    text(&job["name"]),
                    text(&job["state"])
                );
                if !job["error"].is_null() {
                    println!("  error: {}", text(&job["error"]));
                }
                println!(
                    "  events in {}, out {}, errors {}, deadline misses {}",
                    text(&summary["events_in"]),
                    text(&summary["events_out"]),
                    text(&summary["errors"]),
                    text(&summary["deadline_misses"]),
                );
                println!(
                    "  latency ms p50 {} p99 {}",
                    text(&summary["latency_ms"]["p50"]),
                    text(&summary["latency_ms"]["p99"])
                );
                if let Some(operators) = job["operators"].as_object() {
                    for (name, versions) in operators {
                        let history: Vec<String> = versions["history"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| format!("{} {}", text(&c["change"]), text(&c["module"])))
                            .collect();
                        let pending = match &versions["pending"] {
                            serde_json::Value::Null => String::new(),
                            to => format!(", switching to {}", text(to)),
                        };
                        println!(
                            "  operator {name} runs {}{pending}{}",
                            text(&versions["module"]),
                            if history.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", history.join(", "))
                            }
                        );
                    }
                }
                if let Some(sinks) = summary["sinks"].as_object() {
                    for (name, sink) in sinks {
                        println!(
                            "  sink {name}: out {}, deadline misses {}, latency ms p50 {} p99 {}",
                            text(&sink["events_out"]),
                            text(&sink["deadline_misses"]),
                            text(&sink["latency_ms"]["p50"]),
                            text(&sink["latency_ms"]["p99"])
                        );
                    }
                }
                if let Some(operators) = summary["operators"].as_object() {
                    for (name, stats) in operators {
                        println!(
                            "  operator {name}: calls {}, call ms p50 {} p99 {}, errors {}, \
                             deadline misses downstream {}, fuel {}, slices {}, preemptions {}, \
                             failures {}",
                            text(&stats["calls"]),
                            text(&stats["call_ms"]["p50"]),
                            text(&stats["call_ms"]["p99"]),
                            text(&stats["errors"]),
                            text(&stats["deadline_misses"]),
                            text(&stats["fuel"]),
                            text(&stats["slices"]),
                            text(&stats["preemptions"]),
                            text(&stats["failures"])
                        );
                    }
                }
                for instance in job["instances"].as_array().into_iter().flatten() {
                    println!(
                        "  instance {}#{}: mailbox {} events, {} bytes",
                        text(&instance["operator"]),
                        text(&instance["instance"]),
                        text(&instance["mailbox_events"]),
                        text(&instance["mailbox_bytes"])
                    );
                }
            }
        }
        JobCommand::Pause { id } => {
            api.send("POST", &format!("/v1/jobs/{id}/pause"), None)?;
            println!("job {id} paused");
        }
        JobCommand::Resume {
            id,
            from_offset,
            from_time,
        } => {
            let path = with_replay(&format!("/v1/jobs/{id}/resume"), from_offset, from_time);
            let job = api.send("POST", &path, None)?.json()?;
            if job["state"] == "failed" {
                anyhow::bail!("job {id} could not resume: {}", text(&job["error"]));
            }
            println!("job {id} resumed");
        }
        JobCommand::Cancel { id } => {
            api.send("POST", &format!("/v1/jobs/{id}/cancel"), None)?;
            println!("job {id} cancelled");
        }
        JobCommand::DeadLetters { id, after, json } => dead_letters(&api, &id, after, json)?,
        JobCommand::Upgrade {
            id,
            operator,
            module,
            json,
        } => {
            let path = format!("/v1/jobs/{id}/operators/{operator}/upgrade?module={module}");
            print_change(&api.send("POST", &path, None)?.json()?, json);
        }
        JobCommand::Rollback { id, operator, json } => {
            let path = format!("/v1/jobs/{id}/operators/{operator}/rollback");
            print_change(&api.send("POST", &path, None)?.json()?, json);
        }
        JobCommand::Shadow(args) => super::shadow::run(&api, args)?,
    }
    Ok(())
}

/// Prints every dead letter of job `id` after `after`, page by page.
fn dead_letters(
    api: &super::api::Api,
    id: &str,
    mut after: Option<u64>,
    json: bool,
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    loop {
        let query = after.map_or(String::new(), |seq| format!("?after={seq}"));
        let reply = api.send("GET", &format!("/v1/jobs/{id}/dead-letters{query}"), None)?;
        let page = String::from_utf8_lossy(&reply.body);
        let mut got = false;
        for line in page.lines() {
            let letter: serde_json::Value = serde_json::from_str(line).with_context(|| {
                format!("the server sent a dead letter that is not JSON: {line}")
            })?;
            got = true;
            after = letter["seq"].as_u64().or(after);
            if json {
                println!("{line}");
            } else {
                rows.push(vec![
                    text(&letter["seq"]),
                    text(&letter["operator"]),
                    text(&letter["reason"]),
                    text(&letter["value"]),
                ]);
            }
        }
        if !got {
            break;
        }
    }
    if !json {
        super::print_table(&["SEQ", "OPERATOR", "REASON", "VALUE"], &rows);
    }
    Ok(())
}
