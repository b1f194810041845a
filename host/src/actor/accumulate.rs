//! `accumulate` called with borrowed arguments: the batch's events are lowered into the guest
//! straight from the batch, and each pane's key from the batch plan, instead of being copied
//! into owned records first (the generated binding takes owned `Event`s and `Pane`s, which
//! cost two allocations per event and per pane).

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, ComponentType, Func, Instance, Lower};

use crate::bindings::{Event, Header, OperatorError, WINDOWED_INTERFACE, Window};
use crate::engine::HostState;

/// An `event` record lowered from borrowed parts.
#[derive(ComponentType, Lower)]
#[component(record)]
pub(super) struct EventRef<'a> {
    key: Option<&'a [u8]>,
    value: &'a [u8],
    #[component(name = "event-time")]
    event_time: i64,
    headers: &'a [Header],
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

/// Where `accumulate` is in a component that exports `windowed`.
pub(crate) fn export_index(
    component: &wasmtime::component::Component,
) -> Option<ComponentExportIndex> {
    let interface = component.get_export_index(None, WINDOWED_INTERFACE)?;
    component.get_export_index(Some(&interface), "accumulate")
}

/// The instance's `accumulate` function, if it has one.
pub(super) fn lookup(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: Option<&ComponentExportIndex>,
) -> Option<Func> {
    instance.get_func(&mut *store, index?)
}

/// Calls `accumulate(panes, events)`; the outer error is a trap (or a component whose
/// `accumulate` has other types), the inner one the operator's.
pub(super) async fn call(
    store: &mut Store<HostState>,
    func: Func,
    panes: &[PaneRef<'_>],
    events: &[(u32, EventRef<'_>)],
) -> wasmtime::Result<Result<Vec<Vec<u8>>, OperatorError>> {
    type Params<'p, 'e> = (&'p [PaneRef<'e>], &'p [(u32, EventRef<'e>)]);
    type Results = (Result<Vec<Vec<u8>>, OperatorError>,);
    let typed = func.typed::<Params<'_, '_>, Results>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (panes, events)).await?;
    Ok(result)
}
