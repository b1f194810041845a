//! Sources: read or generate events, stamp them with their priority context, emit watermarks,
//! inject checkpoint barriers, and respect the back-pressure of the first operators'
//! mailboxes.
//!
//! Every source is a timed task of the executor ([`SourceTask`]), run by the workers at the
//! times it asks for, never blocking: what it reads comes from an [`Input`] (generated events
//! in [`generator`], lines of a file or stdin in [`lines`]). Each run sends the
//! input that is due (paced at the source's rate), up to a few chunks, then asks to run again:
//! at once if it stopped at that limit, otherwise when more is due but at least [`PACE_STEP`]
//! later, so input due meanwhile goes out together, as records arrive from a network in
//! batches. When a receiving mailbox is full the source keeps its chunk, asks the mailbox to
//! wake it once it drains, and takes no more input meanwhile (a requested barrier still goes
//! out, ahead of the held chunk). It runs at least every [`WAIT_STEP`] to inject requested
//! barriers, declare itself idle, and notice the end of the job.
//!
//! # Layout
//! - this module: [`Source`], [`SourceTask`] and the [`Input`] trait.
//! - `emitter`: chunks of events and the watermarks they make.
//! - [`generator`]: the generator input.
//! - [`lines`]: the file and stdin input, read ahead by a thread.
//! - [`http`]: the input an embedder pushes lines into.

mod emitter;
pub mod generator;
pub mod http;
pub mod lines;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bindings::Event;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::router::Router;
use crate::dataflow::sink::Completion;
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::Activator;
use crate::sched::timers::TimedTask;
use crate::state::checkpoint::Checkpointer;
use crate::time::window::WindowDef;
use emitter::Emitter;

/// Longest a source waits (for input, room, or pacing) before it checks for requested
/// barriers, idleness and the end of the job.
pub const WAIT_STEP: Duration = Duration::from_millis(20);

/// Shortest pause between two sends of a paced source.
pub const PACE_STEP: Duration = Duration::from_millis(1);

/// Most chunks a source sends in one run before it gives the worker back.
const CHUNKS_PER_RUN: usize = 4;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One item of a source's input.
#[derive(Debug)]
pub enum Item {
    /// An event to send.
    Event(Event),
    /// Nothing to send (a blank line), but it counts as input consumed.
    Nothing,
    /// Input that cannot become an event: goes to the dead letters with the reason.
    Bad(Option<Event>, String),
}

/// What an [`Input`] has now.
#[derive(Debug)]
pub enum Next {
    /// Item number `.0`, counting from 1 over the whole input (skipped items too).
    Item(u64, Item),
    /// Nothing yet: the input wakes the source when something arrives.
    Waiting,
    /// No more input, ever.
    Ended,
}

/// Where a source's items come from, without blocking.
pub trait Input: Send {
    /// The next item, if one is there now. `skip` items were consumed before a restart: the
    /// input may leave them out rather than make them.
    fn next(&mut self, skip: u64) -> Next;
}

/// Why a source stopped sending in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// It sent what was due: run again at this time.
    Until(Instant),
    /// A receiving mailbox is full.
    Full,
    /// Its input has ended.
    InputEnded,
    /// The job has ended.
    JobEnded,
}

/// What sending a chunk came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flushed {
    /// Sent (or nothing to send).
    Sent,
    /// A receiving mailbox is full: the chunk is kept until there is room.
    Full,
    /// The job ended: send nothing more.
    Ended,
}

/// What every source has, whatever its input.
pub struct Source {
    /// The source's name, for errors.
    pub name: String,
    /// Where its events go.
    pub router: Router,
    /// Events per send (and per watermark).
    pub chunk: usize,
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
    /// Input that cannot become events goes here.
    pub dead_letters: Arc<DeadLetters>,
    /// Ends the source early when the job failed.
    pub completion: Arc<Completion>,
    /// Makes the receiving actors runnable.
    pub activator: Activator,
    /// The checkpoint coordinator, when the job takes checkpoints.
    pub checkpointer: Option<Arc<Checkpointer>>,
    /// Input already consumed before a restart (lines or generated events) to skip.
    pub skip: u64,
    /// Leave out events whose event time is before this (a replay from an event time).
    pub from_time: Option<i64>,
    /// Declare the source idle after this long without input.
    pub idle_timeout: Option<Duration>,
    /// The job's latency target: each event's deadline is its ingest plus this.
    pub latency_target: Duration,
    /// Events per second, 0 for as fast as the job takes them.
    pub rate: f64,
    /// How far watermarks trail the largest event time, ms.
    pub watermark_delay_ms: i64,
    /// The windows of the job's operators: an event that moves the watermark past the end
    /// of one is sent after that watermark, so the window fires without waiting for it.
    pub windows: Vec<WindowDef>,
}

/// A source run as a timed task: its [`Source`] settings, its input, and where it stands.
pub struct SourceTask<I> {
    source: Source,
    input: I,
    /// Its own task id, to be woken when a full mailbox drains.
    task: TaskId,
    /// When the first item after those skipped was due: when the source first ran (a job
    /// submitted before the host starts does not count the wait as input owed).
    started: Option<Instant>,
    /// An item taken from the input before it was due.
    held: Option<(u64, Item)>,
    /// Input consumed so far, including what was skipped.
    offset: u64,
    /// The offset reached before the first event of the chunk being made: while a chunk is
    /// held back, barriers cover only this far.
    before_chunk: u64,
    /// The newest checkpoint whose barrier this source injected.
    injected: u64,
    emitter: Emitter,
    finished: bool,
}

impl<I: Input> SourceTask<I> {
    /// A source reading `input`, registered as task `task`; pacing starts when it first runs.
    pub fn new(mut source: Source, input: I, task: TaskId) -> Self {
        source.chunk = source.chunk.max(1);
        let emitter = Emitter::new(source.watermark_delay_ms);
        SourceTask {
            source,
            input,
            task,
            started: None,
            held: None,
            offset: 0,
            before_chunk: 0,
            injected: 0,
            emitter,
            finished: false,
        }
    }

    /// When item `number` is due.
    fn due(&self, number: u64) -> Instant {
        let n = number.saturating_sub(self.source.skip).saturating_sub(1);
        // A rate so low that the item is out of reach means: a day from now.
        let wait =
            Duration::try_from_secs_f64(n as f64 / self.source.rate).unwrap_or(Duration::MAX);
        let started = self.started.unwrap_or_else(Instant::now);
        started
            .checked_add(wait)
            .unwrap_or(started + Duration::from_secs(86_400))
    }

    /// Sends the items due by `now`, up to a few chunks' worth of input (skipped items and
    /// lines that make no event count too: a run is short).
    fn send_due(&mut self, now: Instant) -> Stop {
        let retry = now + WAIT_STEP;
        let paced = self.source.rate > 0.0;
        let budget = self.source.chunk.saturating_mul(CHUNKS_PER_RUN);
        let mut taken = 0;
        loop {
            if taken >= budget {
                return Stop::Until(now);
            }
            let (number, item) = match self.held.take() {
                Some(held) => held,
                None => match self.input.next(self.source.skip) {
                    Next::Item(number, item) => {
                        taken += 1;
                        (number, item)
                    }
                    Next::Waiting => return Stop::Until(retry),
                    Next::Ended => return Stop::InputEnded,
                },
            };
            let before_replay = match (&item, self.source.from_time) {
                (Item::Event(event), Some(from)) => event.event_time < from,
                _ => false,
            };
            if number <= self.source.skip || before_replay {
                self.offset = number;
                continue;
            }
            if paced {
                let due = self.due(number);
                if due > now {
                    self.held = Some((number, item));
                    return Stop::Until(due.max(now + PACE_STEP).min(retry));
                }
            }
            let closing = match &item {
                Item::Event(event) => self.emitter.closing_watermark(&self.source, event),
                _ => None,
            };
            if closing.is_some() {
                // The events before the window's end go out first, then the watermark that
                // closes it, then this event.
                match self.flush() {
                    Flushed::Sent => {}
                    Flushed::Full => {
                        self.held = Some((number, item));
                        return Stop::Full;
                    }
                    Flushed::Ended => return Stop::JobEnded,
                }
            }
            if matches!(item, Item::Event(_)) && self.emitter.is_empty() {
                self.before_chunk = self.offset;
            }
            // Counted before it is sent: a barrier injected by the send covers it.
            self.offset = number;
            match item {
                Item::Event(event) => {
                    self.emitter.push(&mut self.source, event, closing, now);
                    if self.emitter.len() >= self.source.chunk {
                        match self.flush() {
                            Flushed::Sent => {}
                            Flushed::Full => return Stop::Full,
                            Flushed::Ended => return Stop::JobEnded,
                        }
                    }
                }
                Item::Nothing => {}
                Item::Bad(event, reason) => self.source.dead_letters.record(
                    self.injected,
                    &self.source.name,
                    event.as_ref(),
                    None,
                    &reason,
                ),
            }
        }
    }

    /// Sends the chunk (and the watermark it makes), then injects a requested barrier. A
    /// chunk held back by a full mailbox stays behind the barrier, which covers only what was
    /// sent: receivers aligning on the barrier must not wait for room that only the
    /// checkpoint can make.
    fn flush(&mut self) -> Flushed {
        if self.source.completion.is_finished() {
            return Flushed::Ended;
        }
        if !self.emitter.is_empty() {
            if self.source.router.blocked(self.task) {
                self.inject_barrier();
                return Flushed::Full;
            }
            self.emitter.send(&mut self.source);
        }
        self.inject_barrier();
        Flushed::Sent
    }

    /// The input covered by what was sent: everything consumed, except the events of a chunk
    /// not sent yet.
    fn covered(&self) -> u64 {
        if self.emitter.is_empty() {
            self.offset
        } else {
            self.before_chunk
        }
    }

    /// Injects a barrier for the newest requested checkpoint, recording the offset covered.
    fn inject_barrier(&mut self) {
        let Some(checkpointer) = &self.source.checkpointer else {
            return;
        };
        let requested = checkpointer.requested();
        if requested <= self.injected {
            return;
        }
        self.injected = requested;
        let covered = self.covered();
        let (router, activator) = (&self.source.router, &self.source.activator);
        checkpointer.source_barrier(&self.source.name, requested, covered, || {
            router.barrier(requested, activator)
        });
    }

    /// Tells downstream this source is idle, once, when nothing was sent for the timeout.
    fn check_idle(&mut self) {
        if let Some(timeout) = self.source.idle_timeout
            && !self.emitter.idle
            && self.emitter.last_sent.elapsed() >= timeout
        {
            self.emitter.idle = true;
            self.source.router.idle(&self.source.activator);
        }
    }

    /// Ends the source: a last barrier, its final offset, and the end of its stream.
    fn finish(&mut self) -> Option<Instant> {
        self.finished = true;
        self.inject_barrier();
        if let Some(checkpointer) = &self.source.checkpointer {
            checkpointer.source_ended(&self.source.name, self.covered());
        }
        self.source.router.end(&self.source.activator);
        None
    }
}

impl<I: Input> TimedTask for SourceTask<I> {
    fn run(&mut self, now: Instant) -> Option<Instant> {
        if self.finished {
            return None;
        }
        self.started.get_or_insert(now);
        let retry = now + WAIT_STEP;
        // A chunk held back by a full mailbox goes first; no more input is taken meanwhile.
        let stop = match self.flush() {
            Flushed::Sent => self.send_due(now),
            Flushed::Full => Stop::Full,
            Flushed::Ended => Stop::JobEnded,
        };
        // What is left of the chunk goes out now, before the end of the stream if input ended.
        let flushed = match stop {
            Stop::Until(_) | Stop::InputEnded => self.flush(),
            Stop::Full => Flushed::Full,
            Stop::JobEnded => Flushed::Ended,
        };
        match (stop, flushed) {
            (_, Flushed::Ended) | (Stop::InputEnded, Flushed::Sent) => self.finish(),
            (_, Flushed::Full) => Some(retry),
            (Stop::Until(next), Flushed::Sent) => {
                self.check_idle();
                Some(next)
            }
            (Stop::Full | Stop::JobEnded, Flushed::Sent) => Some(retry),
        }
    }
}

/// The value at `path` in `json`: a top-level field name, a dotted path (`order.time`), or a
/// JSON Pointer (`/order/time`).
pub fn lookup<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if path.starts_with('/') {
        return json.pointer(path);
    }
    if let Some(value) = json.get(path) {
        return Some(value);
    }
    path.split('.')
        .try_fold(json, |value, segment| value.get(segment))
}

#[cfg(test)]
mod tests;
