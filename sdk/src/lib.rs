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
//! - [`WindowOperator`], [`Window`] and [`export_windowed!`]: operators whose windows the host
//!   manages (the job spec declares a `window`); the operator folds events into a per-pane
//!   accumulator and says what a complete pane emits.
//! - [`JoinOperator`] and [`export_joiner!`]: operators that turn the pairs of a host-managed
//!   join into events.
//! - [`UpgradeState`] and [`export_upgradable!`]: operators that convert the state an earlier
//!   version wrote when a running job switches to them (the contract's version 0.2.0).
//! - [`Event`], [`Header`], [`Config`], [`Error`] and [`Result`]: the data the host and the
//!   operator exchange, with helpers for JSON values and configuration fields
//!   ([`Event::json_field`] reads one field in a single checking pass over the bytes, the
//!   private `json_scan` module, and leaves anything unusual to `serde_json`).
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
    //!
    //! The `operator` world is generated here. The `windowed` and `joiner` exports are
    //! generated in [`windowed_world`] and [`join_world`] from one-export worlds that reuse
    //! the types generated here, so that each export macro describes (and makes the component
    //! export) only what it implements: a component exported with
    //! [`export_operator!`](crate::export_operator) exports `handler` alone, one exported with
    //! [`export_windowed!`](crate::export_windowed) exports `handler` and `windowed`, and the
    //! host decides from the exports which interfaces to use.
    wit_bindgen::generate!({
        path: "../wit",
        world: "operator",
        pub_export_macro: true,
        export_macro_name: "__export_operator_raw",
        default_bindings_module: "cameo_sdk::bindings",
        additional_derives: [PartialEq, Eq],
    });

    /// The `windowed` export, added to `handler` by `export_windowed!`.
    pub mod windowed_world {
        wit_bindgen::generate!({
            path: "../wit",
            inline: "
                package cameo:sdk-windowed;

                world windowed-export {
                    export cameo:operator/windowed@0.1.0;
                }
            ",
            pub_export_macro: true,
            export_macro_name: "__export_windowed_raw",
            default_bindings_module: "cameo_sdk::bindings::windowed_world",
            additional_derives: [PartialEq, Eq],
            with: {
                "cameo:operator/types@0.1.0": crate::bindings::cameo::operator::types,
            },
        });
    }

    /// The `upgrader` export of the contract's version 0.2.0, added to `handler` by
    /// `export_upgradable!`.
    pub mod upgrader_world {
        wit_bindgen::generate!({
            path: ["../wit", "../wit/0.2.0"],
            inline: "
                package cameo:sdk-upgrader;

                world upgrader-export {
                    export cameo:operator/upgrader@0.2.0;
                }
            ",
            pub_export_macro: true,
            export_macro_name: "__export_upgrader_raw",
            default_bindings_module: "cameo_sdk::bindings::upgrader_world",
            additional_derives: [PartialEq, Eq],
            with: {
                "cameo:operator/types@0.1.0": crate::bindings::cameo::operator::types,
            },
        });
    }

    /// The `packed` export of the contract's version 0.2.0 (batches in one buffer), added to
    /// `handler` and `windowed` by `export_windowed!`.
    pub mod packed_world {
        wit_bindgen::generate!({
            path: ["../wit", "../wit/0.2.0"],
            inline: "
                package cameo:sdk-packed;

                world packed-export {
                    export cameo:operator/packed@0.2.0;
                }
            ",
            pub_export_macro: true,
            export_macro_name: "__export_packed_raw",
            default_bindings_module: "cameo_sdk::bindings::packed_world",
            with: {
                "cameo:operator/types@0.1.0": crate::bindings::cameo::operator::types,
            },
        });
    }

    /// The `resident` export of the contract's version 0.2.0 (accumulators kept in the guest
    /// between batches), added to `handler`, `windowed` and `packed` by `export_windowed!`.
    pub mod resident_world {
        wit_bindgen::generate!({
            path: ["../wit", "../wit/0.2.0"],
            inline: "
                package cameo:sdk-resident;

                world resident-export {
                    export cameo:operator/resident@0.2.0;
                }
            ",
            pub_export_macro: true,
            export_macro_name: "__export_resident_raw",
            default_bindings_module: "cameo_sdk::bindings::resident_world",
            with: {
                "cameo:operator/types@0.1.0": crate::bindings::cameo::operator::types,
            },
        });
    }

    /// The `packed-process` export of the contract's version 0.2.0 (`process` batches in one
    /// buffer), added to `handler` by `export_operator!`.
    pub mod packed_process_world {
        wit_bindgen::generate!({
            path: ["../wit", "../wit/0.2.0"],
            inline: "
                package cameo:sdk-packed-process;

                world packed-process-export {
                    export cameo:operator/packed-process@0.2.0;
                }
            ",
            pub_export_macro: true,
            export_macro_name: "__export_packed_process_raw",
            default_bindings_module: "cameo_sdk::bindings::packed_process_world",
            with: {
                "cameo:operator/types@0.1.0": crate::bindings::cameo::operator::types,
            },
        });
    }

    /// The `joiner` export, added to `handler` by `export_joiner!`.
    pub mod join_world {
        wit_bindgen::generate!({
            path: "../wit",
            inline: "
                package cameo:sdk-join;

                world joiner-export {
                    export cameo:operator/joiner@0.1.0;
                }
            ",
            pub_export_macro: true,
            export_macro_name: "__export_joiner_raw",
            default_bindings_module: "cameo_sdk::bindings::join_world",
            additional_derives: [PartialEq, Eq],
            with: {
                "cameo:operator/types@0.1.0": crate::bindings::cameo::operator::types,
            },
        });
    }
}

mod acc_codec;
mod config;
mod error;
mod event;
mod export;
mod join;
mod json_scan;
pub mod log;
mod operator;
mod packed;
mod packed_codec;
mod packed_process;
mod resident;
pub mod state;
pub mod timers;
mod upgrade;
mod window;

#[doc(hidden)]
pub mod __private {
    //! Support code for the export macros. Not a stable interface.
    pub use crate::export::{Adapter, FilterFn, MapFn};
    pub use crate::join::JoinAdapter;
    pub use crate::window::{Pane, WindowAdapter};
}

pub use config::Config;
pub use event::{Event, Header};
pub use join::JoinOperator;
pub use operator::{Operator, Output};
pub use serde;
pub use serde_json;
pub use upgrade::UpgradeState;
pub use window::{Window, WindowOperator};

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
