//! Keyed interval joins, host-managed: both inputs are buffered per key, every new event is
//! paired with the other side's buffered events of the same key whose event times are within
//! the bound, and buffers are trimmed as the watermark moves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bindings::{Event, Header};

/// Which input of a join an event came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// The first input in the job spec's `inputs`.
    Left,
    /// The second input.
    Right,
}

/// A validated join definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinDef {
    /// Largest difference of event times (ms) for two events to pair.
    pub within: i64,
}

/// An event as the host keeps it in a join buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    event_time: i64,
    headers: Vec<(String, Vec<u8>)>,
}

impl From<&Event> for StoredEvent {
    fn from(event: &Event) -> Self {
        StoredEvent {
            key: event.key.clone(),
            value: event.value.clone(),
            event_time: event.event_time,
            headers: event
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    }
}

impl From<&StoredEvent> for Event {
    fn from(stored: &StoredEvent) -> Self {
        Event {
            key: stored.key.clone(),
            value: stored.value.clone(),
            event_time: stored.event_time,
            headers: stored
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

/// Buffer position: key, event time, arrival number (so equal times keep arrival order).
type Slot = (Option<Vec<u8>>, i64, u64);

/// Both buffers of one join instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinState {
    left: BTreeMap<Slot, StoredEvent>,
    right: BTreeMap<Slot, StoredEvent>,
    next: u64,
    /// What the buffers cost the host; counted again after a restore.
    #[serde(skip)]
    bytes: u64,
}

/// Bytes a buffered event costs the host besides its allocations: the map slot and its share
/// of the B-tree node.
const SLOT_OVERHEAD: u64 = 160;

impl StoredEvent {
    /// Bytes this event costs the host in a buffer.
    fn bytes(&self) -> u64 {
        use crate::budget::allocation;
        // The key is held twice: in the slot and in the event.
        2 * allocation(self.key.as_ref().map_or(0, Vec::len))
            + allocation(self.value.len())
            + allocation(self.headers.len() * 48)
            + self
                .headers
                .iter()
                .map(|(name, value)| allocation(name.len()) + allocation(value.len()))
                .sum::<u64>()
            + SLOT_OVERHEAD
    }
}

/// What one batch does to a join: the pairs for the guest and the buffer additions to commit
/// when the call succeeds.
#[derive(Debug, Default)]
pub struct JoinPlan {
    /// (left, right) pairs in the order they formed.
    pub pairs: Vec<(Event, Event)>,
    inserts: Vec<(Side, Slot, StoredEvent)>,
    next: u64,
}

impl JoinPlan {
    /// Bytes its buffer additions will cost the host.
    pub fn bytes(&self) -> u64 {
        self.inserts
            .iter()
            .map(|(_, _, stored)| stored.bytes())
            .sum()
    }
}

impl JoinState {
    /// Events buffered on both sides.
    pub fn len(&self) -> usize {
        self.left.len() + self.right.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the buffers cost the host.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts the bytes again (after the buffers were restored from a checkpoint).
    pub fn recount(&mut self) {
        self.bytes = self
            .left
            .values()
            .chain(self.right.values())
            .map(StoredEvent::bytes)
            .sum();
    }

    fn side(&self, side: Side) -> &BTreeMap<Slot, StoredEvent> {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// Pairs each event of the batch, in order, with the other side's matches (buffered, or
    /// earlier in the same batch).
    pub fn plan(&self, def: &JoinDef, events: &[(&Event, Side)]) -> JoinPlan {
        let mut plan = JoinPlan {
            next: self.next,
            ..JoinPlan::default()
        };
        for (event, side) in events {
            let other = match side {
                Side::Left => Side::Right,
                Side::Right => Side::Left,
            };
            let low = (
                event.key.clone(),
                event.event_time.saturating_sub(def.within),
                0,
            );
            let high = (
                event.key.clone(),
                event.event_time.saturating_add(def.within),
                u64::MAX,
            );
            let earlier_in_batch = plan
                .inserts
                .iter()
                .filter(|(s, slot, _)| *s == other && *slot >= low && *slot <= high)
                .map(|(_, _, stored)| stored);
            let matches: Vec<Event> = self
                .side(other)
                .range(low.clone()..=high.clone())
                .map(|(_, stored)| stored)
                .chain(earlier_in_batch)
                .map(Event::from)
                .collect();
            for matched in matches {
                plan.pairs.push(match side {
                    Side::Left => ((*event).clone(), matched),
                    Side::Right => (matched, (*event).clone()),
                });
            }
            let slot = (event.key.clone(), event.event_time, plan.next);
            plan.next += 1;
            plan.inserts.push((*side, slot, StoredEvent::from(*event)));
        }
        plan
    }

    /// Commits a plan's buffer additions.
    pub fn apply(&mut self, plan: JoinPlan) {
        self.bytes += plan.bytes();
        for (side, slot, stored) in plan.inserts {
            match side {
                Side::Left => self.left.insert(slot, stored),
                Side::Right => self.right.insert(slot, stored),
            };
        }
        self.next = self.next.max(plan.next);
    }

    /// Drops buffered events no future on-time event can pair with at `watermark`.
    pub fn expire(&mut self, def: &JoinDef, watermark: i64) {
        let horizon = watermark.saturating_sub(def.within);
        let mut freed = 0;
        let mut keep = |(_, time, _): &Slot, stored: &mut StoredEvent| {
            let keep = *time >= horizon;
            if !keep {
                freed += stored.bytes();
            }
            keep
        };
        self.left.retain(&mut keep);
        self.right.retain(&mut keep);
        self.bytes = self.bytes.saturating_sub(freed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, t: i64, value: &str) -> Event {
        Event {
            key: Some(key.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
            event_time: t,
            headers: Vec::new(),
        }
    }

    fn names(plan: &JoinPlan) -> Vec<(String, String)> {
        plan.pairs
            .iter()
            .map(|(l, r)| {
                (
                    String::from_utf8(l.value.clone()).unwrap(),
                    String::from_utf8(r.value.clone()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn events_pair_with_the_other_side_within_the_bound_and_the_same_key() {
        let def = JoinDef { within: 10 };
        let mut state = JoinState::default();
        let (l1, r_far, r_other_key) = (
            event("a", 100, "l1"),
            event("a", 111, "far"),
            event("b", 100, "b"),
        );
        let plan = state.plan(
            &def,
            &[
                (&l1, Side::Left),
                (&r_far, Side::Right),
                (&r_other_key, Side::Right),
            ],
        );
        assert!(plan.pairs.is_empty());
        state.apply(plan);
        let r_near = event("a", 95, "near");
        let l2 = event("a", 105, "l2");
        let plan = state.plan(&def, &[(&r_near, Side::Right), (&l2, Side::Left)]);
        // r_near pairs with l1; l2 pairs with the buffered far one and the batch's near one.
        assert_eq!(
            names(&plan),
            [("l1", "near"), ("l2", "far"), ("l2", "near")].map(|(a, b)| (a.into(), b.into()))
        );
    }

    #[test]
    fn the_watermark_trims_what_can_no_longer_pair() {
        let def = JoinDef { within: 10 };
        let mut state = JoinState::default();
        let plan = state.plan(
            &def,
            &[
                (&event("a", 100, "x"), Side::Left),
                (&event("a", 200, "y"), Side::Right),
            ],
        );
        state.apply(plan);
        state.expire(&def, 150);
        assert_eq!(state.len(), 1);
    }
}
