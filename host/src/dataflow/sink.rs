//! Sinks: where a job's output leaves the dataflow (stdout, a file, or memory for embedding),
//! and where end-to-end latency is measured.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::record::Record;
use crate::bindings::Event;
use crate::metrics::JobMetrics;
use crate::state::checkpoint::{Checkpointer, SinkPosition};
use crate::sync::{LockRecovered, WaitRecovered};

/// How a sink writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinkFormat {
    /// The event value as is, one per line.
    #[default]
    Values,
    /// One JSON object per line: `key`, `value` (parsed if it is JSON, else a string),
    /// `event_time`, and `seq`, the event's sequence number in this sink's output (stable
    /// across a restart from a checkpoint, so a consumer can drop duplicates).
    Ndjson,
}

/// Where a sink's bytes go.
pub enum SinkOutput {
    /// A writer (stdout, a file).
    Writer(Box<dyn Write + Send>),
    /// Kept in memory, for embedding and tests.
    Memory(Arc<Mutex<Vec<Event>>>),
    /// Counted, then dropped.
    Discard,
}

/// The mutable side of a sink: its output, position and barrier alignment.
struct SinkState {
    output: SinkOutput,
    position: SinkPosition,
    ends: usize,
    /// The checkpoint being aligned and which channels delivered its barrier.
    aligning: Option<(u64, Vec<bool>)>,
    /// Records that arrived on aligned channels after their barrier.
    held: Vec<Record>,
    ended: Vec<bool>,
}

/// One sink of a job.
pub struct Sink {
    name: String,
    format: SinkFormat,
    state: Mutex<SinkState>,
    metrics: Arc<JobMetrics>,
    inputs: usize,
    completion: Arc<Completion>,
    checkpointer: Option<Arc<Checkpointer>>,
    /// Flush the output after every batch (an output others read while it grows).
    flush_batches: bool,
}

impl Sink {
    /// A sink named `name` fed by `inputs` upstream instances, starting at `position` (where
    /// a restored checkpoint left it).
    pub fn new(
        name: String,
        format: SinkFormat,
        output: SinkOutput,
        inputs: usize,
        position: SinkPosition,
        links: SinkLinks,
    ) -> Self {
        Sink {
            name,
            format,
            state: Mutex::new(SinkState {
                output,
                position,
                ends: 0,
                aligning: None,
                held: Vec::new(),
                ended: vec![false; inputs],
            }),
            metrics: links.metrics,
            inputs,
            completion: links.completion,
            checkpointer: links.checkpointer,
            flush_batches: false,
        }
    }

    /// Flushes the output after every batch written: for an output read while it grows.
    pub fn flushing_batches(mut self) -> Self {
        self.flush_batches = true;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock_recovered()
    }

    /// Writes records (all of one channel) and measures their latency; records from a channel
    /// that already delivered the barrier being aligned wait until alignment completes.
    pub fn write(&self, records: Vec<Record>) {
        let mut state = self.lock();
        let channel = records.first().map_or(0, |record| record.channel);
        if let Some((_, received)) = &state.aligning
            && received.get(channel).copied().unwrap_or(false)
        {
            state.held.extend(records);
            return;
        }
        self.emit(&mut state, records);
    }

    fn emit(&self, state: &mut SinkState, records: Vec<Record>) {
        let contexts: Vec<(Instant, Instant)> = records
            .iter()
            .map(|record| (record.context.ingest, record.context.deadline))
            .collect();
        self.write_out(state, records);
        // Measured once the output is written: for an output read while it grows, once it
        // can be read.
        let now = Instant::now();
        let outputs: Vec<(Duration, bool)> = contexts
            .into_iter()
            .map(|(ingest, deadline)| (now.saturating_duration_since(ingest), now > deadline))
            .collect();
        self.metrics.add_out(&self.name, &outputs);
    }

    fn write_out(&self, state: &mut SinkState, records: Vec<Record>) {
        let SinkState {
            output, position, ..
        } = state;
        match output {
            SinkOutput::Memory(kept) => {
                let mut kept = kept.lock_recovered();
                position.seq += records.len() as u64;
                kept.extend(records.into_iter().map(|record| record.event));
            }
            SinkOutput::Discard => position.seq += records.len() as u64,
            SinkOutput::Writer(writer) => {
                for record in &records {
                    match write_event(writer, self.format, &record.event, position.seq) {
                        Ok(bytes) => {
                            position.bytes += bytes;
                            position.seq += 1;
                        }
                        Err(err) => {
                            tracing::error!(sink = %self.name, "could not write output: {err}");
                            break;
                        }
                    }
                }
                // A batch leaves at once, in one write where the writer buffers.
                if self.flush_batches
                    && let Err(err) = writer.flush()
                {
                    tracing::error!(sink = %self.name, "could not flush output: {err}");
                }
            }
        }
    }

    fn flush(&self, state: &mut SinkState) {
        if let SinkOutput::Writer(writer) = &mut state.output
            && let Err(err) = writer.flush()
        {
            tracing::error!(sink = %self.name, "could not flush output: {err}");
        }
    }

    /// Barrier `id` arrived on `channel`.
    pub fn barrier(&self, channel: usize, id: u64) {
        let mut state = self.lock();
        if state.aligning.is_none() {
            state.aligning = Some((id, vec![false; self.inputs]));
        }
        if let Some((_, received)) = &mut state.aligning
            && let Some(slot) = received.get_mut(channel)
        {
            *slot = true;
        }
        self.try_complete_alignment(&mut state);
    }

    fn try_complete_alignment(&self, state: &mut SinkState) {
        let Some((id, received)) = &state.aligning else {
            return;
        };
        let aligned = received
            .iter()
            .zip(&state.ended)
            .all(|(received, ended)| *received || *ended);
        if !aligned {
            return;
        }
        let id = *id;
        self.flush(state);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.sink_barrier(&self.name, id, state.position);
        }
        state.aligning = None;
        let held = std::mem::take(&mut state.held);
        self.emit(state, held);
    }

    /// Records the end of one input; the sink completes when all inputs have ended.
    pub fn end(&self, channel: usize) {
        let mut state = self.lock();
        if let Some(ended) = state.ended.get_mut(channel) {
            *ended = true;
        }
        state.ends += 1;
        self.try_complete_alignment(&mut state);
        if state.ends == self.inputs {
            self.flush(&mut state);
            if let Some(checkpointer) = &self.checkpointer {
                checkpointer.sink_finished(&self.name, state.position);
            }
            self.completion.sink_done();
        }
    }
}

/// The parts of a job a sink reports to.
pub struct SinkLinks {
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
    /// The job's completion.
    pub completion: Arc<Completion>,
    /// The checkpoint coordinator, when the job takes checkpoints.
    pub checkpointer: Option<Arc<Checkpointer>>,
}

/// Writes one event; returns the bytes written.
fn write_event(
    writer: &mut dyn Write,
    format: SinkFormat,
    event: &Event,
    seq: u64,
) -> std::io::Result<u64> {
    match format {
        SinkFormat::Values => {
            writer.write_all(&event.value)?;
            writer.write_all(b"\n")?;
            Ok(event.value.len() as u64 + 1)
        }
        SinkFormat::Ndjson => {
            let value = serde_json::from_slice::<serde_json::Value>(&event.value)
                .unwrap_or_else(|_| String::from_utf8_lossy(&event.value).into_owned().into());
            let line = serde_json::json!({
                "key": event.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
                "value": value,
                "event_time": event.event_time,
                "seq": seq,
            });
            let mut bytes = serde_json::to_vec(&line)?;
            bytes.push(b'\n');
            writer.write_all(&bytes)?;
            Ok(bytes.len() as u64)
        }
    }
}

/// Tracks when a job is finished: every sink has seen the end of all its inputs, or the job
/// failed or was cancelled.
pub struct Completion {
    state: Mutex<CompletionState>,
    done: Condvar,
}

/// Why a job ended before all its sinks completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It failed, for this reason.
    Failed(String),
    /// It was cancelled.
    Cancelled,
}

struct CompletionState {
    sinks_left: usize,
    ended: Option<Ended>,
}

impl Completion {
    /// Completion of a job with `sinks` sinks.
    pub fn new(sinks: usize) -> Self {
        Completion {
            state: Mutex::new(CompletionState {
                sinks_left: sinks,
                ended: None,
            }),
            done: Condvar::new(),
        }
    }

    fn sink_done(&self) {
        let mut state = self.state.lock_recovered();
        state.sinks_left = state.sinks_left.saturating_sub(1);
        self.done.notify_all();
    }

    fn end(&self, how: Ended) {
        let mut state = self.state.lock_recovered();
        state.ended.get_or_insert(how);
        self.done.notify_all();
    }

    /// Ends the job with a failure (the first end reported wins).
    pub fn fail(&self, reason: String) {
        self.end(Ended::Failed(reason));
    }

    /// Ends the job as cancelled (unless it had already ended otherwise).
    pub fn cancel(&self) {
        self.end(Ended::Cancelled);
    }

    /// True once the job finished, failed or was cancelled.
    pub fn is_finished(&self) -> bool {
        let state = self.state.lock_recovered();
        state.sinks_left == 0 || state.ended.is_some()
    }

    /// Blocks until the job finishes; returns how it ended early, if it did.
    pub fn wait(&self) -> Result<(), Ended> {
        let mut state = self.state.lock_recovered();
        while state.sinks_left > 0 && state.ended.is_none() {
            state = self.done.wait_recovered(state);
        }
        match &state.ended {
            Some(ended) => Err(ended.clone()),
            None => Ok(()),
        }
    }
}
