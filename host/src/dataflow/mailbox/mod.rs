//! Messages between actors and the bounded mailbox that holds them.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::bindings::Event;
use crate::sched::TaskId;

pub use crate::sched::priority::PriorityContext;

/// One message in a mailbox. `channel` numbers the receiver's inputs (one per upstream
/// instance), so watermarks, barriers and end-of-stream are tracked per sender.
#[derive(Debug)]
pub enum Message {
    /// A data event.
    Event {
        /// The event.
        event: Event,
        /// Its metadata.
        meta: PriorityContext,
        /// The sender's channel at the receiver.
        channel: usize,
    },
    /// No event with an event time below `time` will arrive on `channel` any more.
    Watermark {
        /// The sender's channel at the receiver.
        channel: usize,
        /// The watermark, in event-time milliseconds.
        time: i64,
        /// Metadata of the event that advanced it (window outputs inherit its ingest time).
        meta: PriorityContext,
    },
    /// Checkpoint barrier `id`: everything before it on `channel` belongs to checkpoint `id`.
    Barrier {
        /// The sender's channel at the receiver.
        channel: usize,
        /// The checkpoint.
        id: u64,
    },
    /// `channel`'s source is idle: leave it out of the watermark until it sends one again.
    Idle {
        /// The sender's channel at the receiver.
        channel: usize,
    },
    /// `channel` has ended: nothing more will arrive on it.
    End {
        /// The sender's channel at the receiver.
        channel: usize,
    },
}

impl Message {
    /// The sender's channel.
    pub fn channel(&self) -> usize {
        match self {
            Message::Event { channel, .. }
            | Message::Watermark { channel, .. }
            | Message::Barrier { channel, .. }
            | Message::Idle { channel }
            | Message::End { channel } => *channel,
        }
    }
}

/// How many times its capacity a mailbox may hold while some of its channels are held back
/// for checkpoint alignment.
const HELD_SLACK: usize = 8;

/// A bounded queue of messages for one actor.
///
/// Events count against the capacity; control messages are always accepted. Actors are never
/// blocked by a full mailbox: their producers are simply not given new work until it drains
/// (see [`Mailbox::register_blocked`]), sources included. Events of channels held back for
/// checkpoint alignment do not count (up to eight times the capacity in all): the
/// other channels' producers must get their barriers through, or the alignment that would
/// release the held channels never completes.
pub struct Mailbox {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    messages: VecDeque<Message>,
    /// The times and contexts of the watermarks among `messages`, in order: a watermark that
    /// fires windows is urgent however early the events before it are.
    watermarks: VecDeque<(i64, PriorityContext)>,
    events: usize,
    /// Channels held back for checkpoint alignment, and the events waiting on them.
    held: Vec<bool>,
    held_events: usize,
    blocked: Vec<TaskId>,
}

impl Inner {
    fn is_held(&self, channel: usize) -> bool {
        self.held.get(channel).copied().unwrap_or(false)
    }

    /// Full for producers: the events that can be taken reach `capacity`, or everything
    /// waiting reaches the slack.
    fn is_full(&self, capacity: usize) -> bool {
        self.events.saturating_sub(self.held_events) >= capacity
            || self.events >= capacity.saturating_mul(HELD_SLACK)
    }
}

impl Mailbox {
    /// An empty mailbox holding up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Mailbox {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends messages, whatever the capacity. A watermark right behind a watermark of the
    /// same channel replaces it (the later one says all the earlier one did), so a slow
    /// receiver never piles up watermarks: at most one per event and channel waits.
    pub fn push_all(&self, messages: impl IntoIterator<Item = Message>) {
        let mut inner = self.lock();
        for message in messages {
            if let Message::Event { channel, .. } = &message {
                inner.events += 1;
                if inner.is_held(*channel) {
                    inner.held_events += 1;
                }
            }
            if let Message::Watermark { channel, .. } = &message
                && let Some(Message::Watermark { channel: last, .. }) = inner.messages.back()
                && last == channel
            {
                if let Message::Watermark { time, meta, .. } = &message
                    && let Some(back) = inner.watermarks.back_mut()
                {
                    *back = (*time, *meta);
                }
                if let Some(back) = inner.messages.back_mut() {
                    *back = message;
                }
                continue;
            }
            if let Message::Watermark { time, meta, .. } = &message {
                inner.watermarks.push_back((*time, *meta));
            }
            inner.messages.push_back(message);
        }
    }

    /// True when the mailbox holds its capacity of events or more (not counting held
    /// channels').
    pub fn is_full(&self) -> bool {
        self.lock().is_full(self.capacity)
    }

    /// Holds `channel` back for checkpoint alignment: its events stop counting against the
    /// capacity. Returns the producers to wake if that made room.
    pub fn hold(&self, channel: usize) -> Vec<TaskId> {
        let mut inner = self.lock();
        if inner.is_held(channel) {
            return Vec::new();
        }
        let was_full = inner.is_full(self.capacity);
        if inner.held.len() <= channel {
            inner.held.resize(channel + 1, false);
        }
        inner.held[channel] = true;
        let waiting = inner
            .messages
            .iter()
            .filter(|m| matches!(m, Message::Event { channel: c, .. } if *c == channel))
            .count();
        inner.held_events += waiting;
        if was_full && !inner.is_full(self.capacity) {
            return std::mem::take(&mut inner.blocked);
        }
        Vec::new()
    }

    /// Releases every held channel (alignment completed).
    pub fn release_held(&self) {
        let mut inner = self.lock();
        inner.held.clear();
        inner.held_events = 0;
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.lock().messages.is_empty()
    }

    /// The priority contexts that set this mailbox's urgency: of the event at its head (if an
    /// event is there), and of the first waiting watermark whose time `fires` output (it can
    /// only be handled after everything before it, which therefore inherits its urgency).
    pub fn waiting_contexts(&self, fires: impl Fn(i64) -> bool) -> WaitingContexts {
        let inner = self.lock();
        WaitingContexts {
            head: match inner.messages.front() {
                Some(Message::Event { meta, .. }) => Some(*meta),
                _ => None,
            },
            watermark: inner
                .watermarks
                .iter()
                .find(|(time, _)| fires(*time))
                .map(|(_, meta)| *meta),
        }
    }

    /// True when a message from a channel that is not `held` is waiting.
    pub fn has_work(&self, held: &[bool]) -> bool {
        let inner = self.lock();
        if held.iter().all(|h| !h) {
            return !inner.messages.is_empty();
        }
        inner
            .messages
            .iter()
            .any(|m| !held.get(m.channel()).copied().unwrap_or(false))
    }

    /// If the mailbox is full, remembers `producer` to activate once it drains, and returns
    /// true; otherwise returns false.
    pub fn register_blocked(&self, producer: TaskId) -> bool {
        let mut inner = self.lock();
        if !inner.is_full(self.capacity) {
            return false;
        }
        if !inner.blocked.contains(&producer) {
            inner.blocked.push(producer);
        }
        true
    }

    /// Takes the next run of work from channels that are not `held` (channels waiting for a
    /// checkpoint barrier on the others keep their messages, in order): up to `max_events`
    /// consecutive events, or one control message if that comes first. Returns the producers
    /// to wake if room was made.
    pub fn take(&self, max_events: usize, held: &[bool]) -> (Taken, Vec<TaskId>) {
        let mut inner = self.lock();
        let was_full = inner.is_full(self.capacity);
        let is_held = |m: &Message| held.get(m.channel()).copied().unwrap_or(false);
        let mut events = Vec::new();
        let mut channels = Vec::new();
        let mut control = None;
        let mut index = 0;
        while index < inner.messages.len() && events.len() < max_events {
            if inner.messages.get(index).is_some_and(is_held) {
                index += 1;
                continue;
            }
            let is_event = matches!(inner.messages.get(index), Some(Message::Event { .. }));
            if !is_event && !events.is_empty() {
                break;
            }
            match inner.messages.remove(index) {
                Some(Message::Event {
                    event,
                    meta,
                    channel,
                }) => {
                    events.push((event, meta));
                    channels.push(channel);
                }
                Some(other) => {
                    if matches!(other, Message::Watermark { .. }) {
                        // Watermarks of held channels may wait ahead of this one: keep
                        // `watermarks` in step with `messages` by removing its own entry.
                        let before = inner
                            .messages
                            .range(..index)
                            .filter(|m| matches!(m, Message::Watermark { .. }))
                            .count();
                        inner.watermarks.remove(before);
                    }
                    control = Some(other);
                    break;
                }
                None => break,
            }
        }
        inner.events -= events.len();
        // Taken events are of channels the actor does not hold; should the two views of what
        // is held differ, the count stays in range.
        let held_taken = channels.iter().filter(|c| inner.is_held(**c)).count();
        inner.held_events = inner.held_events.saturating_sub(held_taken);
        let taken = match control {
            Some(message) => Taken::Control(message),
            None if events.is_empty() => Taken::Nothing,
            None => Taken::Events(events, channels),
        };
        let mut wake = Vec::new();
        if was_full && !inner.is_full(self.capacity) {
            wake = std::mem::take(&mut inner.blocked);
        }
        (taken, wake)
    }
}

/// What [`Mailbox::waiting_contexts`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitingContexts {
    /// The context of the event at the head, if an event is there.
    pub head: Option<PriorityContext>,
    /// The context of the first waiting watermark that fires output, if any.
    pub watermark: Option<PriorityContext>,
}

/// What [`Mailbox::take`] found.
#[derive(Debug)]
pub enum Taken {
    /// Nothing is waiting (outside held channels).
    Nothing,
    /// A run of events, in arrival order, with the channel each came on.
    Events(Vec<(Event, PriorityContext)>, Vec<usize>),
    /// A watermark, barrier or end-of-stream.
    Control(Message),
}

#[cfg(test)]
mod tests;
