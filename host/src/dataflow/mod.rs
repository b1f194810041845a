//! The dataflow of a job: its spec, the messages and mailboxes between actors, how output is
//! routed, and the sources, sinks and dead-letter output at its edges.
//!
//! # Layout
//! - [`spec`]: the TOML job spec and its validation.
//! - [`record`]: what travels on the data path: records (an event, its priority context and
//!   channel) and the batches a call takes.
//! - [`profile`]: per-operator cost profiles and the deadline converter.
//! - [`mailbox`]: actor mailboxes and the messages in them.
//! - [`router`]: an operator's or source's output edges.
//! - [`edge_watermarks`]: the watermarks of a wide edge, combined once for all receivers.
//! - [`source`]: sources, timed tasks of the executor, and their inputs (generator, lines of
//!   a file or stdin).
//! - [`sink`]: sinks and job completion.
//! - [`outlet`]: an http sink's output on disk, in segments bounded to a tail.
//! - [`dead_letter`]: events that could not be processed, with the reason.

pub mod dead_letter;
pub mod edge_watermarks;
pub mod mailbox;
pub mod outlet;
pub mod profile;
pub mod record;
pub mod router;
pub mod sink;
pub mod source;
pub mod spec;
