//! How long recovery takes: a checkpoint holding a million keys of operator state is written
//! and then read back, verified and restored, as a restart does.

use std::time::Instant;

use serde::Serialize;

use super::{BenchError, median};
use cameo_host::internals::{
    ActorSnapshot, Checkpoint, CheckpointStore, Held, InputWatermarks, StateTxn, TimerQueue,
};

/// Result of the recovery benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    /// Keys of state in the checkpoint.
    pub keys: u64,
    /// Operator instances the keys are spread over.
    pub instances: usize,
    /// Size of the checkpoint file.
    pub checkpoint_bytes: u64,
    /// Median time to write it, ms.
    pub write_ms: f64,
    /// Median time to read, verify and decode it, ms (what a restart waits for).
    pub recover_ms: f64,
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checkpoint of {} keys over {} instances, {} bytes (medians):",
            self.keys, self.instances, self.checkpoint_bytes
        )?;
        writeln!(f, "  write: {:.1} ms", self.write_ms)?;
        writeln!(f, "  read, verify and decode: {:.1} ms", self.recover_ms)
    }
}

/// Writes and recovers a checkpoint of `keys` keys over `instances` instances, `rounds` times.
pub fn run(keys: u64, instances: usize, rounds: usize) -> Result<RecoveryReport, BenchError> {
    let scratch = super::checkpoint::tempfile_dir()?.join("recovery");
    let store = CheckpointStore::new(&scratch, "bench-recovery");
    let mut checkpoint = Checkpoint {
        id: 1,
        ..Checkpoint::default()
    };
    let instances = instances.max(1);
    for instance in 0..instances {
        let mut held = Held::default();
        let mut txn = StateTxn::default();
        for key in (instance as u64..keys).step_by(instances) {
            let value = key.to_le_bytes().to_vec();
            // A quota of u64::MAX never refuses.
            let _ = txn.put(
                &held.state,
                format!("key-{key:08}").into_bytes(),
                value,
                u64::MAX,
            );
        }
        txn.commit(&mut held.state);
        checkpoint.actors.insert(
            format!("bench/op#{instance}"),
            ActorSnapshot {
                held,
                timers: TimerQueue::default(),
                watermarks: InputWatermarks::new(1),
                module: None,
                converting_from: None,
            },
        );
    }
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    let mut bytes = 0;
    for round in 0..rounds.max(1) {
        checkpoint.id = round as u64 + 1;
        let started = Instant::now();
        bytes = store.write(&checkpoint)?;
        writes.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let (restored, _) = store.latest()?;
        let restored_keys: usize = restored
            .map(|c| c.actors.values().map(|a| a.held.state.len()).sum())
            .unwrap_or(0);
        reads.push(started.elapsed().as_secs_f64() * 1000.0);
        if restored_keys as u64 != keys {
            return Err(BenchError::Io(std::io::Error::other(format!(
                "restored {restored_keys} keys of {keys}"
            ))));
        }
    }
    let _ = store.clear();
    Ok(RecoveryReport {
        keys,
        instances,
        checkpoint_bytes: bytes,
        write_ms: median(&mut writes),
        recover_ms: median(&mut reads),
    })
}
