//! The flags and runners of `cameo bench paper|spike|scale|overhead|density|languages`, and
//! the writing of every scenario's charts and raw data under `--out`.

use std::path::{Path, PathBuf};

use cameo_host::PolicyKind;

use super::{default_workers, positive, print_report};
use crate::bench::plot::Chart;
use crate::bench::scenarios::{ScenarioOptions, ScenarioReport};
use crate::bench::{density, languages, overhead, paper, scale, spike};

/// Writes `raw` as `DIR/NAME.json` and every chart as `DIR/STEM.svg` and `.png`, saying
/// where on stderr; a file that cannot be written is a warning (the figures were printed).
pub fn write_out(
    dir: &Path,
    name: &str,
    raw: &impl serde::Serialize,
    charts: Vec<(String, Chart)>,
) {
    let raw_path = dir.join(format!("{name}.json"));
    let written = std::fs::create_dir_all(dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(serde_json::to_vec_pretty(raw)?))
        .and_then(|bytes| Ok(std::fs::write(&raw_path, bytes)?));
    match written {
        Ok(()) => eprintln!("raw data: {}", raw_path.display()),
        Err(err) => eprintln!("warning: no raw data at {}: {err:#}", raw_path.display()),
    }
    for (stem, chart) in charts {
        match chart.check().and_then(|()| chart.write(dir, &stem)) {
            Ok(paths) => {
                for path in paths {
                    eprintln!("chart: {}", path.display());
                }
            }
            Err(err) => eprintln!("warning: no chart {stem}: {err}"),
        }
    }
}

/// A scenario's report with its latency distributions, as raw data.
pub fn scenario_raw(report: &ScenarioReport) -> serde_json::Value {
    serde_json::json!({ "report": report, "distributions": report.distributions })
}

/// Runs `cameo bench paper`.
pub fn paper(options: &ScenarioOptions, out: &Path, json: bool) -> anyhow::Result<()> {
    if !options.policies.iter().any(|p| *p != PolicyKind::Fifo) {
        anyhow::bail!(
            "--policies names no deadline policy: the paper compares FIFO with edf, llf or sjf; \
             name at least one of them"
        );
    }
    let report = paper::run(options)?;
    print_report(&report, json)?;
    let mut charts = Vec::new();
    for scenario in &report.scenarios {
        charts.extend(scenario.charts());
    }
    write_out(out, "paper", &report, charts);
    Ok(())
}

/// Flags of `cameo bench spike`.
#[derive(Debug, clap::Args)]
pub struct SpikeArgs {
    /// Seconds of input per job; the burst runs through the middle sixth (from a third to
    /// half of it).
    #[arg(long, default_value_t = 6.0, value_parser = positive)]
    duration_s: f64,
    /// The bulk tenant's steady load, as a share of what this host sustains (measured first);
    /// the burst offers five times as much.
    #[arg(long, default_value_t = 0.3, value_parser = positive)]
    base_load: f64,
    /// Worker threads [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// The policies to compare, comma-separated [default: all of them].
    #[arg(long, value_delimiter = ',', value_parser = super::super::policy_parser())]
    policies: Vec<PolicyKind>,
    /// Rounds: every policy runs this many times, interleaved; figures are medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// The example operators' directory.
    #[arg(long, default_value = "example-operators/rust")]
    operators: PathBuf,
    /// Where to write the chart of p99 over time (SVG and PNG) and the raw data (spike.json).
    #[arg(long, default_value = "target/cameo-bench")]
    out: PathBuf,
    /// Print the report as JSON: {"capacity_eps", "base_rate_eps", "burst_rate_eps",
    /// "burst_s", "rounds", "policies": {"fifo": {"before_p99_ms", "peak_p99_ms",
    /// "recovery_s", "bulk_throughput_eps"}}, "timelines": {"fifo": [{"at_s", "p99_ms",
    /// "outputs"}]}}.
    #[arg(long)]
    json: bool,
}

/// Runs `cameo bench spike`.
pub fn spike(args: SpikeArgs) -> anyhow::Result<()> {
    let options = spike::SpikeOptions {
        scenario: ScenarioOptions {
            operators: args.operators,
            duration_s: args.duration_s.max(0.3),
            load: args.base_load,
            workers: args.workers.unwrap_or_else(default_workers),
            policies: if args.policies.is_empty() {
                PolicyKind::ALL.to_vec()
            } else {
                args.policies
            },
            slice_fuel: None,
            rounds: args.rounds as usize,
        },
        base_load: args.base_load,
    };
    let report = spike::run(&options)?;
    print_report(&report, args.json)?;
    write_out(
        &args.out,
        "spike",
        &report,
        vec![("spike-p99".into(), report.chart())],
    );
    Ok(())
}

/// Flags of `cameo bench scale`.
#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// Events per run.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// The most workers to run with [default: one per core].
    #[arg(long)]
    max_workers: Option<usize>,
    /// Rounds (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// The example operators' directory.
    #[arg(long, default_value = "example-operators/rust")]
    operators: PathBuf,
    /// Where to write the charts (SVG and PNG) and the raw data (scale.json).
    #[arg(long, default_value = "target/cameo-bench")]
    out: PathBuf,
    /// Print the report as JSON: {"cores", "events", "rounds", "pipelines": {"filter":
    /// [{"workers", "events_per_s", "p99_ms"}], "window-agg": [...]}}.
    #[arg(long)]
    json: bool,
}

/// Runs `cameo bench scale`.
pub fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let workers = args.max_workers.unwrap_or_else(default_workers);
    let report = scale::run(&args.operators, args.events, workers, args.rounds as usize)?;
    print_report(&report, args.json)?;
    write_out(&args.out, "scale", &report, report.charts());
    Ok(())
}

/// Flags of `cameo bench overhead`.
#[derive(Debug, clap::Args)]
pub struct OverheadArgs {
    /// Events per run of the batch-size ladder.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64,256")]
    batch_sizes: Vec<usize>,
    /// Events per run of the compute-bound guest.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    spin_events: u64,
    /// Loop iterations per event of the compute-bound guest.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    iterations: u64,
    /// Events per run of each compute kernel (the `compute` guest and natively).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    kernel_events: u64,
    /// Rounds of the checksum kernel per event (each reads the whole event, about 260 bytes).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    checksum_rounds: u32,
    /// Rounds of the matrix kernel per event (each one 8x8 f64 matrix product).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    matrix_rounds: u32,
    /// Rounds (medians are reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// The example operators' directory.
    #[arg(long, default_value = "example-operators/rust")]
    operators: PathBuf,
    /// Where to write the charts (SVG and PNG) and the raw data (overhead.json).
    #[arg(long, default_value = "target/cameo-bench")]
    out: PathBuf,
    /// Print the report as JSON: {"rounds", "batches": [{"batch_size", "pipeline_ns",
    /// "baseline_ns", "call_ns"}], "iterations", "compute_ns": {"fuel-sliced",
    /// "epoch-sliced", "uninterrupted", "native"}, "fuel_slicing_ratio",
    /// "epoch_slicing_ratio", "spin_wasm_vs_native", "kernels": [{"kernel", "rounds",
    /// "native_ns", "wasm_ns", "wasm_epoch_ns", "wasm_vs_native", "wasm_epoch_vs_native"}]}.
    #[arg(long)]
    json: bool,
}

/// Runs `cameo bench overhead`.
pub fn overhead(args: OverheadArgs) -> anyhow::Result<()> {
    if args.batch_sizes.contains(&0) {
        anyhow::bail!("--batch-sizes holds 0: a call takes at least one event");
    }
    let report = overhead::run(&overhead::OverheadOptions {
        operators: args.operators,
        events: args.events,
        batch_sizes: args.batch_sizes,
        spin_events: args.spin_events,
        iterations: args.iterations,
        kernel_events: args.kernel_events,
        checksum_rounds: args.checksum_rounds,
        matrix_rounds: args.matrix_rounds,
        rounds: args.rounds as usize,
    })?;
    print_report(&report, args.json)?;
    write_out(&args.out, "overhead", &report, report.charts());
    Ok(())
}

/// Flags of `cameo bench density`.
#[derive(Debug, clap::Args)]
pub struct DensityArgs {
    /// Idle instances to make per guest and allocation (fewer if their memory passes 2 GiB
    /// first).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    instances: u64,
    /// Rounds (medians are reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// The example operators' directory.
    #[arg(long, default_value = "example-operators/rust")]
    operators: PathBuf,
    /// Where to write the density chart (SVG and PNG) and the raw data (density.json).
    #[arg(long, default_value = "target/cameo-bench")]
    out: PathBuf,
    /// Print the report as JSON: {"instances", "rounds", "probes": {"filter": {"on-demand":
    /// {"instances", "p50_us", "p99_us", "bytes_per_instance", "fit_in_budget", "curve"},
    /// "pooling": {...}}, "window-agg": {...}}}.
    #[arg(long)]
    json: bool,
}

/// Runs `cameo bench density`.
pub fn density(args: DensityArgs) -> anyhow::Result<()> {
    let report = density::run(&args.operators, args.instances, args.rounds as usize)?;
    print_report(&report, args.json)?;
    write_out(
        &args.out,
        "density",
        &report,
        vec![("density".into(), report.chart())],
    );
    Ok(())
}

/// Flags of the hidden `cameo bench density-probe`.
#[derive(Debug, clap::Args)]
pub struct DensityProbeArgs {
    /// How instances are allocated.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(density::ALLOCATIONS))]
    allocation: String,
    /// Idle instances to make.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    instances: u64,
    /// Load the component's compiled code from this cache (filled when empty).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// The operator component.
    component: PathBuf,
}

/// Runs one density probe and prints it as JSON.
pub fn density_probe(args: DensityProbeArgs) -> anyhow::Result<()> {
    let probe = density::probe(
        &args.component,
        &args.allocation,
        args.instances,
        args.cache_dir.as_deref(),
    )?;
    println!("{}", serde_json::to_string(&probe)?);
    Ok(())
}

/// Flags of `cameo bench languages`.
#[derive(Debug, clap::Args)]
pub struct LanguagesArgs {
    /// Events per throughput run.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Idle instances per density probe.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    instances: u64,
    /// Rounds (medians are reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// The example operators' root, holding rust/, python/, js/ and c/.
    #[arg(long, default_value = "example-operators")]
    examples: PathBuf,
    /// Where the Python, JavaScript and C components and the compiled-code cache go.
    #[arg(long, default_value = "target/bench-languages")]
    build_dir: PathBuf,
    /// Where to write the raw data (languages.json).
    #[arg(long, default_value = "target/cameo-bench")]
    out: PathBuf,
    /// Print the report as JSON: {"events", "batch_size", "instances", "rounds", "rows":
    /// [{"language", "component_bytes", "compile_ms", "cached_ms", "instantiate_us",
    /// "bytes_per_instance", "filter_eps", "wordcount_eps", "filter_raw_eps",
    /// "wordcount_raw_eps", "first_output_s", "vs_rust": {figure: ratio, "sdk_vs_raw",
    /// "sdk_vs_raw_wordcount"}}]}.
    #[arg(long)]
    json: bool,
}

/// Runs `cameo bench languages`.
pub fn languages(args: LanguagesArgs) -> anyhow::Result<()> {
    let report = languages::run(&languages::LanguagesOptions {
        examples: args.examples,
        build_dir: args.build_dir,
        events: args.events,
        instances: args.instances,
        rounds: args.rounds as usize,
    })?;
    print_report(&report, args.json)?;
    write_out(&args.out, "languages", &report, Vec::new());
    Ok(())
}
