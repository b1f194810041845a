//! What the call-path fuzz targets share: the limits their calls run under, the guest
//! components loaded once per process, a busy-polling executor for one call, and the debug
//! switch.

use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use cameo_host::internals::PriorityContext;
use cameo_host::{Limits, OperatorEngine, OperatorModule};

/// Small enough that a guest loop ends fast; enough for a batch of real events.
pub const FUEL_PER_CALL: u64 = 5_000_000;

/// State one instance, and the tenant, may hold: small, so quota refusals happen too.
pub const STATE_BYTES: u64 = 64 << 10;

pub fn limits() -> Limits {
    Limits {
        fuel_per_call: FUEL_PER_CALL,
        slice_fuel: 50_000,
        memory_bytes: 16 << 20,
        state_bytes: STATE_BYTES,
        tenant_state_bytes: STATE_BYTES,
        max_output_events: 256,
        max_output_bytes: 64 << 10,
        ..Limits::default()
    }
}

pub struct Setup {
    pub engine: OperatorEngine,
    pub modules: Vec<OperatorModule>,
}

/// The engine and the components of `operators` (by file name), loaded on first use.
pub fn setup(operators: &[&str]) -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::var_os("CAMEO_GUESTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/guests/wasm32-wasip2/release")
            });
        let engine = OperatorEngine::new(limits()).expect("the engine");
        let modules = operators
            .iter()
            .map(|name| {
                let path = dir.join(format!("{name}.wasm"));
                OperatorModule::load_file(&engine, &path).unwrap_or_else(|err| {
                    panic!(
                        "{err}; build the guests with `cargo test -p cameo-tests --no-run` or set \
                         CAMEO_GUESTS_DIR"
                    )
                })
            })
            .collect();
        Setup { engine, modules }
    })
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Whether to print every call and its outcome (`CAMEO_FUZZ_DEBUG=1`), to see what an input
/// does when running it again.
pub fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("CAMEO_FUZZ_DEBUG").is_some())
}

pub fn context() -> PriorityContext {
    PriorityContext::at_source(Instant::now(), 0, Duration::from_millis(100))
}
