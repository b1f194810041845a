//! Pane accumulators kept in the guest between batches (the contract's 0.2.0 `resident`
//! export, `wit/0.2.0/resident.wit`): folding a batch by handles, collecting the accumulators
//! back before anything needs them, and folding the logged batches again on the host's side
//! when the guest's copy is lost. The bookkeeping is in `time::window::resident`.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Func, Instance};

use super::accumulate::{self, Accumulate, EventRef, PaneRef};
use super::packed::{self, put_count, put_event, put_pane, read_events, read_i64};
use crate::bindings::{Event, OperatorError, RESIDENT_INTERFACE};
use crate::budget::Resource;
use crate::engine::HostState;
use crate::time::window::resident::Folded;
use crate::time::window::{BatchPlan, WindowDef, WindowState};

/// Bytes of logged batches past which the guest's accumulators are collected before the next
/// fold (the log is held, and checkpointed, until then).
const LOG_BYTES: usize = 4 << 20;

/// Batches logged past which the guest's accumulators are collected before the next fold:
/// folding the log again takes a guest call per batch.
const LOG_BATCHES: u32 = 256;

/// The share of a call's fuel the logged folds may have burned before the guest's
/// accumulators are collected: folding the log again on the host's side must fit in a call.
const LOG_FUEL_SHARE: u64 = 4;

/// Panes an epoch may give handles before the guest's accumulators are collected: bounds
/// what a guest keeps in its memory.
const MAX_HANDLES: usize = 1 << 16;

/// Where `fold` and `collect` are in a component that exports `resident`.
#[derive(Debug, Clone)]
pub(crate) struct ResidentIndex {
    fold: ComponentExportIndex,
    collect: ComponentExportIndex,
}

/// Finds `resident` in a component.
pub(crate) fn export_index(component: &wasmtime::component::Component) -> Option<ResidentIndex> {
    let interface = component.get_export_index(None, RESIDENT_INTERFACE)?;
    Some(ResidentIndex {
        fold: component.get_export_index(Some(&interface), "fold")?,
        collect: component.get_export_index(Some(&interface), "collect")?,
    })
}

/// An instance's `fold` and `collect`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resident {
    fold: Func,
    collect: Func,
}

type FoldParams<'a> = (u64, &'a [u8]);
type FoldResults = (Result<(), OperatorError>,);
type CollectResults = (Result<Vec<u8>, OperatorError>,);

/// The instance's `resident` functions, if it has them; an error when they have other types
/// than the contract's.
pub(super) fn lookup(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: Option<&ResidentIndex>,
) -> wasmtime::Result<Option<Resident>> {
    let Some(index) = index else {
        return Ok(None);
    };
    let (Some(fold), Some(collect)) = (
        instance.get_func(&mut *store, index.fold),
        instance.get_func(&mut *store, index.collect),
    ) else {
        return Ok(None);
    };
    fold.typed::<FoldParams<'_>, FoldResults>(&*store)?;
    collect.typed::<(u64,), CollectResults>(&*store)?;
    Ok(Some(Resident { fold, collect }))
}

/// A call's outcome: the outer error is a trap, the inner one the operator's.
type Outcome<T> = wasmtime::Result<Result<T, OperatorError>>;

/// True when a batch planned as `plan` can be folded into accumulators the guest keeps: no
/// session merges, and no pane that has fired (those fire again at once, from the host's
/// accumulator).
pub(super) fn takes(windows: &WindowState, plan: &BatchPlan) -> bool {
    windows.keeps_in_guest()
        && windows.handles() < MAX_HANDLES
        && plan.panes.iter().all(|planned| {
            planned.absorbs.is_empty() && !windows.get(&planned.pane).is_some_and(|pane| pane.fired)
        })
}

/// True when the instance keeps every batch of the current epoch.
fn in_step(store: &Store<HostState>) -> bool {
    let host = store.data();
    host.resident_epoch == Some(host.held.windows.epoch())
}

/// Folds `events`, planned as `plan` at `watermark`, into the accumulators the guest keeps;
/// returns what to record once the call succeeds.
pub(super) async fn fold(
    store: &mut Store<HostState>,
    accumulate: Accumulate,
    resident: Resident,
    def: &WindowDef,
    (events, plan, watermark): (&[Event], &BatchPlan, i64),
) -> Outcome<Folded> {
    let fuel_left = store.get_fuel().unwrap_or(0);
    let windows = &store.data().held.windows;
    let full = windows.unfolded_len() > LOG_BYTES
        || windows.unfolded_batches() >= LOG_BATCHES
        || windows.unfolded_fuel() > fuel_left / LOG_FUEL_SHARE;
    if !in_step(store) || full {
        flush(store, accumulate, Some(resident), def).await?;
        // A new epoch: the guest drops whatever it kept for an older one.
        store.data_mut().held.windows.take_unfolded();
    }
    let windows = &store.data().held.windows;
    let epoch = windows.epoch();
    let mut next = windows.next_handle();
    let mut handles = Vec::with_capacity(plan.panes.len());
    let mut new_panes = Vec::new();
    let mut batch = Vec::with_capacity(
        8 + plan.panes.len() * 32
            + events
                .iter()
                .map(|e| 4 + packed::event_size(&e.into()))
                .sum::<usize>(),
    );
    batch.extend_from_slice(&[0; 4]);
    for planned in &plan.panes {
        if let Some(handle) = windows.handle(&planned.pane) {
            handles.push(handle);
            continue;
        }
        handles.push(next);
        batch.extend_from_slice(&next.to_le_bytes());
        put_pane(
            &mut batch,
            &PaneRef {
                key: planned.pane.key.as_deref(),
                window: planned.pane.window(),
                acc: windows.get(&planned.pane).and_then(|pane| pane.acc()),
            },
        );
        new_panes.push(planned.pane.clone());
        next += 1;
    }
    batch[..4].copy_from_slice(&(new_panes.len() as u32).to_le_bytes());
    put_count(&mut batch, plan.assignments.len());
    for (pane, position) in &plan.assignments {
        let (Some(handle), Some(event)) = (handles.get(*pane as usize), events.get(*position))
        else {
            continue;
        };
        batch.extend_from_slice(&handle.to_le_bytes());
        put_event(&mut batch, &EventRef::from(event));
    }
    let entry = log_entry(events, watermark);
    let before = store.get_fuel().unwrap_or(0);
    let typed = resident
        .fold
        .typed::<FoldParams<'_>, FoldResults>(&*store)?;
    let (result,) = match typed
        .call_async(&mut *store, (epoch, batch.as_slice()))
        .await
    {
        Ok(result) => result,
        Err(trap) => {
            store.data_mut().held.windows.stop_keeping_in_guest();
            return Err(trap);
        }
    };
    let fuel = before.saturating_sub(store.get_fuel().unwrap_or(0));
    Ok(result.map(|()| {
        store.data_mut().resident_epoch = Some(epoch);
        Folded {
            epoch,
            new_panes,
            entry,
            fuel,
        }
    }))
}

/// A batch's log entry: its watermark, then its events.
fn log_entry(events: &[Event], watermark: i64) -> Vec<u8> {
    let mut entry = watermark.to_le_bytes().to_vec();
    packed::put_events(&mut entry, events);
    entry
}

/// Brings every logged batch into the panes the host holds: collects the guest's
/// accumulators when it keeps them all, folds the log again with `packed.accumulate`
/// otherwise. Nothing to do (and no guest call) when nothing is logged.
pub(super) async fn flush(
    store: &mut Store<HostState>,
    accumulate: Accumulate,
    resident: Option<Resident>,
    def: &WindowDef,
) -> wasmtime::Result<()> {
    if store.data().held.windows.unfolded_len() == 0 {
        return Ok(());
    }
    if let Some(resident) = resident
        && in_step(store)
        && collect(store, resident).await?
    {
        return Ok(());
    }
    refold(store, accumulate, def).await
}

/// Takes the guest's accumulators back into their panes; false when the guest failed to give
/// them (they are folded again from the log instead).
async fn collect(store: &mut Store<HostState>, resident: Resident) -> wasmtime::Result<bool> {
    let epoch = store.data().held.windows.epoch();
    let typed = resident.collect.typed::<(u64,), CollectResults>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (epoch,)).await?;
    store.data_mut().resident_epoch = None;
    let windows = &mut store.data_mut().held.windows;
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!("collect failed ({err:?}); folding the logged batches again instead");
            return Ok(false);
        }
    };
    match packed::decode_accumulators(&bytes) {
        Ok(ranges) if ranges.len() == windows.handles() => {
            windows.collected(|handle| {
                ranges
                    .get(handle)
                    .and_then(|range| bytes.get(range.clone()))
                    .unwrap_or_default()
            });
            Ok(true)
        }
        Ok(ranges) => {
            tracing::warn!(
                "collect returned {} accumulators for {} panes; folding the logged batches again",
                ranges.len(),
                windows.handles()
            );
            Ok(false)
        }
        Err(err) => {
            tracing::warn!("collect returned unreadable accumulators ({err}); folding again");
            Ok(false)
        }
    }
}

/// Folds the logged batches into the host's panes with `accumulate`, one batch per
/// guest call with the fuel the call had left when this began, and ends the epoch. The events
/// of a batch that cannot be folded again (the guest fails on it now, or its panes no longer
/// fit the memory budget) become dead letters saying why; a trap puts the batches not yet
/// folded back in the log (the one that trapped too when it ran out of fuel) and fails the
/// call, so the next call goes on from there.
async fn refold(
    store: &mut Store<HostState>,
    accumulate: Accumulate,
    def: &WindowDef,
) -> wasmtime::Result<()> {
    let log = store.data_mut().held.windows.take_unfolded();
    store.data_mut().resident_epoch = None;
    // Each logged batch may use what the call had left when the folding again began: it
    // folded within a call's fuel once, but with the accumulators crossing it may cost more.
    let fuel = store.get_fuel().unwrap_or(0);
    let mut at = 0;
    while at < log.len() {
        store.set_fuel(fuel)?;
        let (watermark, events) = match read_entry(&log, &mut at) {
            Ok(entry) => entry,
            Err(err) => {
                tracing::warn!("the log of folded batches is unreadable ({err}); dropped");
                return Ok(());
            }
        };
        let windows = &mut store.data_mut().held.windows;
        let plan = windows.plan(def, &events, watermark);
        // Copied out: the call below needs the store while the panes are lowered.
        let windows = &store.data().held.windows;
        let accs: Vec<Option<Vec<u8>>> = plan
            .panes
            .iter()
            .map(|planned| {
                windows
                    .get(&planned.pane)
                    .and_then(|pane| pane.acc().map(<[u8]>::to_vec))
            })
            .collect();
        let panes: Vec<PaneRef<'_>> = plan
            .panes
            .iter()
            .zip(&accs)
            .map(|(planned, acc)| PaneRef {
                key: planned.pane.key.as_deref(),
                window: planned.pane.window(),
                acc: acc.as_deref(),
            })
            .collect();
        let assigned = super::windowing::assigned(&plan, &events);
        // `packed` or `windowed`, whichever the instance has: after an upgrade it may be a
        // version without `packed` that folds what the one before kept.
        let lost = match accumulate::call(&mut *store, accumulate, &panes, &assigned).await {
            Ok(Ok(accs)) if accs.len() == plan.panes.len() => {
                let host = store.data_mut();
                let growth: i64 = plan
                    .panes
                    .iter()
                    .enumerate()
                    .map(|(index, planned)| host.held.windows.growth(planned, accs.get(index)))
                    .sum();
                match host
                    .accounts
                    .budget
                    .check(Resource::WindowPanes, growth.max(0) as u64)
                {
                    Ok(()) => {
                        for (index, planned) in plan.panes.iter().enumerate() {
                            host.held.windows.apply(planned, accs.get(index));
                        }
                        None
                    }
                    Err(exceeded) => Some(exceeded.to_string()),
                }
            }
            Ok(Ok(accs)) => Some(format!(
                "accumulate returned {} accumulators for {} panes",
                accs.len(),
                plan.panes.len()
            )),
            Ok(Err(err)) => {
                Some(crate::actor::failure::CallFailure::from_operator(&err).to_string())
            }
            Err(trap) => {
                // The batches after this one wait for the next call; this one is not tried
                // again (a batch that traps every time must not stop the instance for good).
                store.data_mut().held.windows.relog(&log[at..]);
                lose(store, &plan, &events, &format!("{trap:#}"));
                return Err(trap);
            }
        };
        if let Some(why) = lost {
            lose(store, &plan, &events, &why);
        }
    }
    Ok(())
}

/// Makes the on-time events of a logged batch that could not be folded again dead letters.
fn lose(store: &mut Store<HostState>, plan: &BatchPlan, events: &[Event], why: &str) {
    let on_time: std::collections::BTreeSet<usize> = plan
        .assignments
        .iter()
        .map(|(_, position)| *position)
        .collect();
    let reason = format!(
        "folded into the window accumulators the operator kept, which were lost; folding it \
         again failed: {why}"
    );
    let host = store.data_mut();
    for position in on_time {
        if let Some(event) = events.get(position) {
            host.lost.push((event.clone(), reason.clone()));
        }
    }
}

/// Reads one log entry at `*at`: its watermark and its events.
fn read_entry(log: &[u8], at: &mut usize) -> Result<(i64, Vec<Event>), packed::PackedError> {
    let watermark = read_i64(log, at, "a logged batch's watermark")?;
    Ok((watermark, read_events(log, at)?))
}
