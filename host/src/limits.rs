//! Every limit the host enforces, in one place: the per-instance ones a host is configured with
//! ([`Limits`]), and the fixed ones below, which bound what a guest or an input can make the
//! host allocate ([`FIXED_LIMITS`] lists them for docs and `cameo run --help`). The memory
//! budget over all of them is [`crate::BudgetConfig`].

use serde::{Deserialize, Serialize};

/// The limits every operator instance runs under. All are enforced by the host; a guest that
/// passes one fails only its current call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel one slice may burn before the call yields to the scheduler.
    pub slice_fuel: u64,
    /// Fuel one call may burn in total before it fails with out-of-fuel, unless the
    /// operator's spec asks for its own `fuel_per_call`.
    pub fuel_per_call: u64,
    /// The most fuel one call may burn whatever an operator's spec asks for: the host's
    /// runaway bound. An interpreted guest (Python, JavaScript) burns 7-16 times the fuel of
    /// compiled code for the same work, so its spec may ask for more than `fuel_per_call`,
    /// never more than this.
    pub max_fuel_per_call: u64,
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
    /// Bytes of events an actor's mailbox holds before its producers are held back.
    pub mailbox_bytes: u64,
    /// Bytes of input, and of outputs awaiting comparison, a shadow instance may be behind
    /// the instance it shadows by; past that its shadow run stops rather than hold the
    /// instance up or grow.
    pub shadow_behind_bytes: u64,
    /// Wall time a slice may take, in microseconds, besides its fuel: work fuel does not
    /// meter (host imports, page faults of fresh memory) cannot hold a worker longer. 0 bounds
    /// slices in fuel only, which makes them deterministic (tests).
    pub slice_micros: u64,
}

/// Host bytes a call's outputs may take, at worst, per byte of the linear memory they are
/// lifted from (an output of empty headers is 16 bytes in the guest and 48 in the host; an
/// empty event about 40 and 120). The lift happens before any output can be checked, so the
/// host keeps this much room back for each worker (see [`crate::BudgetConfig`]).
pub const OUTPUT_LIFT_FACTOR: u64 = 4;

/// Bytes of stdout and stderr kept per call; the rest is counted and dropped, never an error
/// the guest sees (a `print!` that fails would panic a Rust guest).
pub const CAPTURE_BYTES_PER_CALL: usize = 64 * 1024;

/// Log lines one call may write before the rest are counted as suppressed.
pub const LOG_LINES_PER_CALL: usize = 64;

/// Bytes a key or value passed to `state` may have.
pub const MAX_STATE_ITEM_BYTES: usize = 16 * 1024 * 1024;

/// Entries one `scan` call returns at most, whatever limit the guest asks for.
pub const MAX_SCAN_ENTRIES: u32 = 10_000;

/// Timers one call may register: more is a runaway, and registering them is host work that
/// no slice bounds.
pub const MAX_TIMERS_PER_CALL: usize = 10_000;

/// Bytes one log line keeps; the rest is cut, and the line says how much.
pub const MAX_LOG_LINE_BYTES: usize = 4096;

/// Bytes a timer key may have.
pub const MAX_TIMER_KEY_BYTES: usize = 4096;

/// Timers one operator instance may hold.
pub const MAX_TIMERS_PER_INSTANCE: usize = 1_000_000;

/// Headers one output event may carry.
pub const MAX_HEADERS_PER_EVENT: usize = 64;

/// Bytes one line of a file or stdin source may have; a longer line goes to the dead letters.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Bytes one dead-letter entry keeps of the failed event's value; the rest is cut, and the
/// entry says how much.
pub const MAX_DEAD_LETTER_VALUE_BYTES: usize = 16 * 1024;

/// Windows one event may fall in (a sliding window's size over its slide).
pub const MAX_WINDOWS_PER_EVENT: i64 = 1000;

/// Bytes an operator module may have; a larger file is refused before it is read.
pub const MAX_MODULE_BYTES: u64 = 64 << 20;

/// Operators one job may have: the cycle check follows `inputs` one stack frame per operator,
/// and planning compares every operator with every other.
pub const MAX_OPERATORS: usize = 1024;

/// The fixed limits: name, value, and what passing it does.
pub const FIXED_LIMITS: &[(&str, u64, &str)] = &[
    (
        "log line",
        MAX_LOG_LINE_BYTES as u64,
        "bytes per log line; the rest is cut",
    ),
    (
        "stdout and stderr per call",
        CAPTURE_BYTES_PER_CALL as u64,
        "bytes kept per call; the rest is counted and dropped",
    ),
    (
        "log lines per call",
        LOG_LINES_PER_CALL as u64,
        "lines kept per call; the rest are counted and dropped",
    ),
    (
        "state key or value",
        MAX_STATE_ITEM_BYTES as u64,
        "bytes per key or value written to state; a larger one fails the call",
    ),
    (
        "state scan",
        MAX_SCAN_ENTRIES as u64,
        "entries one scan returns at most",
    ),
    (
        "timers per call",
        MAX_TIMERS_PER_CALL as u64,
        "timers one call registers; one more fails the call",
    ),
    (
        "timer key",
        MAX_TIMER_KEY_BYTES as u64,
        "bytes per timer key; a longer one fails the call",
    ),
    (
        "timers per instance",
        MAX_TIMERS_PER_INSTANCE as u64,
        "timers one instance holds; one more fails the call",
    ),
    (
        "headers per event",
        MAX_HEADERS_PER_EVENT as u64,
        "headers per output event; more fail the call",
    ),
    (
        "source line",
        MAX_LINE_BYTES as u64,
        "bytes per input line; a longer line goes to the dead letters",
    ),
    (
        "dead-letter value",
        MAX_DEAD_LETTER_VALUE_BYTES as u64,
        "bytes of the failed event's value kept per dead letter",
    ),
    (
        "windows per event",
        MAX_WINDOWS_PER_EVENT as u64,
        "windows one event falls in (size_ms / slide_ms); a job asking more is refused",
    ),
    (
        "module file",
        MAX_MODULE_BYTES,
        "bytes per operator module, checked before reading",
    ),
    (
        "operators per job",
        MAX_OPERATORS as u64,
        "operators one job may have; a job with more is refused",
    ),
];

impl Default for Limits {
    fn default() -> Self {
        Limits {
            slice_fuel: 100_000,
            fuel_per_call: 500_000_000,
            max_fuel_per_call: 8_000_000_000,
            memory_bytes: 64 << 20,
            state_bytes: 256 << 20,
            tenant_state_bytes: 1 << 30,
            batch_size: 64,
            max_output_events: 100_000,
            max_output_bytes: 16 << 20,
            mailbox_capacity: 4096,
            mailbox_bytes: 16 << 20,
            shadow_behind_bytes: 16 << 20,
            slice_micros: 0,
        }
    }
}
