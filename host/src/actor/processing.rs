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

/// The contract's signature of `packed-process.process`.
type Params<'a> = (&'a [u8],);
type Results = (Result<Vec<Event>, OperatorError>,);

/// The instance's `packed-process.process`, if its component exports it; an error when it
/// has other types than the contract's (the instance is refused, saying so).
pub(super) fn lookup(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: Option<&ComponentExportIndex>,
) -> wasmtime::Result<Option<Func>> {
    let Some(func) = index.and_then(|index| instance.get_func(&mut *store, index)) else {
        return Ok(None);
    };
    func.typed::<Params<'_>, Results>(&*store)?;
    Ok(Some(func))
}

/// Calls `packed-process.process(events)`; the outer error is a trap (or a component whose
/// function has other types), the inner one the operator's.
pub(super) async fn call(
    store: &mut Store<HostState>,
    process: Func,
    events: &[Event],
) -> wasmtime::Result<Result<Vec<Event>, OperatorError>> {
    let batch = packed::encode_events(events);
    let typed = process.typed::<Params<'_>, Results>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (batch.as_slice(),)).await?;
    Ok(result)
}
