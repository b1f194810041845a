//! Per-instance resource limits: fuel per call, slice length, memory and state caps, batch
//! and output sizes.

use serde::{Deserialize, Serialize};

/// The limits every operator instance runs under. All are enforced by the host; a guest that
/// passes one fails only its current call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel one slice may burn before the call yields to the scheduler.
    pub slice_fuel: u64,
    /// Fuel one call may burn in total before it fails with out-of-fuel.
    pub fuel_per_call: u64,
    /// Bytes of linear memory one instance may hold.
    pub memory_bytes: u64,
    /// Bytes of keyed state one instance may hold.
    pub state_bytes: u64,
    /// Bytes of keyed state all instances of one tenant may hold together.
    pub tenant_state_bytes: u64,
    /// Events handed to one `process` call at most.
    pub batch_size: usize,
    /// Events one call may emit.
    pub max_output_events: usize,
    /// Bytes (keys, values, headers) one call may emit.
    pub max_output_bytes: u64,
    /// Events an actor's mailbox holds before its producers are held back.
    pub mailbox_capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            slice_fuel: 100_000,
            fuel_per_call: 500_000_000,
            memory_bytes: 64 << 20,
            state_bytes: 256 << 20,
            tenant_state_bytes: 1 << 30,
            batch_size: 64,
            max_output_events: 100_000,
            max_output_bytes: 16 << 20,
            mailbox_capacity: 4096,
        }
    }
}
