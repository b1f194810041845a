//! Write cameo stream operators in Rust.
//!
//! A cameo operator is a WebAssembly component that the host feeds with batches of events.
//! This crate hides the component plumbing: implement [`Operator`] for a type (or write a single
//! function), export it with one macro, and build the crate as a `cdylib` for the
//! `wasm32-wasip2` target. The result, `target/wasm32-wasip2/release/<crate>.wasm`, is the
//! component the host runs.
//!
//! ```
//! use cameo_sdk::{Config, Event, Result};
//!
//! /// Upper-cases every event's value.
//! fn shout(event: Event, _config: &Config) -> Result<Option<Event>> {
//!     let loud = event.value_str()?.to_uppercase();
//!     Ok(Some(event.with_value(loud)))
//! }
//!
//! cameo_sdk::export_map!(shout);
//! ```
//!
//! An operator crate only needs this crate as a dependency and
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//! ```
//!
//! in its manifest; it never uses the component bindings directly.
//!
//! # Layout
//!
//! - [`Operator`], [`Output`] and [`export_operator!`]: the full form. The host calls
//!   [`Operator::init`] once per instance with the job's configuration, then
//!   [`Operator::process_batch`] (by default [`Operator::process`] per event) and
//!   [`Operator::on_timer`]; events pushed into the [`Output`] go downstream.
//! - [`export_map!`] and [`export_filter!`]: the short form, where one function is a whole
//!   stateless operator.
//! - [`Event`], [`Header`], [`Config`], [`Error`] and [`Result`]: the data the host and the
//!   operator exchange, with helpers for JSON values and configuration fields.
//! - [`state`]: the host-held key-value state of the instance, which survives a trap and is
//!   transactional per call.
//! - [`timers`]: event-time timers that call [`Operator::on_timer`] once the watermark reaches
//!   them.
//! - [`log`] and the [`trace!`], [`debug!`], [`info!`], [`warn!`] and [`error!`] macros:
//!   levelled lines in the host's log.
//! - [`serde`] and [`serde_json`]: re-exported so an operator needs no other dependency to
//!   work with JSON.
//!
//! # Running natively
//!
//! The crate also builds for the host platform, so the pure parts of an operator (parsing,
//! [`Config`], [`Event`] helpers, [`Output`]) can be unit-tested with `cargo test`. The host
//! imports ([`state`], [`timers`], [`log`]) exist only inside a component: outside one they
//! panic when called.
#![deny(missing_docs)]

#[doc(hidden)]
#[allow(missing_docs, unsafe_op_in_unsafe_fn)]
pub mod bindings {
    //! Raw bindings generated from the `cameo:operator` WIT package. Not a stable interface:
    //! use the re-exports at the crate root instead.
    wit_bindgen::generate!({
        path: "../wit",
        world: "operator",
        pub_export_macro: true,
        export_macro_name: "__export_operator_raw",
        default_bindings_module: "cameo_sdk::bindings",
        additional_derives: [PartialEq, Eq],
    });
}

mod config;
mod error;
mod event;
mod export;
pub mod log;
mod operator;
pub mod state;
pub mod timers;

#[doc(hidden)]
pub mod __private {
    //! Support code for the export macros. Not a stable interface.
    pub use crate::export::{Adapter, FilterFn, MapFn};
}

pub use config::Config;
pub use event::{Event, Header};
pub use operator::{Operator, Output};
pub use serde;
pub use serde_json;

/// Why a call failed: the WIT `operator-error`.
///
/// [`Error::InvalidInput`] means the input cannot be processed and retrying will not help;
/// [`Error::Failed`] covers everything else. Either way the host sends the batch (or the timer
/// call) to the job's dead-letter output with the message and carries on.
///
/// Build one with [`Error::invalid_input`] or [`Error::failed`]; common error types
/// (`serde_json::Error`, UTF-8 and number parsing errors) convert into it, so `?` works on
/// them inside an operator.
pub use bindings::cameo::operator::types::OperatorError as Error;

/// The result type of every fallible operator function.
pub type Result<T, E = Error> = core::result::Result<T, E>;
