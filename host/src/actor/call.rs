//! One call into an operator as a future that owns the instance's `Store`, so the executor can
//! park it between fuel slices and resume it later on any worker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime::Store;

use super::failure::CallFailure;
use super::instance::{Exports, Instance};
use super::joining;
use super::windowing::{self, WindowUpdate};
use super::yielding::{WRITES_PER_PIECE, yield_now};
use crate::bindings::{Event, OperatorError};
use crate::budget::{Accounts, BudgetExceeded, Resource};
use crate::dataflow::record::{Batch, PriorityContext, event_bytes};
use crate::engine::HostState;
use crate::limits::Limits;
use crate::limits::MAX_HEADERS_PER_EVENT;
use crate::registry::OperatorModule;
use crate::state::{Held, StateTxn};
use crate::time::join::{JoinDef, JoinPlan, Side};
use crate::time::window::{LateEvent, PaneKey, WindowDef};

/// What to call.
pub enum CallInput {
    /// A batch of records.
    Batch {
        /// The records.
        batch: Batch,
        /// What the operator does with a batch.
        kind: BatchKind,
    },
    /// A pane whose window the watermark passed: `fire`.
    Fire {
        /// The pane.
        pane: PaneKey,
        /// The context of the watermark that made it due.
        context: PriorityContext,
    },
    /// `on-timer`.
    Timer {
        /// The timer's key.
        key: Option<Vec<u8>>,
        /// The timer's time.
        time: i64,
        /// The context of the watermark that made it due.
        context: PriorityContext,
    },
}

/// How an operator takes a batch.
#[derive(Debug, Clone)]
pub enum BatchKind {
    /// `process`.
    Process,
    /// Host-managed windows: folded into panes with `accumulate`; panes that had fired fire
    /// again. `watermark` is the operator's watermark when the batch was taken (it decides
    /// what is late).
    Window {
        /// The watermark.
        watermark: i64,
    },
    /// An interval join: each event, on its side, pairs with the other side's buffer.
    Join {
        /// The side of each event.
        sides: Vec<Side>,
    },
}

impl CallInput {
    /// The context outputs of this call inherit: the earliest ingest of the inputs, so the
    /// latency measured is that of the event that waited longest.
    pub fn output_context(&self) -> Option<PriorityContext> {
        match self {
            CallInput::Batch { batch, .. } => batch.earliest(),
            CallInput::Timer { context, .. } | CallInput::Fire { context, .. } => Some(*context),
        }
    }

    /// True for calls that make output now: firing a pane or a timer.
    pub fn fires(&self) -> bool {
        matches!(self, CallInput::Fire { .. } | CallInput::Timer { .. })
    }
}

/// What a successful call produced.
pub struct CallOutput {
    /// Events to send downstream.
    pub events: Vec<Event>,
    /// Timers registered during the call.
    pub timers: Vec<(Option<Vec<u8>>, i64)>,
    /// Input events too late for some or all of their windows.
    pub late: Vec<LateEvent>,
    /// Bytes of `events` charged to the job's memory budget; given back once they are routed
    /// (the mailboxes they go to charge them from then on).
    pub charged: u64,
}

/// A finished call.
pub struct CallDone {
    /// The instance, unless the call poisoned it.
    pub instance: Option<Instance>,
    /// What the host holds for the instance, when the instance was dropped (it outlives
    /// instances).
    pub orphaned: Option<Held>,
    /// The input, handed back for retry or the dead-letter output.
    pub input: CallInput,
    /// The outcome.
    pub result: Result<CallOutput, CallFailure>,
    /// Fuel burned.
    pub fuel: u64,
    /// Set when the instance could not even be created: the job cannot go on.
    pub fatal: Option<String>,
    /// Events folded earlier whose contributions to their windows were lost during the call,
    /// with the reason: dead letters.
    pub lost: Vec<(Event, String)>,
}

/// A call in progress.
pub type CallFuture = Pin<Box<dyn Future<Output = CallDone> + Send>>;

/// Where the call runs: an existing instance, or a fresh store to instantiate into.
pub enum Slot {
    /// An instance that is ready.
    Live(Box<Instance>),
    /// A store to instantiate the module in (first call, or after a trap).
    Fresh(Store<HostState>),
}

impl Slot {
    /// The host's side of the slot's store.
    pub fn host_mut(&mut self) -> &mut HostState {
        match self {
            Slot::Live(instance) => instance.store.data_mut(),
            Slot::Fresh(store) => store.data_mut(),
        }
    }
}

/// Everything a call needs besides its input.
#[derive(Clone)]
pub struct CallContext {
    /// The operator's label (`job/operator`), for errors.
    pub operator: Arc<str>,
    /// The module to instantiate when the slot is fresh.
    pub module: OperatorModule,
    /// The operator's config, as JSON.
    pub config: Arc<str>,
    /// Limits to apply.
    pub limits: Limits,
    /// The operator's window, if the job spec declares one.
    pub window: Option<WindowDef>,
    /// The operator's interval join, if the job spec declares one.
    pub join: Option<JoinDef>,
    /// The job's memory budget and the tenant's state quota.
    pub accounts: Accounts,
    /// The module version that wrote the instance's state, when the module changed since and
    /// the state is still to be converted (by the new module's `upgrade-state`, if it has
    /// one) before the call's input.
    pub convert_from: Option<Arc<str>>,
}

/// Starts a call; nothing runs until the returned future is polled.
pub fn start(slot: Slot, input: CallInput, cx: CallContext) -> CallFuture {
    Box::pin(run(slot, input, cx))
}

fn prepare(store: &mut Store<HostState>, limits: &Limits) -> wasmtime::Result<()> {
    store.set_fuel(limits.fuel_per_call)?;
    store.fuel_async_yield_interval(Some(limits.slice_fuel.max(1)))?;
    if limits.slice_micros > 0 {
        // Yield at the first epoch tick after the slice began (the host ticks every
        // `slice_micros`).
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
    } else {
        store.set_epoch_deadline(u64::MAX / 2);
    }
    Ok(())
}

fn fuel_used(store: &Store<HostState>, limits: &Limits) -> u64 {
    limits
        .fuel_per_call
        .saturating_sub(store.get_fuel().unwrap_or(0))
}

/// Instantiates the module and calls `init`; an error here is fatal for the job.
/// Why an instance could not be made.
enum NoInstance {
    /// The memory budget had no room for it now: this call fails, a later one tries again.
    Budget(BudgetExceeded),
    /// The module or its config is wrong: the job cannot go on.
    Fatal(String),
}

impl NoInstance {
    /// A failure of instantiation or `init`, described by `what` (`could not be
    /// instantiated`, `failed in init`).
    fn from_trap(
        err: &wasmtime::Error,
        cx: &CallContext,
        what: &str,
        panic: Option<String>,
    ) -> Self {
        match CallFailure::from_trap(err, cx.limits.fuel_per_call).after_panic(panic) {
            CallFailure::Budget(exceeded) => NoInstance::Budget(exceeded),
            failure => NoInstance::Fatal(format!("{} {what}: {failure}", cx.name())),
        }
    }
}

impl CallContext {
    /// The operator and its module, as errors name them.
    fn name(&self) -> String {
        format!("operator \"{}\" ({})", self.operator, self.module.name())
    }
}

/// Instantiates the module and calls `init`; returns its exports, and its `upgrade-state`
/// when it has one.
async fn instantiate(
    store: &mut Store<HostState>,
    cx: &CallContext,
) -> Result<(Exports, Option<wasmtime::component::Func>), NoInstance> {
    let name = cx.name();
    let no_fuel =
        |e: wasmtime::Error| NoInstance::Fatal(format!("{name}: could not set fuel: {e:#}"));
    prepare(store, &cx.limits).map_err(no_fuel)?;
    let instance = cx
        .module
        .pre()
        .instantiate_async(&mut *store)
        .await
        .map_err(|e| NoInstance::from_trap(&e, cx, "could not be instantiated", None))?;
    let exports_mismatch = |e: wasmtime::Error| {
        NoInstance::Fatal(format!(
            "{name} exports the cameo interfaces with the wrong types: {e:#}"
        ))
    };
    let bindings = Exports {
        handler: cx
            .module
            .handler()
            .load(&mut *store, &instance)
            .map_err(exports_mismatch)?,
        windowed: match cx.module.windowed() {
            Some(indices) => Some(
                indices
                    .load(&mut *store, &instance)
                    .map_err(exports_mismatch)?,
            ),
            None => None,
        },
        accumulate: super::accumulate::lookup(&mut *store, &instance, cx.module.accumulate())
            .map_err(exports_mismatch)?,
        packed_process: super::processing::lookup(
            &mut *store,
            &instance,
            cx.module.packed_process(),
        )
        .map_err(exports_mismatch)?,
        joiner: match cx.module.joiner() {
            Some(indices) => Some(
                indices
                    .load(&mut *store, &instance)
                    .map_err(exports_mismatch)?,
            ),
            None => None,
        },
    };
    prepare(store, &cx.limits).map_err(no_fuel)?;
    let init = bindings.handler.call_init(&mut *store, &cx.config).await;
    let panic = store.data_mut().log.flush();
    let upgrade_state = cx
        .module
        .upgrader()
        .and_then(|index| instance.get_func(&mut *store, index));
    match init {
        Ok(Ok(())) => Ok((bindings, upgrade_state)),
        Ok(Err(err)) => Err(NoInstance::Fatal(format!(
            "{name} refused its config in init: {}",
            CallFailure::from_operator(&err)
        ))),
        Err(err) => Err(NoInstance::from_trap(&err, cx, "failed in init", panic)),
    }
}

/// Instantiates `cx.module` in `store` and calls `init` with the operator's config, for a
/// module that must show it can run the operator before it replaces the one running; the
/// error says why it cannot.
pub(crate) async fn trial(mut store: Store<HostState>, cx: CallContext) -> Result<(), String> {
    match instantiate(&mut store, &cx).await {
        Ok(_) => Ok(()),
        Err(NoInstance::Fatal(reason)) => Err(reason),
        Err(NoInstance::Budget(exceeded)) => Err(format!(
            "{} could not be instantiated: {exceeded}",
            cx.name()
        )),
    }
}

async fn run(slot: Slot, input: CallInput, cx: CallContext) -> CallDone {
    let (mut store, bindings, upgrade_state) = match slot {
        Slot::Live(instance) => {
            let Instance { store, exports } = *instance;
            (store, exports, None)
        }
        Slot::Fresh(mut store) => match instantiate(&mut store, &cx).await {
            Ok((bindings, upgrade_state)) => (store, bindings, upgrade_state),
            Err(refusal) => {
                let fuel = fuel_used(&store, &cx.limits);
                let (result, fatal) = match refusal {
                    NoInstance::Budget(exceeded) => (Err(CallFailure::Budget(exceeded)), None),
                    NoInstance::Fatal(reason) => {
                        (Err(CallFailure::Trap(reason.clone())), Some(reason))
                    }
                };
                return CallDone {
                    instance: None,
                    orphaned: Some(std::mem::take(&mut store.data_mut().held)),
                    input,
                    result,
                    fuel,
                    fatal,
                    lost: std::mem::take(&mut store.data_mut().lost),
                };
            }
        },
    };
    if let Err(err) = prepare(&mut store, &cx.limits) {
        let reason = format!("{}: could not set fuel: {err:#}", cx.name());
        return CallDone {
            instance: None,
            orphaned: Some(std::mem::take(&mut store.data_mut().held)),
            input,
            result: Err(CallFailure::Trap(reason.clone())),
            fuel: 0,
            fatal: Some(reason),
            lost: std::mem::take(&mut store.data_mut().lost),
        };
    }
    let outcome = match (&cx.convert_from, upgrade_state) {
        (Some(from), Some(func)) => {
            match super::converting::convert(&mut store, func, from, &cx.limits).await {
                Ok(()) => {
                    if let Err(err) = prepare(&mut store, &cx.limits) {
                        Err(err)
                    } else {
                        call_guest(&mut store, &bindings, &input).await
                    }
                }
                Err(trap) => Err(trap.context(format!(
                    "upgrade-state of {} trapped converting the state of {from}; the state \
                     stays as {from} wrote it",
                    cx.module.name()
                ))),
            }
        }
        _ => call_guest(&mut store, &bindings, &input).await,
    };
    let fuel = fuel_used(&store, &cx.limits);
    let host = store.data_mut();
    let panic = host.log.flush();
    let txn = std::mem::take(&mut host.txn);
    let timers = std::mem::take(&mut host.timers);
    if let CallInput::Fire { pane, .. } = &input {
        // Fired, successfully or not: a failing pane goes to the dead letters once.
        host.held.windows.mark_fired(pane);
    }
    let result = match outcome {
        Ok(Ok((events, update))) => match check_output(&events, &cx.limits).and_then(|bytes| {
            check_growth(host, update.as_ref(), &timers).map_err(CallFailure::Budget)?;
            charge_output(host, bytes)?;
            Ok(bytes)
        }) {
            Ok(charged) => {
                let late = match update {
                    Some(HeldUpdate::Window(update)) => update.apply(&mut host.held.windows),
                    Some(HeldUpdate::Join(plan)) => {
                        host.held.joins.apply(plan);
                        Vec::new()
                    }
                    None => Vec::new(),
                };
                Ok(CallOutput {
                    events,
                    timers,
                    late,
                    charged,
                })
            }
            Err(failure) => Err(failure),
        },
        Ok(Err(err)) => Err(CallFailure::from_operator(&err)),
        Err(err) => Err(CallFailure::from_trap(&err, cx.limits.fuel_per_call).after_panic(panic)),
    };
    if result.is_err() {
        // The guest may have folded part of a batch into the accumulators it keeps: they are
        // no longer the logged batches' (the next window call folds the log again).
        store.data_mut().resident_epoch = None;
    }
    settle_writes(&mut store, txn, result.is_ok()).await;
    let lost = std::mem::take(&mut store.data_mut().lost);
    let poisoned = result.as_ref().is_err_and(CallFailure::poisons_instance);
    let (instance, orphaned) = if poisoned {
        (None, Some(std::mem::take(&mut store.data_mut().held)))
    } else {
        (
            Some(Instance {
                store,
                exports: bindings,
            }),
            None,
        )
    };
    CallDone {
        instance,
        orphaned,
        input,
        result,
        fuel,
        fatal: None,
        lost,
    }
}

/// Gives back what a finished call's state writes were charged as they were made (what is
/// committed is charged by the actor once it has the instance back, see `Actor::settle`; given
/// back first, so a job cancelled in the middle leaves nothing charged to its tenant), then
/// applies the writes when the call succeeded, or drops them, in pieces with a slice end
/// between two pieces.
async fn settle_writes(store: &mut Store<HostState>, mut txn: StateTxn, succeeded: bool) {
    let pending = txn.pending_bytes();
    let accounts = &store.data().accounts;
    accounts.budget.release(pending);
    accounts.state.release(pending);
    loop {
        let host = store.data_mut();
        let done = if succeeded {
            txn.commit_some(&mut host.held.state, WRITES_PER_PIECE)
        } else {
            txn.discard_some(WRITES_PER_PIECE)
        };
        if done {
            break;
        }
        yield_now().await;
    }
}

/// Changes to what the host holds, committed only when the whole call succeeds.
enum HeldUpdate {
    /// New pane accumulators.
    Window(WindowUpdate),
    /// New join buffer entries.
    Join(JoinPlan),
}

/// What the guest returned: output events and the held-state update to commit; the outer
/// error is a trap, the inner one the operator's own.
type GuestOutcome = wasmtime::Result<Result<(Vec<Event>, Option<HeldUpdate>), OperatorError>>;

/// Makes the guest calls one input needs.
async fn call_guest(
    store: &mut Store<HostState>,
    exports: &Exports,
    input: &CallInput,
) -> GuestOutcome {
    let handler = &exports.handler;
    match input {
        CallInput::Batch {
            batch,
            kind: BatchKind::Process,
        } => match exports.packed_process {
            Some(process) => Ok(
                super::processing::call(&mut *store, process, batch.events())
                    .await?
                    .map(|out| (out, None)),
            ),
            None => Ok(handler
                .call_process(&mut *store, batch.events())
                .await?
                .map(|out| (out, None))),
        },
        CallInput::Timer { key, time, .. } => Ok(handler
            .call_on_timer(&mut *store, key.as_deref(), *time)
            .await?
            .map(|out| (out, None))),
        CallInput::Batch {
            batch,
            kind: BatchKind::Window { watermark },
        } => windowing::accumulate(store, exports, batch.events(), *watermark)
            .await
            .map(|r| r.map(|(out, update)| (out, Some(HeldUpdate::Window(update))))),
        CallInput::Batch {
            batch,
            kind: BatchKind::Join { sides },
        } => joining::join(store, exports, batch.events(), sides)
            .await
            .map(|r| r.map(|(out, plan)| (out, Some(HeldUpdate::Join(plan))))),
        CallInput::Fire { pane, .. } => windowing::fire(store, exports, pane)
            .await
            .map(|r| r.map(|out| (out, None))),
    }
}

/// Refuses what a successful call would add to the host's holdings (panes, join buffers,
/// timers) when it does not fit the job's memory budget.
fn check_growth(
    host: &HostState,
    update: Option<&HeldUpdate>,
    timers: &[(Option<Vec<u8>>, i64)],
) -> Result<(), BudgetExceeded> {
    let budget = &host.accounts.budget;
    match update {
        Some(HeldUpdate::Window(update)) => {
            let growth = update.growth(&host.held.windows);
            budget.check(Resource::WindowPanes, growth.max(0) as u64)?;
        }
        Some(HeldUpdate::Join(plan)) => budget.check(Resource::JoinBuffers, plan.bytes())?,
        None => {}
    }
    let timer_bytes = timers
        .iter()
        .map(|(key, _)| crate::time::timer_bytes(key.as_deref()))
        .sum();
    budget.check(Resource::Timers, timer_bytes)
}

/// Charges a call's output to the job's memory budget until it is routed, or fails the call
/// when the budget has no room for it.
fn charge_output(host: &HostState, bytes: u64) -> Result<(), CallFailure> {
    host.accounts
        .budget
        .charge(Resource::CallOutput, bytes)
        .map_err(CallFailure::Budget)
}

/// The bytes of a call's output, or why it is refused.
fn check_output(events: &[Event], limits: &Limits) -> Result<u64, CallFailure> {
    if let Some(event) = events
        .iter()
        .find(|e| e.headers.len() > MAX_HEADERS_PER_EVENT)
    {
        return Err(CallFailure::TooManyHeaders {
            headers: event.headers.len(),
        });
    }
    let bytes: u64 = events.iter().map(event_bytes).sum();
    if events.len() > limits.max_output_events || bytes > limits.max_output_bytes {
        return Err(CallFailure::OutputTooLarge {
            events: events.len(),
            bytes,
            max_events: limits.max_output_events,
            max_bytes: limits.max_output_bytes,
        });
    }
    Ok(bytes)
}
