//! The wasmtime side of the host: one `Engine` (component model, fuel), one `Linker` with the
//! host imports, and the per-store [`HostState`].
//!
//! WASI is linked only as far as guest runtimes need to start: no preopened directories, no
//! environment, no arguments, no network; stdout and stderr go to the operator's log.

pub mod cache;
mod imports;
pub mod log;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::budget::{Accounts, Budget, Resource};
use crate::limits::Limits;
use crate::state::{Held, StateTxn};
use crate::time::join::JoinDef;
use crate::time::window::WindowDef;
use log::{LogSink, OperatorLog};

/// The shared wasmtime engine and linker every operator instance is created from.
#[derive(Clone)]
pub struct OperatorEngine {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    limits: Limits,
    /// Where instances' log lines also go, once the embedder set it.
    log_sink: Arc<std::sync::OnceLock<Arc<dyn LogSink>>>,
}

/// Failed to set up the wasmtime engine or its linker.
#[derive(Debug, thiserror::Error)]
#[error("could not set up the WebAssembly engine: {0:#}")]
pub struct EngineSetupError(#[source] wasmtime::Error);

impl OperatorEngine {
    /// An engine with fuel metering on, and a linker with WASI p2 and the cameo imports.
    pub fn new(limits: Limits) -> Result<Self, EngineSetupError> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        // Slices are also bounded in wall time when the host ticks the epoch (see
        // `Limits::slice_micros`).
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(EngineSetupError)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(EngineSetupError)?;
        crate::bindings::Host_::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(EngineSetupError)?;
        Ok(OperatorEngine {
            engine,
            linker: Arc::new(linker),
            limits,
            log_sink: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// Starts a thread that advances the engine's epoch every `interval`, so calls yield at
    /// the next epoch check after a slice's time is up; it stops when the returned handle
    /// drops.
    pub(crate) fn tick_epochs(
        &self,
        interval: std::time::Duration,
    ) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let engine = self.engine.clone();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cameo-epoch".into())
            .spawn(move || {
                while !stopped.load(std::sync::atomic::Ordering::Acquire) {
                    std::thread::sleep(interval);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }

    /// The wasmtime engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker holding every import an operator may use.
    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// Hands every line the operators of instances created from now on log or print to
    /// `sink` as well as to `tracing`; false (and nothing changes) when a sink was already
    /// set.
    pub fn set_log_sink(&self, sink: Arc<dyn LogSink>) -> bool {
        self.log_sink.set(sink).is_ok()
    }

    /// The limits every instance created by this engine runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A store for one operator instance, owning `held` (carried over from a previous
    /// instance of the same operator after a trap, or restored from a checkpoint).
    pub(crate) fn new_store(
        &self,
        label: Arc<str>,
        held: Held,
        window: Option<WindowDef>,
        join: Option<JoinDef>,
        accounts: Accounts,
    ) -> Store<HostState> {
        let log = OperatorLog::new(label, self.log_sink.get().cloned());
        let wasi = WasiCtxBuilder::new()
            .stdout(log.stdout.clone())
            .stderr(log.stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let host = HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap::new(self.limits.memory_bytes, accounts.budget.clone()),
            held,
            window,
            join,
            txn: StateTxn::default(),
            state_quota: self.limits.state_bytes,
            accounts,
            timers: Vec::new(),
            timers_held: 0,
            log,
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|host| &mut host.memory);
        store
    }
}

/// The thread that ticks an engine's epoch; stopped and joined when dropped.
pub(crate) struct EpochTicker {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Everything one operator instance's store holds besides the guest itself.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    /// Committed keyed state and window panes of the instance.
    pub held: Held,
    /// The operator's window definition, if the job spec declares one.
    pub window: Option<WindowDef>,
    /// The operator's join definition, if the job spec declares one.
    pub join: Option<JoinDef>,
    /// Writes of the call in progress.
    pub txn: StateTxn,
    /// Bytes of state the instance may hold.
    pub state_quota: u64,
    /// The job's memory budget and the tenant's state quota.
    pub accounts: Accounts,
    /// Timers registered during the call in progress.
    pub timers: Vec<(Option<Vec<u8>>, i64)>,
    /// Timers the instance held when the call started.
    pub timers_held: usize,
    /// Lines logged during the call in progress.
    pub log: OperatorLog,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A guest tried to grow its memory past the instance's cap.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "memory cap exceeded: the operator asked for {requested} bytes of linear memory, over its \
     cap of {cap} bytes; it likely grows without bound (a leak or an unbounded buffer)"
)]
pub struct MemoryCapExceeded {
    /// Total bytes the instance would have held after the growth.
    pub requested: u64,
    /// The cap in bytes.
    pub cap: u64,
}

impl Drop for HostState {
    /// A call dropped mid-way (its job ended) leaves its uncommitted writes charged: give them
    /// back.
    fn drop(&mut self) {
        let pending = self.txn.pending_bytes();
        self.accounts.budget.release(pending);
        self.accounts.state.release(pending);
    }
}

/// Caps the total linear memory of all memories of one instance, and charges it to the job's
/// memory budget until the instance is dropped; tables are capped too.
struct MemoryCap {
    cap: u64,
    held: u64,
    budget: Budget,
}

impl Drop for MemoryCap {
    fn drop(&mut self) {
        self.budget.release(self.held);
    }
}

/// Table elements one instance may hold.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryCap {
    fn new(cap: u64, budget: Budget) -> Self {
        MemoryCap {
            cap,
            held: 0,
            budget,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        let requested = self.held.saturating_add(growth);
        if requested > self.cap {
            return Err(MemoryCapExceeded {
                requested,
                cap: self.cap,
            }
            .into());
        }
        self.budget.charge(Resource::LinearMemory, growth)?;
        self.held = requested;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
