//! Sinks: where a job's output leaves the dataflow (stdout, a file, or memory for embedding),
//! and where end-to-end latency is measured.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::mailbox::Meta;
use crate::bindings::Event;
use crate::metrics::JobMetrics;

/// How a sink writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinkFormat {
    /// The event value as is, one per line.
    #[default]
    Values,
    /// One JSON object per line: `key`, `value` (parsed if it is JSON, else a string),
    /// `event_time`.
    Ndjson,
}

/// Where a sink's bytes go.
pub enum SinkOutput {
    /// A writer (stdout, a file).
    Writer(Box<dyn Write + Send>),
    /// Kept in memory, for embedding and tests.
    Memory(Arc<Mutex<Vec<Event>>>),
}

/// One sink of a job.
pub struct Sink {
    name: String,
    format: SinkFormat,
    output: Mutex<SinkOutput>,
    metrics: Arc<JobMetrics>,
    ends: Mutex<usize>,
    inputs: usize,
    completion: Arc<Completion>,
}

impl Sink {
    /// A sink named `name` fed by `inputs` upstream instances.
    pub fn new(
        name: String,
        format: SinkFormat,
        output: SinkOutput,
        inputs: usize,
        metrics: Arc<JobMetrics>,
        completion: Arc<Completion>,
    ) -> Self {
        Sink {
            name,
            format,
            output: Mutex::new(output),
            metrics,
            ends: Mutex::new(0),
            inputs,
            completion,
        }
    }

    /// Writes events and records their latency.
    pub fn write(&self, events: Vec<(Event, Meta)>) {
        let now = Instant::now();
        self.metrics.add_out(
            events
                .iter()
                .map(|(_, meta)| now.saturating_duration_since(meta.ingest)),
        );
        let mut output = self.output.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *output {
            SinkOutput::Memory(kept) => {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend(events.into_iter().map(|(event, _)| event));
            }
            SinkOutput::Writer(writer) => {
                for (event, _) in &events {
                    if let Err(err) = write_event(writer, self.format, event) {
                        tracing::error!(sink = %self.name, "could not write output: {err}");
                        break;
                    }
                }
            }
        }
    }

    /// Records the end of one input; the sink completes when all inputs have ended.
    pub fn end(&self, _channel: usize) {
        let mut ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        *ends += 1;
        if *ends == self.inputs {
            let mut output = self.output.lock().unwrap_or_else(|p| p.into_inner());
            if let SinkOutput::Writer(writer) = &mut *output
                && let Err(err) = writer.flush()
            {
                tracing::error!(sink = %self.name, "could not flush output: {err}");
            }
            self.completion.sink_done();
        }
    }
}

fn write_event(writer: &mut dyn Write, format: SinkFormat, event: &Event) -> std::io::Result<()> {
    match format {
        SinkFormat::Values => {
            writer.write_all(&event.value)?;
            writer.write_all(b"\n")
        }
        SinkFormat::Ndjson => {
            let value = serde_json::from_slice::<serde_json::Value>(&event.value)
                .unwrap_or_else(|_| String::from_utf8_lossy(&event.value).into_owned().into());
            let line = serde_json::json!({
                "key": event.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
                "value": value,
                "event_time": event.event_time,
            });
            serde_json::to_writer(&mut *writer, &line)?;
            writer.write_all(b"\n")
        }
    }
}

/// Tracks when a job is finished: every sink has seen the end of all its inputs, or the job
/// failed.
pub struct Completion {
    state: Mutex<CompletionState>,
    done: Condvar,
}

struct CompletionState {
    sinks_left: usize,
    failure: Option<String>,
}

impl Completion {
    /// Completion of a job with `sinks` sinks.
    pub fn new(sinks: usize) -> Self {
        Completion {
            state: Mutex::new(CompletionState {
                sinks_left: sinks,
                failure: None,
            }),
            done: Condvar::new(),
        }
    }

    fn sink_done(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.sinks_left = state.sinks_left.saturating_sub(1);
        self.done.notify_all();
    }

    /// Ends the job with a failure (the first one reported wins).
    pub fn fail(&self, reason: String) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.failure.get_or_insert(reason);
        self.done.notify_all();
    }

    /// True once the job finished or failed.
    pub fn is_finished(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.sinks_left == 0 || state.failure.is_some()
    }

    /// Blocks until the job finishes; returns the failure, if any.
    pub fn wait(&self) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while state.sinks_left > 0 && state.failure.is_none() {
            state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        match &state.failure {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }
}
