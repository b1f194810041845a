//! The generator source: synthetic events at a set rate, made by the executor's workers as a
//! timed task rather than on a thread of its own.
//!
//! Each run sends the events due by then and asks to run again when the next ones fall due
//! (at least [`PACE_STEP`] later, so events due meanwhile go out together). An unpaced
//! generator sends a chunk per run and asks to run again at once. When a receiving mailbox is
//! full the generator keeps its chunk, asks the mailbox to wake it once it drains, and makes
//! no more events meanwhile; it still wakes every [`WAIT_STEP`] to notice the end of the job.

use std::time::{Duration, Instant};

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::source::{Emitter, Flushed, PACE_STEP, Room, Source, WAIT_STEP, now_ms};
use crate::bindings::Event;
use crate::sched::TaskId;
use crate::sched::timers::TimedTask;

/// What a generator makes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorSpec {
    /// Events to generate.
    pub count: u64,
    /// Events per second, 0 for as fast as the job takes them.
    pub rate: f64,
    /// Distinct keys.
    pub keys: u64,
    /// Filler bytes per event.
    pub payload_bytes: usize,
    /// Key sequence seed.
    pub seed: u64,
}

/// A generator source, run as a timed task.
pub struct Generator {
    source: Source,
    /// Its own task id, to be woken when a full mailbox drains.
    task: TaskId,
    spec: GeneratorSpec,
    payload: String,
    /// The sequence number of the next event to make.
    next: u64,
    /// When the first event (after those skipped on a restart) was due.
    started: Instant,
    emitter: Emitter,
    finished: bool,
}

impl Generator {
    /// A generator feeding `source`'s receivers, registered as task `task`. Events skipped on
    /// a restart (`source.skip`) are not made again; pacing starts now.
    pub fn new(source: Source, task: TaskId, spec: GeneratorSpec) -> Self {
        let next = source.skip.min(spec.count);
        Generator {
            payload: "x".repeat(spec.payload_bytes),
            source,
            task,
            spec,
            next,
            started: Instant::now(),
            emitter: Emitter::new(0),
            finished: false,
        }
    }

    /// When event `seq` is due.
    fn due(&self, seq: u64) -> Instant {
        // A rate so low that the event is out of reach means: a day from now.
        let wait = Duration::try_from_secs_f64(
            seq.saturating_sub(self.source.skip) as f64 / self.spec.rate,
        )
        .unwrap_or(Duration::MAX);
        self.started
            .checked_add(wait)
            .unwrap_or(self.started + Duration::from_secs(86_400))
    }

    /// Event `seq`: a key from the seeded hash of its number, a value, and the filler.
    fn make(&self, seq: u64) -> Event {
        let key = format!(
            "k{}",
            xxh3_64_with_seed(&seq.to_le_bytes(), self.spec.seed) % self.spec.keys.max(1)
        );
        let value = serde_json::json!({
            "key": key,
            "seq": seq,
            "value": seq % 100,
            "payload": self.payload,
        });
        Event {
            key: Some(key.into_bytes()),
            value: value.to_string().into_bytes(),
            event_time: now_ms(),
            headers: Vec::new(),
        }
    }

    /// Makes and sends the events due by `now` (a chunk, unpaced). `Full` or `Ended` when
    /// that stopped it.
    fn send_due(&mut self, now: Instant) -> Flushed {
        let room = Room::Register(self.task);
        let paced = self.spec.rate > 0.0;
        let mut made = 0;
        while self.next < self.spec.count
            && (if paced {
                self.due(self.next) <= now
            } else {
                made < self.source.chunk
            })
        {
            let seq = self.next;
            self.next += 1;
            made += 1;
            // Counted before it is sent: a barrier injected by the send covers it.
            self.source.offset = seq + 1;
            let event = self.make(seq);
            match self.emitter.push(&mut self.source, event, room) {
                Flushed::Sent => {}
                stopped => return stopped,
            }
        }
        self.emitter.flush(&mut self.source, room)
    }

    fn finish(&mut self) -> Option<Instant> {
        self.finished = true;
        self.source.end();
        None
    }
}

impl TimedTask for Generator {
    fn run(&mut self, now: Instant) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let retry = now + WAIT_STEP;
        // A chunk held back by a full mailbox goes first; no more events are made meanwhile.
        let flushed = if self.emitter.is_empty() {
            self.send_due(now)
        } else {
            match self
                .emitter
                .flush(&mut self.source, Room::Register(self.task))
            {
                Flushed::Sent => self.send_due(now),
                stopped => stopped,
            }
        };
        match flushed {
            Flushed::Ended => return self.finish(),
            Flushed::Full => return Some(retry),
            Flushed::Sent => {}
        }
        self.source.check_idle(&mut self.emitter);
        if self.next >= self.spec.count {
            return self.finish();
        }
        if self.spec.rate <= 0.0 {
            return Some(now);
        }
        Some(self.due(self.next).max(now + PACE_STEP).min(retry))
    }
}
