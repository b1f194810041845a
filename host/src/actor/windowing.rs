//! The guest calls behind host-managed windows: merging session panes, folding a batch into
//! its panes with `accumulate`, and firing panes.

use wasmtime::Store;

use super::accumulate::{EventRef, PaneRef};
use super::instance::Exports;
use crate::bindings::{Event, OperatorError, Windowed};
use crate::engine::HostState;
use crate::time::window::{LateEvent, PaneKey, PlannedPane, WindowState};

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
    panes: Vec<(PlannedPane, Vec<u8>)>,
    late: Vec<LateEvent>,
}

impl WindowUpdate {
    /// Bytes applying the update would add to `windows` (negative when panes shrink).
    pub fn growth(&self, windows: &WindowState) -> i64 {
        self.panes
            .iter()
            .map(|(pane, acc)| windows.growth(pane, acc))
            .sum()
    }

    /// Writes the new accumulators; returns the batch's late events.
    pub fn apply(self, windows: &mut WindowState) -> Vec<LateEvent> {
        for (pane, acc) in self.panes {
            windows.apply(&pane, acc);
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
    let plan = store.data_mut().held.windows.plan(&def, events, watermark);
    // Each planned pane's accumulator before the batch (merged first, for sessions).
    let mut accs_before: Vec<Option<Vec<u8>>> = Vec::with_capacity(plan.panes.len());
    let mut refire = Vec::with_capacity(plan.panes.len());
    let mut out = Vec::new();
    for planned in &plan.panes {
        let windows = &store.data().held.windows;
        let own = windows
            .get(&planned.pane)
            .map(|pane| (pane.acc.clone(), pane.fired));
        if planned.absorbs.is_empty() {
            // Tumbling and sliding windows: the pane's own accumulator, if any.
            refire.push(own.as_ref().is_some_and(|(_, fired)| *fired));
            accs_before.push(own.map(|(acc, _)| acc));
            continue;
        }
        // Sessions that the batch merges: the pane itself first, then the others in window
        // order; a merged session that had fired is retracted.
        let others = planned.absorbs.iter().filter_map(|key| {
            let pane = windows.get(key)?;
            if pane.fired {
                out.push(retraction(key, &planned.pane));
            }
            Some((pane.acc.clone(), pane.fired))
        });
        let absorbed: Vec<(Vec<u8>, bool)> = own.into_iter().chain(others).collect();
        refire.push(absorbed.iter().any(|(_, fired)| *fired));
        let mut acc: Option<Vec<u8>> = None;
        for (other, _) in absorbed {
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
    let assigned: Vec<(u32, EventRef<'_>)> = plan
        .assignments
        .iter()
        .filter_map(|(pane, position)| events.get(*position).map(|e| (*pane, e.into())))
        .collect();
    let Some(accumulate) = exports.accumulate else {
        return Ok(Err(OperatorError::Failed(
            "the component exports windowed without accumulate".into(),
        )));
    };
    let accs = match super::accumulate::call(&mut *store, accumulate, &panes, &assigned).await? {
        Ok(accs) => accs,
        Err(err) => return Ok(Err(err)),
    };
    if accs.len() != panes.len() {
        return Ok(Err(OperatorError::Failed(format!(
            "accumulate returned {} accumulators for {} panes; return one per pane, in order",
            accs.len(),
            panes.len()
        ))));
    }
    for ((planned, acc), fired) in plan.panes.iter().zip(&accs).zip(&refire) {
        if *fired {
            let pane = &planned.pane;
            match windowed
                .call_fire(&mut *store, pane.key.as_deref(), pane.window(), acc)
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
            panes: plan.panes.into_iter().zip(accs).collect(),
            late: plan.late,
        },
    )))
}

/// Fires one pane: the guest turns its accumulator into output.
pub(super) async fn fire(
    store: &mut Store<HostState>,
    exports: &Exports,
    pane: &PaneKey,
) -> Outcome<Vec<Event>> {
    let windowed = match exported(exports) {
        Ok(windowed) => windowed,
        Err(err) => return Ok(Err(err)),
    };
    let Some(acc) = store.data().held.windows.get(pane).map(|p| p.acc.clone()) else {
        return Ok(Ok(Vec::new()));
    };
    windowed
        .call_fire(&mut *store, pane.key.as_deref(), pane.window(), &acc)
        .await
}
