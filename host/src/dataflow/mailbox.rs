//! Messages between actors and the bounded mailbox that holds them.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::bindings::Event;
use crate::sched::TaskId;

/// What travels with every event through the dataflow besides the event itself.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// When the source took in the event the message derives from (for end-to-end latency).
    pub ingest: Instant,
}

/// One message in a mailbox. `channel` numbers the receiver's inputs, so watermarks and
/// end-of-stream can be tracked per upstream sender.
#[derive(Debug)]
pub enum Message {
    /// A data event.
    Event(Event, Meta),
    /// No event with an event time below `time` will arrive on `channel` any more.
    Watermark {
        /// The sender's channel at the receiver.
        channel: usize,
        /// The watermark, in event-time milliseconds.
        time: i64,
        /// Metadata of the event that advanced it (window outputs inherit its ingest time).
        meta: Meta,
    },
    /// `channel` has ended: nothing more will arrive on it.
    End {
        /// The sender's channel at the receiver.
        channel: usize,
    },
}

/// A bounded queue of messages for one actor.
///
/// Events count against the capacity; control messages are always accepted. Actors are never
/// blocked by a full mailbox: their producers are simply not given new work until it drains
/// (see [`Mailbox::register_blocked`]); source threads wait on it instead.
pub struct Mailbox {
    inner: Mutex<Inner>,
    space: Condvar,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    messages: VecDeque<Message>,
    events: usize,
    blocked: Vec<TaskId>,
}

impl Mailbox {
    /// An empty mailbox holding up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Mailbox {
            inner: Mutex::new(Inner::default()),
            space: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends messages, whatever the capacity.
    pub fn push_all(&self, messages: impl IntoIterator<Item = Message>) {
        let mut inner = self.lock();
        for message in messages {
            if matches!(message, Message::Event(..)) {
                inner.events += 1;
            }
            inner.messages.push_back(message);
        }
    }

    /// True when the mailbox holds its capacity of events or more.
    pub fn is_full(&self) -> bool {
        self.lock().events >= self.capacity
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.lock().messages.is_empty()
    }

    /// If the mailbox is full, remembers `producer` to activate once it drains, and returns
    /// true; otherwise returns false.
    pub fn register_blocked(&self, producer: TaskId) -> bool {
        let mut inner = self.lock();
        if inner.events < self.capacity {
            return false;
        }
        if !inner.blocked.contains(&producer) {
            inner.blocked.push(producer);
        }
        true
    }

    /// Waits up to `timeout` for room; returns true when there is room.
    pub fn wait_for_room(&self, timeout: Duration) -> bool {
        let inner = self.lock();
        if inner.events < self.capacity {
            return true;
        }
        let (inner, _) = self
            .space
            .wait_timeout_while(inner, timeout, |inner| inner.events >= self.capacity)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.events < self.capacity
    }

    /// Takes the next run of work: up to `max_events` consecutive events, or one control
    /// message if that is at the head. Returns the producers to wake if room was made.
    pub fn take(&self, max_events: usize) -> (Taken, Vec<TaskId>) {
        let mut inner = self.lock();
        let was_full = inner.events >= self.capacity;
        let taken = match inner.messages.front() {
            None => Taken::Nothing,
            Some(Message::Event(..)) => {
                let mut events = Vec::new();
                while events.len() < max_events {
                    match inner.messages.pop_front() {
                        Some(Message::Event(event, meta)) => events.push((event, meta)),
                        Some(other) => {
                            inner.messages.push_front(other);
                            break;
                        }
                        None => break,
                    }
                }
                inner.events -= events.len();
                Taken::Events(events)
            }
            Some(_) => match inner.messages.pop_front() {
                Some(message) => Taken::Control(message),
                None => Taken::Nothing,
            },
        };
        let mut wake = Vec::new();
        if was_full && inner.events < self.capacity {
            wake = std::mem::take(&mut inner.blocked);
            self.space.notify_all();
        }
        (taken, wake)
    }
}

/// What [`Mailbox::take`] found.
#[derive(Debug)]
pub enum Taken {
    /// The mailbox was empty.
    Nothing,
    /// A run of events, in arrival order.
    Events(Vec<(Event, Meta)>),
    /// A watermark or end-of-stream.
    Control(Message),
}
