//! The `cameo` command line: parses flags and calls into the `cameo_host` library.

use std::path::PathBuf;

use anyhow::Context as _;
use cameo_host::sched::PolicyKind;
use cameo_host::{Limits, RunOptions};
use clap::{Parser, Subcommand};

/// Run stream operators as sandboxed WebAssembly components, scheduled by deadline.
#[derive(Debug, Parser)]
#[command(name = "cameo", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job embedded, without a server: sources, operators and sinks from a job spec.
    ///
    /// With finite sources the job ends when all input is processed, then a summary is printed
    /// (to stderr, or as one JSON object on the last line of stdout with --json).
    Run(RunArgs),
    /// Work with operator projects.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Measure the host: scenarios run side by side in one process, reported as ratios.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// One windowed job near saturation (alerts and rollup windows on one stream), under
    /// every policy on the same input.
    #[command(name = "single-tenant")]
    SingleTenant(ScenarioArgs),
    /// A latency-sensitive job beside bulk jobs that together saturate the host.
    #[command(name = "multi-tenant")]
    MultiTenant(ScenarioArgs),
    /// A well-behaved job beside a tenant whose operator loops forever.
    Runaway(ScenarioArgs),
    /// Throughput of a windowed job with checkpoints every interval, against the same job
    /// without, alternating runs.
    Checkpoint {
        /// Events per run.
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Pairs of runs.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Milliseconds between checkpoints.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Time to read back and restore a checkpoint holding many keys of state.
    Recovery {
        /// Keys of state.
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// Operator instances holding them.
        #[arg(long, default_value_t = 4)]
        instances: usize,
        /// Rounds (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The job spec (TOML).
    job: PathBuf,
    /// Print the summary as one JSON object (events_in, events_out, errors, fuel, latency_ms).
    #[arg(long)]
    json: bool,
    /// Worker threads [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// Scheduling policy.
    #[arg(long, value_enum, default_value_t = PolicyKind::Fifo)]
    policy: PolicyKind,
    /// Fuel per slice: a call yields to the scheduler after burning this much.
    #[arg(long)]
    slice_fuel: Option<u64>,
    /// Fuel one call may burn before it fails as out-of-fuel.
    #[arg(long)]
    fuel_per_call: Option<u64>,
    /// Linear memory one operator instance may hold, in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Events per `process` call at most.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Keep checkpoints in this directory and, if the job was interrupted, resume it from the
    /// newest intact one. The checkpoints are removed when the job completes.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Milliseconds between checkpoints (with --data-dir).
    #[arg(long, default_value_t = 1000)]
    checkpoint_interval_ms: u64,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Build an operator project into a WebAssembly component and print the component's path.
    Build {
        /// The operator project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print `{"component": PATH}` instead of the bare path.
        #[arg(long)]
        json: bool,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMEO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,operator=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let spec = cameo_host::dataflow::spec::JobSpec::from_file(&args.job)?;
    let mut limits = Limits::default();
    if let Some(fuel) = args.slice_fuel {
        limits.slice_fuel = fuel;
    }
    if let Some(fuel) = args.fuel_per_call {
        limits.fuel_per_call = fuel;
    }
    if let Some(mib) = args.memory_mib {
        limits.memory_bytes = mib.saturating_mul(1 << 20);
    }
    if let Some(batch) = args.batch_size {
        anyhow::ensure!(batch > 0, "--batch-size must be at least 1");
        limits.batch_size = batch;
    }
    anyhow::ensure!(
        args.checkpoint_interval_ms > 0,
        "--checkpoint-interval-ms must be at least 1"
    );
    let mut options = RunOptions {
        policy: args.policy,
        limits,
        data_dir: args.data_dir,
        checkpoint_interval: std::time::Duration::from_millis(args.checkpoint_interval_ms),
        ..RunOptions::default()
    };
    if let Some(workers) = args.workers {
        anyhow::ensure!(workers > 0, "--workers must be at least 1");
        options.workers = workers;
    }
    let outcome = cameo_host::run_job(&spec, &options)?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome.summary)?);
    } else {
        eprint!("{}", outcome.summary);
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct ScenarioArgs {
    /// Seconds of input per job (fewer make the p99 hostage to a single stall of this
    /// machine).
    #[arg(long, default_value_t = 6.0, value_parser = positive)]
    duration_s: f64,
    /// Offered load of the heavy jobs, as a share of what this host sustains (measured first
    /// with an unpaced run of the same job).
    #[arg(long, default_value_t = 0.9, value_parser = positive)]
    load: f64,
    /// Worker threads [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// The example operators' directory.
    #[arg(long, default_value = "example-operators/rust")]
    operators: PathBuf,
    /// The policies to compare, comma-separated [default: all of them].
    #[arg(long, value_delimiter = ',')]
    policies: Vec<cameo_host::sched::PolicyKind>,
    /// Fuel per slice [default: the host's default].
    #[arg(long)]
    slice_fuel: Option<u64>,
    /// Rounds: every policy runs this many times, interleaved, and each figure is the
    /// median over the rounds (a stall of the machine in one round then decides nothing).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Where to write the chart of p99 latencies (SVG) [default:
    /// target/cameo-bench/SCENARIO.svg].
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print the report as JSON: {"policies": {"fifo": {"GROUP": {"p50_ms", "p99_ms",
    /// "deadline_miss_rate", "throughput_eps", "ready_to_run_p99_us"}}, ...}, "scenario",
    /// "capacity_eps", "rounds"} (the measured capacity the load is a share of, null for
    /// runaway; the rounds each figure is the median of).
    #[arg(long)]
    json: bool,
}

fn scenario(
    scenario: cameo_host::bench::scenarios::Scenario,
    args: ScenarioArgs,
) -> anyhow::Result<()> {
    let options = cameo_host::bench::scenarios::ScenarioOptions {
        operators: args.operators,
        duration_s: args.duration_s.max(0.1),
        load: args.load.max(0.001),
        workers: args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        slice_fuel: args.slice_fuel,
        rounds: args.rounds as usize,
        policies: if args.policies.is_empty() {
            cameo_host::sched::PolicyKind::ALL.to_vec()
        } else {
            args.policies
        },
    };
    let report = cameo_host::bench::scenarios::run(scenario, &options)?;
    let plot = args.plot.unwrap_or_else(|| {
        let name = clap::ValueEnum::to_possible_value(&scenario)
            .map_or_else(|| "scenario".to_string(), |v| v.get_name().to_string());
        PathBuf::from("target/cameo-bench").join(format!("{name}.svg"))
    });
    // The figures come first: a chart that cannot be written must not lose them.
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    match write_chart(&plot, &report.p99_chart().to_svg()) {
        Ok(()) => eprintln!("chart: {}", plot.display()),
        Err(err) => eprintln!("warning: no chart: {}", describe(&err)),
    }
    Ok(())
}

/// A finite number above zero.
fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("`{text}` is not a number above 0")),
    }
}

fn write_chart(path: &std::path::Path, svg: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

fn bench(command: BenchCommand) -> anyhow::Result<()> {
    use cameo_host::bench::scenarios::Scenario;
    match command {
        BenchCommand::SingleTenant(args) => scenario(Scenario::SingleTenant, args)?,
        BenchCommand::MultiTenant(args) => scenario(Scenario::MultiTenant, args)?,
        BenchCommand::Runaway(args) => scenario(Scenario::Runaway, args)?,
        BenchCommand::Checkpoint {
            events,
            rounds,
            interval_ms,
            operators,
            json,
        } => {
            let report = cameo_host::bench::checkpoint::run(
                &operators,
                events,
                rounds.max(1),
                std::time::Duration::from_millis(interval_ms.max(1)),
            )?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "checkpoints every {} ms over {} events, {} rounds (medians):\n  \
                     without: {:.0} events/s\n  with:    {:.0} events/s ({:.1} checkpoints per run)\n  \
                     ratio with/without: {:.3}",
                    report.interval_ms,
                    report.events,
                    report.rounds,
                    report.plain_eps,
                    report.checkpointed_eps,
                    report.checkpoints_per_run,
                    report.ratio
                );
            }
        }
        BenchCommand::Recovery {
            keys,
            instances,
            rounds,
            json,
        } => {
            let report = cameo_host::bench::recovery::run(keys, instances, rounds)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "checkpoint of {} keys over {} instances, {} bytes (medians):\n  \
                     write: {:.1} ms\n  read, verify and decode: {:.1} ms",
                    report.keys,
                    report.instances,
                    report.checkpoint_bytes,
                    report.write_ms,
                    report.recover_ms
                );
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    match dispatch(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: many of our errors already name
/// their cause in their own message.
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Bench(command) => bench(command),
        Command::Operator(OperatorCommand::Build { dir, json }) => {
            let component = cameo_host::builder::build_rust(&dir)
                .with_context(|| format!("could not build the operator in {}", dir.display()))?;
            if json {
                println!("{}", serde_json::json!({ "component": component }));
            } else {
                println!("{}", component.display());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let load = cameo_host::registry::LoadError::Read {
            path: "op.wasm".into(),
            source: io,
        };
        let err = anyhow::Error::new(load).context("could not start the job");
        assert_eq!(
            describe(&err),
            "could not start the job: could not read operator module op.wasm: no such file"
        );
    }
}
