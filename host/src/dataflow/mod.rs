//! The dataflow of a job: its spec, the messages and mailboxes between actors, how output is
//! routed, and the sources, sinks and dead-letter output at its edges.
//!
//! # Layout
//! - [`spec`]: the TOML job spec and its validation.
//! - [`mailbox`]: actor mailboxes and the messages in them.
//! - [`router`]: an operator's or source's output edges.
//! - [`source`]: sources, timed tasks of the executor, whatever their input.
//! - [`generator`]: the generator input.
//! - [`lines`]: the file and stdin input.
//! - [`sink`]: sinks and job completion.
//! - [`dead_letter`]: events that could not be processed, with the reason.

pub mod dead_letter;
pub mod generator;
pub mod lines;
pub mod mailbox;
pub mod router;
pub mod sink;
pub mod source;
pub mod spec;
