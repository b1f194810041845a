//! Consistent checkpoints by asynchronous barrier snapshotting: sources inject numbered
//! barriers into the dataflow; each actor, once a barrier arrived on all its inputs, snapshots
//! what it holds and passes the barrier on; sinks record their output position. When every
//! part has reported, the checkpoint is complete and is written to its own redb file.
//!
//! A restart resumes from the newest checkpoint that reads back intact; a damaged file is
//! reported and the one before it is used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Held;
use crate::time::{InputWatermarks, TimerQueue};

mod coordinator;
mod store;

pub use coordinator::{CheckpointStats, Checkpointer, Participants, ReleaseHook};
pub use store::CheckpointStore;

/// What one actor holds at a barrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorSnapshot {
    /// Keyed state and window panes.
    pub held: Held,
    /// Registered timers.
    pub timers: TimerQueue,
    /// Watermarks of its inputs.
    pub watermarks: InputWatermarks,
    /// The module the instance ran at the barrier (its name, e.g. `wordcount@2`), when known:
    /// a job resumed from this checkpoint runs that module. Kept in a table of its own, so
    /// that checkpoints written before it was recorded still read back.
    #[serde(skip)]
    pub module: Option<String>,
    /// The module version that wrote the state, when the instance switched module and its
    /// state is still to be converted by the new one: a recovery converts it then.
    #[serde(skip)]
    pub converting_from: Option<String>,
}

/// The name the dead-letter output's position is kept under among the sinks' (no sink can
/// have it: names may not contain `#`).
pub const DEAD_LETTERS: &str = "#dead-letters";

/// Where a sink's output stood at a barrier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkPosition {
    /// Bytes written (a file sink is truncated back to this on restore).
    pub bytes: u64,
    /// Events written: the next event's sequence number.
    pub seq: u64,
}

/// A complete checkpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// Its number; later checkpoints have larger numbers.
    pub id: u64,
    /// Per source: input consumed (lines, or generated events).
    pub sources: BTreeMap<String, u64>,
    /// Per sink: output position.
    pub sinks: BTreeMap<String, SinkPosition>,
    /// Per actor label: its snapshot.
    pub actors: BTreeMap<String, ActorSnapshot>,
}

/// A checkpoint could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system trouble.
    #[error("checkpoint storage {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database refused.
    #[error("checkpoint {path}: {reason}")]
    Database {
        /// The file.
        path: String,
        /// What redb said.
        reason: String,
    },
    /// The file reads but its contents are damaged or from another job.
    #[error("checkpoint {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn sample(id: u64) -> Checkpoint {
        let mut held = Held::default();
        let mut txn = super::super::StateTxn::default();
        txn.put(&held.state, b"k".to_vec(), b"v".to_vec(), u64::MAX)
            .unwrap();
        txn.commit(&mut held.state);
        Checkpoint {
            id,
            sources: [("in".to_string(), 42)].into(),
            sinks: [("out".to_string(), SinkPosition { bytes: 10, seq: 2 })].into(),
            actors: [(
                "job/op".to_string(),
                ActorSnapshot {
                    held,
                    timers: TimerQueue::default(),
                    watermarks: InputWatermarks::new(1),
                    module: Some("op@1".to_string()),
                    converting_from: None,
                },
            )]
            .into(),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "job one");
        for id in 1..=5 {
            store.write(&sample(id)).unwrap();
        }
        assert_eq!(store.ids().unwrap(), [5, 4, 3]);
        assert_eq!(store.read(4).unwrap(), sample(4));
        let (latest, problems) = store.latest().unwrap();
        assert_eq!(latest.unwrap().id, 5);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_damaged_checkpoint_is_reported_and_the_previous_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "job");
        store.write(&sample(1)).unwrap();
        store.write(&sample(2)).unwrap();
        std::fs::write(store.dir().join("chk-0000000002.redb"), b"garbage").unwrap();
        let (latest, problems) = store.latest().unwrap();
        assert_eq!(latest.unwrap().id, 1);
        assert_eq!(problems.len(), 1);
        let text = problems[0].to_string();
        assert!(text.contains("chk-0000000002.redb is damaged"), "{text}");
    }

    #[test]
    fn a_checkpoint_completes_when_every_part_reported() {
        let dir = tempfile::tempdir().unwrap();
        let participants = Participants {
            sources: vec!["in".into()],
            actors: vec!["job/op".into()],
            sinks: vec!["out".into()],
        };
        let checkpointer =
            Checkpointer::new(CheckpointStore::new(dir.path(), "job"), participants, 0);
        let (tx, rx) = mpsc::channel();
        *checkpointer.complete.lock().unwrap() = Some(tx);
        assert_eq!(checkpointer.trigger(), Some(1));
        assert_eq!(checkpointer.trigger(), None, "one checkpoint at a time");
        let mut injected = false;
        checkpointer.source_barrier("in", 1, 7, || injected = true);
        assert!(injected);
        checkpointer.actor_snapshot("job/op", 1, sample(1).actors["job/op"].clone());
        assert!(rx.try_recv().is_err());
        checkpointer.sink_finished("out", SinkPosition { bytes: 3, seq: 1 });
        let (checkpoint, _) = rx.try_recv().unwrap();
        assert_eq!(checkpoint.sources["in"], 7);
        assert_eq!(checkpoint.sinks["out"].seq, 1);
        assert_eq!(checkpointer.trigger(), Some(2));
    }
}
