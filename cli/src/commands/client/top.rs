//! `cameo top`: the tenant's running jobs, refreshed in the terminal: per job and sink the
//! end-to-end p50/p99 latency and deadline misses, per operator its calls per second, cost
//! per message and failures.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use super::api::{Api, Connection};

/// Flags of `cameo top`.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    #[command(flatten)]
    connection: Connection,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Print one frame and exit (rates are then over the jobs' whole run).
    #[arg(long)]
    once: bool,
    /// Print each frame as one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// One row of the operator table.
#[derive(Debug, Clone, serde::Serialize)]
struct OperatorRow {
    job: String,
    operator: String,
    calls: u64,
    calls_per_s: f64,
    cost_us: f64,
    errors: u64,
}

/// One row of the sink table.
#[derive(Debug, Clone, serde::Serialize)]
struct SinkRow {
    job: String,
    sink: String,
    events_out: u64,
    p50_ms: f64,
    p99_ms: f64,
    deadline_miss_rate: f64,
}

/// A frame: what every running job shows now.
#[derive(Debug, Default, serde::Serialize)]
struct Frame {
    jobs: Vec<serde_json::Value>,
    sinks: Vec<SinkRow>,
    operators: Vec<OperatorRow>,
}

fn float(value: &serde_json::Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

fn count(value: &serde_json::Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// Reads a frame; `before` holds each operator's calls at the last frame and its time.
fn frame(api: &Api, before: &mut HashMap<String, (u64, Instant)>) -> anyhow::Result<Frame> {
    let mut frame = Frame::default();
    let jobs = api.get_json("/v1/jobs")?;
    for job in jobs.as_array().into_iter().flatten() {
        if job["state"] != "running" {
            continue;
        }
        let id = job["id"].as_str().unwrap_or_default().to_string();
        let status = api.get_json(&format!("/v1/jobs/{id}"))?;
        let summary = &status["summary"];
        frame.jobs.push(serde_json::json!({
            "id": id,
            "name": status["name"],
            "events_in": summary["events_in"],
            "events_out": summary["events_out"],
            "deadline_misses": summary["deadline_misses"],
            "p50_ms": summary["latency_ms"]["p50"],
            "p99_ms": summary["latency_ms"]["p99"],
            "elapsed_s": summary["elapsed_s"],
        }));
        for (sink, stats) in summary["sinks"].as_object().into_iter().flatten() {
            frame.sinks.push(SinkRow {
                job: id.clone(),
                sink: sink.clone(),
                events_out: count(&stats["events_out"]),
                p50_ms: float(&stats["latency_ms"]["p50"]),
                p99_ms: float(&stats["latency_ms"]["p99"]),
                deadline_miss_rate: float(&stats["deadline_miss_rate"]),
            });
        }
        let elapsed = float(&summary["elapsed_s"]);
        for (label, stats) in summary["operators"].as_object().into_iter().flatten() {
            let operator = label
                .strip_prefix(&format!("{id}/"))
                .unwrap_or(label)
                .to_string();
            let calls = count(&stats["calls"]);
            let key = format!("{id}/{operator}");
            let now = Instant::now();
            let calls_per_s = match before.insert(key, (calls, now)) {
                Some((then, at)) if now > at => {
                    calls.saturating_sub(then) as f64 / (now - at).as_secs_f64()
                }
                _ if elapsed > 0.0 => calls as f64 / elapsed,
                _ => 0.0,
            };
            frame.operators.push(OperatorRow {
                job: id.clone(),
                operator,
                calls,
                calls_per_s,
                cost_us: float(&stats["cost_us"]),
                errors: count(&stats["errors"]),
            });
        }
    }
    Ok(frame)
}

/// The frame as tables.
fn print(frame: &Frame, server: &str) {
    println!(
        "cameo top  {server}  {} running jobs  (Ctrl-C quits)\n",
        frame.jobs.len()
    );
    let jobs: Vec<Vec<String>> = frame
        .jobs
        .iter()
        .map(|j| {
            vec![
                j["id"].as_str().unwrap_or_default().to_string(),
                j["name"].as_str().unwrap_or_default().to_string(),
                count(&j["events_in"]).to_string(),
                count(&j["events_out"]).to_string(),
                format!("{:.3}", float(&j["p50_ms"])),
                format!("{:.3}", float(&j["p99_ms"])),
                count(&j["deadline_misses"]).to_string(),
            ]
        })
        .collect();
    super::print_table(
        &["JOB", "NAME", "IN", "OUT", "P50 MS", "P99 MS", "MISSES"],
        &jobs,
    );
    if !frame.sinks.is_empty() {
        println!();
        let sinks: Vec<Vec<String>> = frame
            .sinks
            .iter()
            .map(|s| {
                vec![
                    s.job.clone(),
                    s.sink.clone(),
                    s.events_out.to_string(),
                    format!("{:.3}", s.p50_ms),
                    format!("{:.3}", s.p99_ms),
                    format!("{:.2}%", s.deadline_miss_rate * 100.0),
                ]
            })
            .collect();
        super::print_table(
            &["JOB", "SINK", "OUT", "P50 MS", "P99 MS", "MISSED"],
            &sinks,
        );
    }
    if !frame.operators.is_empty() {
        println!();
        let operators: Vec<Vec<String>> = frame
            .operators
            .iter()
            .map(|o| {
                vec![
                    o.job.clone(),
                    o.operator.clone(),
                    o.calls.to_string(),
                    format!("{:.0}", o.calls_per_s),
                    format!("{:.2}", o.cost_us),
                    o.errors.to_string(),
                ]
            })
            .collect();
        super::print_table(
            &["JOB", "OPERATOR", "CALLS", "CALLS/S", "COST US", "ERRORS"],
            &operators,
        );
    }
}

/// Shows the running jobs until interrupted (or once).
pub fn run(args: TopArgs) -> anyhow::Result<()> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        anyhow::bail!(
            "--interval {} is not a number of seconds of at least 0.1; try --interval 1",
            args.interval
        );
    }
    let (server, _) = args.connection.resolve()?;
    let api = args.connection.api()?;
    let mut before = HashMap::new();
    loop {
        let frame = frame(&api, &mut before)?;
        if args.json {
            println!("{}", serde_json::to_string(&frame)?);
        } else {
            if !args.once {
                // Clear the screen and go home.
                print!("\x1b[2J\x1b[H");
            }
            print(&frame, &server);
        }
        std::io::stdout().flush()?;
        if args.once {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs_f64(args.interval));
    }
}
