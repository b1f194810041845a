//! Sources: read or generate events, stamp them with ingest metadata, emit watermarks,
//! inject checkpoint barriers, and respect the back-pressure of the first operators'
//! mailboxes.
//!
//! A file or stdin source runs on its own thread (reading may block); a generator is a timed
//! task of the executor ([`super::generator`]).

use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::dead_letter::DeadLetters;
use super::mailbox::PriorityContext;
use super::router::Router;
use super::sink::Completion;
use super::spec::{InputFormat, LineOptions};
use crate::bindings::Event;
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::Activator;
use crate::state::checkpoint::Checkpointer;

/// How long a source waits for room before checking whether the job ended meanwhile.
const ROOM_POLL: Duration = Duration::from_millis(50);

/// Longest a source waits in one step (for input, room, or pacing) before it checks for
/// requested barriers, idleness and the end of the job.
pub(super) const WAIT_STEP: Duration = Duration::from_millis(20);

/// Shortest pause between two sends of a paced source: events due meanwhile go out together
/// after it (as records arrive from a network in batches), instead of waking for every event
/// and taking a core from the workers each time.
pub(super) const PACE_STEP: Duration = Duration::from_millis(1);

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Lines from a reader (a file or stdin), read on the source's own thread.
pub struct Lines {
    /// The reader.
    pub reader: Box<dyn BufRead + Send>,
    /// How to read them.
    pub options: LineOptions,
    /// Events per second, 0 for as fast as the job takes them.
    pub rate: f64,
}

/// How a source waits for room when a receiving mailbox is full.
#[derive(Debug, Clone, Copy)]
pub(super) enum Room {
    /// Block until there is room (a source on its own thread).
    Wait,
    /// Ask to be woken when there is room, and return (a timed task).
    Register(TaskId),
}

/// What sending a chunk came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flushed {
    /// Sent (or nothing to send).
    Sent,
    /// A receiving mailbox is full: the chunk is kept until there is room.
    Full,
    /// The job ended: send nothing more.
    Ended,
}

/// One running source.
pub struct Source {
    /// The source's name, for errors.
    pub name: String,
    /// Where its events go.
    pub router: Router,
    /// Events per send (and per watermark).
    pub chunk: usize,
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
    /// Unreadable input lines go here.
    pub dead_letters: Arc<DeadLetters>,
    /// Ends the source early when the job failed.
    pub completion: Arc<Completion>,
    /// Makes the receiving actors runnable.
    pub activator: Activator,
    /// The checkpoint coordinator, when the job takes checkpoints.
    pub checkpointer: Option<Arc<Checkpointer>>,
    /// Input already consumed before a restart (lines or generated events) to skip.
    pub skip: u64,
    /// Input consumed so far, including what was skipped.
    pub offset: u64,
    /// The newest checkpoint whose barrier this source injected.
    pub injected: u64,
    /// Declare the source idle after this long without input.
    pub idle_timeout: Option<Duration>,
    /// The job's latency target: each event's deadline is its ingest plus this.
    pub latency_target: Duration,
}

impl Source {
    /// Reads `lines` to their end and ends the source (blocking; call on its own thread).
    pub fn run(mut self, lines: Lines) {
        self.run_lines(lines.reader, &lines.options, lines.rate);
        self.end();
    }

    /// Ends the source: a last barrier, its final offset, and the end of its stream.
    pub(super) fn end(&mut self) {
        self.inject_barrier();
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.source_ended(&self.name, self.offset);
        }
        self.router.end(&self.activator);
    }

    /// Injects a barrier for the newest requested checkpoint, recording the offset reached.
    fn inject_barrier(&mut self) {
        let Some(checkpointer) = self.checkpointer.clone() else {
            return;
        };
        let requested = checkpointer.requested();
        if requested <= self.injected {
            return;
        }
        self.injected = requested;
        let (router, activator) = (&self.router, &self.activator);
        checkpointer.source_barrier(&self.name, requested, self.offset, || {
            router.barrier(requested, activator)
        });
    }

    /// Waits until `until`, in short steps that keep injecting requested barriers and
    /// declare the source idle once nothing was sent for the idle timeout. False when the job
    /// ended meanwhile.
    fn wait_until(&mut self, emitter: &mut Emitter, until: Instant) -> bool {
        loop {
            if emitter.flush(self, Room::Wait) != Flushed::Sent {
                return false;
            }
            self.check_idle(emitter);
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(WAIT_STEP));
        }
    }

    /// Tells downstream this source is idle, once, when nothing was sent for the timeout.
    pub(super) fn check_idle(&mut self, emitter: &mut Emitter) {
        if let Some(timeout) = self.idle_timeout
            && !emitter.idle
            && emitter.last_sent.elapsed() >= timeout
        {
            emitter.idle = true;
            self.router.idle(&self.activator);
        }
    }

    /// Sleeps until event `seq` is due at `rate` events per second since `started`,
    /// flushing what is buffered first so nothing waits on the pacing.
    fn pace(&mut self, emitter: &mut Emitter, started: Instant, seq: u64, rate: f64) -> bool {
        if rate <= 0.0 {
            return true;
        }
        // A rate so low that the next event is out of reach means: wait as long as we can.
        let wait = Duration::try_from_secs_f64(seq as f64 / rate).unwrap_or(Duration::MAX);
        let due = started
            .checked_add(wait)
            .unwrap_or(started + Duration::from_secs(86_400));
        let now = Instant::now();
        if due > now {
            let step = now.checked_add(PACE_STEP).unwrap_or(due);
            return self.wait_until(emitter, due.max(step));
        }
        true
    }

    fn run_lines(&mut self, reader: Box<dyn BufRead + Send>, options: &LineOptions, rate: f64) {
        let delay = i64::try_from(options.watermark_delay_ms).unwrap_or(i64::MAX);
        let mut emitter = Emitter::new(delay);
        let started = Instant::now();
        // Lines are read on their own thread, so a source waiting for input (stdin) still
        // injects barriers, declares itself idle and notices the end of the job.
        let (lines_tx, lines) = std::sync::mpsc::sync_channel(1024);
        let reader_thread = std::thread::Builder::new()
            .name(format!("cameo-read-{}", self.name))
            .spawn(move || {
                for line in reader.lines() {
                    let failed = line.is_err();
                    if lines_tx.send(line).is_err() || failed {
                        break;
                    }
                }
            });
        if let Err(err) = reader_thread {
            self.dead_letters.record(
                &self.name,
                None,
                None,
                &format!("could not start reading: {err}"),
            );
            return;
        }
        let mut number = 0u64;
        loop {
            let line = match lines.recv_timeout(WAIT_STEP) {
                Ok(line) => line,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if !self.wait_until(&mut emitter, Instant::now()) {
                        return;
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            number += 1;
            if number <= self.skip {
                self.offset = number;
                continue;
            }
            // Pace before counting the line: a barrier injected while pacing must not claim
            // a line that has not been sent yet.
            if !self.pace(&mut emitter, started, number - self.skip, rate) {
                return;
            }
            self.offset = number;
            let line = match line {
                Ok(line) => line,
                Err(err) => {
                    self.dead_letters.record(
                        &self.name,
                        None,
                        None,
                        &format!(
                            "could not read line {number}: {err}; the rest of the input is skipped"
                        ),
                    );
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line, options) {
                Ok(event) => {
                    if emitter.push(self, event, Room::Wait) != Flushed::Sent {
                        return;
                    }
                }
                Err((event, reason)) => self.dead_letters.record(
                    &self.name,
                    Some(&event),
                    None,
                    &format!("line {number}: {reason}"),
                ),
            }
        }
        emitter.flush(self, Room::Wait);
    }

    /// Waits until every receiving mailbox has room; false when the job ended meanwhile.
    fn wait_for_room(&self) -> bool {
        for mailbox in self.router.mailboxes() {
            while !mailbox.wait_for_room(ROOM_POLL) {
                if self.completion.is_finished() {
                    return false;
                }
            }
        }
        !self.completion.is_finished()
    }
}

/// Collects events into chunks and sends each with the watermark it makes.
pub(super) struct Emitter {
    chunk: Vec<(Event, PriorityContext)>,
    /// When events were last sent.
    last_sent: Instant,
    /// True after the source declared itself idle, until it sends again.
    idle: bool,
    max_event_time: i64,
    sent_watermark: i64,
    delay: i64,
}

impl Emitter {
    /// An emitter whose watermarks trail the largest event time by `delay` ms.
    pub(super) fn new(delay: i64) -> Self {
        Emitter {
            chunk: Vec::new(),
            last_sent: Instant::now(),
            idle: false,
            max_event_time: i64::MIN,
            sent_watermark: i64::MIN,
            delay,
        }
    }

    /// True when no event waits to be sent.
    pub(super) fn is_empty(&self) -> bool {
        self.chunk.is_empty()
    }

    /// Adds `event` to the chunk, sending the chunk once it is full.
    pub(super) fn push(&mut self, source: &mut Source, event: Event, room: Room) -> Flushed {
        self.max_event_time = self.max_event_time.max(event.event_time);
        let context =
            PriorityContext::at_source(Instant::now(), event.event_time, source.latency_target);
        self.chunk.push((event, context));
        if self.chunk.len() >= source.chunk {
            return self.flush(source, room);
        }
        Flushed::Sent
    }

    /// Sends the chunk and the watermark it makes, then injects a requested barrier.
    pub(super) fn flush(&mut self, source: &mut Source, room: Room) -> Flushed {
        if source.completion.is_finished() {
            return Flushed::Ended;
        }
        if self.chunk.is_empty() {
            source.inject_barrier();
            return Flushed::Sent;
        }
        match room {
            Room::Wait => {
                if !source.wait_for_room() {
                    return Flushed::Ended;
                }
            }
            Room::Register(task) => {
                if source.router.blocked(task) {
                    return Flushed::Full;
                }
            }
        }
        let chunk = std::mem::take(&mut self.chunk);
        let was_idle = std::mem::take(&mut self.idle);
        self.last_sent = Instant::now();
        let meta = chunk.last().map(|(_, meta)| *meta);
        source.metrics.add_in(chunk.len() as u64);
        source.router.send(chunk, &source.activator);
        // Events at the largest time seen may still come (several events share a
        // millisecond): the watermark stays one below it.
        let watermark = self
            .max_event_time
            .saturating_sub(self.delay)
            .saturating_sub(1)
            .max(self.sent_watermark);
        // A watermark also tells receivers that an idle source is active again.
        if let Some(meta) = meta
            && (watermark > self.sent_watermark || was_idle)
        {
            self.sent_watermark = watermark;
            source.router.watermark(watermark, meta, &source.activator);
        }
        source.inject_barrier();
        Flushed::Sent
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

/// Turns one input line into an event; on a bad line, returns the raw event and why.
fn parse_line(line: String, options: &LineOptions) -> Result<Event, (Event, String)> {
    let mut event = Event {
        key: None,
        value: line.into_bytes(),
        event_time: now_ms(),
        headers: Vec::new(),
    };
    if options.format == InputFormat::Lines {
        return Ok(event);
    }
    let json: serde_json::Value = match serde_json::from_slice(&event.value) {
        Ok(json) => json,
        Err(err) => return Err((event, format!("not valid JSON: {err}"))),
    };
    if let Some(field) = &options.key_field {
        match lookup(&json, field) {
            Some(serde_json::Value::String(key)) => event.key = Some(key.clone().into_bytes()),
            Some(other) => event.key = Some(other.to_string().into_bytes()),
            None => return Err((event, format!("has no key field `{field}`"))),
        }
    }
    if let Some(field) = &options.event_time_field {
        match lookup(&json, field).and_then(serde_json::Value::as_i64) {
            Some(time) => event.event_time = time,
            None => {
                return Err((
                    event,
                    format!("has no integer event-time field `{field}` (milliseconds)"),
                ));
            }
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_by_name_dotted_path_or_pointer() {
        let json = serde_json::json!({"a": {"b": 7}, "a.b": 1, "top": "x"});
        assert_eq!(lookup(&json, "top"), Some(&serde_json::json!("x")));
        assert_eq!(
            lookup(&json, "a.b"),
            Some(&serde_json::json!(1)),
            "a literal name wins"
        );
        assert_eq!(lookup(&json, "/a/b"), Some(&serde_json::json!(7)));
        let nested = serde_json::json!({"order": {"time": 5}});
        assert_eq!(lookup(&nested, "order.time"), Some(&serde_json::json!(5)));
        assert_eq!(lookup(&nested, "order.missing"), None);
    }

    #[test]
    fn a_line_without_its_event_time_field_is_refused_with_the_field_named() {
        let options = LineOptions {
            format: InputFormat::Ndjson,
            key_field: Some("k".into()),
            event_time_field: Some("meta.ts".into()),
            watermark_delay_ms: 0,
        };
        let event = parse_line(r#"{"k":"a","meta":{"ts":42}}"#.into(), &options).unwrap();
        assert_eq!(
            (event.key.as_deref(), event.event_time),
            (Some(&b"a"[..]), 42)
        );
        let (_, reason) = parse_line(r#"{"k":"a"}"#.into(), &options).unwrap_err();
        assert!(reason.contains("`meta.ts`"), "{reason}");
        let (_, reason) = parse_line("not json".into(), &options).unwrap_err();
        assert!(reason.starts_with("not valid JSON"), "{reason}");
    }
}
