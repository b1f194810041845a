//! The dataflow of a job: its spec, the messages and mailboxes between actors, how output is
//! routed, and the sources, sinks and dead-letter output at its edges.

pub mod dead_letter;
pub mod mailbox;
pub mod router;
pub mod sink;
pub mod source;
pub mod spec;
