//! `cameo bench`: the scenarios of [`crate::bench`], their flags, reports and charts.
//!
//! # Layout
//! - this module: the subcommands, and the scheduling scenarios' flags.
//! - [`suite`]: the paper, spike, scale, overhead and density benchmarks, and the writing of
//!   charts and raw data under `--out`.

mod suite;

use std::path::PathBuf;
use std::time::Duration;

use cameo_host::PolicyKind;
use clap::Subcommand;

use crate::bench::scenarios::{self, Scenario, ScenarioOptions};
use crate::bench::{checkpoint, flink, held_cost, hostile, recovery, shadow, stages, upgrade};

/// The `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// One windowed job near saturation (alerts and rollup windows on one stream), under
    /// every policy on the same input.
    #[command(name = "single-tenant")]
    SingleTenant(ScenarioArgs),
    /// A latency-sensitive job beside bulk jobs that together saturate the host.
    #[command(name = "multi-tenant")]
    MultiTenant(ScenarioArgs),
    /// A well-behaved job beside a tenant whose operator loops forever.
    Runaway(ScenarioArgs),
    /// The paper's two headline experiments (single-tenant and multi-tenant, FIFO against the
    /// deadline policies), each ratio of p99 latencies printed beside the paper's (2.7x and
    /// 4.6x).
    Paper(ScenarioArgs),
    /// A latency-sensitive job through a transient 5x burst of another tenant's bulk input:
    /// its p99 over time under every policy, and the time to recover after the burst.
    Spike(suite::SpikeArgs),
    /// Throughput and p99 of a filter and a window-agg pipeline with 1..N workers.
    Scale(suite::ScaleArgs),
    /// Per-event host cost against batch size; fuel-sliced, epoch-sliced and uninterrupted
    /// runs of one compute-bound guest; the same loop as Wasm and as native code.
    Overhead(suite::OverheadArgs),
    /// Idle operator instances that fit in 2 GiB, instantiation time and memory per instance,
    /// per guest, with on-demand and pooling allocation.
    Density(suite::DensityArgs),
    /// The same operators written in Rust, Python, JavaScript and C, side by side: component
    /// size, compile time cold and cached, instantiation time and memory per instance,
    /// events/s of filter and wordcount at batch 64, time to first output with a warm cache,
    /// and the SDK's glue against hand-written bindings.
    Languages(suite::LanguagesArgs),
    /// One density probe, in a process of its own (run by `density`).
    #[command(name = "density-probe", hide = true)]
    DensityProbe(suite::DensityProbeArgs),
    /// Resident memory per byte charged to the memory budget, for a guest that writes many
    /// small state entries or registers many timers with the largest keys allowed.
    HeldCost {
        /// What the guest fills: state entries (8-byte keys and values) or timers (keys of
        /// the largest size allowed).
        #[arg(long, value_enum, default_value = "state")]
        held: held_cost::Held,
        /// Entries (or timers) in all.
        #[arg(long, default_value_t = 2_000_000)]
        entries: u64,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A well-behaved job beside every kind of misbehaving operator at once (state, memory,
    /// timers, logs, headers, re-firing timers, panics, window panes, floods, and runaways in
    /// another tenant and in its own): its latency against alone, what it lost (by seq), and
    /// the process's peak RSS against the memory budget.
    Hostile {
        /// Seconds of input per job.
        #[arg(long, default_value_t = 6.0, value_parser = positive)]
        duration_s: f64,
        /// The host's memory budget, e.g. 1GiB.
        #[arg(long, default_value = "1GiB", value_parser = super::parse_bytes)]
        memory_budget: u64,
        /// Worker threads [default: one per core].
        #[arg(long)]
        workers: Option<usize>,
        /// The victim's events per second.
        #[arg(long, default_value_t = 500.0, value_parser = positive)]
        victim_rate: f64,
        /// Wall time a slice may take, µs, besides its fuel (0: fuel only).
        #[arg(long, default_value_t = 200)]
        slice_us: u64,
        /// Take instances from a pool of this many slots reserved up front instead of
        /// mapping each one's memory on demand (0: on demand).
        #[arg(long, default_value_t = 0)]
        pooling: u32,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The HTTP path of `cameo serve`, server and clients on this machine: ingest of batched
    /// NDJSON into a filter job, acknowledgement and pipeline latency at half that rate, and
    /// a 2 MB module push to running in a job with the compile cache cold and warm.
    Serve {
        /// Events in the ingest run.
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Connections posting at once.
        #[arg(long, default_value_t = 2)]
        connections: usize,
        /// Events per request in the latency run (the ingest run sends 5000).
        #[arg(long, default_value_t = 500)]
        latency_batch: usize,
        /// Events per second of the latency run [default: half the ingest rate measured first]
        #[arg(long)]
        latency_rate: Option<f64>,
        /// Worker threads [default: one per core].
        #[arg(long)]
        workers: Option<usize>,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What each stage of the data path costs per event (source and sink, the call
    /// boundary, the guest, key-hash routing, window state), from pipelines on one worker
    /// that each add one stage, run in turn every round.
    Stages {
        /// Events per run.
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Rounds (every pipeline once per round; medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON: {"events", "rounds", "ns_per_fuel", "pipelines":
        /// [{"pipeline", "events_per_s", "ns_per_event", "fuel_per_event"}], "stages":
        /// [{"stage", "ns_per_event", "events_per_s_per_core"}]}.
        #[arg(long)]
        json: bool,
    },
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
    /// Cameo against Flink on one job both compute exactly (the generator's exact mode into
    /// tumbling 1 s count+sum windows per key, results dropped), one after the other at each
    /// core count; Flink runs bench/peers/flink/job.py in the venv that
    /// bench/peers/flink/setup.sh makes.
    Flink {
        /// Events per run.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Distinct keys.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        keys: u64,
        /// Events per second of event time.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
        event_rate: u64,
        /// Core counts to run at, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        cores: Vec<usize>,
        /// Runs per engine and core count (the median is reported).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        rounds: u32,
        /// The PyFlink venv made by bench/peers/flink/setup.sh [default: $CAMEO_FLINK_VENV;
        /// without either, only cameo runs].
        #[arg(long)]
        flink_venv: Option<PathBuf>,
        /// The Flink job.
        #[arg(long, default_value = "bench/peers/flink/job.py")]
        flink_job: PathBuf,
        /// Let Flink use every core instead of confining it with taskset to as many as cameo
        /// has workers.
        #[arg(long)]
        no_pin: bool,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON: {"events", "keys", "event_rate", "rounds", "rows":
        /// [{"cores", "cameo_eps", "cameo_seconds", "flink_eps", "flink_seconds",
        /// "flink_overhead_seconds", "flink_pinned", "ratio"}], "flink_setup"}.
        #[arg(long)]
        json: bool,
    },
    /// What a shadow run costs the operator it shadows: end-to-end latency without and with
    /// a shadow of the same version beside it, in one run, and both versions' cost per event.
    Shadow {
        /// Keys the word count holds.
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        /// Events per second the source streams.
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        /// Seconds of each phase (without, then with the shadow).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON: {"rate", "keys", "seconds", "without_ms": {"p50",
        /// "p99"}, "with_ms", "p99_ratio", "compared", "differing", "primary": {"calls",
        /// "events", "fuel_per_event", "us_per_event", "call_us": {"p50", "p99", "max"}},
        /// "shadow"}.
        #[arg(long)]
        json: bool,
    },
    /// How long upgrading a running operator holds up its input, with many keys of state,
    /// and the latency of the job's other operators during the upgrades against between.
    Upgrade {
        /// Keys of state the operator holds.
        #[arg(long, default_value_t = 100_000)]
        keys: u64,
        /// Upgrades between two versions (then two to a version that converts every key: one
        /// key per call, then in batches).
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// The example operators' directory.
        #[arg(long, default_value = "example-operators/rust")]
        operators: PathBuf,
        /// Print the report as JSON: {"keys", "rounds", "pause_ms": {"p50", "p99", "max"},
        /// "converting_pause_ms" (in batches), "converting_per_key_pause_ms",
        /// "converting_ratio" (per key / batches), "others_ms": {"outside_p99",
        /// "during_p99", "during_max", "ratio", "outputs"}, "upgraded_ms" (the same), "goal":
        /// {"pause_under_50ms", "others_within_2x"}, "events_before", "errors"}.
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

/// Flags of the scheduling scenarios.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
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
    #[arg(long, value_delimiter = ',', value_parser = super::policy_parser())]
    policies: Vec<PolicyKind>,
    /// Fuel per slice [default: the host's default].
    #[arg(long)]
    slice_fuel: Option<u64>,
    /// Rounds: every policy runs this many times, interleaved, and each figure is the
    /// median over the rounds (a stall of the machine in one round then decides nothing).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Where to write the charts (p99 per policy, latency distribution per group; SVG and
    /// PNG) and the raw data (SCENARIO.json, with the distributions).
    #[arg(long, default_value = "target/cameo-bench")]
    out: PathBuf,
    /// Print the report as JSON: {"policies": {"fifo": {"GROUP": {"p50_ms", "p99_ms",
    /// "deadline_miss_rate", "throughput_eps", "ready_to_run_p99_us"}}, ...}, "scenario",
    /// "capacity_eps", "rounds"} (the measured capacity the load is a share of, null for
    /// runaway; the rounds each figure is the median of).
    #[arg(long)]
    json: bool,
}

/// Runs a `bench` subcommand.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::SingleTenant(args) => scenario(Scenario::SingleTenant, args),
        BenchCommand::MultiTenant(args) => scenario(Scenario::MultiTenant, args),
        BenchCommand::Runaway(args) => scenario(Scenario::Runaway, args),
        BenchCommand::Paper(args) => {
            let (out, json) = (args.out.clone(), args.json);
            let mut options = scenario_options(args);
            options.policies = crate::bench::paper::policies(&options.policies);
            suite::paper(&options, &out, json)
        }
        BenchCommand::Spike(args) => suite::spike(args),
        BenchCommand::Scale(args) => suite::scale(args),
        BenchCommand::Overhead(args) => suite::overhead(args),
        BenchCommand::Density(args) => suite::density(args),
        BenchCommand::Languages(args) => suite::languages(args),
        BenchCommand::DensityProbe(args) => suite::density_probe(args),
        BenchCommand::Serve {
            events,
            connections,
            latency_batch,
            latency_rate,
            workers,
            operators,
            json,
        } => {
            let report = crate::bench::serve::run(
                &operators,
                (events.max(1), connections.max(1), latency_batch.max(1)),
                latency_rate.filter(|rate| *rate > 0.0),
                workers.unwrap_or_else(default_workers),
            )?;
            print_report(&report, json)
        }
        BenchCommand::Stages {
            events,
            rounds,
            operators,
            json,
        } => {
            let report = stages::run(&operators, events.max(1), rounds.max(1))?;
            print_report(&report, json)
        }
        BenchCommand::Checkpoint {
            events,
            rounds,
            interval_ms,
            operators,
            json,
        } => {
            let report = checkpoint::run(
                &operators,
                events,
                rounds.max(1),
                Duration::from_millis(interval_ms.max(1)),
            )?;
            print_report(&report, json)
        }
        BenchCommand::HeldCost {
            held,
            entries,
            operators,
            json,
        } => {
            let report = held_cost::run(&held_cost::HeldCostOptions {
                operators,
                held,
                entries,
            })?;
            print_report(&report, json)
        }
        BenchCommand::Hostile {
            duration_s,
            memory_budget,
            workers,
            victim_rate,
            slice_us,
            pooling,
            operators,
            json,
        } => {
            let report = hostile::run(&hostile::HostileOptions {
                operators,
                duration_s,
                budget_bytes: memory_budget,
                workers: workers.unwrap_or_else(default_workers),
                victim_rate,
                slice_micros: slice_us,
                pooling,
            })?;
            print_report(&report, json)
        }
        BenchCommand::Flink {
            events,
            keys,
            event_rate,
            cores,
            rounds,
            flink_venv,
            flink_job,
            no_pin,
            operators,
            json,
        } => {
            let venv = flink_venv.or_else(|| std::env::var_os(flink::VENV_VAR).map(PathBuf::from));
            let report = flink::run(&flink::FlinkOptions {
                operators,
                events: events.max(1),
                keys,
                event_rate,
                cores: if cores.is_empty() { vec![1, 2] } else { cores },
                rounds: rounds as usize,
                flink: venv.map(|venv| flink::FlinkPeer {
                    venv,
                    script: flink_job,
                    pin: !no_pin,
                }),
            })?;
            print_report(&report, json)
        }
        BenchCommand::Shadow {
            keys,
            rate,
            seconds,
            operators,
            json,
        } => {
            let report = shadow::run(&operators, keys, rate, seconds)?;
            print_report(&report, json)
        }
        BenchCommand::Upgrade {
            keys,
            rounds,
            operators,
            json,
        } => {
            let report = upgrade::run(&operators, keys, rounds)?;
            print_report(&report, json)
        }
        BenchCommand::Recovery {
            keys,
            instances,
            rounds,
            json,
        } => {
            let report = recovery::run(keys, instances, rounds)?;
            print_report(&report, json)
        }
    }
}

/// The scheduling knobs of `args`.
fn scenario_options(args: ScenarioArgs) -> ScenarioOptions {
    ScenarioOptions {
        operators: args.operators,
        duration_s: args.duration_s.max(0.1),
        load: args.load.max(0.001),
        workers: args.workers.unwrap_or_else(default_workers),
        slice_fuel: args.slice_fuel,
        rounds: args.rounds as usize,
        policies: if args.policies.is_empty() {
            PolicyKind::ALL.to_vec()
        } else {
            args.policies
        },
    }
}

fn scenario(scenario: Scenario, args: ScenarioArgs) -> anyhow::Result<()> {
    let (out, json) = (args.out.clone(), args.json);
    let report = scenarios::run(scenario, &scenario_options(args))?;
    // The figures come first: a chart that cannot be written must not lose them.
    print_report(&report, json)?;
    suite::write_out(
        &out,
        scenario.name(),
        &suite::scenario_raw(&report),
        report.charts(),
    );
    Ok(())
}

/// Prints `report` as one JSON line, or as text.
pub(super) fn print_report(
    report: &(impl serde::Serialize + std::fmt::Display),
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// One worker per core.
pub(super) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A finite number above zero.
pub(super) fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("`{text}` is not a number above 0")),
    }
}
