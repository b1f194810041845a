//! Event time: watermarks tracked per input (an operator's watermark is the minimum over its
//! inputs), the event-time timers operators register, and host-managed windows ([`window`]).

pub mod join;
pub mod window;

use std::collections::BTreeSet;

use crate::dataflow::edge_watermarks::ChannelGroups;

/// The watermark of each input channel of one receiver; ended channels count as `i64::MAX`.
///
/// Channels of a wide edge may be grouped (see [`ChannelGroups`]): their watermarks arrive
/// combined on the group's channel, so they count in the minimum through it and only their
/// end is tracked one by one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputWatermarks {
    channels: Vec<i64>,
    /// Channels marked idle by their source: left out of the minimum until they send a
    /// watermark again.
    #[serde(default)]
    idle: Vec<bool>,
    ended: usize,
    current: i64,
    /// Channels whose watermarks arrive on their group's channel, left out of the minimum.
    #[serde(default)]
    grouped: Vec<bool>,
    /// Group channels (numbered after the real ones), which never end themselves.
    #[serde(default)]
    groups: usize,
}

impl InputWatermarks {
    /// Tracking for `channels` inputs, none of which has reported yet.
    pub fn new(channels: usize) -> Self {
        Self::grouped(&ChannelGroups::new(channels, &[]))
    }

    /// Tracking for the channels of `groups`, group channels included.
    pub fn grouped(groups: &ChannelGroups) -> Self {
        InputWatermarks {
            channels: vec![i64::MIN; groups.total()],
            idle: vec![false; groups.total()],
            ended: 0,
            current: i64::MIN,
            grouped: (0..groups.real())
                .map(|channel| groups.group_of(channel).is_some())
                .collect(),
            groups: groups.total() - groups.real(),
        }
    }

    /// Takes over the watermarks of `saved` (a checkpoint's) where its channels match these:
    /// a checkpoint taken before the channels were grouped still restores every real
    /// channel, and the current watermark never goes back.
    pub fn restore(&mut self, saved: InputWatermarks) {
        for (slot, time) in self.channels.iter_mut().zip(&saved.channels) {
            *slot = *time;
        }
        for (slot, idle) in self.idle.iter_mut().zip(&saved.idle) {
            *slot = *idle;
        }
        let real = self.channels.len() - self.groups;
        self.ended = self.channels[..real]
            .iter()
            .filter(|time| **time == i64::MAX)
            .count();
        self.current = saved.current;
    }

    /// The current watermark: the minimum over all inputs.
    pub fn current(&self) -> i64 {
        self.current
    }

    /// Records a watermark on `channel`; returns the new combined watermark if it advanced.
    /// Watermarks never go back: a lower one than already seen on a channel is ignored.
    pub fn advance(&mut self, channel: usize, time: i64) -> Option<i64> {
        let was_idle = self
            .idle
            .get_mut(channel)
            .is_some_and(|idle| std::mem::replace(idle, false));
        let slot = self.channels.get_mut(channel)?;
        if time <= *slot {
            return None;
        }
        let before = std::mem::replace(slot, time);
        // The minimum moves only when this channel held it (or was left out as idle): on an
        // edge from hundreds of senders, most watermarks change nothing and cost no scan.
        if before > self.current && !was_idle {
            return None;
        }
        self.recompute()
    }

    /// Marks `channel` idle: its source has sent nothing for a while, so the other inputs'
    /// watermarks may advance without it. Returns the new combined watermark if it advanced.
    pub fn set_idle(&mut self, channel: usize) -> Option<i64> {
        let idle = self.idle.get_mut(channel)?;
        *idle = true;
        self.recompute()
    }

    /// Records the end of `channel`; returns the new combined watermark if it advanced.
    pub fn end(&mut self, channel: usize) -> Option<i64> {
        // A channel left out of the minimum (grouped or idle), or above it, cannot move it:
        // the ends of hundreds of senders on a wide edge cost no scan each.
        let left_out = !self.counts_in_minimum(channel);
        let slot = self.channels.get_mut(channel)?;
        let before = std::mem::replace(slot, i64::MAX);
        if before != i64::MAX {
            self.ended += 1;
        }
        if left_out || before > self.current {
            return None;
        }
        self.recompute()
    }

    /// True once input `channel` has ended.
    pub fn is_ended(&self, channel: usize) -> bool {
        self.channels.get(channel).is_some_and(|w| *w == i64::MAX)
    }

    /// True once every input has ended.
    pub fn all_ended(&self) -> bool {
        self.ended == self.channels.len() - self.groups
    }

    /// False for a channel left out of the minimum: idle, or grouped (its watermarks arrive
    /// on its group's channel).
    fn counts_in_minimum(&self, channel: usize) -> bool {
        !self.idle.get(channel).copied().unwrap_or(false)
            && !self.grouped.get(channel).copied().unwrap_or(false)
    }

    fn recompute(&mut self) -> Option<i64> {
        let active = self
            .channels
            .iter()
            .enumerate()
            .filter(|(channel, _)| self.counts_in_minimum(*channel))
            .map(|(_, watermark)| *watermark);
        // With every input idle nothing moves the watermark.
        let min = active.min()?;
        if min > self.current {
            self.current = min;
            Some(min)
        } else {
            None
        }
    }
}

/// Registered event-time timers of one operator instance, ordered by time then key.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimerQueue {
    timers: BTreeSet<(i64, Option<Vec<u8>>)>,
    /// What the timers cost the host; counted again after a restore.
    #[serde(skip)]
    bytes: u64,
}

/// Bytes a timer costs the host besides its key: the set slot and its share of the node.
const TIMER_OVERHEAD: u64 = 64;

/// Bytes a timer with `key` costs the host.
pub fn timer_bytes(key: Option<&[u8]>) -> u64 {
    crate::budget::allocation(key.map_or(0, <[u8]>::len)) + TIMER_OVERHEAD
}

impl TimerQueue {
    /// Registers a timer; a duplicate of an existing one is ignored.
    pub fn register(&mut self, key: Option<Vec<u8>>, time: i64) {
        let bytes = timer_bytes(key.as_deref());
        if self.timers.insert((time, key)) {
            self.bytes += bytes;
        }
    }

    /// Bytes the timers cost the host.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of pending timers.
    pub fn count(&self) -> usize {
        self.timers.len()
    }

    /// Counts the bytes again (after the timers were restored from a checkpoint).
    pub fn recount(&mut self) {
        self.bytes = self
            .timers
            .iter()
            .map(|(_, key)| timer_bytes(key.as_deref()))
            .sum();
    }

    /// Removes and returns every timer due at `watermark`, earliest first.
    pub fn due(&mut self, watermark: i64) -> Vec<(i64, Option<Vec<u8>>)> {
        let mut due = Vec::new();
        while let Some(first) = self.timers.first() {
            if first.0 > watermark {
                break;
            }
            if let Some(timer) = self.timers.pop_first() {
                self.bytes = self.bytes.saturating_sub(timer_bytes(timer.1.as_deref()));
                due.push(timer);
            }
        }
        due
    }

    /// The time of the earliest pending timer.
    pub fn earliest(&self) -> Option<i64> {
        self.timers.first().map(|(time, _)| *time)
    }

    #[cfg(test)]
    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    #[cfg(test)]
    /// True when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_is_the_minimum_over_inputs() {
        let mut wm = InputWatermarks::new(2);
        assert_eq!(wm.advance(0, 100), None, "input 1 has not reported");
        assert_eq!(wm.advance(1, 50), Some(50));
        assert_eq!(wm.advance(1, 40), None, "watermarks never go back");
        assert_eq!(wm.advance(1, 150), Some(100));
        assert_eq!(wm.end(0), Some(150));
        assert!(!wm.all_ended());
        assert_eq!(wm.end(1), Some(i64::MAX));
        assert!(wm.all_ended());
    }

    #[test]
    fn an_idle_input_does_not_hold_the_watermark_back() {
        let mut wm = InputWatermarks::new(2);
        assert_eq!(wm.advance(0, 100), None);
        assert_eq!(wm.set_idle(1), Some(100));
        assert_eq!(wm.advance(0, 200), Some(200));
        // Input 1 is back: it holds the watermark again from where it is.
        assert_eq!(wm.advance(1, 150), None);
        assert_eq!(wm.current(), 200, "watermarks never go back");
        assert_eq!(wm.advance(0, 300), None);
        assert_eq!(wm.advance(1, 250), Some(250));
    }

    #[test]
    fn grouped_channels_count_through_their_group_channel_and_end_one_by_one() {
        // Channel 0 alone; channels 1 and 2 combined on channel 3.
        let mut wm =
            InputWatermarks::grouped(&ChannelGroups::new(3, std::slice::from_ref(&(1..3))));
        assert_eq!(wm.advance(0, 100), None, "the group has not reported");
        assert_eq!(wm.advance(3, 50), Some(50));
        assert_eq!(wm.end(1), None, "a grouped channel's end moves nothing");
        assert_eq!(wm.end(0), None);
        assert!(!wm.all_ended(), "channel 2 is still open");
        assert_eq!(wm.advance(3, i64::MAX), Some(i64::MAX));
        assert!(!wm.all_ended());
        assert_eq!(wm.end(2), None);
        assert!(wm.all_ended(), "group channels never end themselves");
    }

    #[test]
    fn a_checkpoint_of_ungrouped_channels_restores_into_grouped_ones() {
        let mut saved = InputWatermarks::new(2);
        saved.advance(0, 70);
        saved.advance(1, 80);
        saved.end(1);
        let mut wm =
            InputWatermarks::grouped(&ChannelGroups::new(2, std::slice::from_ref(&(0..2))));
        wm.restore(saved);
        assert_eq!(wm.current(), 70, "the current watermark is kept");
        assert!(wm.is_ended(1));
        assert_eq!(wm.advance(2, 60), None, "and never goes back");
        assert_eq!(wm.advance(2, 90), Some(90));
        assert_eq!(wm.end(0), None);
        assert!(wm.all_ended());
    }

    #[test]
    fn due_timers_come_out_in_time_order_once() {
        let mut timers = TimerQueue::default();
        timers.register(Some(b"b".to_vec()), 20);
        timers.register(Some(b"a".to_vec()), 10);
        timers.register(Some(b"a".to_vec()), 10);
        timers.register(None, 30);
        assert_eq!(
            timers.due(20),
            vec![(10, Some(b"a".to_vec())), (20, Some(b"b".to_vec()))]
        );
        assert_eq!(timers.due(20), vec![]);
        assert_eq!(timers.len(), 1);
    }
}
