//! What the host keeps while a guest keeps pane accumulators between batches (the contract's
//! 0.2.0 `resident` export, `wit/0.2.0/resident.wit`).
//!
//! Within an epoch the guest holds an accumulator for each pane it was given a handle for;
//! the host holds the handles and a log of every batch folded since the epoch began. The true
//! state is always the held panes with the logged batches folded in: collecting the guest's
//! accumulators, or folding the log again on the host's side when the guest's copy is lost,
//! both end the epoch with nothing logged. The log goes into checkpoints, so a restore needs
//! no guest.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{PaneKey, PaneState, WindowState, pane_bytes};

/// A new epoch number, never given out before in this process: a guest that kept
/// accumulators for another copy of the panes (before a restore, say) cannot be mistaken
/// for one that keeps them for these.
fn fresh_epoch() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Batches folded into accumulators the guest keeps, and the handles of the current epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unfolded {
    /// The batches, each as its watermark (`i64`) then its events in the packed layout
    /// (`u32` count first).
    log: Vec<u8>,
    /// The current epoch.
    #[serde(skip, default = "fresh_epoch")]
    epoch: u64,
    /// The panes the guest holds in this epoch, by handle.
    #[serde(skip)]
    handles: Vec<PaneKey>,
    /// Fuel the logged folds burned: about what folding them again costs.
    fuel: u64,
    /// Batches in the log.
    batches: u32,
    /// Set once a guest trapped keeping accumulators (most likely it ran out of memory or
    /// budget holding them): the panes' accumulators cross every batch from then on.
    #[serde(skip)]
    stopped: bool,
}

impl Default for Unfolded {
    fn default() -> Self {
        Unfolded {
            log: Vec::new(),
            epoch: fresh_epoch(),
            handles: Vec::new(),
            fuel: 0,
            batches: 0,
            stopped: false,
        }
    }
}

impl PartialEq for Unfolded {
    fn eq(&self, other: &Self) -> bool {
        self.log == other.log
    }
}

impl Eq for Unfolded {}

impl Unfolded {
    /// Bytes the log costs the host.
    pub fn bytes(&self) -> u64 {
        crate::budget::allocation(self.log.len())
    }
}

/// Panes given handles by a fold, and the batch's log entry: applied once the fold succeeded.
#[derive(Debug, Default)]
pub struct Folded {
    /// The epoch the fold belongs to.
    pub epoch: u64,
    /// Panes given a handle by the batch, in handle order.
    pub new_panes: Vec<PaneKey>,
    /// The batch's log entry.
    pub entry: Vec<u8>,
    /// Fuel the fold burned.
    pub fuel: u64,
}

impl WindowState {
    /// The current epoch of the accumulators a guest keeps.
    pub fn epoch(&self) -> u64 {
        self.unfolded.epoch
    }

    /// Bytes of batches folded in the guest and not collected yet (0 when none).
    pub fn unfolded_len(&self) -> usize {
        self.unfolded.log.len()
    }

    /// True unless a guest trapped keeping accumulators.
    pub fn keeps_in_guest(&self) -> bool {
        !self.unfolded.stopped
    }

    /// Stops keeping accumulators in the guest (it trapped doing so).
    pub fn stop_keeping_in_guest(&mut self) {
        self.unfolded.stopped = true;
    }

    /// Batches logged since the last collect.
    pub fn unfolded_batches(&self) -> u32 {
        self.unfolded.batches
    }

    /// Fuel the logged folds burned.
    pub fn unfolded_fuel(&self) -> u64 {
        self.unfolded.fuel
    }

    /// The handle of pane `key` in the current epoch, if the guest holds its accumulator.
    pub fn handle(&self, key: &PaneKey) -> Option<u32> {
        let epoch = self.unfolded.epoch;
        self.panes
            .get(key)
            .and_then(|pane| pane.handle)
            .and_then(|(of, handle)| (of == epoch).then_some(handle))
    }

    /// The handle the next pane new to the epoch gets.
    pub fn next_handle(&self) -> u32 {
        self.unfolded.handles.len() as u32
    }

    /// Bytes applying `folded` would add.
    pub fn fold_growth(&self, folded: &Folded) -> u64 {
        let panes: u64 = folded
            .new_panes
            .iter()
            .filter(|key| !self.panes.contains_key(key))
            .map(|key| pane_bytes(key.key.as_deref(), &[]))
            .sum();
        panes + folded.entry.len() as u64
    }

    /// Records a fold that succeeded: the panes it gave handles (held blank when new) and its
    /// log entry. A fold of another epoch (one that ended meanwhile) is not recorded.
    pub fn folded(&mut self, folded: Folded) {
        if folded.epoch != self.unfolded.epoch {
            return;
        }
        for key in folded.new_panes {
            let handle = (self.unfolded.epoch, self.unfolded.handles.len() as u32);
            match self.panes.get_mut(&key) {
                Some(pane) => pane.handle = Some(handle),
                None => {
                    self.bytes += pane_bytes(key.key.as_deref(), &[]);
                    self.panes.insert(
                        key.clone(),
                        PaneState {
                            acc: Vec::new(),
                            fired: false,
                            blank: true,
                            handle: Some(handle),
                        },
                    );
                    self.index(&key);
                }
            }
            self.unfolded.handles.push(key);
        }
        let before = self.unfolded.bytes();
        self.unfolded.fuel = self.unfolded.fuel.saturating_add(folded.fuel);
        self.unfolded.batches = self.unfolded.batches.saturating_add(1);
        self.unfolded.log.extend_from_slice(&folded.entry);
        self.bytes = (self.bytes + self.unfolded.bytes()).saturating_sub(before);
    }

    /// How many accumulators a collect of the current epoch must return.
    pub fn handles(&self) -> usize {
        self.unfolded.handles.len()
    }

    /// Writes the collected accumulators (`acc(handle)` for each handle of the epoch) into
    /// their panes and ends the epoch.
    pub fn collected<'a>(&mut self, acc: impl Fn(usize) -> &'a [u8]) {
        let handles = std::mem::take(&mut self.unfolded.handles);
        for (handle, key) in handles.iter().enumerate() {
            let Some(pane) = self.panes.get_mut(key) else {
                continue;
            };
            let acc = acc(handle);
            let freed = pane_bytes(key.key.as_deref(), &pane.acc);
            pane.acc.clear();
            pane.acc.extend_from_slice(acc);
            pane.blank = false;
            pane.handle = None;
            self.bytes = (self.bytes + pane_bytes(key.key.as_deref(), acc)).saturating_sub(freed);
        }
        self.take_unfolded();
    }

    /// Ends the epoch and returns the log, for folding again on the host's side (the guest's
    /// accumulators are lost or stale).
    pub fn take_unfolded(&mut self) -> Vec<u8> {
        self.bytes = self.bytes.saturating_sub(self.unfolded.bytes());
        self.unfolded.epoch = fresh_epoch();
        self.unfolded.handles.clear();
        self.unfolded.fuel = 0;
        self.unfolded.batches = 0;
        std::mem::take(&mut self.unfolded.log)
    }

    /// Puts log entries that are still to be folded back in front of the log.
    pub fn relog(&mut self, entries: &[u8]) {
        if entries.is_empty() {
            return;
        }
        let before = self.unfolded.bytes();
        let mut log = entries.to_vec();
        log.extend_from_slice(&self.unfolded.log);
        self.unfolded.log = log;
        self.bytes = (self.bytes + self.unfolded.bytes()).saturating_sub(before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> PaneKey {
        PaneKey::new(Some(name.as_bytes().to_vec()), 0, 10)
    }

    fn fold(windows: &WindowState, new: &[&str], entry: &[u8]) -> Folded {
        Folded {
            epoch: windows.epoch(),
            new_panes: new.iter().map(|name| key(name)).collect(),
            entry: entry.to_vec(),
            fuel: 100,
        }
    }

    #[test]
    fn folds_give_handles_hold_blank_panes_and_log_until_collected() {
        let mut windows = WindowState::default();
        let before = windows.bytes();
        windows.folded(fold(&windows, &["a", "b"], b"one"));
        windows.folded(fold(&windows, &["c"], b"two"));
        assert_eq!(windows.handle(&key("b")), Some(1));
        assert_eq!(windows.handle(&key("c")), Some(2));
        assert_eq!(windows.next_handle(), 3);
        assert_eq!(windows.unfolded_len(), 6);
        assert_eq!(windows.unfolded_fuel(), 200);
        assert!(
            windows
                .get(&key("a"))
                .is_some_and(|pane| pane.acc().is_none())
        );
        assert!(windows.bytes() > before);
        let epoch = windows.epoch();
        let accs: [&[u8]; 3] = [b"A", b"BB", b""];
        windows.collected(|handle| accs[handle]);
        assert_ne!(windows.epoch(), epoch);
        assert_eq!(windows.unfolded_len(), 0);
        assert_eq!(windows.handle(&key("a")), None);
        assert_eq!(
            windows.get(&key("b")).and_then(PaneState::acc),
            Some(&b"BB"[..])
        );
        // An empty accumulator is an accumulator, not "none".
        assert_eq!(
            windows.get(&key("c")).and_then(PaneState::acc),
            Some(&b""[..])
        );
        let mut recounted = windows.clone();
        recounted.recount();
        assert_eq!(recounted.bytes(), windows.bytes());
    }

    #[test]
    fn a_fold_of_an_ended_epoch_is_not_recorded() {
        let mut windows = WindowState::default();
        let stale = fold(&windows, &["a"], b"one");
        assert!(windows.take_unfolded().is_empty());
        windows.folded(stale);
        assert_eq!(windows.unfolded_len(), 0);
        assert!(windows.get(&key("a")).is_none());
    }

    #[test]
    fn the_log_and_blank_panes_survive_a_checkpoint_but_handles_do_not() {
        let mut windows = WindowState::default();
        windows.folded(fold(&windows, &["a"], b"logged"));
        let bytes = postcard::to_stdvec(&windows).unwrap();
        let mut restored: WindowState = postcard::from_bytes(&bytes).unwrap();
        restored.recount();
        assert_eq!(restored, windows);
        assert_eq!(restored.bytes(), windows.bytes());
        assert_ne!(restored.epoch(), windows.epoch());
        assert_eq!(restored.handle(&key("a")), None);
        assert_eq!(restored.take_unfolded(), b"logged");
        restored.relog(b"back");
        assert_eq!(restored.unfolded_len(), 4);
    }
}
