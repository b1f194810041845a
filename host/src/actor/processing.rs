//! `process` of a component that exports the contract's 0.2.0 `packed-process` interface:
//! the batch goes in as one buffer instead of a list of records lowered field by field (a
//! guest allocator call per key and value); the output comes back as `handler.process`
//! returns it.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Func, Instance};

use super::packed;
use crate::bindings::{Event, OperatorError, PACKED_PROCESS_INTERFACE};
use crate::engine::HostState;

/// Where `packed-process.process` is in a component, if it exports it.
pub(crate) fn export_index(
    component: &wasmtime::component::Component,
) -> Option<ComponentExportIndex> {
    let interface = component.get_export_index(None, PACKED_PROCESS_INTERFACE)?;
    component.get_export_index(Some(&interface), "process")
}

/// The instance's `packed-process.process`, if its component exports it.
pub(super) fn lookup(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: Option<&ComponentExportIndex>,
) -> Option<Func> {
    instance.get_func(&mut *store, index?)
}

/// Calls `packed-process.process(events)`; the outer error is a trap (or a component whose
/// function has other types), the inner one the operator's.
pub(super) async fn call(
    store: &mut Store<HostState>,
    process: Func,
    events: &[Event],
) -> wasmtime::Result<Result<Vec<Event>, OperatorError>> {
    let batch = packed::encode_events(events);
    let typed = process.typed::<(&[u8],), (Result<Vec<Event>, OperatorError>,)>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (batch.as_slice(),)).await?;
    Ok(result)
}
