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

/// Where failed inputs go: a file of NDJSON records if the job names one, else the log.
pub struct DeadLetters {
    writer: Option<Mutex<Box<dyn Write + Send>>>,
    metrics: Arc<JobMetrics>,
    /// Bytes written and the next letter's `seq`; checkpoints record it.
    position: Arc<Mutex<SinkPosition>>,
}

impl DeadLetters {
    /// Dead letters written to `writer` (or only logged when `None`) from `position` on (where
    /// a resumed checkpoint left them), and counted in `metrics`.
    pub fn new(
        writer: Option<Box<dyn Write + Send>>,
        position: SinkPosition,
        metrics: Arc<JobMetrics>,
    ) -> Self {
        DeadLetters {
            writer: writer.map(Mutex::new),
            metrics,
            position: Arc::new(Mutex::new(position)),
        }
    }

    /// The position, shared with the checkpoint coordinator.
    pub fn position(&self) -> Arc<Mutex<SinkPosition>> {
        Arc::clone(&self.position)
    }

    /// Records one failed input of `operator`; `event` is `None` for a failed timer.
    pub fn record(&self, operator: &str, event: Option<&Event>, timer: Option<i64>, reason: &str) {
        self.metrics.add_error(operator, reason);
        let mut position = self.position.lock_recovered();
        let record = serde_json::json!({
            "seq": position.seq,
            "operator": operator,
            "reason": reason,
            "key": event.and_then(|e| e.key.as_deref()).map(bounded_text),
            "value": event.map(|e| bounded_text(&e.value)),
            "event_time": event.map(|e| e.event_time),
            "timer": timer,
        });
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
