//! Host-managed event-time windows: assigning events to panes (one key, one window),
//! merging session windows, and choosing which panes fire or expire as the watermark moves.
//!
//! This module is pure bookkeeping; the guest's `windowed` exports fold events into pane
//! accumulators and turn fired panes into output. [`resident`] keeps the books while a guest
//! keeps the accumulators between batches.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize, Serializer};

use crate::bindings::{Event, Window};
use crate::hashing::FastMap;
use resident::Unfolded;

/// The kinds of window a job spec can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Fixed-size, non-overlapping windows aligned to the epoch.
    Tumbling,
    /// Fixed-size windows starting every `slide`; an event belongs to several.
    Sliding,
    /// Per-key activity windows closed by a gap without events.
    Session,
}

/// A validated window definition (all times in ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDef {
    /// The kind.
    pub kind: WindowKind,
    /// Window length (tumbling, sliding).
    pub size: i64,
    /// Distance between window starts (sliding; equals `size` for tumbling).
    pub slide: i64,
    /// Inactivity gap that closes a session.
    pub gap: i64,
    /// How long after a window's end late events still update it (and fire it again).
    pub allowed_lateness: i64,
}

/// Identifies a pane: the key and the window `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PaneKey {
    /// The events' key.
    pub key: Option<Vec<u8>>,
    /// The window's first instant.
    pub start: i64,
    /// The window's end (exclusive).
    pub end: i64,
}

impl PaneKey {
    /// The pane of `key` in the window `[start, end)`.
    pub fn new(key: Option<Vec<u8>>, start: i64, end: i64) -> Self {
        PaneKey { key, start, end }
    }

    /// The pane's window, as the guest sees it.
    pub fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.end,
        }
    }
}

/// One pane's accumulator and whether it has fired.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaneState {
    /// The guest's accumulator.
    pub acc: Vec<u8>,
    /// True once the watermark passed the window's end and the pane fired.
    pub fired: bool,
    /// True while the pane has no accumulator of its own yet: its events so far were folded
    /// only into an accumulator the guest keeps (see [`resident`]), and
    /// `acc` is to be read as none.
    pub blank: bool,
    /// The pane's handle in the guest, and the epoch it belongs to.
    #[serde(skip)]
    pub(crate) handle: Option<(u64, u32)>,
}

impl PartialEq for PaneState {
    fn eq(&self, other: &Self) -> bool {
        self.acc == other.acc && self.fired == other.fired && self.blank == other.blank
    }
}

impl Eq for PaneState {}

impl PaneState {
    /// The accumulator, none before the pane's first event was folded into one the host holds.
    pub fn acc(&self) -> Option<&[u8]> {
        (!self.blank).then_some(self.acc.as_slice())
    }
}

/// Per key, the windows `(start, end)` of its held panes.
type WindowsByKey = FastMap<Option<Vec<u8>>, BTreeSet<(i64, i64)>>;

/// All panes of one operator instance.
///
/// Panes are found by hash (once per pane a batch touches), and indexed by window end so that
/// firing and expiry visit only the windows the watermark has passed, never every pane.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowState {
    /// Written sorted, so a checkpoint of the same panes is the same bytes.
    #[serde(serialize_with = "sorted_panes")]
    panes: FastMap<PaneKey, PaneState>,
    /// Per key, the end of the latest session that fired and was dropped: an event that would
    /// have joined it is late, not the start of a new session overlapping the one already
    /// reported. Dropped once no on-time event can reach it.
    purged: BTreeMap<Option<Vec<u8>>, i64>,
    /// What the panes cost the host (see [`pane_bytes`]); counted again after a restore.
    #[serde(skip)]
    bytes: u64,
    /// The held panes by window end; rebuilt after a restore.
    #[serde(skip)]
    ends: BTreeMap<i64, Vec<PaneKey>>,
    /// Per key, the windows held, which session windows look up to merge; built on first
    /// use (tumbling and sliding windows never need it).
    #[serde(skip)]
    by_key: Option<WindowsByKey>,
    /// Batches folded into accumulators the guest keeps, not yet collected.
    unfolded: Unfolded,
}

impl PartialEq for WindowState {
    fn eq(&self, other: &Self) -> bool {
        self.panes == other.panes && self.purged == other.purged && self.unfolded == other.unfolded
    }
}

impl Eq for WindowState {}

fn sorted_panes<S: Serializer>(
    panes: &FastMap<PaneKey, PaneState>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut sorted: Vec<(&PaneKey, &PaneState)> = panes.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(sorted)
}

/// Bytes a pane costs the host besides its key and accumulator: the hash map slot (key,
/// window, accumulator and flag) at the map's load factor, and its entry in the index by end.
const PANE_OVERHEAD: u64 = 160;

/// Bytes the record of a dropped session of `key` costs the host.
fn purged_bytes(key: Option<&[u8]>) -> u64 {
    crate::budget::allocation(key.map_or(0, <[u8]>::len)) + 64
}

/// Bytes one pane of `key` with accumulator `acc` costs the host: the key is held twice (the
/// pane and the index by end; sessions a third time, in the index by key).
pub fn pane_bytes(key: Option<&[u8]>, acc: &[u8]) -> u64 {
    3 * crate::budget::allocation(key.map_or(0, <[u8]>::len))
        + crate::budget::allocation(acc.len())
        + PANE_OVERHEAD
}

/// A pane the guest folds events into, with where its accumulator comes from: the pane
/// itself if it is held, merged first with the panes it absorbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPane {
    /// The pane (key and window) after the batch.
    pub pane: PaneKey,
    /// Other held panes this one replaces: session windows that the batch merges into it
    /// (their accumulators are merged first, in window order). Empty for tumbling and
    /// sliding windows.
    pub absorbs: Vec<PaneKey>,
}

/// Why an event of a batch is late, and for which of its windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateEvent {
    /// Its position in the batch.
    pub position: usize,
    /// The windows it missed, `(start, end)`: all of its windows, or (sliding windows) those
    /// that had closed while the event was added to the others.
    pub missed: Vec<(i64, i64)>,
    /// Why.
    pub why: Lateness,
}

/// What made an event late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lateness {
    /// Its windows' ends passed the watermark by more than the allowed lateness.
    Expired,
    /// It would have joined a session that already fired and was dropped.
    PurgedSession,
    /// Its event time is past the last window the host can represent.
    NoWindow,
}

/// An on-time event of a session batch: its position in the batch and its own window.
#[derive(Debug, Clone, Copy)]
struct SessionEvent {
    position: usize,
    start: i64,
    end: i64,
}

/// A session after merging: its window, the held sessions it absorbs, and the positions of
/// the batch's events that fall in it.
struct MergedSession {
    start: i64,
    end: i64,
    absorbs: Vec<PaneKey>,
    positions: Vec<usize>,
}

/// How to apply one batch to the window state.
#[derive(Debug, Default)]
pub struct BatchPlan {
    /// Panes touched by the batch.
    pub panes: Vec<PlannedPane>,
    /// Each on-time event with the index of its pane (once per window it belongs to).
    pub assignments: Vec<(u32, usize)>,
    /// Events too late for some or all of the windows they belong to.
    pub late: Vec<LateEvent>,
}

impl WindowDef {
    /// The last instant of a window that ends at `end` (exclusive).
    fn max_timestamp(end: i64) -> i64 {
        end.saturating_sub(1)
    }

    /// True when a window ending at `end` no longer accepts events at watermark `watermark`.
    pub fn is_expired(&self, end: i64, watermark: i64) -> bool {
        Self::max_timestamp(end).saturating_add(self.allowed_lateness) <= watermark
            && watermark != i64::MIN
    }

    /// True when a watermark advancing from `from` to `to` passes the last instant of some
    /// window, so that windows may fire; `None` for sessions, whose ends depend on the data.
    pub fn closes_between(&self, from: i64, to: i64) -> Option<bool> {
        match self.kind {
            WindowKind::Session => None,
            WindowKind::Tumbling | WindowKind::Sliding => {
                // Windows end at k * slide + size: their last instants are one before.
                let slide = self.slide.max(1);
                let last = self.size.saturating_sub(1);
                let closed_by = |watermark: i64| watermark.saturating_sub(last).div_euclid(slide);
                Some(to > from && closed_by(to) > closed_by(from))
            }
        }
    }

    /// The windows (start, end) of a tumbling or sliding definition containing time `t`.
    pub fn assign(&self, t: i64) -> Vec<(i64, i64)> {
        let mut windows = Vec::new();
        self.assign_into(t, &mut windows);
        windows
    }

    /// The end of the earliest window containing `t` (the first that [`WindowDef::assign`]
    /// lists), without listing them.
    pub fn first_end(&self, t: i64) -> Option<i64> {
        match self.kind {
            WindowKind::Session => Some(t.saturating_add(self.gap)),
            WindowKind::Tumbling | WindowKind::Sliding => self
                .starts_containing(t)
                .last()
                .map(|start| start.saturating_add(self.size)),
        }
    }

    /// The starts of the tumbling or sliding windows containing `t`, latest first.
    fn starts_containing(&self, t: i64) -> impl Iterator<Item = i64> + '_ {
        let slide = self.slide.max(1);
        let last_start = t.div_euclid(slide).saturating_mul(slide);
        std::iter::successors(Some(last_start), move |start| start.checked_sub(slide))
            .take_while(move |start| start.saturating_add(self.size) > t)
    }

    /// [`WindowDef::assign`] into `windows` (cleared first), so that a batch reuses one
    /// buffer instead of allocating per event.
    pub fn assign_into(&self, t: i64, windows: &mut Vec<(i64, i64)>) {
        windows.clear();
        match self.kind {
            WindowKind::Session => windows.push((t, t.saturating_add(self.gap))),
            WindowKind::Tumbling | WindowKind::Sliding => {
                windows.extend(
                    self.starts_containing(t)
                        .map(|start| (start, start.saturating_add(self.size))),
                );
                windows.reverse();
            }
        }
    }
}

impl WindowState {
    /// Number of panes held.
    pub fn len(&self) -> usize {
        self.panes.len()
    }

    /// True when no pane is held.
    pub fn is_empty(&self) -> bool {
        self.panes.is_empty()
    }

    /// The pane state of `key`, if held.
    pub fn get(&self, key: &PaneKey) -> Option<&PaneState> {
        self.panes.get(key)
    }

    /// Bytes the panes cost the host.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts the bytes again and rebuilds the indexes (after the panes were restored from a
    /// checkpoint).
    pub fn recount(&mut self) {
        self.ends.clear();
        for key in self.panes.keys() {
            self.ends.entry(key.end).or_default().push(key.clone());
        }
        self.by_key = None;
        self.bytes = self
            .panes
            .iter()
            .map(|(key, pane)| pane_bytes(key.key.as_deref(), &pane.acc))
            .sum::<u64>()
            + self
                .purged
                .keys()
                .map(|key| purged_bytes(key.as_deref()))
                .sum::<u64>()
            + self.unfolded.bytes();
    }

    /// Bytes the panes would cost after `pane` replaced what it absorbs with `acc`, less what
    /// they cost now (negative when they shrink).
    pub fn growth(&self, pane: &PlannedPane, acc: &[u8]) -> i64 {
        let freed: u64 = std::iter::once(&pane.pane)
            .chain(&pane.absorbs)
            .filter_map(|key| {
                self.panes
                    .get(key)
                    .map(|old| pane_bytes(key.key.as_deref(), &old.acc))
            })
            .sum();
        pane_bytes(pane.pane.key.as_deref(), acc) as i64 - freed as i64
    }

    fn remove(&mut self, key: &PaneKey) -> Option<PaneState> {
        let old = self.panes.remove(key)?;
        self.bytes = self
            .bytes
            .saturating_sub(pane_bytes(key.key.as_deref(), &old.acc));
        if let Some(bucket) = self.ends.get_mut(&key.end) {
            if let Some(at) = bucket.iter().position(|held| held == key) {
                bucket.swap_remove(at);
            }
            if bucket.is_empty() {
                self.ends.remove(&key.end);
            }
        }
        self.unindex_key(key);
        Some(old)
    }

    /// Adds a new pane to the indexes.
    fn index(&mut self, key: &PaneKey) {
        self.ends.entry(key.end).or_default().push(key.clone());
        if let Some(by_key) = &mut self.by_key {
            by_key
                .entry(key.key.clone())
                .or_default()
                .insert((key.start, key.end));
        }
    }

    /// Drops a pane from the index by key.
    fn unindex_key(&mut self, key: &PaneKey) {
        if let Some(by_key) = &mut self.by_key
            && let Some(windows) = by_key.get_mut(&key.key)
        {
            windows.remove(&(key.start, key.end));
            if windows.is_empty() {
                by_key.remove(&key.key);
            }
        }
    }

    /// The index of held windows by key, built on first use.
    fn by_key(&mut self) -> &WindowsByKey {
        self.by_key.get_or_insert_with(|| {
            let mut by_key = WindowsByKey::default();
            for key in self.panes.keys() {
                by_key
                    .entry(key.key.clone())
                    .or_default()
                    .insert((key.start, key.end));
            }
            by_key
        })
    }

    /// Plans how `events` go into panes at watermark `watermark`.
    pub fn plan(&mut self, def: &WindowDef, events: &[Event], watermark: i64) -> BatchPlan {
        match def.kind {
            WindowKind::Session => self.plan_sessions(def, events, watermark),
            WindowKind::Tumbling | WindowKind::Sliding => self.plan_fixed(def, events, watermark),
        }
    }

    fn plan_fixed(&self, def: &WindowDef, events: &[Event], watermark: i64) -> BatchPlan {
        let mut plan = BatchPlan::default();
        // The batch's panes by (key, start, end), borrowing the events' keys.
        let mut index: FastMap<(Option<&[u8]>, i64, i64), usize> =
            FastMap::with_capacity_and_hasher(events.len(), Default::default());
        let mut windows = Vec::new();
        for (position, event) in events.iter().enumerate() {
            def.assign_into(event.event_time, &mut windows);
            if windows.is_empty() {
                plan.late.push(LateEvent {
                    position,
                    missed: Vec::new(),
                    why: Lateness::NoWindow,
                });
                continue;
            }
            let mut missed = Vec::new();
            for &(start, end) in &windows {
                if def.is_expired(end, watermark) {
                    missed.push((start, end));
                    continue;
                }
                let pane = *index
                    .entry((event.key.as_deref(), start, end))
                    .or_insert_with(|| {
                        plan.panes.push(PlannedPane {
                            pane: PaneKey::new(event.key.clone(), start, end),
                            absorbs: Vec::new(),
                        });
                        plan.panes.len() - 1
                    });
                plan.assignments.push((pane as u32, position));
            }
            // Late for some of its windows (sliding) or all: the windows it missed are
            // reported, never silently dropped.
            if !missed.is_empty() {
                plan.late.push(LateEvent {
                    position,
                    missed,
                    why: Lateness::Expired,
                });
            }
        }
        plan
    }

    fn plan_sessions(&mut self, def: &WindowDef, events: &[Event], watermark: i64) -> BatchPlan {
        let mut plan = BatchPlan::default();
        // Per key: the on-time events' own windows.
        let mut by_key: BTreeMap<Option<Vec<u8>>, Vec<SessionEvent>> = BTreeMap::new();
        for (position, event) in events.iter().enumerate() {
            let end = event.event_time.saturating_add(def.gap);
            let purged = self
                .purged
                .get(&event.key)
                .is_some_and(|purged_end| event.event_time < *purged_end);
            if def.is_expired(end, watermark) || purged {
                plan.late.push(LateEvent {
                    position,
                    missed: vec![(event.event_time, end)],
                    why: if purged {
                        Lateness::PurgedSession
                    } else {
                        Lateness::Expired
                    },
                });
            } else {
                by_key
                    .entry(event.key.clone())
                    .or_default()
                    .push(SessionEvent {
                        position,
                        start: event.event_time,
                        end,
                    });
            }
        }
        for (key, mut fresh) in by_key {
            // Intervals to merge: existing sessions of the key, then the events' windows.
            // (start, end, the batch position of a fresh event; none for a held session)
            let mut intervals: Vec<(i64, i64, Option<usize>)> = self
                .by_key()
                .get(&key)
                .into_iter()
                .flatten()
                .map(|(start, end)| (*start, *end, None))
                .collect();
            fresh.sort_by_key(|event| (event.start, event.position));
            intervals.extend(
                fresh
                    .iter()
                    .map(|event| (event.start, event.end, Some(event.position))),
            );
            intervals.sort_by_key(|(start, end, position)| (*start, *end, position.is_some()));
            let mut merged: Vec<MergedSession> = Vec::new();
            for (start, end, position) in intervals {
                let extend = merged.last().is_some_and(|last| start < last.end);
                if !extend {
                    merged.push(MergedSession {
                        start,
                        end,
                        absorbs: Vec::new(),
                        positions: Vec::new(),
                    });
                }
                if let Some(last) = merged.last_mut() {
                    last.end = last.end.max(end);
                    match position {
                        Some(position) => last.positions.push(position),
                        None => last.absorbs.push(PaneKey::new(key.clone(), start, end)),
                    }
                }
            }
            for MergedSession {
                start,
                end,
                absorbs,
                mut positions,
            } in merged
            {
                if positions.is_empty() {
                    continue; // an existing session the batch does not touch
                }
                positions.sort_unstable();
                let pane = PaneKey::new(key.clone(), start, end);
                // The session itself, if held, is replaced anyway: `absorbs` lists the others.
                let absorbs = absorbs.into_iter().filter(|held| *held != pane).collect();
                plan.panes.push(PlannedPane { pane, absorbs });
                let pane = (plan.panes.len() - 1) as u32;
                plan.assignments
                    .extend(positions.into_iter().map(|p| (pane, p)));
            }
        }
        plan.assignments.sort_by_key(|(_, position)| *position);
        plan.late.sort_by_key(|late| late.position);
        plan
    }

    /// Replaces the panes a planned pane absorbs with the planned pane and its new
    /// accumulator; returns true when the pane had fired before (so it fires again).
    pub fn apply(&mut self, pane: &PlannedPane, acc: &[u8]) -> bool {
        let mut fired = false;
        for absorbed in &pane.absorbs {
            if let Some(old) = self.remove(absorbed) {
                fired |= old.fired;
            }
        }
        let key = pane.pane.key.as_deref();
        let added = pane_bytes(key, acc);
        if let Some(held) = self.panes.get_mut(&pane.pane) {
            fired |= held.fired;
            let freed = pane_bytes(key, &held.acc);
            // Written over in place: the pane keeps its allocation from batch to batch.
            held.acc.clear();
            held.acc.extend_from_slice(acc);
            held.fired = fired;
            held.blank = false;
            self.bytes = (self.bytes + added).saturating_sub(freed);
        } else {
            self.bytes += added;
            self.panes.insert(
                pane.pane.clone(),
                PaneState {
                    acc: acc.to_vec(),
                    fired,
                    blank: false,
                    handle: None,
                },
            );
            self.index(&pane.pane);
        }
        fired
    }

    /// Panes that are due to fire at `watermark`, earliest end first.
    pub fn due(&self, watermark: i64) -> Vec<PaneKey> {
        let mut due = Vec::new();
        // A window ending at `end` is due once its last instant, end - 1, is at or behind the
        // watermark.
        for bucket in self
            .ends
            .range(..=watermark.saturating_add(1))
            .map(|(_, b)| b)
        {
            let first = due.len();
            due.extend(
                bucket
                    .iter()
                    .filter(|key| self.panes.get(*key).is_some_and(|pane| !pane.fired))
                    .cloned(),
            );
            due[first..].sort_unstable();
        }
        due
    }

    /// Marks a pane as fired.
    pub fn mark_fired(&mut self, key: &PaneKey) {
        if let Some(pane) = self.panes.get_mut(key) {
            pane.fired = true;
        }
    }

    /// Drops fired panes that can no longer change at `watermark`; returns how many.
    pub fn expire(&mut self, def: &WindowDef, watermark: i64) -> usize {
        let before = self.panes.len();
        let mut freed = 0;
        let mut purged = Vec::new();
        // Whether a window has expired depends on its end alone, and later ends expire later.
        let expired: Vec<i64> = self
            .ends
            .keys()
            .take_while(|end| def.is_expired(**end, watermark))
            .copied()
            .collect();
        for end in expired {
            let Some(bucket) = self.ends.remove(&end) else {
                continue;
            };
            let mut kept = Vec::new();
            for key in bucket {
                match self.panes.get(&key) {
                    Some(pane) if pane.fired => {
                        freed += pane_bytes(key.key.as_deref(), &pane.acc);
                        self.panes.remove(&key);
                        self.unindex_key(&key);
                        if def.kind == WindowKind::Session {
                            purged.push((key.key, key.end));
                        }
                    }
                    Some(_) => kept.push(key),
                    None => {}
                }
            }
            if !kept.is_empty() {
                self.ends.insert(end, kept);
            }
        }
        for (key, end) in purged {
            let bytes = purged_bytes(key.as_deref());
            let latest = self.purged.entry(key).or_insert(i64::MIN);
            if *latest == i64::MIN {
                self.bytes += bytes;
            }
            *latest = (*latest).max(end);
        }
        // A dropped session matters while an on-time event could still fall in it: an event
        // at t is on time while t + gap - 1 + lateness > watermark.
        let reach = def
            .gap
            .saturating_add(def.allowed_lateness)
            .saturating_sub(1);
        self.purged.retain(|key, end| {
            let keep = end.saturating_add(reach) > watermark;
            if !keep {
                freed += purged_bytes(key.as_deref());
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        before - self.panes.len()
    }
}

pub mod resident;
#[cfg(test)]
mod tests;
