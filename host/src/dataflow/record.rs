//! What travels on the data path: an event with its priority context and the input channel it
//! arrives on ([`Record`]), and a run of records laid out for one guest call ([`Batch`]).

use std::time::{Duration, Instant};

use crate::bindings::Event;

/// What travels with every event besides the event itself: where it stands against its job's
/// latency target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityContext {
    /// When the source took in the event the message derives from (end-to-end latency is
    /// measured from here).
    pub ingest: Instant,
    /// When the message's result must reach the sink: ingest + latency target for output
    /// that follows at once; later for input that only feeds a window firing later.
    pub deadline: Instant,
    /// The message's event time (stream progress), in ms.
    pub event_time: i64,
}

impl PriorityContext {
    /// The context a source gives an event it takes in now: due `target` after ingest.
    pub fn at_source(ingest: Instant, event_time: i64, target: Duration) -> Self {
        PriorityContext {
            ingest,
            // A target too far out to represent is as good as none.
            deadline: ingest.checked_add(target).unwrap_or(ingest),
            event_time,
        }
    }
}

/// Bytes an event costs the host while it is held (in a mailbox, a batch, an output): its
/// allocations, and the event itself in its vector. Empty headers count too, so an event of a
/// million empty headers is not free.
pub fn event_bytes(event: &Event) -> u64 {
    use crate::budget::allocation;
    const EVENT_SIZE: u64 = std::mem::size_of::<Event>() as u64;
    const HEADER_SIZE: usize = std::mem::size_of::<crate::bindings::Header>();
    EVENT_SIZE
        + allocation(event.key.as_ref().map_or(0, Vec::len))
        + allocation(event.value.len())
        + allocation(event.headers.len() * HEADER_SIZE)
        + event
            .headers
            .iter()
            .map(|h| allocation(h.name.len()) + allocation(h.value.len()))
            .sum::<u64>()
}

/// One event on the data path, from the router through the mailbox, the call and its retries,
/// to the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The event.
    pub event: Event,
    /// Its priority context.
    pub context: PriorityContext,
    /// The sender's channel at the receiver (one per upstream instance, numbered in the
    /// order of the receiver's inputs); the router sets it on delivery.
    pub channel: usize,
}

impl Record {
    /// A record of `event` with `context`, not yet delivered (channel 0 until the router
    /// sets it).
    pub fn new(event: Event, context: PriorityContext) -> Self {
        Record {
            event,
            context,
            channel: 0,
        }
    }
}

/// Where one record of a [`Batch`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Origin {
    context: PriorityContext,
    channel: usize,
}

/// A run of records handed to one guest call. The events sit side by side because the call
/// lowers them from one slice (`process(list<event>)`); the context and channel of each stay
/// beside it, index for index, so a failed batch turns back into its records for retry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    events: Vec<Event>,
    origins: Vec<Origin>,
}

impl Batch {
    /// The batch of `records`, in order.
    pub fn new(records: impl IntoIterator<Item = Record>) -> Self {
        let mut batch = Batch::default();
        for record in records {
            batch.push(record);
        }
        batch
    }

    /// Appends a record.
    pub fn push(&mut self, record: Record) {
        self.events.push(record.event);
        self.origins.push(Origin {
            context: record.context,
            channel: record.channel,
        });
    }

    /// The events, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The channel of each record, in order.
    pub fn channels(&self) -> impl Iterator<Item = usize> + '_ {
        self.origins.iter().map(|origin| origin.channel)
    }

    /// The priority context of each record, in order.
    pub fn contexts(&self) -> impl Iterator<Item = PriorityContext> + '_ {
        self.origins.iter().map(|origin| origin.context)
    }

    /// The context outputs of the batch inherit: the earliest ingest, so the latency measured
    /// is that of the event that waited longest.
    pub fn earliest(&self) -> Option<PriorityContext> {
        self.origins
            .iter()
            .map(|origin| origin.context)
            .min_by_key(|context| context.ingest)
    }

    /// A copy of record `index`.
    pub fn record(&self, index: usize) -> Option<Record> {
        let event = self.events.get(index)?;
        let origin = self.origins.get(index)?;
        Some(Record {
            event: event.clone(),
            context: origin.context,
            channel: origin.channel,
        })
    }

    /// The records, in order.
    pub fn into_records(self) -> impl DoubleEndedIterator<Item = Record> {
        self.events
            .into_iter()
            .zip(self.origins)
            .map(|(event, origin)| Record {
                event,
                context: origin.context,
                channel: origin.channel,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str, ingest: Instant, channel: usize) -> Record {
        Record {
            event: Event {
                key: None,
                value: value.as_bytes().to_vec(),
                event_time: 0,
                headers: Vec::new(),
            },
            context: PriorityContext::at_source(ingest, 0, Duration::from_millis(10)),
            channel,
        }
    }

    #[test]
    fn a_batch_turns_back_into_the_records_it_was_made_of() {
        let now = Instant::now();
        let records = vec![
            record("a", now + Duration::from_millis(2), 0),
            record("b", now, 3),
            record("c", now + Duration::from_millis(1), 1),
        ];
        let batch = Batch::new(records.clone());
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.events()[1].value, b"b");
        assert_eq!(batch.channels().collect::<Vec<_>>(), [0, 3, 1]);
        assert_eq!(batch.earliest().map(|c| c.ingest), Some(now));
        assert_eq!(batch.record(2).as_ref(), records.get(2));
        assert_eq!(batch.record(3), None);
        assert_eq!(batch.into_records().collect::<Vec<_>>(), records);
    }
}
