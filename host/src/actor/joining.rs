//! The guest call behind host-managed interval joins.

use wasmtime::Store;

use super::instance::Exports;
use crate::bindings::{Event, OperatorError};
use crate::engine::HostState;
use crate::time::join::{JoinPlan, Side};

/// Pairs the batch with the join buffers and hands the pairs to the guest's `join`; the
/// buffer additions are returned to commit when the call succeeds.
pub(super) async fn join(
    store: &mut Store<HostState>,
    exports: &Exports,
    events: &[Event],
    sides: &[Side],
) -> wasmtime::Result<Result<(Vec<Event>, JoinPlan), OperatorError>> {
    let Some(joiner) = exports.joiner.as_ref() else {
        return Ok(Err(OperatorError::Failed(
            "the job declares a join for this operator, but its component does not export \
             cameo:operator/joiner@0.1.0; build it against the join-operator world"
                .into(),
        )));
    };
    let Some(def) = store.data().join else {
        return Ok(Err(OperatorError::Failed(
            "join batch for an operator without a join definition".into(),
        )));
    };
    let sided: Vec<(&Event, Side)> = events.iter().zip(sides.iter().copied()).collect();
    let mut plan = store.data().held.joins.plan(&def, &sided);
    if plan.pairs.is_empty() {
        return Ok(Ok((Vec::new(), plan)));
    }
    let pairs = std::mem::take(&mut plan.pairs);
    Ok(joiner
        .call_join(&mut *store, &pairs)
        .await?
        .map(|out| (out, plan)))
}
