//! Why a call into an operator failed, classified from wasmtime's error.

use wasmtime::Trap;

use crate::bindings::OperatorError;
use crate::budget::BudgetExceeded;
use crate::engine::MemoryCapExceeded;
use crate::limits::MAX_HEADERS_PER_EVENT;
use crate::state::StateQuotaExceeded;

/// Longest failure text kept (traps carry wasm backtraces).
const MAX_REASON_CHARS: usize = 2000;

/// Why one call failed. Only this call's input is affected: it goes to the dead-letter output.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallFailure {
    /// The call burned its whole fuel budget.
    #[error(
        "ran out of fuel: the call burned its whole budget of {budget} fuel without returning \
         (it may loop forever); make the operator do less per event or raise fuel_per_call"
    )]
    OutOfFuel {
        /// The per-call budget.
        budget: u64,
    },
    /// The instance tried to grow its memory past the cap.
    #[error(transparent)]
    MemoryCap(#[from] MemoryCapExceeded),
    /// The call would have taken its job, tenant or the host past a memory budget.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The instance tried to hold more state than its quota.
    #[error(transparent)]
    StateQuota(#[from] StateQuotaExceeded),
    /// The guest panicked (and so trapped).
    #[error("{message} (the operator panicked; {trap})")]
    Panicked {
        /// The panic as the guest reported it: `panicked at FILE:LINE:COL: MESSAGE`.
        message: String,
        /// The trap that followed, with its wasm backtrace.
        trap: String,
    },
    /// Any other trap (an out-of-bounds access, a host import refusing).
    #[error("trapped: {0}")]
    Trap(String),
    /// The operator returned an error.
    #[error("returned an error: {0}")]
    Operator(String),
    /// The call emitted an event with more headers than an event may carry.
    #[error(
        "emitted an event with {headers} headers, over the limit of {MAX_HEADERS_PER_EVENT} \
         per event; put the data in the value"
    )]
    TooManyHeaders {
        /// Headers of the event.
        headers: usize,
    },
    /// The call emitted more than one call may.
    #[error(
        "emitted {events} events of {bytes} bytes in one call, over the limit of {max_events} \
         events or {max_bytes} bytes per call; emit less per input event"
    )]
    OutputTooLarge {
        /// Events emitted.
        events: usize,
        /// Bytes emitted.
        bytes: u64,
        /// Event limit.
        max_events: usize,
        /// Byte limit.
        max_bytes: u64,
    },
}

impl CallFailure {
    /// Classifies an error that ended a call (a trap or a host import's refusal).
    pub fn from_trap(err: &wasmtime::Error, budget: u64) -> Self {
        if let Some(Trap::OutOfFuel) = err.downcast_ref::<Trap>() {
            return CallFailure::OutOfFuel { budget };
        }
        if let Some(cap) = err.downcast_ref::<MemoryCapExceeded>() {
            return CallFailure::MemoryCap(cap.clone());
        }
        if let Some(exceeded) = err.downcast_ref::<BudgetExceeded>() {
            return CallFailure::Budget(exceeded.clone());
        }
        if let Some(quota) = err.downcast_ref::<StateQuotaExceeded>() {
            return CallFailure::StateQuota(quota.clone());
        }
        // What happened first, then where (the wasm backtrace, which is long).
        let backtrace = err
            .downcast_ref::<wasmtime::WasmBacktrace>()
            .map(|backtrace| format!("; {backtrace}"));
        let mut reason = match backtrace {
            Some(backtrace) => format!("{}{backtrace}", err.root_cause()),
            None => format!("{err:#}"),
        };
        if reason.len() > MAX_REASON_CHARS {
            let mut cut = MAX_REASON_CHARS;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            reason.push_str(" …");
        }
        CallFailure::Trap(reason)
    }

    /// This failure, told as the panic `panic` the guest reported before it, if it was a trap
    /// and there was one.
    pub fn after_panic(self, panic: Option<String>) -> Self {
        match (self, panic) {
            (CallFailure::Trap(trap), Some(message)) => CallFailure::Panicked {
                message,
                trap: format!("trapped: {trap}"),
            },
            (failure, _) => failure,
        }
    }

    /// From the error an operator returned.
    pub fn from_operator(err: &OperatorError) -> Self {
        CallFailure::Operator(match err {
            OperatorError::InvalidInput(message) => format!("invalid input: {message}"),
            OperatorError::Failed(message) => message.clone(),
        })
    }

    /// The failure's kind, as metrics count it.
    pub fn kind(&self) -> &'static str {
        match self {
            CallFailure::OutOfFuel { .. } => "out_of_fuel",
            CallFailure::MemoryCap(_) => "memory_cap",
            CallFailure::Budget(_) => "budget",
            CallFailure::StateQuota(_) => "state_quota",
            CallFailure::Panicked { .. } => "panic",
            CallFailure::Trap(_) => "trap",
            CallFailure::Operator(_) => "operator_error",
            CallFailure::TooManyHeaders { .. } => "too_many_headers",
            CallFailure::OutputTooLarge { .. } => "output_too_large",
        }
    }

    /// True when the instance can no longer be entered and must be re-created.
    pub fn poisons_instance(&self) -> bool {
        !matches!(
            self,
            CallFailure::Operator(_)
                | CallFailure::OutputTooLarge { .. }
                | CallFailure::TooManyHeaders { .. }
        )
    }
}
