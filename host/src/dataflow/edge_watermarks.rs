//! Watermarks of a wide edge combined once for all its receivers.
//!
//! Every instance of a receiving operator has the same senders on an edge, so the minimum of
//! their watermarks is the same at every receiver. Sent channel by channel, an edge of `n`
//! senders and `m` receivers costs `n * m` mailbox messages (and as many wake-ups) each time
//! the senders' watermarks advance; an [`EdgeWatermarks`] keeps one slot per sender instead,
//! and only when their minimum advances sends it to each receiver, on one extra input channel
//! per edge (a *group channel*, see [`ChannelGroups`]). Cost follows the edge's progress, not
//! its width squared.
//!
//! The combined watermark is pushed behind everything its senders pushed before they wrote
//! their slots, so a receiver handles it after their earlier records, as it would a
//! per-channel watermark; its mailbox keeps it behind later records and barriers of the
//! group's channels too (see [`crate::dataflow::mailbox::Mailbox::with_groups`]).

use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::mailbox::{Control, Mailbox, Message};
use super::record::PriorityContext;
use crate::sched::TaskId;
use crate::sched::executor::Activator;
use crate::sync::LockRecovered;

/// The input channels of one operator whose watermarks arrive combined: each group is the
/// range of channels of one wide edge, and has its own channel numbered after all the real
/// ones (`real + group index`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelGroups {
    real: usize,
    /// Per real channel, its group's channel, if it is in a group (shared by the mailboxes
    /// and actors of every instance).
    group_of: Arc<[Option<usize>]>,
    groups: usize,
}

impl ChannelGroups {
    /// `real` input channels, of which `groups` (disjoint ranges) are combined.
    pub fn new(real: usize, groups: &[Range<usize>]) -> Self {
        let mut group_of = vec![None; real];
        for (index, range) in groups.iter().enumerate() {
            for channel in range.clone() {
                if let Some(slot) = group_of.get_mut(channel) {
                    *slot = Some(real + index);
                }
            }
        }
        ChannelGroups {
            real,
            group_of: group_of.into(),
            groups: groups.len(),
        }
    }

    /// Input channels without the group channels (one per sender instance).
    pub fn real(&self) -> usize {
        self.real
    }

    /// Every channel, group channels included.
    pub fn total(&self) -> usize {
        self.real + self.groups
    }

    /// The group channel of real channel `channel`, if its watermarks arrive combined.
    pub fn group_of(&self, channel: usize) -> Option<usize> {
        self.group_of.get(channel).copied().flatten()
    }

    /// True when `channel` is a group channel.
    pub fn is_group(&self, channel: usize) -> bool {
        channel >= self.real && channel < self.total()
    }
}

/// The inputs of one operator, and which of them combine their senders' watermarks: those
/// from more than one sender instance.
#[derive(Debug, Clone)]
pub struct WideInputs {
    groups: ChannelGroups,
    /// By input, its channels if it is wide.
    ranges: Vec<Option<Range<usize>>>,
}

impl WideInputs {
    /// An operator's `real` input channels, fed by `inputs` (by input, its first channel
    /// and its number of sender instances).
    pub fn new(real: usize, inputs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let ranges: Vec<Option<Range<usize>>> = inputs
            .into_iter()
            .map(|(first, senders)| (senders > 1).then(|| first..first + senders))
            .collect();
        let wide: Vec<Range<usize>> = ranges.iter().flatten().cloned().collect();
        WideInputs {
            groups: ChannelGroups::new(real, &wide),
            ranges,
        }
    }

    /// The channels, grouped.
    pub fn groups(&self) -> &ChannelGroups {
        &self.groups
    }

    /// By input, the combiner of its senders' watermarks for `receivers` (every instance of
    /// the operator), if it is wide.
    pub fn edges(&self, receivers: Vec<Receiver>) -> Vec<Option<Arc<EdgeWatermarks>>> {
        let mut channel = self.groups.real();
        self.ranges
            .iter()
            .map(|range| {
                let range = range.as_ref()?;
                let edge = EdgeWatermarks::new(range.len(), receivers.clone(), channel);
                channel += 1;
                Some(Arc::new(edge))
            })
            .collect()
    }
}

/// One receiver of a combined edge.
#[derive(Clone)]
pub struct Receiver {
    /// Its task, to wake.
    pub task: TaskId,
    /// Its mailbox.
    pub mailbox: Arc<Mailbox>,
}

/// The senders' watermarks of one wide edge and its receivers.
pub struct EdgeWatermarks {
    slots: Mutex<Slots>,
    receivers: Vec<Receiver>,
    /// The group channel of this edge at every receiver.
    channel: usize,
}

/// Where every sender of an edge stands.
#[derive(Debug)]
struct Slots {
    times: Vec<i64>,
    idle: Vec<bool>,
    /// The minimum over the senders that are not idle, as last sent.
    current: i64,
    /// Senders that are not idle and at or below `current`: until none is left, an advance
    /// changes nothing and costs no scan.
    holding: usize,
    /// True while every sender is idle (receivers were told so).
    all_idle: bool,
}

impl Slots {
    /// The minimum over the senders that are not idle, if one is not.
    fn minimum(&self) -> Option<i64> {
        self.times
            .iter()
            .zip(&self.idle)
            .filter(|(_, idle)| !**idle)
            .map(|(time, _)| *time)
            .min()
    }
}

/// What a change of one sender's slot asks of the receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Send {
    Nothing,
    Watermark(i64),
    Idle,
}

impl EdgeWatermarks {
    /// An edge of `senders` sender instances to `receivers`, arriving on group channel
    /// `channel` at each.
    pub fn new(senders: usize, receivers: Vec<Receiver>, channel: usize) -> Self {
        EdgeWatermarks {
            slots: Mutex::new(Slots {
                times: vec![i64::MIN; senders],
                idle: vec![false; senders],
                current: i64::MIN,
                holding: senders,
                all_idle: false,
            }),
            receivers,
            channel,
        }
    }

    /// Sender `sender`'s watermark is `time`; watermarks never go back. Sends the combined
    /// watermark to every receiver if it advanced.
    pub fn advance(
        &self,
        sender: usize,
        time: i64,
        context: PriorityContext,
        activator: &Activator,
    ) {
        let mut slots = self.slots.lock_recovered();
        let was_idle = slots
            .idle
            .get_mut(sender)
            .is_some_and(|idle| std::mem::replace(idle, false));
        let Some(slot) = slots.times.get_mut(sender) else {
            return;
        };
        let before = *slot;
        *slot = before.max(time);
        let after = *slot;
        // The minimum moves only when the last sender holding it moves past it (or one left
        // out as idle is back): most advances on a wide edge change nothing and cost no scan.
        let send = if was_idle {
            self.combine(&mut slots)
        } else if before <= slots.current && after > slots.current {
            slots.holding = slots.holding.saturating_sub(1);
            if slots.holding == 0 {
                self.combine(&mut slots)
            } else {
                Send::Nothing
            }
        } else {
            Send::Nothing
        };
        // Pushed under the lock, so receivers see the combined watermarks in the order
        // they were made; woken after it.
        self.push(send, context);
        drop(slots);
        self.wake(send, activator);
    }

    /// Sender `sender` is idle: it is left out of the minimum until it sends a watermark
    /// again; once every sender is idle, the receivers leave the group out of theirs.
    pub fn idle(&self, sender: usize, context: PriorityContext, activator: &Activator) {
        let mut slots = self.slots.lock_recovered();
        let Some(idle) = slots.idle.get_mut(sender) else {
            return;
        };
        *idle = true;
        let send = self.combine(&mut slots);
        self.push(send, context);
        drop(slots);
        self.wake(send, activator);
    }

    /// Sender `sender` has ended: it holds the minimum back no more.
    pub fn end(&self, sender: usize, context: PriorityContext, activator: &Activator) {
        let mut slots = self.slots.lock_recovered();
        if let Some(idle) = slots.idle.get_mut(sender) {
            *idle = false;
        }
        let Some(slot) = slots.times.get_mut(sender) else {
            return;
        };
        *slot = i64::MAX;
        let send = self.combine(&mut slots);
        self.push(send, context);
        drop(slots);
        self.wake(send, activator);
    }

    /// What the slots, just changed, ask of the receivers; records what is sent.
    fn combine(&self, slots: &mut Slots) -> Send {
        let send = Self::combined(slots);
        let current = slots.current;
        slots.holding = slots
            .times
            .iter()
            .zip(&slots.idle)
            .filter(|(time, idle)| !**idle && **time <= current)
            .count();
        send
    }

    /// What the slots ask of the receivers, with `current` and `all_idle` brought up to
    /// date.
    fn combined(slots: &mut Slots) -> Send {
        let Some(minimum) = slots.minimum() else {
            if slots.all_idle {
                return Send::Nothing;
            }
            slots.all_idle = true;
            return Send::Idle;
        };
        let back_from_idle = std::mem::replace(&mut slots.all_idle, false);
        if minimum > slots.current {
            slots.current = minimum;
            Send::Watermark(minimum)
        } else if back_from_idle {
            // Not ahead, but the receivers must count the group in again.
            Send::Watermark(slots.current)
        } else {
            Send::Nothing
        }
    }

    /// Queues what `send` says at every receiver.
    fn push(&self, send: Send, context: PriorityContext) {
        let message = match send {
            Send::Nothing => return,
            Send::Watermark(time) => Control::Watermark {
                channel: self.channel,
                time,
                context,
            },
            Send::Idle => Control::Idle {
                channel: self.channel,
            },
        };
        for receiver in &self.receivers {
            receiver.mailbox.push_all([Message::Control(message)]);
        }
    }

    /// Wakes every receiver if something was queued. Whether a watermark is urgent depends
    /// on the receiver's own watermark and windows: the actor ranks its pending work itself.
    fn wake(&self, send: Send, activator: &Activator) {
        if send == Send::Nothing {
            return;
        }
        for receiver in &self.receivers {
            activator.wake(receiver.task);
        }
    }
}

#[cfg(test)]
mod tests;
