//! Messages between actors and the bounded mailbox that holds them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::edge_watermarks::ChannelGroups;
use super::record::{PriorityContext, Record, event_bytes};
use crate::budget::Budget;
use crate::sched::TaskId;
use crate::sync::LockRecovered;

/// One message in a mailbox: a record, or a control message about its channel.
#[derive(Debug)]
pub enum Message {
    /// A data event.
    Record(Record),
    /// Stream progress, checkpoints and the end of a channel.
    Control(Control),
}

/// What a sender says about its channel besides its events. `channel` numbers the receiver's
/// inputs (one per upstream instance), so watermarks, barriers and end-of-stream are tracked
/// per sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// No event with an event time below `time` will arrive on `channel` any more.
    Watermark {
        /// The sender's channel at the receiver.
        channel: usize,
        /// The watermark, in event-time milliseconds.
        time: i64,
        /// The context of the event that advanced it (window outputs inherit its ingest
        /// time).
        context: PriorityContext,
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

impl Control {
    /// The sender's channel.
    pub fn channel(&self) -> usize {
        match self {
            Control::Watermark { channel, .. }
            | Control::Barrier { channel, .. }
            | Control::Idle { channel }
            | Control::End { channel } => *channel,
        }
    }

    /// The same message from the sender's channel `channel` (at another receiver).
    pub fn on_channel(self, channel: usize) -> Self {
        match self {
            Control::Watermark { time, context, .. } => Control::Watermark {
                channel,
                time,
                context,
            },
            Control::Barrier { id, .. } => Control::Barrier { channel, id },
            Control::Idle { .. } => Control::Idle { channel },
            Control::End { .. } => Control::End { channel },
        }
    }
}

/// A watermark waiting in a mailbox: its time and the context it carries.
#[derive(Debug, Clone, Copy)]
struct WaitingWatermark {
    time: i64,
    context: PriorityContext,
}

/// How many times its capacity a mailbox may hold while some of its channels are held back
/// for checkpoint alignment.
const HELD_SLACK: usize = 8;

/// A bounded queue of messages for one actor.
///
/// Events count against the capacity, in number and in bytes (what they cost the host, see
/// [`event_bytes`]), and their bytes are charged to the job's memory budget while they wait;
/// control messages are always accepted. Actors are never
/// blocked by a full mailbox: their producers are simply not given new work until it drains
/// (see [`Mailbox::register_blocked`]), sources included. Events of channels held back for
/// checkpoint alignment do not count (up to eight times the capacity in all): the
/// other channels' producers must get their barriers through, or the alignment that would
/// release the held channels never completes.
pub struct Mailbox {
    inner: Mutex<Inner>,
    capacity: Load,
    /// Where queued bytes are charged, if anywhere.
    budget: Option<Budget>,
    /// Input channels whose watermarks arrive combined, on their group's channel.
    groups: ChannelGroups,
    /// Whether the mailbox is full, as of the last change (made under the lock): producers
    /// of a wide edge ask hundreds of mailboxes before every call, most of them not full.
    full: AtomicBool,
    /// Full mailboxes among this one's peers (the other instances of its operator), counted
    /// together so that a sender can pass over an edge with none full at once.
    full_peers: Option<Arc<AtomicUsize>>,
}

/// What a mailbox holds, or may hold: events and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Load {
    events: usize,
    bytes: u64,
}

impl Load {
    fn add(&mut self, record: &Record) {
        self.events += 1;
        self.bytes += event_bytes(&record.event);
    }

    fn sub(&mut self, other: Load) {
        self.events = self.events.saturating_sub(other.events);
        self.bytes = self.bytes.saturating_sub(other.bytes);
    }

    /// True when either figure reaches `capacity`'s times `times`.
    fn reaches(&self, capacity: Load, times: usize) -> bool {
        self.events >= capacity.events.saturating_mul(times)
            || self.bytes >= capacity.bytes.saturating_mul(times as u64)
    }
}

/// A message as it waits in the queue. A watermark waits as a mark whose time lives in
/// `Inner::marks`, so that a later watermark of the same channel can move it forward in
/// place.
#[derive(Debug)]
enum Queued {
    Record(Record),
    Control(Control),
    Watermark { channel: usize, mark: u64 },
}

impl Queued {
    fn channel(&self) -> usize {
        match self {
            Queued::Record(record) => record.channel,
            Queued::Control(control) => control.channel(),
            Queued::Watermark { channel, .. } => *channel,
        }
    }
}

#[derive(Default)]
struct Inner {
    messages: VecDeque<Queued>,
    /// The time of every waiting watermark mark, by mark number (numbers grow, so this is
    /// queue order): a watermark that fires windows is urgent however early the events
    /// before it are.
    marks: BTreeMap<u64, WaitingWatermark>,
    /// The next mark number.
    next_mark: u64,
    /// Per channel, its waiting mark with no message of the channel behind it (of a group
    /// channel: of any channel of the group): a new watermark of the channel moves that mark
    /// forward instead of queueing another.
    open: Vec<Option<u64>>,
    /// Every record waiting.
    load: Load,
    /// Channels held back for checkpoint alignment, and the records waiting on them.
    held: Vec<bool>,
    held_load: Load,
    /// Producers to wake once the mailbox drains, each once (a set: on all-to-all edges
    /// hundreds of producers may wait on one mailbox).
    blocked: BTreeSet<TaskId>,
}

impl Inner {
    /// The open mark of `channel`, to move forward or close.
    fn open_mark(&mut self, channel: usize) -> &mut Option<u64> {
        if self.open.len() <= channel {
            self.open.resize(channel + 1, None);
        }
        &mut self.open[channel]
    }

    /// Queues a watermark, or moves the channel's open mark forward to it.
    ///
    /// Moving a mark forward past other channels' messages is safe: those records were
    /// promised by their own channels' watermarks, which the combined watermark cannot pass,
    /// and no record of this channel waits behind the mark.
    fn push_watermark(&mut self, channel: usize, waiting: WaitingWatermark) {
        if let Some(mark) = *self.open_mark(channel)
            && let Some(held) = self.marks.get_mut(&mark)
        {
            if waiting.time >= held.time {
                *held = waiting;
            }
            return;
        }
        let mark = self.next_mark;
        self.next_mark += 1;
        self.marks.insert(mark, waiting);
        *self.open_mark(channel) = Some(mark);
        self.messages.push_back(Queued::Watermark { channel, mark });
    }

    /// Turns a queued message into the message the actor takes.
    fn unqueue(&mut self, queued: Queued) -> Option<Message> {
        Some(match queued {
            Queued::Record(record) => Message::Record(record),
            Queued::Control(control) => Message::Control(control),
            Queued::Watermark { channel, mark } => {
                if self.open.get(channel) == Some(&Some(mark)) {
                    self.open[channel] = None;
                }
                let waiting = self.marks.remove(&mark)?;
                Message::Control(Control::Watermark {
                    channel,
                    time: waiting.time,
                    context: waiting.context,
                })
            }
        })
    }

    fn is_held(&self, channel: usize) -> bool {
        self.held.get(channel).copied().unwrap_or(false)
    }

    /// Full for producers: the records that can be taken reach `capacity`, or everything
    /// waiting reaches the slack.
    fn is_full(&self, capacity: Load) -> bool {
        let mut takeable = self.load;
        takeable.sub(self.held_load);
        takeable.reaches(capacity, 1) || self.load.reaches(capacity, HELD_SLACK)
    }
}

impl Mailbox {
    /// An empty mailbox holding up to `capacity` events, whatever their size.
    pub fn new(capacity: usize) -> Self {
        Mailbox {
            inner: Mutex::new(Inner::default()),
            capacity: Load {
                events: capacity.max(1),
                bytes: u64::MAX,
            },
            budget: None,
            groups: ChannelGroups::default(),
            full: AtomicBool::new(false),
            full_peers: None,
        }
    }

    /// This mailbox, counted in `full_peers` while it is full (one count shared by all
    /// instances of an operator).
    pub fn counting_fullness_in(mut self, full_peers: Arc<AtomicUsize>) -> Self {
        self.full_peers = Some(full_peers);
        self
    }

    /// How many of this mailbox's peers are full, if they keep count.
    pub fn full_peers(&self) -> Option<usize> {
        self.full_peers
            .as_ref()
            .map(|count| count.load(Ordering::Acquire))
    }

    /// This mailbox, taking the watermarks of `groups`' channels combined on their group
    /// channels. A combined watermark stays behind every later message of its group's
    /// channels: it speaks for what their senders sent before it, not after.
    pub fn with_groups(mut self, groups: ChannelGroups) -> Self {
        self.groups = groups;
        self
    }

    /// Closes the open marks a message of `channel` must stay behind: its own and its
    /// group's.
    fn close_marks(&self, inner: &mut Inner, channel: usize) {
        *inner.open_mark(channel) = None;
        if let Some(group) = self.groups.group_of(channel) {
            *inner.open_mark(group) = None;
        }
    }

    /// This mailbox, also full at `bytes` bytes of records, which are charged to `budget`
    /// while they wait.
    pub fn bounded_in_bytes(mut self, bytes: u64, budget: Budget) -> Self {
        self.capacity.bytes = bytes.max(1);
        self.budget = Some(budget);
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock_recovered()
    }

    /// Appends messages, whatever the capacity. A watermark of a channel whose last waiting
    /// message is a watermark moves that one forward (the later one says all the earlier one
    /// did), so a slow receiver never piles up watermarks: at most one per waiting event and
    /// channel waits, however many senders an all-to-all edge has.
    pub fn push_all(&self, messages: impl IntoIterator<Item = Message>) {
        let mut inner = self.lock();
        let before = inner.load.bytes;
        for message in messages {
            match message {
                Message::Record(record) => {
                    inner.load.add(&record);
                    if inner.is_held(record.channel) {
                        inner.held_load.add(&record);
                    }
                    self.close_marks(&mut inner, record.channel);
                    inner.messages.push_back(Queued::Record(record));
                }
                Message::Control(Control::Watermark {
                    channel,
                    time,
                    context,
                }) => inner.push_watermark(channel, WaitingWatermark { time, context }),
                Message::Control(control) => {
                    self.close_marks(&mut inner, control.channel());
                    inner.messages.push_back(Queued::Control(control));
                }
            }
        }
        if let Some(budget) = &self.budget {
            // Already made: charged whatever the budget (back-pressure bounds the queue).
            budget.force(inner.load.bytes.saturating_sub(before));
        }
        self.note_fullness(&inner);
    }

    /// Records whether the mailbox is full now, for [`Mailbox::is_full`].
    fn note_fullness(&self, inner: &Inner) {
        let full = inner.is_full(self.capacity);
        let was = self.full.swap(full, Ordering::AcqRel);
        if let Some(count) = &self.full_peers
            && was != full
        {
            if full {
                count.fetch_add(1, Ordering::AcqRel);
            } else {
                count.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// True when the mailbox holds its capacity of events or more (not counting held
    /// channels').
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
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
        let mut waiting = Load::default();
        for message in &inner.messages {
            if let Queued::Record(record) = message
                && record.channel == channel
            {
                waiting.add(record);
            }
        }
        inner.held_load.events += waiting.events;
        inner.held_load.bytes += waiting.bytes;
        self.note_fullness(&inner);
        if was_full && !inner.is_full(self.capacity) {
            return std::mem::take(&mut inner.blocked).into_iter().collect();
        }
        Vec::new()
    }

    /// Releases every held channel (alignment completed).
    pub fn release_held(&self) {
        let mut inner = self.lock();
        inner.held.clear();
        inner.held_load = Load::default();
        self.note_fullness(&inner);
    }

    /// The priority contexts that set this mailbox's urgency: of the record at its head (if a
    /// record is there), and of the first waiting watermark whose time `fires` output (it can
    /// only be handled after everything before it, which therefore inherits its urgency).
    pub fn waiting_contexts(&self, fires: impl Fn(i64) -> bool) -> WaitingContexts {
        let inner = self.lock();
        WaitingContexts {
            head: match inner.messages.front() {
                Some(Queued::Record(record)) => Some(record.context),
                _ => None,
            },
            watermark: inner
                .marks
                .values()
                .find(|waiting| fires(waiting.time))
                .map(|waiting| waiting.context),
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
        if !self.is_full() {
            return false;
        }
        let mut inner = self.lock();
        if !inner.is_full(self.capacity) {
            return false;
        }
        inner.blocked.insert(producer);
        true
    }

    /// Takes the next run of work from channels that are not `held` (channels waiting for a
    /// checkpoint barrier on the others keep their messages, in order): up to `max_events`
    /// consecutive records, or one control message if that comes first. Returns the producers
    /// to wake if room was made.
    pub fn take(&self, max_events: usize, held: &[bool]) -> (Taken, Vec<TaskId>) {
        let mut inner = self.lock();
        let was_full = inner.is_full(self.capacity);
        let is_held = |m: &Queued| held.get(m.channel()).copied().unwrap_or(false);
        let mut records = Vec::new();
        let mut control = None;
        let mut index = 0;
        while index < inner.messages.len() && records.len() < max_events {
            if inner.messages.get(index).is_some_and(is_held) {
                index += 1;
                continue;
            }
            let is_record = matches!(inner.messages.get(index), Some(Queued::Record(_)));
            if !is_record && !records.is_empty() {
                break;
            }
            match inner.messages.remove(index) {
                Some(Queued::Record(record)) => records.push(record),
                Some(queued) => {
                    if let Some(Message::Control(message)) = inner.unqueue(queued) {
                        control = Some(message);
                        break;
                    }
                }
                None => break,
            }
        }
        let mut taken = Load::default();
        let mut held_taken = Load::default();
        for record in &records {
            taken.add(record);
            // Taken records are of channels the actor does not hold; should the two views
            // of what is held differ, the count stays in range.
            if inner.is_held(record.channel) {
                held_taken.add(record);
            }
        }
        inner.load.sub(taken);
        inner.held_load.sub(held_taken);
        if let Some(budget) = &self.budget {
            budget.release(taken.bytes);
        }
        let taken = match control {
            Some(message) => Taken::Control(message),
            None if records.is_empty() => Taken::Nothing,
            None => Taken::Records(records),
        };
        self.note_fullness(&inner);
        let mut wake = Vec::new();
        if was_full && !inner.is_full(self.capacity) {
            wake = std::mem::take(&mut inner.blocked).into_iter().collect();
        }
        (taken, wake)
    }
}

impl Drop for Mailbox {
    /// Records still waiting when the job ends go with the mailbox: give their bytes back.
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(self.lock().load.bytes);
        }
    }
}

/// What [`Mailbox::waiting_contexts`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitingContexts {
    /// The context of the record at the head, if a record is there.
    pub head: Option<PriorityContext>,
    /// The context of the first waiting watermark that fires output, if any.
    pub watermark: Option<PriorityContext>,
}

/// What [`Mailbox::take`] found.
#[derive(Debug)]
pub enum Taken {
    /// Nothing is waiting (outside held channels).
    Nothing,
    /// A run of records, in arrival order.
    Records(Vec<Record>),
    /// A watermark, barrier, idleness or end-of-stream.
    Control(Control),
}

#[cfg(test)]
mod tests;
