//! A live operator instance: its store and the bindings of the interfaces it exports.

use wasmtime::Store;

use crate::bindings::{Handler, Joiner, Windowed};
use crate::engine::HostState;
use crate::state::Held;

/// A live operator instance: its store and its bindings.
pub struct Instance {
    pub(super) store: Store<HostState>,
    pub(super) exports: Exports,
}

impl Instance {
    /// What the host holds for this instance.
    pub fn held(&self) -> &Held {
        &self.store.data().held
    }

    /// What the host holds for this instance, to change.
    pub fn held_mut(&mut self) -> &mut Held {
        &mut self.store.data_mut().held
    }
}

/// The interfaces an instance exports.
pub(super) struct Exports {
    pub(super) handler: Handler,
    pub(super) windowed: Option<Windowed>,
    /// `accumulate` (`packed` or `windowed`), called with borrowed arguments.
    pub(super) accumulate: Option<super::accumulate::Accumulate>,
    pub(super) joiner: Option<Joiner>,
    /// `packed-process.process`, taken instead of `handler.process` when there.
    pub(super) packed_process: Option<wasmtime::component::Func>,
}
