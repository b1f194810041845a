//! Converting the keyed state an earlier module version wrote, with the new version's
//! `upgrade-state` (the `upgrader` export of the contract's version 0.2.0): every key, once,
//! in the first call after the switch, before the call's own input.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Func};

use crate::bindings::{OperatorError, UPGRADER_INTERFACE};
use crate::engine::HostState;
use crate::limits::Limits;
use crate::state::StateTxn;

/// Where `upgrade-state` is in a component that exports `upgrader`.
pub(crate) fn export_index(
    component: &wasmtime::component::Component,
) -> Option<ComponentExportIndex> {
    let interface = component.get_export_index(None, UPGRADER_INTERFACE)?;
    component.get_export_index(Some(&interface), "upgrade-state")
}

/// Calls `upgrade-state` for every entry of the instance's state, each with a fresh fuel
/// budget, then applies the results together (a value replaces the old one, none removes
/// the key; a key whose conversion fails keeps its value, and is logged). A trap ends the
/// conversion with nothing applied.
pub(super) async fn convert(
    store: &mut Store<HostState>,
    func: Func,
    from: &str,
    limits: &Limits,
) -> wasmtime::Result<()> {
    type Params<'a> = (&'a str, &'a [u8], &'a [u8]);
    type Results = (Result<Option<Vec<u8>>, OperatorError>,);
    let typed = func.typed::<Params<'_>, Results>(&*store)?;
    let entries: Vec<(Vec<u8>, Vec<u8>)> = store
        .data()
        .held
        .state
        .iter()
        .map(|(key, value)| (key.to_vec(), value.to_vec()))
        .collect();
    let mut txn = StateTxn::default();
    let mut failed = 0usize;
    let mut first_failure = None;
    for (key, value) in entries {
        store.set_fuel(limits.fuel_per_call)?;
        let (result,) = typed
            .call_async(&mut *store, (from, key.as_slice(), value.as_slice()))
            .await?;
        match result {
            Ok(Some(converted)) => {
                let held = &store.data().held.state;
                // Charged by the actor once the call is over, at what the state holds then.
                let _ = txn.put(held, key, converted, u64::MAX);
            }
            Ok(None) => txn.delete(key),
            Err(err) => {
                failed += 1;
                first_failure
                    .get_or_insert_with(|| format!("{:?}: {err:?}", String::from_utf8_lossy(&key)));
            }
        }
    }
    if let Some(first) = first_failure {
        tracing::warn!(
            operator = %store.data().log.label,
            from,
            failed,
            "upgrade-state failed for {failed} keys, which keep the value the earlier version \
             wrote; the first: {first}"
        );
    }
    txn.commit(&mut store.data_mut().held.state);
    Ok(())
}
