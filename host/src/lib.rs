//! cameo runs user-defined stream operators as sandboxed WebAssembly components.
//!
//! Every operator instance is an actor: a wasmtime store and instance, a bounded mailbox and a
//! fuel account. Calls into the guest are futures that yield every fuel slice, and the host's
//! own slice executor decides at every slice which actor runs next. A runaway, a trap or a
//! memory blow-up fails only the call that caused it; the job goes on.
//!
//! # Layout
//! - [`bindings`]: the one `bindgen!` of the `cameo:operator` WIT world.
//! - [`engine`]: wasmtime engine, linker, host imports (`state`, `timers`, `log`), limits on
//!   memory and WASI.
//! - [`registry`]: validating and loading operator components, with clear refusals.
//! - [`builder`]: building operator sources into components.
//! - [`actor`]: one operator instance as an actor; calls as parkable futures; failures.
//! - [`sched`]: the scheduling [`sched::Policy`] and the slice executor.
//! - [`dataflow`]: job specs, mailboxes, routing, sources, sinks, dead letters.
//! - [`time`]: watermarks and event-time timers.
//! - [`state`]: host-held keyed state with per-call transactions and quotas.
//! - [`limits`]: per-instance resource limits.
//! - [`metrics`]: counters, latency histograms, the job summary.
//! - [`job`]: running a job embedded ([`job::run_job`]), with checkpoints and recovery.
//! - [`bench`](mod@bench): the `cameo bench` scenarios.

#![deny(missing_docs)]

pub mod actor;
pub mod bench;
#[allow(missing_docs)]
pub mod bindings;
pub mod builder;
pub mod dataflow;
pub mod engine;
pub mod job;
pub mod limits;
pub mod metrics;
pub mod registry;
pub mod sched;
pub mod state;
pub mod time;

pub use job::{JobError, JobOutcome, RunOptions, run_job};
pub use limits::Limits;
