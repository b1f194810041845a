//! The wasmtime side of the host: one `Engine` (component model, fuel), one `Linker` with the
//! host imports, and the per-store [`HostState`].
//!
//! WASI is linked only as far as guest runtimes need to start: no preopened directories, no
//! environment, no arguments, no network; stdout and stderr go to the operator's log.

pub mod cache;
mod imports;
pub mod log;
pub mod pool;

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::budget::{Accounts, Budget, Resource};
use crate::limits::Limits;
use crate::sched::executor::TimerWatch;
use crate::state::{Held, StateTxn};
use crate::time::join::JoinDef;
use crate::time::window::WindowDef;
use log::{LogSink, OperatorLog};
pub use pool::Allocation;

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
        Self::with_allocation(limits, Allocation::OnDemand)
    }

    /// As [`OperatorEngine::new`], allocating instances as `allocation` says.
    pub fn with_allocation(
        limits: Limits,
        allocation: Allocation,
    ) -> Result<Self, EngineSetupError> {
        let mut config = wasmtime::Config::new();
        pool::configure(&mut config, allocation, limits.memory_bytes);
        config.wasm_component_model(true);
        config.consume_fuel(true);
        // Slices are also bounded in wall time when the host ticks the epoch (see
        // `Limits::slice_micros`). The epoch checks are compiled into every loop and function
        // entry, where in tight loops they take about a third of the time, so only when there
        // is such a bound: without one the epoch is never ticked and no check could fire.
        config.epoch_interruption(limits.slice_micros > 0);
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
    /// the next epoch check after a slice's time is up, and also as soon as the earliest
    /// timed task (a source) that `timers` shows falls due, so a source never waits for the
    /// end of a slice of other work: the slices running then end at once, and their workers
    /// run the source and weigh what it queued against the work they were doing. It stops
    /// when the returned handle drops.
    pub(crate) fn tick_epochs(
        &self,
        interval: std::time::Duration,
        timers: TimerWatch,
    ) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let engine = self.engine.clone();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cameo-epoch".into())
            .spawn(move || {
                timers.watch_from_this_thread();
                let mut ticks = TickPlan::new(interval, std::time::Instant::now());
                while !stopped.load(std::sync::atomic::Ordering::Acquire) {
                    let now = std::time::Instant::now();
                    if ticks.due(now, timers.next_due()) {
                        engine.increment_epoch();
                    }
                    let now = std::time::Instant::now();
                    let sleep = ticks.sleep(now, timers.next_due());
                    let timer = timers.sleeping_until(now + sleep);
                    let sleep = sleep.min(ticks.sleep(now, timer));
                    std::thread::park_timeout(sleep);
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
        let log = OperatorLog::new(label, accounts.budget.clone(), self.log_sink.get().cloned());
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
            resident_epoch: None,
            lost: Vec::new(),
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|host| &mut host.memory);
        store
    }
}

/// When the epoch ticker advances the epoch: every `interval`, and once for each time a
/// timed task falls due.
struct TickPlan {
    interval: std::time::Duration,
    next_tick: std::time::Instant,
    /// The timer the last early tick was for, and when it was given: a due timer stays due
    /// until a worker takes it, and a call that started after the tick (its worker took other
    /// work first) would not see it, so a timer still due is ticked for again after
    /// [`REKICK`].
    kicked: Option<(std::time::Instant, std::time::Instant)>,
}

/// How long a timer may stay due after its tick before it is ticked for again.
const REKICK: std::time::Duration = std::time::Duration::from_millis(1);

impl TickPlan {
    fn new(interval: std::time::Duration, now: std::time::Instant) -> Self {
        TickPlan {
            interval,
            next_tick: now + interval,
            kicked: None,
        }
    }

    /// When the due `timer` should be ticked for (now, if it never was).
    fn kick_at(&self, timer: std::time::Instant) -> std::time::Instant {
        match self.kicked {
            Some((at, when)) if at == timer => when + REKICK,
            _ => timer,
        }
    }

    /// Whether to advance the epoch now, given the earliest timer.
    fn due(&mut self, now: std::time::Instant, timer: Option<std::time::Instant>) -> bool {
        let for_timer = timer.filter(|at| *at <= now && self.kick_at(*at) <= now);
        if let Some(at) = for_timer {
            self.kicked = Some((at, now));
        }
        if now >= self.next_tick || for_timer.is_some() {
            self.next_tick = now + self.interval;
            return true;
        }
        false
    }

    /// How long to sleep: until the next tick, or the earliest timer's (next) tick when that
    /// comes first.
    fn sleep(
        &self,
        now: std::time::Instant,
        timer: Option<std::time::Instant>,
    ) -> std::time::Duration {
        let wake = match timer {
            Some(at) => self.kick_at(at).min(self.next_tick),
            None => self.next_tick,
        };
        wake.saturating_duration_since(now)
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
            thread.thread().unpark();
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
    /// The epoch of the pane accumulators this instance keeps, when it keeps every batch of
    /// that epoch folded (see `time::window::resident`); none for a fresh instance and after
    /// a failed call.
    pub resident_epoch: Option<u64>,
    /// Events whose contributions to their windows could not be restored during the call in
    /// progress (see `time::window::resident`), with the reason: dead letters.
    pub lost: Vec<(crate::bindings::Event, String)>,
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

#[cfg(test)]
mod tests {
    use super::{REKICK, TickPlan};
    use std::time::{Duration, Instant};

    #[test]
    fn ticks_every_interval_and_again_for_a_timer_that_stays_due() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut plan = TickPlan::new(ms(10), start);
        assert!(
            !plan.due(start + ms(1), None),
            "no tick before the interval"
        );
        assert_eq!(plan.sleep(start + ms(1), None), ms(9));
        let timer = start + ms(3);
        assert_eq!(
            plan.sleep(start + ms(1), Some(timer)),
            ms(2),
            "wakes for the timer"
        );
        assert!(
            plan.due(start + ms(3), Some(timer)),
            "a due timer ticks at once"
        );
        assert!(
            !plan.due(start + ms(3) + REKICK / 2, Some(timer)),
            "the same timer, still due, does not tick again at once"
        );
        assert_eq!(
            plan.sleep(start + ms(3) + REKICK / 2, Some(timer)),
            REKICK / 2
        );
        assert!(
            plan.due(start + ms(3) + REKICK, Some(timer)),
            "a timer no worker took is ticked for again: a call may have started since"
        );
        let later = start + ms(5);
        assert!(
            plan.due(start + ms(5), Some(later)),
            "another due timer ticks"
        );
        assert!(
            plan.due(start + ms(15), Some(later)),
            "the interval still ticks"
        );
    }
}
