//! What other tasks' turns cost a tenant whose work waited meanwhile: deterministic counts
//! (turns, fuel) beside the length of the longest, to say what a waiting task waited behind.

use serde::Serialize;

/// Fuel per ms under which a turn counts as the host's own work: guest code burns about a
/// million per ms, so a turn this far below spent most of its time outside the guest.
pub const HOST_BOUND_FUEL_PER_MS: u64 = 100_000;

/// What other tasks' turns (its own tenant's included) cost a tenant that had work waiting
/// meanwhile, demoted work aside: counted per turn (the slices a worker ran for one task
/// between two looks at the queue), so the counts say what a waiting task waited behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PassedOver {
    /// Turns of other tasks that ended while it waited.
    pub turns: u64,
    /// Fuel those turns burned.
    pub fuel: u64,
    /// Of those turns, the ones that ran over 1 ms.
    pub turns_over_1ms: u64,
    /// Of those, the ones that burned less than [`HOST_BOUND_FUEL_PER_MS`] fuel per ms: time
    /// the host spent for the tenant outside guest code (making and dropping instances,
    /// mapping memory), which no fuel limit bounds.
    pub host_bound_turns: u64,
    /// The longest such turn, µs.
    pub longest_us: f64,
}

impl PassedOver {
    /// Records a turn of another tenant that took `ns` and burned `fuel`.
    pub fn record(&mut self, ns: u64, fuel: u64) {
        let long = ns > 1_000_000;
        let host_bound = long && fuel < HOST_BOUND_FUEL_PER_MS.saturating_mul(ns / 1_000_000);
        self.turns += 1;
        self.fuel += fuel;
        self.turns_over_1ms += u64::from(long);
        self.host_bound_turns += u64::from(host_bound);
        self.longest_us = self.longest_us.max(ns as f64 / 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_turn_that_burns_little_fuel_counts_as_host_bound() {
        let mut seen = PassedOver::default();
        seen.record(500_000, 400_000);
        seen.record(3_000_000, 3_000_000);
        seen.record(4_000_000, 1_000);
        assert_eq!(
            seen,
            PassedOver {
                turns: 3,
                fuel: 3_401_000,
                turns_over_1ms: 2,
                host_bound_turns: 1,
                longest_us: 4_000.0,
            }
        );
    }
}
