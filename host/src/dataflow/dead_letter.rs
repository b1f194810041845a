//! The dead-letter output: inputs whose call failed, with the reason, so nothing is dropped
//! silently.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::bindings::Event;
use crate::limits::MAX_DEAD_LETTER_VALUE_BYTES;
use crate::metrics::JobMetrics;
use crate::state::checkpoint::SinkPosition;
use crate::sync::LockRecovered;

/// `bytes` as text for a dead letter: at most [`MAX_DEAD_LETTER_VALUE_BYTES`] of them (a
/// dead letter stays small whatever the event), saying how much was cut.
fn bounded_text(bytes: &[u8]) -> String {
    let kept = bytes.len().min(MAX_DEAD_LETTER_VALUE_BYTES);
    let mut text = String::from_utf8_lossy(&bytes[..kept]).into_owned();
    if kept < bytes.len() {
        text.push_str(&format!(
            " … ({} more bytes cut: a dead letter keeps {MAX_DEAD_LETTER_VALUE_BYTES})",
            bytes.len() - kept
        ));
    }
    text
}

/// Most bytes of dead letters held back for a checkpoint in progress (about: their values,
/// keys and reasons); past it, letters are written at once (a resume may then write those
/// again), so a flood of failures cannot grow the host while a checkpoint waits.
const MAX_HELD_BYTES: usize = 16 << 20;

/// Where failed inputs go: a file of NDJSON records if the job names one, else the log.
///
/// Exactly once across a resume: a letter from an operator or source that has already passed
/// the barrier of a checkpoint still in progress belongs after that checkpoint, so it is held
/// back until the checkpoint completes. The position a checkpoint records then covers exactly
/// the letters of the inputs before its barrier, and a resume cuts the file back to it and
/// writes the letters of the replayed inputs once more, with the same `seq`s.
pub struct DeadLetters {
    writer: Option<Mutex<Box<dyn Write + Send>>>,
    metrics: Arc<JobMetrics>,
    output: Mutex<Output>,
}

/// The file's position, and the letters held back for the checkpoint in progress.
struct Output {
    /// Bytes written and the next letter's `seq`; checkpoints record it.
    position: SinkPosition,
    /// The newest checkpoint that completed (or was resumed from).
    completed: u64,
    /// Letters of inputs after the barrier of the checkpoint in progress, with its id and
    /// what the letter takes, about.
    held: Vec<(u64, usize, serde_json::Value)>,
    /// What the held letters take together.
    held_bytes: usize,
}

impl DeadLetters {
    /// Dead letters written to `writer` (or only logged when `None`) from `position` on (where
    /// checkpoint `completed` left them when resuming from it; 0 for a fresh run), and counted
    /// in `metrics`.
    pub fn new(
        writer: Option<Box<dyn Write + Send>>,
        position: SinkPosition,
        completed: u64,
        metrics: Arc<JobMetrics>,
    ) -> Self {
        DeadLetters {
            writer: writer.map(Mutex::new),
            metrics,
            output: Mutex::new(Output {
                position,
                completed,
                held: Vec::new(),
                held_bytes: 0,
            }),
        }
    }

    /// Records one failed input of `operator`, which has passed the barriers of checkpoints
    /// up to `barrier`; `event` is `None` for a failed timer.
    pub fn record(
        &self,
        barrier: u64,
        operator: &str,
        event: Option<&Event>,
        timer: Option<i64>,
        reason: &str,
    ) {
        self.metrics.add_error(operator, reason);
        let record = serde_json::json!({
            "operator": operator,
            "reason": reason,
            "key": event.and_then(|e| e.key.as_deref()).map(bounded_text),
            "value": event.map(|e| bounded_text(&e.value)),
            "event_time": event.map(|e| e.event_time),
            "timer": timer,
        });
        let size = reason.len()
            + event.map_or(0, |e| {
                e.value.len().min(MAX_DEAD_LETTER_VALUE_BYTES)
                    + e.key
                        .as_ref()
                        .map_or(0, |k| k.len().min(MAX_DEAD_LETTER_VALUE_BYTES))
            })
            + 128;
        let mut output = self.output.lock_recovered();
        if barrier > output.completed && output.held_bytes + size <= MAX_HELD_BYTES {
            output.held.push((barrier, size, record));
            output.held_bytes += size;
            return;
        }
        self.write(&mut output.position, record);
    }

    /// Checkpoint `id` completed: where the letters of the inputs before its barrier end
    /// (recorded in it), after which the letters held back for it are written.
    pub fn checkpoint_completed(&self, id: u64) -> SinkPosition {
        let mut output = self.output.lock_recovered();
        let position = output.position;
        output.completed = output.completed.max(id);
        let held = std::mem::take(&mut output.held);
        let (ready, later): (Vec<_>, Vec<_>) =
            held.into_iter().partition(|(barrier, _, _)| *barrier <= id);
        output.held_bytes = later.iter().map(|(_, size, _)| size).sum();
        output.held = later;
        for (_, _, record) in ready {
            self.write(&mut output.position, record);
        }
        position
    }

    /// Writes `record` numbered at `position`, and moves `position` past it.
    fn write(&self, position: &mut SinkPosition, fields: serde_json::Value) {
        let mut record = serde_json::Map::new();
        record.insert("seq".into(), position.seq.into());
        if let serde_json::Value::Object(fields) = fields {
            record.extend(fields);
        }
        let record = serde_json::Value::Object(record);
        match &self.writer {
            Some(writer) => {
                let mut writer = writer.lock_recovered();
                let mut line = record.to_string();
                line.push('\n');
                match writer
                    .write_all(line.as_bytes())
                    .and_then(|()| writer.flush())
                {
                    Ok(()) => {
                        position.bytes += line.len() as u64;
                        position.seq += 1;
                    }
                    Err(err) => tracing::error!("could not write a dead letter: {err}"),
                }
            }
            None => {
                position.seq += 1;
                tracing::warn!(target: "dead_letter", "{record}");
            }
        }
    }
}

impl Drop for DeadLetters {
    /// Letters still held back when the job ends (no checkpoint will complete) are written.
    fn drop(&mut self) {
        let (held, mut position) = {
            let output = self.output.get_mut().unwrap_or_else(|e| e.into_inner());
            (std::mem::take(&mut output.held), output.position)
        };
        for (_, _, record) in held {
            self.write(&mut position, record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock_recovered().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn letters(file: &Shared) -> Vec<(u64, String)> {
        String::from_utf8_lossy(&file.0.lock_recovered())
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                (
                    v["seq"].as_u64().unwrap(),
                    v["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn letters_after_a_barrier_wait_for_its_checkpoint_and_the_position_covers_those_before() {
        let file = Shared::default();
        let letters_out = DeadLetters::new(
            Some(Box::new(file.clone())),
            SinkPosition::default(),
            0,
            Arc::new(JobMetrics::default()),
        );
        letters_out.record(0, "a", None, Some(1), "before");
        // Operator b passed the barrier of checkpoint 1; a has not yet.
        letters_out.record(1, "b", None, Some(2), "after");
        letters_out.record(0, "a", None, Some(3), "also before");
        assert_eq!(
            letters(&file),
            [(0, "before".to_string()), (1, "also before".to_string())]
        );
        let written = file.0.lock_recovered().len() as u64;
        let position = letters_out.checkpoint_completed(1);
        assert_eq!(
            (position.seq, position.bytes),
            (2, written),
            "the checkpoint covers the letters before its barrier"
        );
        assert_eq!(letters(&file)[2], (2, "after".to_string()));
        // Held when the job ends without another checkpoint: written when dropped.
        letters_out.record(2, "b", None, Some(4), "last");
        drop(letters_out);
        assert_eq!(letters(&file)[3], (3, "last".to_string()));
    }
}
