//! `accumulate` called with borrowed arguments: the batch's events are lowered into the guest
//! straight from the batch, and each pane's key from the batch plan, instead of being copied
//! into owned records first (the generated binding takes owned `Event`s and `Pane`s, which
//! cost two allocations per event and per pane). A component that exports the contract's
//! 0.2.0 `packed` interface gets the batch as one buffer instead (see [`super::packed`]).

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, ComponentType, Func, Instance, Lower};

use super::packed;
use crate::bindings::{Event, Header, OperatorError, PACKED_INTERFACE, WINDOWED_INTERFACE, Window};
use crate::engine::HostState;

/// An `event` record lowered from borrowed parts.
#[derive(ComponentType, Lower)]
#[component(record)]
pub(super) struct EventRef<'a> {
    pub(super) key: Option<&'a [u8]>,
    pub(super) value: &'a [u8],
    #[component(name = "event-time")]
    pub(super) event_time: i64,
    pub(super) headers: &'a [Header],
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(event: &'a Event) -> Self {
        EventRef {
            key: event.key.as_deref(),
            value: &event.value,
            event_time: event.event_time,
            headers: &event.headers,
        }
    }
}

/// A `pane` record lowered from borrowed parts.
#[derive(ComponentType, Lower)]
#[component(record)]
pub(super) struct PaneRef<'a> {
    pub(super) key: Option<&'a [u8]>,
    pub(super) window: Window,
    pub(super) acc: Option<&'a [u8]>,
}

/// Where a component's `accumulate` is, and which of the two it is.
#[derive(Debug, Clone)]
pub(crate) struct AccumulateIndex {
    index: ComponentExportIndex,
    packed: bool,
}

/// An instance's `accumulate` function, and whether it takes its batch packed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Accumulate {
    func: Func,
    packed: bool,
}

/// Where `accumulate` is in a component that exports `windowed`: `packed.accumulate` when it
/// exports that too, `windowed.accumulate` otherwise.
pub(crate) fn export_index(component: &wasmtime::component::Component) -> Option<AccumulateIndex> {
    let find = |interface: &str| {
        let interface = component.get_export_index(None, interface)?;
        component.get_export_index(Some(&interface), "accumulate")
    };
    if let Some(index) = find(PACKED_INTERFACE) {
        return Some(AccumulateIndex {
            index,
            packed: true,
        });
    }
    find(WINDOWED_INTERFACE).map(|index| AccumulateIndex {
        index,
        packed: false,
    })
}

/// The instance's `accumulate` function, if it has one.
pub(super) fn lookup(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: Option<&AccumulateIndex>,
) -> Option<Accumulate> {
    let index = index?;
    let func = instance.get_func(&mut *store, index.index)?;
    Some(Accumulate {
        func,
        packed: index.packed,
    })
}

/// Calls `accumulate(panes, events)`; the outer error is a trap (or a component whose
/// `accumulate` has other types), the inner one the operator's.
pub(super) async fn call(
    store: &mut Store<HostState>,
    accumulate: Accumulate,
    panes: &[PaneRef<'_>],
    events: &[(u32, EventRef<'_>)],
) -> wasmtime::Result<Result<Vec<Vec<u8>>, OperatorError>> {
    if accumulate.packed {
        return call_packed(store, accumulate.func, panes, events).await;
    }
    type Params<'p, 'e> = (&'p [PaneRef<'e>], &'p [(u32, EventRef<'e>)]);
    type Results = (Result<Vec<Vec<u8>>, OperatorError>,);
    let typed = accumulate.func.typed::<Params<'_, '_>, Results>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (panes, events)).await?;
    Ok(result)
}

/// `packed.accumulate`: the batch written into one buffer, the accumulators read back from
/// another.
async fn call_packed(
    store: &mut Store<HostState>,
    func: Func,
    panes: &[PaneRef<'_>],
    events: &[(u32, EventRef<'_>)],
) -> wasmtime::Result<Result<Vec<Vec<u8>>, OperatorError>> {
    let batch = packed::encode_batch(panes, events);
    let typed = func.typed::<(&[u8],), (Result<Vec<u8>, OperatorError>,)>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (batch.as_slice(),)).await?;
    Ok(result.and_then(|accs| {
        packed::decode_accumulators(&accs).map_err(|err| {
            OperatorError::Failed(format!(
                "packed.accumulate returned accumulators the host cannot read: {err}"
            ))
        })
    }))
}
