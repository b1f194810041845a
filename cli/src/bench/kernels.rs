//! The kernels of the `compute-kernel` crate measured both ways on the same bytes: as the
//! `compute` guest (generator -> compute -> discard on one worker, host cost included) and
//! natively, compiled into this binary, over the very event values the generator makes
//! (collected by a job first). Before any timing, the guest's results for the
//! first events are checked against the native ones, so both sides provably do the same work.

use std::path::Path;
use std::time::Instant;

use compute_kernel::Kernel;
use serde::Serialize;

use super::{BenchError, median};
use cameo_host::{JobSpec, Limits, PolicyKind, RunOptions, run_job};

/// Filler bytes in each generated event's payload: the checksum kernel reads every byte of
/// the event (about 260 of them).
pub const PAYLOAD_BYTES: usize = 200;

/// Events whose guest result is checked against native before a kernel is timed.
const CHECKED_EVENTS: u64 = 16;

/// One kernel's figure (medians).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KernelRow {
    /// The kernel: "checksum" or "matrix".
    pub kernel: String,
    /// Rounds of the kernel per event.
    pub rounds: u32,
    /// ns per event as the `compute` guest, host cost included, slices bounded by fuel only
    /// (the engine compiles no epoch checks).
    pub wasm_ns: f64,
    /// The same with slices also bounded in wall time (500 µs, `cameo run`'s default): the
    /// engine compiles epoch checks into every loop.
    pub wasm_epoch_ns: f64,
    /// ns per event natively, over the same event values.
    pub native_ns: f64,
    /// Native time over fuel-sliced Wasm time: the guest's speed as a share of native (the
    /// median of the rounds' ratios, each of runs made together).
    pub wasm_vs_native: f64,
    /// Native time over epoch-sliced Wasm time, likewise.
    pub wasm_epoch_vs_native: f64,
}

impl KernelRow {
    /// The row of `kernel` from its rounds' ns per event: fuel-sliced Wasm, epoch-sliced
    /// Wasm and native, one entry per round in each.
    pub fn from_runs(
        kernel: &str,
        rounds: u32,
        wasm: &[f64],
        epoch: &[f64],
        native: &[f64],
    ) -> KernelRow {
        let shares = |wasm: &[f64]| {
            let mut shares: Vec<f64> = wasm
                .iter()
                .zip(native)
                .map(|(wasm, native)| if *wasm > 0.0 { native / wasm } else { 0.0 })
                .collect();
            median(&mut shares)
        };
        KernelRow {
            kernel: kernel.to_string(),
            rounds,
            wasm_ns: median(&mut wasm.to_vec()),
            wasm_epoch_ns: median(&mut epoch.to_vec()),
            native_ns: median(&mut native.to_vec()),
            wasm_vs_native: shares(wasm),
            wasm_epoch_vs_native: shares(epoch),
        }
    }
}

/// generator (exact, `PAYLOAD_BYTES` of payload) -> `compute` running `kernel` -> `sink`.
fn spec(module: &Path, kernel: Kernel, rounds: u32, events: u64, sink: &str) -> String {
    let operator = format!(
        "[[operator]]\nname = \"compute\"\nmodule = {:?}\ninputs = [\"seq\"]\n\
         config = {{ kernel = \"{}\", rounds = {rounds} }}\n",
        module.display().to_string(),
        kernel.name()
    );
    format!(
        "name = \"kernel\"\ntenant = \"bench\"\nlatency_target_ms = 1000\n\
         [[source]]\nname = \"seq\"\nkind = \"generator\"\nmode = \"exact\"\ncount = {events}\n\
         keys = 10\nevent_rate = 1000\npayload_bytes = {PAYLOAD_BYTES}\n\
         {operator}\
         [[sink]]\nname = \"out\"\nkind = \"{sink}\"\ninputs = [\"compute\"]\n"
    )
}

/// The generator's events alone, into a memory sink.
fn inputs_spec(events: u64) -> String {
    format!(
        "name = \"inputs\"\ntenant = \"bench\"\nlatency_target_ms = 1000\n\
         [[source]]\nname = \"seq\"\nkind = \"generator\"\nmode = \"exact\"\ncount = {events}\n\
         keys = 10\nevent_rate = 1000\npayload_bytes = {PAYLOAD_BYTES}\n\
         [[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"seq\"]\n"
    )
}

fn options(limits: Limits) -> RunOptions {
    RunOptions {
        workers: 1,
        policy: PolicyKind::Fifo,
        limits,
        ..RunOptions::default()
    }
}

/// The values of the memory sink `out` of `spec`, in order.
fn memory_values(spec: &str, limits: Limits) -> Result<Vec<Vec<u8>>, BenchError> {
    let job = JobSpec::parse(spec, "kernel.toml", std::env::temp_dir())?;
    let mut outcome = run_job(&job, &options(limits))?;
    Ok(outcome
        .outputs
        .remove("out")
        .unwrap_or_default()
        .into_iter()
        .map(|event| event.value)
        .collect())
}

/// The values the generator makes for the first `events` events.
pub fn inputs(events: u64) -> Result<Vec<Vec<u8>>, BenchError> {
    memory_values(&inputs_spec(events), Limits::default())
}

/// What the guest emits for one input: the kernel's result, 16 hex digits.
fn expected(kernel: Kernel, rounds: u32, input: &[u8]) -> Vec<u8> {
    format!("{:016x}", kernel.run(input, rounds)).into_bytes()
}

/// Checks that the `compute` guest at `module` gives, for the first events, what the native
/// kernel gives on the same inputs.
pub fn check(
    module: &Path,
    kernel: Kernel,
    rounds: u32,
    inputs: &[Vec<u8>],
    limits: Limits,
) -> Result<(), BenchError> {
    let events = CHECKED_EVENTS.min(inputs.len() as u64);
    let got = memory_values(&spec(module, kernel, rounds, events, "memory"), limits)?;
    let want: Vec<Vec<u8>> = inputs
        .iter()
        .take(events as usize)
        .map(|input| expected(kernel, rounds, input))
        .collect();
    if got != want {
        return Err(BenchError::Check(format!(
            "the {} guest's results differ from the native kernel's on the same {events} \
             events (guest: {:?}, native: {:?}): the two builds of compute-kernel disagree, \
             so their times would not compare the same work",
            kernel.name(),
            got.iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect::<Vec<_>>(),
            want.iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect::<Vec<_>>(),
        )));
    }
    Ok(())
}

/// ns per event of the `compute` guest running `kernel` over `events` generated events.
pub fn wasm_ns(
    module: &Path,
    kernel: Kernel,
    rounds: u32,
    events: u64,
    limits: Limits,
) -> Result<f64, BenchError> {
    let job = JobSpec::parse(
        &spec(module, kernel, rounds, events, "discard"),
        "kernel.toml",
        std::env::temp_dir(),
    )?;
    let summary = run_job(&job, &options(limits))?.summary;
    Ok(if summary.throughput_eps > 0.0 {
        1e9 / summary.throughput_eps
    } else {
        0.0
    })
}

/// ns per event of `kernel` run natively over `inputs`.
pub fn native_ns(kernel: Kernel, rounds: u32, inputs: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    for input in inputs {
        std::hint::black_box(kernel.run(std::hint::black_box(input), rounds));
    }
    started.elapsed().as_nanos() as f64 / inputs.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_parse_and_results_are_sixteen_hex_digits() {
        let dir = std::env::temp_dir();
        for text in [
            spec(Path::new("c.wasm"), Kernel::Checksum, 3, 10, "discard"),
            spec(Path::new("c.wasm"), Kernel::Matrix, 3, 10, "memory"),
            inputs_spec(10),
        ] {
            JobSpec::parse(&text, "kernel.toml", dir.clone()).unwrap();
        }
        let out = expected(Kernel::Checksum, 2, b"abc");
        assert_eq!(out.len(), 16);
        assert_ne!(out, expected(Kernel::Checksum, 3, b"abc"));
    }

    #[test]
    fn shares_are_the_median_of_each_rounds_ratio() {
        let row = KernelRow::from_runs(
            "checksum",
            5,
            &[100.0, 400.0, 120.0],
            &[200.0, 800.0, 240.0],
            &[80.0, 200.0, 60.0],
        );
        assert_eq!(row.wasm_ns, 120.0);
        assert_eq!(row.native_ns, 80.0);
        // Ratios 0.8, 0.5 and 0.5: the median is 0.5, not 80 / 120.
        assert_eq!(row.wasm_vs_native, 0.5);
        assert_eq!(row.wasm_epoch_vs_native, 0.25);
    }

    #[test]
    fn the_generator_inputs_carry_the_payload() {
        let inputs = inputs(3).unwrap();
        assert_eq!(inputs.len(), 3);
        assert!(inputs.iter().all(|value| value.len() > PAYLOAD_BYTES));
        assert_ne!(inputs[0], inputs[1]);
        assert!(native_ns(Kernel::Matrix, 2, &inputs) > 0.0);
    }
}
