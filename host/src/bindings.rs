//! The one place the WIT contract becomes Rust: `wasmtime::component::bindgen!` for the
//! `cameo:operator/host` world, which holds every interface an operator may export.
//!
//! Operators export `handler` and, if they use host-managed windows or joins, `windowed` or
//! `joiner`; the host looks each interface up separately (`*Indices`), so a component that
//! exports only `handler` loads as well.
//!
//! Imports are synchronous and trappable (a host import may end the call, e.g. when the state
//! quota is exceeded); exports are async so that every call is a future the slice executor
//! polls one fuel slice at a time.

wasmtime::component::bindgen!({
    world: "host",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
    additional_derives: [PartialEq, Eq],
});

pub use cameo::operator::types::Window;
pub use cameo::operator::types::{Event, Header, Level, OperatorError};
pub use exports::cameo::operator::handler::{Guest as Handler, GuestIndices as HandlerIndices};
pub use exports::cameo::operator::joiner::{Guest as Joiner, GuestIndices as JoinerIndices};
pub use exports::cameo::operator::windowed::{Guest as Windowed, GuestIndices as WindowedIndices};

/// The fully qualified name of the interface every operator must export.
pub const HANDLER_INTERFACE: &str = "cameo:operator/handler@0.1.0";
/// The interface operators with host-managed windows export.
pub const WINDOWED_INTERFACE: &str = "cameo:operator/windowed@0.1.0";
/// The interface join operators export.
pub const JOINER_INTERFACE: &str = "cameo:operator/joiner@0.1.0";
/// The interface of the contract's version 0.2.0 through which a new version of an operator
/// converts the state an earlier one wrote (`wit/0.2.0`); looked up by name, since it adds
/// no types of its own.
pub const UPGRADER_INTERFACE: &str = "cameo:operator/upgrader@0.2.0";
/// The interface of the contract's version 0.2.0 through which a windowed operator takes its
/// batches as one buffer (`wit/0.2.0/packed.wit`); looked up by name, like the upgrader.
pub const PACKED_INTERFACE: &str = "cameo:operator/packed@0.2.0";
/// The interface of the contract's version 0.2.0 through which a windowed operator keeps its
/// pane accumulators between batches (`wit/0.2.0/resident.wit`); looked up by name.
pub const RESIDENT_INTERFACE: &str = "cameo:operator/resident@0.2.0";
/// The interface of the contract's version 0.2.0 through which an operator takes its
/// `process` batches as one buffer (`wit/0.2.0/packed.wit`); looked up by name.
pub const PACKED_PROCESS_INTERFACE: &str = "cameo:operator/packed-process@0.2.0";
/// The world an operator component must target.
pub const OPERATOR_WORLD: &str = "cameo:operator/operator@0.1.0";
