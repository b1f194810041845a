//! `cameo job shadow JOB OPERATOR MODULE@N`, and `cameo job shadow report|promote|stop JOB
//! OPERATOR`: another version run beside a running operator, its output compared.

use super::api::Api;
use super::job::text;

/// `cameo job shadow`: start a shadow run, or one of its verbs.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ShadowArgs {
    #[command(subcommand)]
    command: Option<ShadowCommand>,
    /// The job's id.
    #[arg(required = true)]
    id: Option<String>,
    /// The operator, as the job spec names it.
    #[arg(required = true)]
    operator: Option<String>,
    /// The version the shadow runs: NAME@N, or NAME for its newest version.
    #[arg(required = true)]
    module: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// What to do with a shadow run.
#[derive(Debug, clap::Subcommand)]
pub enum ShadowCommand {
    /// The shadow's report: outputs matched and differing per key, the first differing
    /// pairs, both versions' cost per event and call latency.
    Report(Target),
    /// Upgrade the operator to the shadow's version (as `cameo job upgrade` does: its state
    /// carries over at a checkpoint barrier); the shadow stops.
    Promote(Target),
    /// Drop the shadow; the job and its output are untouched. Prints its final report.
    Stop(Target),
}

/// The shadow run a verb is about.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The job's id.
    id: String,
    /// The operator, as the job spec names it.
    operator: String,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `cameo job shadow`.
pub fn run(api: &Api, args: ShadowArgs) -> anyhow::Result<()> {
    let path = |id: &str, operator: &str, tail: &str| {
        format!("/v1/jobs/{id}/operators/{operator}/shadow{tail}")
    };
    match args.command {
        None => {
            let (Some(id), Some(operator), Some(module)) = (args.id, args.operator, args.module)
            else {
                anyhow::bail!(
                    "name the job, the operator and the module version: `cameo job shadow JOB OPERATOR MODULE@N`"
                );
            };
            let started = api
                .send(
                    "POST",
                    &path(&id, &operator, &format!("?module={module}")),
                    None,
                )?
                .json()?;
            if args.json {
                println!("{started}");
            } else {
                println!(
                    "shadow {} runs beside {} (operator {operator} of job {id}) from checkpoint \
                     {}; {} of {} instances started. See `cameo job shadow report {id} {operator}`",
                    text(&started["shadow"]),
                    text(&started["primary"]),
                    text(&started["checkpoint"]),
                    text(&started["instances_started"]),
                    text(&started["instances"]),
                );
            }
        }
        Some(ShadowCommand::Report(target)) => {
            let report = api.get_json(&path(&target.id, &target.operator, ""))?;
            print_report(&report, target.json);
        }
        Some(ShadowCommand::Stop(target)) => {
            let report = api
                .send("POST", &path(&target.id, &target.operator, "/stop"), None)?
                .json()?;
            print_report(&report, target.json);
        }
        Some(ShadowCommand::Promote(target)) => {
            let change = api
                .send(
                    "POST",
                    &path(&target.id, &target.operator, "/promote"),
                    None,
                )?
                .json()?;
            super::job::print_change(&change, target.json);
        }
    }
    Ok(())
}

/// Prints a shadow report: JSON as the API answers it, or as text and tables.
fn print_report(report: &serde_json::Value, json: bool) {
    if json {
        println!("{report}");
        return;
    }
    let state = match report["stopped"].as_str() {
        Some(reason) => format!("stopped ({reason})"),
        None => "running".to_string(),
    };
    println!(
        "shadow {} beside {} (operator {}), from checkpoint {}: {state}; {} of {} instances \
         started",
        text(&report["shadow"]),
        text(&report["primary"]),
        text(&report["operator"]),
        text(&report["from_checkpoint"]),
        text(&report["instances_started"]),
        text(&report["instances"]),
    );
    println!(
        "outputs: {} matched, {} differing",
        text(&report["matched"]),
        text(&report["differing"])
    );
    let mut rows: Vec<Vec<String>> = report["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    vec![
                        k["key"].as_str().unwrap_or("(no key)").to_string(),
                        text(&k["matched"]),
                        text(&k["differing"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let other = &report["other_keys"];
    if other["matched"].as_u64().unwrap_or(0) + other["differing"].as_u64().unwrap_or(0) > 0 {
        rows.push(vec![
            "(other keys)".into(),
            text(&other["matched"]),
            text(&other["differing"]),
        ]);
    }
    println!();
    super::print_table(&["KEY", "MATCHED", "DIFFERING"], &rows);
    if let Some(pairs) = report["differences"].as_array().filter(|p| !p.is_empty()) {
        println!("\nfirst differing outputs:");
        let side = |v: &serde_json::Value| match v["value"].as_str() {
            Some(value) => value.to_string(),
            None => "(none)".into(),
        };
        for pair in pairs {
            println!(
                "  key {}\n    primary: {}\n    shadow:  {}",
                pair["key"].as_str().unwrap_or("(no key)"),
                side(&pair["primary"]),
                side(&pair["shadow"]),
            );
        }
    }
    let cost = &report["cost"];
    let figure = |version: &str, field: &str| {
        cost[version][field]
            .as_f64()
            .map_or_else(String::new, |v| format!("{v:.1}"))
    };
    let latency = |version: &str| {
        let call = &cost[version]["call_us"];
        format!("{} / {}", text(&call["p50"]), text(&call["p99"]))
    };
    println!();
    super::print_table(
        &[
            "VERSION",
            "CALLS",
            "EVENTS",
            "FUEL/EVENT",
            "µs/EVENT",
            "CALL p50/p99 µs",
        ],
        &["primary", "shadow"]
            .iter()
            .map(|version| {
                vec![
                    (*version).to_string(),
                    text(&cost[*version]["calls"]),
                    text(&cost[*version]["events"]),
                    figure(version, "fuel_per_event"),
                    figure(version, "us_per_event"),
                    latency(version),
                ]
            })
            .collect::<Vec<_>>(),
    );
    if report["failures"].as_u64().unwrap_or(0) > 0 {
        println!(
            "\nthe shadow failed {} times; first reasons:",
            text(&report["failures"])
        );
        for reason in report["first_failures"].as_array().into_iter().flatten() {
            println!("  {}", text(reason));
        }
    }
}
