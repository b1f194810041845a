//! The guest calls behind host-managed windows: merging session panes, folding a batch into
//! its panes with `accumulate`, and firing panes.

use wasmtime::Store;

use super::accumulate::{self, Accumulators, EventRef, PaneRef};
use super::instance::Exports;
use super::packed;
use super::resident;
use crate::bindings::{Event, OperatorError, Windowed};
use crate::engine::HostState;
use crate::time::window::resident::Folded;
use crate::time::window::{BatchPlan, LateEvent, PaneKey, PlannedPane, WindowState};

/// The header that marks a retraction, with the retracted window as `start,end`.
pub const RETRACTION_HEADER: &str = "cameo-retraction";

/// The record that retracts the result `old` fired, now that a merge replaced that pane with
/// `new` (a session that grew after it fired): the last result per pane that is not retracted
/// is the final one.
fn retraction(old: &PaneKey, new: &PaneKey) -> Event {
    let value = serde_json::json!({
        "retracts": { "window_start": old.start, "window_end": old.end },
        "replaced_by": { "window_start": new.start, "window_end": new.end },
    });
    Event {
        key: old.key.clone(),
        value: value.to_string().into_bytes(),
        event_time: old.end.saturating_sub(1),
        headers: vec![crate::bindings::Header {
            name: RETRACTION_HEADER.into(),
            value: format!("{},{}", old.start, old.end).into_bytes(),
        }],
    }
}

/// Pane accumulators computed by a successful window batch, applied only when the whole call
/// succeeds (so a failed batch, retried event by event, is never counted twice).
pub struct WindowUpdate {
    panes: Vec<PlannedPane>,
    /// One per pane, in order.
    accs: Accumulators,
    late: Vec<LateEvent>,
    /// A batch folded into accumulators the guest keeps, to record.
    folded: Option<Folded>,
}

impl WindowUpdate {
    /// Bytes applying the update would add to `windows` (negative when panes shrink).
    pub fn growth(&self, windows: &WindowState) -> i64 {
        self.panes
            .iter()
            .enumerate()
            .map(|(index, pane)| windows.growth(pane, self.accs.get(index)))
            .sum::<i64>()
            + self
                .folded
                .as_ref()
                .map_or(0, |folded| windows.fold_growth(folded) as i64)
    }

    /// Writes the new accumulators; returns the batch's late events.
    pub fn apply(self, windows: &mut WindowState) -> Vec<LateEvent> {
        for (index, pane) in self.panes.iter().enumerate() {
            windows.apply(pane, self.accs.get(index));
        }
        if let Some(folded) = self.folded {
            windows.folded(folded);
        }
        self.late
    }
}

/// A call's outcome: the outer error is a trap, the inner one the operator's.
type Outcome<T> = wasmtime::Result<Result<T, OperatorError>>;

fn exported(exports: &Exports) -> Result<&Windowed, OperatorError> {
    exports.windowed.as_ref().ok_or_else(|| {
        OperatorError::Failed(
            "the job declares a window for this operator, but its component does not export \
             cameo:operator/windowed@0.1.0; build it against the windowed-operator world"
                .into(),
        )
    })
}

/// Folds `events` into their panes at `watermark`; panes that had already fired fire again
/// with their updated accumulator.
pub(super) async fn accumulate(
    store: &mut Store<HostState>,
    exports: &Exports,
    events: &[Event],
    watermark: i64,
) -> Outcome<(Vec<Event>, WindowUpdate)> {
    let windowed = match exported(exports) {
        Ok(windowed) => windowed,
        Err(err) => return Ok(Err(err)),
    };
    let Some(def) = store.data().window else {
        return Ok(Err(OperatorError::Failed(
            "window batch for an operator without a window definition".into(),
        )));
    };
    let Some(accumulate) = exports.accumulate else {
        return Ok(Err(OperatorError::Failed(
            "the component exports windowed without accumulate".into(),
        )));
    };
    let plan = store.data_mut().held.windows.plan(&def, events, watermark);
    if let Some(kept) = accumulate.resident()
        && resident::takes(&store.data().held.windows, &plan)
    {
        let folded = resident::fold(
            &mut *store,
            accumulate,
            kept,
            &def,
            (events, &plan, watermark),
        )
        .await?;
        return Ok(folded.map(|folded| {
            (
                Vec::new(),
                WindowUpdate {
                    panes: Vec::new(),
                    accs: Accumulators::Lists(Vec::new()),
                    late: plan.late,
                    folded: Some(folded),
                },
            )
        }));
    }
    resident::flush(&mut *store, accumulate, accumulate.resident(), &def).await?;
    let mut out = Vec::new();
    let (accs, refire) =
        if accumulate.is_packed() && plan.panes.iter().all(|p| p.absorbs.is_empty()) {
            // Nothing to merge: the batch is written straight from the held panes, without
            // copying any accumulator out first.
            let windows = &store.data().held.windows;
            let mut refire = Vec::with_capacity(plan.panes.len());
            let panes: Vec<PaneRef<'_>> = plan
                .panes
                .iter()
                .map(|planned| {
                    let own = windows.get(&planned.pane);
                    refire.push(own.is_some_and(|pane| pane.fired));
                    PaneRef {
                        key: planned.pane.key.as_deref(),
                        window: planned.pane.window(),
                        acc: own.and_then(|pane| pane.acc()),
                    }
                })
                .collect();
            let batch = packed::encode_batch(&panes, &assigned(&plan, events));
            let accs = accumulate::call_packed(&mut *store, accumulate, batch).await?;
            (accs, refire)
        } else {
            let (accs_before, refire) =
                match accumulators_before(store, windowed, &plan, &mut out).await? {
                    Ok(before) => before,
                    Err(err) => return Ok(Err(err)),
                };
            let panes: Vec<PaneRef<'_>> = plan
                .panes
                .iter()
                .zip(&accs_before)
                .map(|(planned, acc)| PaneRef {
                    key: planned.pane.key.as_deref(),
                    window: planned.pane.window(),
                    acc: acc.as_deref(),
                })
                .collect();
            let assigned = assigned(&plan, events);
            let accs = accumulate::call(&mut *store, accumulate, &panes, &assigned).await?;
            (accs, refire)
        };
    let accs = match accs {
        Ok(accs) => accs,
        Err(err) => return Ok(Err(err)),
    };
    if accs.len() != plan.panes.len() {
        return Ok(Err(OperatorError::Failed(format!(
            "accumulate returned {} accumulators for {} panes; return one per pane, in order",
            accs.len(),
            plan.panes.len()
        ))));
    }
    for (index, (planned, fired)) in plan.panes.iter().zip(&refire).enumerate() {
        if *fired {
            let pane = &planned.pane;
            match windowed
                .call_fire(
                    &mut *store,
                    pane.key.as_deref(),
                    pane.window(),
                    accs.get(index),
                )
                .await?
            {
                Ok(events) => out.extend(events),
                Err(err) => return Ok(Err(err)),
            }
        }
    }
    Ok(Ok((
        out,
        WindowUpdate {
            panes: plan.panes,
            accs,
            late: plan.late,
            folded: None,
        },
    )))
}

/// Each event of the batch with the index of its pane in `plan`.
pub(super) fn assigned<'e>(plan: &BatchPlan, events: &'e [Event]) -> Vec<(u32, EventRef<'e>)> {
    plan.assignments
        .iter()
        .filter_map(|(pane, position)| events.get(*position).map(|e| (*pane, e.into())))
        .collect()
}

/// Each planned pane's accumulator before the batch (merged first, for sessions; a merged
/// session that had fired is retracted into `out`), and whether the pane had fired.
async fn accumulators_before(
    store: &mut Store<HostState>,
    windowed: &Windowed,
    plan: &BatchPlan,
    out: &mut Vec<Event>,
) -> Outcome<(Vec<Option<Vec<u8>>>, Vec<bool>)> {
    let mut accs_before: Vec<Option<Vec<u8>>> = Vec::with_capacity(plan.panes.len());
    let mut refire = Vec::with_capacity(plan.panes.len());
    for planned in &plan.panes {
        let windows = &store.data().held.windows;
        let own = windows
            .get(&planned.pane)
            .map(|pane| (pane.acc().map(<[u8]>::to_vec), pane.fired));
        if planned.absorbs.is_empty() {
            // Tumbling and sliding windows: the pane's own accumulator, if any.
            refire.push(own.as_ref().is_some_and(|(_, fired)| *fired));
            accs_before.push(own.and_then(|(acc, _)| acc));
            continue;
        }
        // Sessions that the batch merges: the pane itself first, then the others in window
        // order; a merged session that had fired is retracted.
        let others = planned.absorbs.iter().filter_map(|key| {
            let pane = windows.get(key)?;
            if pane.fired {
                out.push(retraction(key, &planned.pane));
            }
            Some((pane.acc().map(<[u8]>::to_vec), pane.fired))
        });
        let absorbed: Vec<(Option<Vec<u8>>, bool)> = own.into_iter().chain(others).collect();
        refire.push(absorbed.iter().any(|(_, fired)| *fired));
        let mut acc: Option<Vec<u8>> = None;
        // (Sessions are never folded in the guest: every held session has an accumulator.)
        for other in absorbed.into_iter().filter_map(|(other, _)| other) {
            acc = Some(match acc {
                None => other,
                Some(acc) => {
                    match windowed
                        .call_merge(&mut *store, planned.pane.key.as_deref(), &acc, &other)
                        .await?
                    {
                        Ok(merged) => merged,
                        Err(err) => return Ok(Err(err)),
                    }
                }
            });
        }
        accs_before.push(acc);
    }
    Ok(Ok((accs_before, refire)))
}

/// Fires panes one after another: the guest turns each accumulator into output. The first
/// failure fails the call (the actor fires the panes again one by one).
pub(super) async fn fire(
    store: &mut Store<HostState>,
    exports: &Exports,
    panes: &[PaneKey],
) -> Outcome<Vec<Event>> {
    let windowed = match exported(exports) {
        Ok(windowed) => windowed,
        Err(err) => return Ok(Err(err)),
    };
    if let (Some(accumulate), Some(def)) = (exports.accumulate, store.data().window) {
        resident::flush(&mut *store, accumulate, accumulate.resident(), &def).await?;
    }
    let mut out = Vec::new();
    for pane in panes {
        let Some(acc) = store
            .data()
            .held
            .windows
            .get(pane)
            .and_then(|p| p.acc().map(<[u8]>::to_vec))
        else {
            continue;
        };
        match windowed
            .call_fire(&mut *store, pane.key.as_deref(), pane.window(), &acc)
            .await?
        {
            Ok(events) => out.extend(events),
            Err(err) => return Ok(Err(err)),
        }
    }
    Ok(Ok(out))
}
