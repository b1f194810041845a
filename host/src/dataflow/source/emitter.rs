//! Chunks of events and the watermarks they make, as a source sends them.

use std::time::Instant;

use super::Source;
use crate::bindings::Event;
use crate::dataflow::record::{PriorityContext, Record};

/// Collects events into chunks and sends each with the watermark it makes.
pub(super) struct Emitter {
    chunk: Vec<Record>,
    /// When events were last sent.
    pub(super) last_sent: Instant,
    /// True after the source declared itself idle, until it sends again.
    pub(super) idle: bool,
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

    pub(super) fn is_empty(&self) -> bool {
        self.chunk.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.chunk.len()
    }

    /// The watermark to send before `event` because it closes one of the job's windows:
    /// `event` moves the largest event time, and the watermark that follows from it passes
    /// the end of a window.
    pub(super) fn closing_watermark(&self, source: &Source, event: &Event) -> Option<i64> {
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

    /// Adds `event` to the chunk, stamped as ingested at `now` (the start of the source's
    /// run: one clock read a run, not one an event); first sends `closing` (see
    /// [`Emitter::closing_watermark`]; the chunk is then empty) with that stamp.
    pub(super) fn push(
        &mut self,
        source: &mut Source,
        event: Event,
        closing: Option<i64>,
        now: Instant,
    ) {
        self.max_event_time = self.max_event_time.max(event.event_time);
        let context = PriorityContext::at_source(now, event.event_time, source.latency_target);
        if let Some(watermark) = closing {
            self.sent_watermark = watermark;
            self.idle = false;
            source
                .router
                .watermark(watermark, context, &source.activator);
        }
        self.chunk.push(Record::new(event, context));
    }

    /// Sends the chunk and the watermark it makes.
    pub(super) fn send(&mut self, source: &mut Source) {
        let chunk = std::mem::take(&mut self.chunk);
        let was_idle = std::mem::take(&mut self.idle);
        self.last_sent = Instant::now();
        let context = chunk.last().map(|record| record.context);
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
        if let Some(context) = context
            && (watermark > self.sent_watermark || was_idle)
        {
            self.sent_watermark = watermark;
            source
                .router
                .watermark(watermark, context, &source.activator);
        }
    }
}
