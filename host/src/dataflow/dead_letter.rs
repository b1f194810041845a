//! The dead-letter output: inputs whose call failed, with the reason, so nothing is dropped
//! silently.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::bindings::Event;
use crate::metrics::JobMetrics;
use crate::sync::LockRecovered;

/// Where failed inputs go: a file of NDJSON records if the job names one, else the log.
pub struct DeadLetters {
    writer: Option<Mutex<Box<dyn Write + Send>>>,
    metrics: Arc<JobMetrics>,
}

impl DeadLetters {
    /// Dead letters written to `writer` (or only logged when `None`) and counted in `metrics`.
    pub fn new(writer: Option<Box<dyn Write + Send>>, metrics: Arc<JobMetrics>) -> Self {
        DeadLetters {
            writer: writer.map(Mutex::new),
            metrics,
        }
    }

    /// Records one failed input of `operator`; `event` is `None` for a failed timer.
    pub fn record(&self, operator: &str, event: Option<&Event>, timer: Option<i64>, reason: &str) {
        self.metrics.add_error(operator, reason);
        let record = serde_json::json!({
            "operator": operator,
            "reason": reason,
            "key": event.and_then(|e| e.key.as_ref()).map(|k| String::from_utf8_lossy(k).into_owned()),
            "value": event.map(|e| String::from_utf8_lossy(&e.value).into_owned()),
            "event_time": event.map(|e| e.event_time),
            "timer": timer,
        });
        match &self.writer {
            Some(writer) => {
                let mut writer = writer.lock_recovered();
                let written = serde_json::to_writer(&mut *writer, &record)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writer.write_all(b"\n"))
                    .and_then(|()| writer.flush());
                if let Err(err) = written {
                    tracing::error!("could not write a dead letter: {err}");
                }
            }
            None => tracing::warn!(target: "dead_letter", "{record}"),
        }
    }
}
