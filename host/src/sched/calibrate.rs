//! Fuel-to-time calibration at start-up: how long a unit of fuel takes on this machine, so
//! profiled fuel costs can be compared with deadlines in time.

use std::time::Instant;

use wasmtime::{Engine, Instance, Module, Store};

/// Used when calibration cannot run: about what a tight loop costs on a current x86 core.
pub const FALLBACK_NS_PER_FUEL: f64 = 0.1;

/// A tight counting loop: one fuel unit per instruction, no memory traffic.
const SPIN: &str = r#"(module
  (func (export "spin") (param $n i32) (local $i i32)
    (loop $again
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (local.get $n))))))"#;

/// Nanoseconds per unit of fuel on `engine` (which must meter fuel): the median of a few
/// timed runs of a tight loop.
pub fn ns_per_fuel(engine: &Engine) -> f64 {
    measure(engine).unwrap_or(FALLBACK_NS_PER_FUEL)
}

fn measure(engine: &Engine) -> wasmtime::Result<f64> {
    let module = Module::new(engine, SPIN)?;
    let mut store = Store::new(engine, ());
    store.set_fuel(u64::MAX / 4)?;
    // The engine may interrupt on epochs (wall-time slices): never here.
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = Instance::new(&mut store, &module, &[])?;
    let spin = instance.get_typed_func::<i32, ()>(&mut store, "spin")?;
    spin.call(&mut store, 10_000)?; // warm up
    let mut samples = Vec::new();
    for _ in 0..5 {
        let before = store.get_fuel()?;
        let started = Instant::now();
        spin.call(&mut store, 2_000_000)?;
        let elapsed = started.elapsed().as_nanos() as f64;
        let fuel = before.saturating_sub(store.get_fuel()?) as f64;
        if fuel > 0.0 {
            samples.push(elapsed / fuel);
        }
    }
    samples.sort_by(f64::total_cmp);
    samples
        .get(samples.len() / 2)
        .copied()
        .ok_or_else(|| wasmtime::format_err!("no calibration sample"))
}
