//! Sources: read or generate events, stamp them with ingest metadata, emit watermarks,
//! inject checkpoint barriers, and respect the back-pressure of the first operators'
//! mailboxes.
//!
//! Every source is a timed task of the executor ([`SourceTask`]), run by the workers at the
//! times it asks for, never blocking: what it reads comes from an [`Input`] (generated events
//! in [`super::generator`], lines of a file or stdin in [`super::lines`]). Each run sends the
//! input that is due (paced at the source's rate), up to a few chunks, then asks to run again:
//! at once if it stopped at that limit, otherwise when more is due but at least [`PACE_STEP`]
//! later, so input due meanwhile goes out together, as records arrive from a network in
//! batches. When a receiving mailbox is full the source keeps its chunk, asks the mailbox to
//! wake it once it drains, and takes no more input meanwhile (a requested barrier still goes
//! out, ahead of the held chunk). It runs at least every [`WAIT_STEP`] to inject requested
//! barriers, declare itself idle, and notice the end of the job.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::dead_letter::DeadLetters;
use super::mailbox::PriorityContext;
use super::router::Router;
use super::sink::Completion;
use crate::bindings::Event;
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::Activator;
use crate::sched::timers::TimedTask;
use crate::state::checkpoint::Checkpointer;
use crate::time::window::WindowDef;

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
    /// When the first item after those skipped was due.
    started: Instant,
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
    /// A source reading `input`, registered as task `task`; pacing starts now.
    pub fn new(mut source: Source, input: I, task: TaskId) -> Self {
        source.chunk = source.chunk.max(1);
        let emitter = Emitter::new(source.watermark_delay_ms);
        SourceTask {
            source,
            input,
            task,
            started: Instant::now(),
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
        self.started
            .checked_add(wait)
            .unwrap_or(self.started + Duration::from_secs(86_400))
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
            if number <= self.source.skip {
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
                    self.emitter.push(&mut self.source, event, closing);
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

/// Collects events into chunks and sends each with the watermark it makes.
struct Emitter {
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
    fn new(delay: i64) -> Self {
        Emitter {
            chunk: Vec::new(),
            last_sent: Instant::now(),
            idle: false,
            max_event_time: i64::MIN,
            sent_watermark: i64::MIN,
            delay,
        }
    }

    fn is_empty(&self) -> bool {
        self.chunk.is_empty()
    }

    fn len(&self) -> usize {
        self.chunk.len()
    }

    /// The watermark to send before `event` because it closes one of the job's windows:
    /// `event` moves the largest event time, and the watermark that follows from it passes
    /// the end of a window.
    fn closing_watermark(&self, source: &Source, event: &Event) -> Option<i64> {
        if event.event_time <= self.max_event_time {
            return None;
        }
        let watermark = event
            .event_time
            .saturating_sub(self.delay)
            .saturating_sub(1);
        let closes = source
            .windows
            .iter()
            .any(|window| window.closes_between(self.sent_watermark, watermark) == Some(true));
        (watermark > self.sent_watermark && closes).then_some(watermark)
    }

    /// Adds `event` to the chunk, stamped with its ingest now; first sends `closing` (see
    /// [`Emitter::closing_watermark`]; the chunk is then empty) with that stamp.
    fn push(&mut self, source: &mut Source, event: Event, closing: Option<i64>) {
        self.max_event_time = self.max_event_time.max(event.event_time);
        let context =
            PriorityContext::at_source(Instant::now(), event.event_time, source.latency_target);
        if let Some(watermark) = closing {
            self.sent_watermark = watermark;
            self.idle = false;
            source
                .router
                .watermark(watermark, context, &source.activator);
        }
        self.chunk.push((event, context));
    }

    /// Sends the chunk and the watermark it makes.
    fn send(&mut self, source: &mut Source) {
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
mod tests {
    use super::*;
    use crate::dataflow::generator::{Generator, GeneratorSpec};
    use crate::dataflow::mailbox::{Mailbox, Message, Taken};
    use crate::dataflow::router::{Edge, Partitioning, Target};
    use crate::sched::PolicyKind;
    use crate::sched::executor::Executor;
    use crate::sched::profile::{OperatorProfile, ProfileSetup};
    use crate::sched::queue::TenantShares;

    /// A generator of `count` events at `rate` feeding one mailbox of `capacity` events, in
    /// chunks of `chunk`. The executor has no workers: the test runs the task itself.
    fn generator_into(
        count: u64,
        rate: f64,
        chunk: usize,
        capacity: usize,
    ) -> (SourceTask<Generator>, Arc<Mailbox>, Executor) {
        let input = Generator::new(GeneratorSpec {
            count,
            keys: 3,
            payload_bytes: 0,
            seed: 1,
        });
        source_into(input, rate, chunk, capacity, Vec::new())
    }

    /// A source reading `input` into one mailbox; see [`generator_into`].
    fn source_into<I: Input>(
        input: I,
        rate: f64,
        chunk: usize,
        capacity: usize,
        windows: Vec<WindowDef>,
    ) -> (SourceTask<I>, Arc<Mailbox>, Executor) {
        let executor = Executor::new(PolicyKind::Fifo.build(), TenantShares::new(1));
        let mailbox = Arc::new(Mailbox::new(capacity));
        let profile = OperatorProfile::new(ProfileSetup {
            name: "job/op".into(),
            tenant: 0,
            latency_target: Duration::from_millis(100),
            window: None,
            watermark_delay_ms: 0,
            ns_per_fuel: 1.0,
        });
        let target = Target::Actor {
            task: 99,
            profile,
            mailbox: Arc::clone(&mailbox),
            channel: 0,
        };
        let metrics = Arc::new(JobMetrics::default());
        let source = Source {
            name: "in".into(),
            router: Router::new(vec![Edge::new(vec![target], Partitioning::Forward)], 0, 1),
            chunk,
            dead_letters: Arc::new(DeadLetters::new(None, Arc::clone(&metrics))),
            metrics,
            completion: Arc::new(Completion::new(1)),
            activator: executor.activator(),
            checkpointer: None,
            skip: 0,
            idle_timeout: None,
            latency_target: Duration::from_millis(100),
            rate,
            watermark_delay_ms: 0,
            windows,
        };
        (SourceTask::new(source, input, 7), mailbox, executor)
    }

    /// Events at the given event times, then the end.
    struct Times(std::collections::VecDeque<i64>, u64);

    impl Input for Times {
        fn next(&mut self, _skip: u64) -> Next {
            let Some(time) = self.0.pop_front() else {
                return Next::Ended;
            };
            self.1 += 1;
            let event = Event {
                key: None,
                value: time.to_string().into_bytes(),
                event_time: time,
                headers: Vec::new(),
            };
            Next::Item(self.1, Item::Event(event))
        }
    }

    #[test]
    fn an_event_past_a_window_end_follows_the_watermark_that_closes_the_window() {
        let tumbling = WindowDef {
            kind: crate::time::window::WindowKind::Tumbling,
            size: 10,
            slide: 10,
            gap: 0,
            allowed_lateness: 0,
        };
        let input = Times([5, 8, 12, 13].into(), 0);
        let (mut task, mailbox, _executor) = source_into(input, 0.0, 64, 100, vec![tumbling]);
        assert_eq!(task.run(task.started), None);
        let mut seen = Vec::new();
        loop {
            match mailbox.take(100, &[]).0 {
                Taken::Nothing => break,
                Taken::Events(events, _) => seen.push(format!(
                    "events {}",
                    events
                        .iter()
                        .map(|(e, _)| e.event_time.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )),
                Taken::Control(Message::Watermark { time, .. }) => {
                    seen.push(format!("watermark {time}"))
                }
                Taken::Control(Message::End { .. }) => seen.push("end".into()),
                Taken::Control(other) => seen.push(format!("{other:?}")),
            }
        }
        // 12 makes the watermark 11, which closes [0, 10): it goes ahead of 12 and 13, so the
        // window need not wait for them. (The first event opens with a watermark too.)
        assert_eq!(
            seen,
            [
                "watermark 4",
                "events 5,8",
                "watermark 11",
                "events 12,13",
                "watermark 12",
                "end"
            ]
        );
    }

    /// Events waiting in `mailbox`, taking them out (control messages are dropped).
    fn drain(mailbox: &Mailbox) -> (usize, bool) {
        let (mut events, mut ended) = (0, false);
        loop {
            match mailbox.take(1000, &[]).0 {
                Taken::Nothing => return (events, ended),
                Taken::Events(batch, _) => events += batch.len(),
                Taken::Control(Message::End { .. }) => ended = true,
                Taken::Control(_) => {}
            }
        }
    }

    #[test]
    fn a_paced_source_sends_what_is_due_and_asks_to_run_when_more_is() {
        let (mut task, mailbox, _executor) = generator_into(100, 1000.0, 64, 1000);
        let started = task.started;
        let ms = |n: u64| started + Duration::from_millis(n);
        let (start, at_10, at_11) = (ms(0), ms(10), ms(11));
        assert_eq!(
            task.run(start),
            Some(ms(1)),
            "the second event is due 1 ms in"
        );
        assert_eq!(drain(&mailbox), (1, false));
        // Ten more fell due meanwhile: they go out together.
        assert_eq!(task.run(at_10), Some(at_11));
        assert_eq!(drain(&mailbox), (10, false));
        assert_eq!(task.offset, 11);
    }

    #[test]
    fn a_barrier_goes_ahead_of_a_chunk_held_back_and_covers_only_what_was_sent() {
        use crate::state::checkpoint::{CheckpointStore, Checkpointer, Participants};
        let dir = tempfile::tempdir().unwrap();
        let (mut task, mailbox, _executor) = generator_into(10, 0.0, 4, 2);
        let participants = Participants {
            sources: vec!["in".into()],
            actors: vec!["job/op".into()],
            sinks: Vec::new(),
        };
        let checkpointer =
            Checkpointer::new(CheckpointStore::new(dir.path(), "job"), participants, 0);
        task.source.checkpointer = Some(Arc::clone(&checkpointer));
        let now = task.started;
        assert_eq!(
            task.run(now),
            Some(now + WAIT_STEP),
            "the second chunk is held back"
        );
        assert_eq!(checkpointer.trigger(), Some(1));
        // The receiver may be aligning on this checkpoint and unable to drain: the barrier
        // must not wait for room behind the held chunk.
        task.run(now);
        assert_eq!((task.offset, task.covered()), (8, 4));
        let mut seen = Vec::new();
        loop {
            match mailbox.take(100, &[]).0 {
                Taken::Nothing => break,
                Taken::Events(events, _) => seen.push(format!("{} events", events.len())),
                Taken::Control(Message::Barrier { id, .. }) => seen.push(format!("barrier {id}")),
                Taken::Control(_) => {}
            }
        }
        assert_eq!(seen, ["4 events", "barrier 1"]);
    }

    #[test]
    fn a_full_mailbox_holds_the_chunk_back_until_it_drains() {
        let (mut task, mailbox, _executor) = generator_into(10, 0.0, 4, 2);
        let now = task.started;
        // The first chunk fills the mailbox; the second is made, then held back.
        assert_eq!(task.run(now), Some(now + WAIT_STEP));
        assert_eq!(task.emitter.len(), 4);
        assert_eq!(task.run(now), Some(now + WAIT_STEP), "still full");
        assert_eq!(task.emitter.len(), 4, "no more input taken while full");
        assert_eq!(drain(&mailbox), (4, false));
        // Room again: the held chunk goes out and fills it; the last two wait.
        assert_eq!(task.run(now), Some(now + WAIT_STEP));
        assert_eq!(drain(&mailbox), (4, false));
        // Then they go out, and the end of the stream after them.
        assert_eq!(task.run(now), None);
        assert_eq!(drain(&mailbox), (2, true));
        assert_eq!(task.offset, 10);
        assert_eq!(task.run(now), None, "an ended source stays ended");
    }

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
}
