//! Test guest `compute`: runs a compute-bound kernel of the `compute-kernel` crate over each
//! event's value and emits the event with its value replaced by the result, 16 hex digits.
//! `cameo bench overhead` runs the same kernel natively on the same bytes, so the two times
//! compare Wasm with native on one piece of code.
//!
//! # Config
//!
//! - `kernel` (string, default `"checksum"`): `"checksum"` (a multiply-rotate hash of the
//!   value, repeated) or `"matrix"` (products of 8x8 `f64` matrices seeded from the value;
//!   the result is the bits of the final sum).
//! - `rounds` (integer from 1 to 4294967295, default 1000): times the kernel repeats per
//!   event.

use cameo_sdk::{Config, Error, Event, Operator, Output, Result};
use compute_kernel::Kernel;

/// The parsed configuration.
struct Compute {
    kernel: Kernel,
    rounds: u32,
}

impl Operator for Compute {
    fn init(config: &Config) -> Result<Self> {
        let name = config.get_str("kernel")?.unwrap_or("checksum");
        let kernel = Kernel::from_name(name).ok_or_else(|| {
            Error::invalid_input(format!(
                "config `kernel` is {name:?}, which is no kernel; use {}",
                Kernel::NAMES
            ))
        })?;
        let rounds = config.get_u64("rounds")?.unwrap_or(1000);
        let rounds = u32::try_from(rounds)
            .ok()
            .filter(|rounds| *rounds > 0)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "config `rounds` is {rounds}; use a number from 1 to {}",
                    u32::MAX
                ))
            })?;
        Ok(Compute { kernel, rounds })
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        let result = self.kernel.run(&event.value, self.rounds);
        out.emit(event.with_value(format!("{result:016x}")));
        Ok(())
    }
}

cameo_sdk::export_operator!(Compute);
