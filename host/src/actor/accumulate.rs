//! `accumulate` called with borrowed arguments: the batch's events are lowered into the guest
//! straight from the batch, and each pane's key from the batch plan, instead of being copied
//! into owned records first (the generated binding takes owned `Event`s and `Pane`s, which
//! cost two allocations per event and per pane). A component that exports the contract's
//! 0.2.0 `packed` interface gets the batch as one buffer instead (see [`super::packed`]).

use std::ops::Range;

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, ComponentType, Func, Instance, Lower};

use super::packed;
use super::resident::{Resident, ResidentIndex};
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
    /// `resident`, when the component exports it beside `packed`.
    resident: Option<ResidentIndex>,
}

/// An instance's `accumulate` function, and whether it takes its batch packed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Accumulate {
    func: Func,
    packed: bool,
    resident: Option<Resident>,
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
            resident: super::resident::export_index(component),
        });
    }
    find(WINDOWED_INTERFACE).map(|index| AccumulateIndex {
        index,
        packed: false,
        resident: None,
    })
}

/// The instance's `accumulate` function, if it has one; an error when it has other types
/// than the contract's (the instance is refused, saying so).
pub(super) fn lookup(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: Option<&AccumulateIndex>,
) -> wasmtime::Result<Option<Accumulate>> {
    let Some(index) = index else {
        return Ok(None);
    };
    let Some(func) = instance.get_func(&mut *store, index.index) else {
        return Ok(None);
    };
    if index.packed {
        func.typed::<PackedParams<'_>, PackedResults>(&*store)?;
    } else {
        func.typed::<RecordParams<'_, '_>, RecordResults>(&*store)?;
    }
    Ok(Some(Accumulate {
        func,
        packed: index.packed,
        resident: super::resident::lookup(store, instance, index.resident.as_ref())?,
    }))
}

/// The contract's signature of `windowed.accumulate`.
type RecordParams<'p, 'e> = (&'p [PaneRef<'e>], &'p [(u32, EventRef<'e>)]);
type RecordResults = (Result<Vec<Vec<u8>>, OperatorError>,);
/// The contract's signature of `packed.accumulate`.
type PackedParams<'a> = (&'a [u8],);
type PackedResults = (Result<Vec<u8>, OperatorError>,);

/// The accumulators a batch returned, one per pane, in the panes' order: in the one buffer
/// `packed.accumulate` returned, or one list each from `windowed.accumulate`.
pub(super) enum Accumulators {
    /// Ranges of one buffer.
    Packed {
        bytes: Vec<u8>,
        ranges: Vec<Range<usize>>,
    },
    /// One list each.
    Lists(Vec<Vec<u8>>),
}

impl Accumulators {
    /// How many there are.
    pub(super) fn len(&self) -> usize {
        match self {
            Accumulators::Packed { ranges, .. } => ranges.len(),
            Accumulators::Lists(lists) => lists.len(),
        }
    }

    /// Accumulator `index` (empty past the last; callers check [`Accumulators::len`]).
    pub(super) fn get(&self, index: usize) -> &[u8] {
        match self {
            Accumulators::Packed { bytes, ranges } => ranges
                .get(index)
                .and_then(|range| bytes.get(range.clone()))
                .unwrap_or_default(),
            Accumulators::Lists(lists) => lists.get(index).map_or(&[], Vec::as_slice),
        }
    }
}

impl Accumulate {
    /// True when it takes its batch packed ([`call_packed`]).
    pub(super) fn is_packed(&self) -> bool {
        self.packed
    }

    /// Its `resident` functions, when the component keeps accumulators between batches.
    pub(super) fn resident(&self) -> Option<Resident> {
        self.resident
    }
}

/// Calls `accumulate(panes, events)`; the outer error is a trap (or a component whose
/// `accumulate` has other types), the inner one the operator's.
pub(super) async fn call(
    store: &mut Store<HostState>,
    accumulate: Accumulate,
    panes: &[PaneRef<'_>],
    events: &[(u32, EventRef<'_>)],
) -> wasmtime::Result<Result<Accumulators, OperatorError>> {
    if accumulate.packed {
        return call_packed(store, accumulate, packed::encode_batch(panes, events)).await;
    }
    let typed = accumulate
        .func
        .typed::<RecordParams<'_, '_>, RecordResults>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (panes, events)).await?;
    Ok(result.map(Accumulators::Lists))
}

/// `packed.accumulate` of `batch`, a batch already written in its layout
/// ([`packed::encode_batch`]); the accumulators are read back from the buffer it returns.
pub(super) async fn call_packed(
    store: &mut Store<HostState>,
    accumulate: Accumulate,
    batch: Vec<u8>,
) -> wasmtime::Result<Result<Accumulators, OperatorError>> {
    let typed = accumulate
        .func
        .typed::<PackedParams<'_>, PackedResults>(&*store)?;
    let (result,) = typed.call_async(&mut *store, (batch.as_slice(),)).await?;
    Ok(
        result.and_then(|bytes| match packed::decode_accumulators(&bytes) {
            Ok(ranges) => Ok(Accumulators::Packed { bytes, ranges }),
            Err(err) => Err(OperatorError::Failed(format!(
                "packed.accumulate returned accumulators the host cannot read: {err}"
            ))),
        }),
    )
}
