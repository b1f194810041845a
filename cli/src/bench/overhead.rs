//! `overhead`: what the host costs around the guest, on one worker, measured side by side.
//!
//! - Per-event host cost against batch size: generator -> filter -> discard against
//!   generator -> discard, at each batch size; the difference is the call boundary per event.
//! - The cost of preemptibility: one compute-bound guest (`spin-slice`, a fixed loop per
//!   event) sliced by fuel, sliced by epoch (wall time), and uninterrupted (neither slice
//!   bound reached). Fuel is metered in all three: the engine always counts it. Only the
//!   epoch-sliced engine has epoch checks compiled in (one per loop iteration and call), so
//!   its figure includes what they cost.
//! - Wasm against native, twice: spin-slice's loop compiled into this binary (a counter
//!   through `black_box`, which in Wasm is a store and a load on the shadow stack in linear
//!   memory: it measures that lowering more than computation), and the kernels of
//!   `compute-kernel` (a checksum and small float matrices) as the `compute` guest and
//!   natively on the same event bytes (see [`kernels`](super::kernels)).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use super::kernels::{self, KernelRow};
use super::plot::{Axis, BarChart, Chart, LineChart, Series};
use super::{BenchError, example_operator, median};
use cameo_host::{JobSpec, Limits, PolicyKind, RunOptions, run_job};
use compute_kernel::Kernel;

/// Wall time per slice in the epoch-sliced mode, µs.
const EPOCH_SLICE_US: u64 = 200;

/// Wall time per slice of `cameo run` by default, µs: the compute kernels run under it too.
const RUN_SLICE_US: u64 = 500;

/// Knobs of an overhead run.
#[derive(Debug, Clone)]
pub struct OverheadOptions {
    /// The example operators' directory.
    pub operators: std::path::PathBuf,
    /// Events per run of the batch-size ladder.
    pub events: u64,
    /// Batch sizes to measure.
    pub batch_sizes: Vec<usize>,
    /// Events per run of the compute-bound guest.
    pub spin_events: u64,
    /// Loop iterations per event of the compute-bound guest.
    pub iterations: u64,
    /// Events per run of each compute kernel.
    pub kernel_events: u64,
    /// Rounds of the checksum kernel per event.
    pub checksum_rounds: u32,
    /// Rounds of the matrix kernel per event.
    pub matrix_rounds: u32,
    /// Rounds (medians are reported).
    pub rounds: usize,
}

/// Per-event cost at one batch size (medians).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchRow {
    /// Events per call at most.
    pub batch_size: usize,
    /// ns per event through generator -> filter -> discard.
    pub pipeline_ns: f64,
    /// ns per event through generator -> discard.
    pub baseline_ns: f64,
    /// The difference: the call into the guest and back, per event.
    pub call_ns: f64,
}

/// The report of `cameo bench overhead`.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadReport {
    /// Rounds each figure is the median of.
    pub rounds: usize,
    /// The batch-size ladder.
    pub batches: Vec<BatchRow>,
    /// Loop iterations per event of the compute-bound guest.
    pub iterations: u64,
    /// ns per event of the compute-bound guest: "fuel-sliced", "epoch-sliced",
    /// "uninterrupted", and "native" (the same loop in Rust, no host).
    pub compute_ns: BTreeMap<String, f64>,
    /// Fuel-sliced over uninterrupted time: the cost of preempting by fuel.
    pub fuel_slicing_ratio: f64,
    /// Epoch-sliced over uninterrupted time.
    pub epoch_slicing_ratio: f64,
    /// spin-slice's loop natively over uninterrupted Wasm time: the speed of its `black_box`
    /// counter loop as a share of native.
    pub spin_wasm_vs_native: f64,
    /// The compute kernels as the `compute` guest (sliced by fuel only, and by fuel and
    /// epochs) against natively, on the same event bytes.
    pub kernels: Vec<KernelRow>,
}

const FUEL: &str = "fuel-sliced";
const EPOCH: &str = "epoch-sliced";
const WHOLE: &str = "uninterrupted";
const NATIVE: &str = "native";

/// generator -> (filter ->) discard over `events` exact events.
fn ladder_spec(filter: Option<&Path>, events: u64) -> String {
    let mut text = format!(
        "name = \"overhead\"\ntenant = \"bench\"\nlatency_target_ms = 1000\n\
         [[source]]\nname = \"seq\"\nkind = \"generator\"\nmode = \"exact\"\ncount = {events}\n\
         keys = 1000\nevent_rate = 1000000\n"
    );
    let input = match filter {
        Some(module) => {
            text.push_str(&format!(
                "[[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"seq\"]\n\
                 config = {{ field = \"value\", min = 0 }}\n",
                module.display().to_string()
            ));
            "op"
        }
        None => "seq",
    };
    text.push_str(&format!(
        "[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"{input}\"]\n"
    ));
    text
}

/// generator -> spin-slice -> discard.
fn spin_spec(spin: &Path, events: u64, iterations: u64) -> String {
    format!(
        "name = \"spin\"\ntenant = \"bench\"\nlatency_target_ms = 1000\n\
         [[source]]\nname = \"seq\"\nkind = \"generator\"\nmode = \"exact\"\ncount = {events}\n\
         keys = 10\nevent_rate = 1000\n\
         [[operator]]\nname = \"spin\"\nmodule = {:?}\ninputs = [\"seq\"]\n\
         config = {{ iterations = {iterations} }}\n\
         [[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"spin\"]\n",
        spin.display().to_string()
    )
}

/// ns per event of `spec` on one worker under `limits`.
fn ns_per_event(spec: &str, limits: Limits) -> Result<f64, BenchError> {
    let job = JobSpec::parse(spec, "overhead.toml", std::env::temp_dir())?;
    let options = RunOptions {
        workers: 1,
        policy: PolicyKind::Fifo,
        limits,
        ..RunOptions::default()
    };
    let summary = run_job(&job, &options)?.summary;
    Ok(if summary.throughput_eps > 0.0 {
        1e9 / summary.throughput_eps
    } else {
        0.0
    })
}

/// The limits of one slicing mode.
fn slicing(mode: &str) -> Limits {
    let mut limits = Limits {
        // Never the bound of a call here: the guest's work is finite.
        fuel_per_call: u64::MAX / 4,
        ..Limits::default()
    };
    match mode {
        FUEL => limits.slice_micros = 0,
        EPOCH => {
            limits.slice_fuel = u64::MAX / 4;
            limits.slice_micros = EPOCH_SLICE_US;
        }
        _ => {
            limits.slice_fuel = u64::MAX / 4;
            limits.slice_micros = 0;
        }
    }
    limits
}

/// The spin-slice loop, natively: ns per event.
fn native_ns(events: u64, iterations: u64) -> f64 {
    let started = Instant::now();
    for _ in 0..events {
        let mut counter: u64 = 0;
        for _ in 0..iterations {
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
        std::hint::black_box(counter);
    }
    started.elapsed().as_nanos() as f64 / events.max(1) as f64
}

/// Runs every measurement `rounds` times, interleaved.
pub fn run(options: &OverheadOptions) -> Result<OverheadReport, BenchError> {
    let filter = example_operator(&options.operators, "filter")?;
    let spin = example_operator(&options.operators, "test-guests/spin-slice")?;
    let rounds = options.rounds.max(1);
    let compute = example_operator(&options.operators, "test-guests/compute")?;
    let kernel_list = [
        (Kernel::Checksum, options.checksum_rounds.max(1)),
        (Kernel::Matrix, options.matrix_rounds.max(1)),
    ];
    let inputs = kernels::inputs(options.kernel_events.max(1))?;
    for (kernel, kernel_rounds) in kernel_list {
        kernels::check(&compute, kernel, kernel_rounds, &inputs, slicing(FUEL))?;
    }
    let steps = rounds * (options.batch_sizes.len() * 2 + 4 + kernel_list.len());
    let progress = ProgressBar::new(steps as u64);
    let mut batch_runs: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut spin_runs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut kernel_runs: BTreeMap<&str, [Vec<f64>; 3]> = BTreeMap::new();
    let spin_job = spin_spec(&spin, options.spin_events.max(1), options.iterations);
    for _ in 0..rounds {
        for &batch in &options.batch_sizes {
            let limits = Limits {
                batch_size: batch.max(1),
                ..Limits::default()
            };
            let pipeline =
                ns_per_event(&ladder_spec(Some(&filter), options.events), limits.clone())?;
            let baseline = ns_per_event(&ladder_spec(None, options.events), limits)?;
            let runs = batch_runs.entry(batch).or_default();
            runs.0.push(pipeline);
            runs.1.push(baseline);
            progress.inc(2);
        }
        for mode in [FUEL, EPOCH, WHOLE] {
            let ns = ns_per_event(&spin_job, slicing(mode))?;
            spin_runs.entry(mode.to_string()).or_default().push(ns);
            progress.inc(1);
        }
        spin_runs
            .entry(NATIVE.to_string())
            .or_default()
            .push(native_ns(options.spin_events.max(1), options.iterations));
        progress.inc(1);
        for (kernel, kernel_rounds) in kernel_list {
            let events = options.kernel_events.max(1);
            let native_before = kernels::native_ns(kernel, kernel_rounds, &inputs);
            let wasm = kernels::wasm_ns(&compute, kernel, kernel_rounds, events, slicing(FUEL))?;
            let epoch = Limits {
                slice_micros: RUN_SLICE_US,
                ..slicing(FUEL)
            };
            let wasm_epoch = kernels::wasm_ns(&compute, kernel, kernel_rounds, events, epoch)?;
            // Native on both sides of the Wasm runs, so that a change of the machine's load
            // between them shifts both sides alike.
            let native = (native_before + kernels::native_ns(kernel, kernel_rounds, &inputs)) / 2.0;
            let runs = kernel_runs.entry(kernel.name()).or_default();
            runs[0].push(wasm);
            runs[1].push(wasm_epoch);
            runs[2].push(native);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let batches = batch_runs
        .into_iter()
        .map(|(batch_size, (mut pipeline, mut baseline))| {
            let pipeline_ns = median(&mut pipeline);
            let baseline_ns = median(&mut baseline);
            BatchRow {
                batch_size,
                pipeline_ns,
                baseline_ns,
                call_ns: pipeline_ns - baseline_ns,
            }
        })
        .collect();
    let compute_ns: BTreeMap<String, f64> = spin_runs
        .into_iter()
        .map(|(mode, mut ns)| (mode, median(&mut ns)))
        .collect();
    let ratio = |a: &str, b: &str| {
        let (a, b) = (
            compute_ns.get(a).copied().unwrap_or(0.0),
            compute_ns.get(b).copied().unwrap_or(0.0),
        );
        if b > 0.0 { a / b } else { 0.0 }
    };
    Ok(OverheadReport {
        rounds,
        batches,
        iterations: options.iterations,
        fuel_slicing_ratio: ratio(FUEL, WHOLE),
        epoch_slicing_ratio: ratio(EPOCH, WHOLE),
        spin_wasm_vs_native: ratio(NATIVE, WHOLE),
        compute_ns,
        kernels: kernel_list
            .iter()
            .filter_map(|(kernel, kernel_rounds)| {
                let [wasm, epoch, native] = kernel_runs.remove(kernel.name())?;
                Some(KernelRow::from_runs(
                    kernel.name(),
                    *kernel_rounds,
                    &wasm,
                    &epoch,
                    &native,
                ))
            })
            .collect(),
    })
}

impl OverheadReport {
    /// Cost per event against batch size, and the compute-bound guest per mode.
    pub fn charts(&self) -> Vec<(String, Chart)> {
        let line = |name: &str, f: fn(&BatchRow) -> f64| Series {
            name: name.to_string(),
            points: self
                .batches
                .iter()
                .map(|b| (b.batch_size as f64, f(b)))
                .collect(),
        };
        let modes = [FUEL, EPOCH, WHOLE, NATIVE];
        vec![
            (
                "overhead-batch".to_string(),
                Chart::Line(LineChart {
                    title: "overhead: cost per event against batch size (one worker)".into(),
                    x_label: "events per call, at most (log)".into(),
                    y_label: "ns per event (log)".into(),
                    x_axis: Axis::Log,
                    y_axis: Axis::Log,
                    series: vec![
                        line("generator -> filter -> discard", |b| b.pipeline_ns),
                        line("generator -> discard", |b| b.baseline_ns),
                        line("the call (difference)", |b| b.call_ns),
                    ],
                    marks: Vec::new(),
                }),
            ),
            (
                "overhead-compute".to_string(),
                Chart::Bar(BarChart {
                    title: format!(
                        "overhead: a compute-bound guest ({} iterations per event)",
                        self.iterations
                    ),
                    unit: "µs per event".into(),
                    category_label: "how it runs".into(),
                    series: vec!["µs per event".into()],
                    categories: modes
                        .iter()
                        .map(|m| {
                            (
                                m.to_string(),
                                vec![self.compute_ns.get(*m).map(|ns| ns / 1000.0)],
                            )
                        })
                        .collect(),
                    axis: Axis::Linear,
                }),
            ),
            (
                "overhead-kernels".to_string(),
                Chart::Bar(BarChart {
                    title: "overhead: the same compute kernels as Wasm and natively".into(),
                    unit: "µs per event".into(),
                    category_label: "kernel".into(),
                    series: vec![
                        "wasm, fuel slices".into(),
                        format!("wasm, fuel and {RUN_SLICE_US} µs epoch slices"),
                        "native".into(),
                    ],
                    categories: self
                        .kernels
                        .iter()
                        .map(|k| {
                            (
                                format!("{} x{}", k.kernel, k.rounds),
                                vec![
                                    Some(k.wasm_ns / 1000.0),
                                    Some(k.wasm_epoch_ns / 1000.0),
                                    Some(k.native_ns / 1000.0),
                                ],
                            )
                        })
                        .collect(),
                    axis: Axis::Linear,
                }),
            ),
        ]
    }
}

impl std::fmt::Display for OverheadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "one worker; medians of {} rounds", self.rounds)?;
        writeln!(
            f,
            "{:>6} {:>14} {:>14} {:>10}",
            "batch", "pipeline ns", "baseline ns", "call ns"
        )?;
        for b in &self.batches {
            writeln!(
                f,
                "{:>6} {:>14.1} {:>14.1} {:>10.1}",
                b.batch_size, b.pipeline_ns, b.baseline_ns, b.call_ns
            )?;
        }
        writeln!(
            f,
            "compute-bound guest, {} iterations per event (fuel metered in every Wasm mode):",
            self.iterations
        )?;
        for (mode, ns) in &self.compute_ns {
            writeln!(f, "  {mode:<14} {:>10.1} µs per event", ns / 1000.0)?;
        }
        writeln!(
            f,
            "preemptibility: fuel-sliced {:.3}x, epoch-sliced {:.3}x the uninterrupted time",
            self.fuel_slicing_ratio, self.epoch_slicing_ratio
        )?;
        writeln!(
            f,
            "spin-slice's black_box counter loop, wasm against native: {:.2}x native speed",
            self.spin_wasm_vs_native
        )?;
        writeln!(
            f,
            "compute kernels, the compute guest against the same code natively on the same \
             events (µs per event; wasm sliced by fuel only, and also by {RUN_SLICE_US} µs \
             epochs as `cameo run` does by default):"
        )?;
        writeln!(
            f,
            "  {:<9} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8}",
            "kernel", "rounds", "native", "wasm", "epoch", "wasm/n", "epoch/n"
        )?;
        for k in &self.kernels {
            writeln!(
                f,
                "  {:<9} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>7.2}x {:>7.2}x",
                k.kernel,
                k.rounds,
                k.native_ns / 1000.0,
                k.wasm_ns / 1000.0,
                k.wasm_epoch_ns / 1000.0,
                k.wasm_vs_native,
                k.wasm_epoch_vs_native
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_parse_and_the_modes_differ_in_how_slices_end() {
        let dir = std::env::temp_dir();
        for text in [
            ladder_spec(Some(Path::new("f.wasm")), 10),
            ladder_spec(None, 10),
            spin_spec(Path::new("s.wasm"), 10, 5),
        ] {
            JobSpec::parse(&text, "overhead.toml", dir.clone()).unwrap();
        }
        assert_eq!(slicing(FUEL).slice_fuel, Limits::default().slice_fuel);
        assert_eq!(slicing(EPOCH).slice_micros, EPOCH_SLICE_US);
        assert_eq!(slicing(WHOLE).slice_micros, 0);
        assert!(slicing(WHOLE).slice_fuel > 1 << 60);
        assert!(native_ns(2, 1000) > 0.0);
    }
}
