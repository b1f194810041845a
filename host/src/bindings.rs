//! The one place the WIT contract becomes Rust: `wasmtime::component::bindgen!` for the
//! `cameo:operator/operator` world.
//!
//! Imports are synchronous and trappable (a host import may end the call, e.g. when the state
//! quota is exceeded); exports are async so that every call is a future the slice executor
//! polls one fuel slice at a time.

wasmtime::component::bindgen!({
    world: "operator",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
});

pub use cameo::operator::types::{Event, Header, Level, OperatorError};
pub use exports::cameo::operator::handler::Guest as Handler;

/// The fully qualified name of the interface every operator must export.
pub const HANDLER_INTERFACE: &str = "cameo:operator/handler@0.1.0";
/// The world an operator component must target.
pub const OPERATOR_WORLD: &str = "cameo:operator/operator@0.1.0";
