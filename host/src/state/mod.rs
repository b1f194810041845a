//! Host-managed keyed state of one operator instance, with per-call transactions.
//!
//! State lives in the host, not in the guest's memory, so it survives the re-instantiation that
//! follows a trap. Every call works on a [`StateTxn`]: its writes become visible to later calls
//! only when the call succeeds, so a batch that fails (and is retried event by event) never
//! leaves half of its updates behind. Sizes are accounted so a tenant's quota can be enforced.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::time::join::JoinState;
use crate::time::window::WindowState;

pub mod checkpoint;

/// Everything the host holds for one operator instance across calls and re-instantiations:
/// its keyed state and its window panes. This is what a checkpoint saves.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// Keyed state written through the `state` import.
    pub state: KeyedState,
    /// Panes of host-managed windows.
    pub windows: WindowState,
    /// Buffers of a keyed interval join.
    pub joins: JoinState,
}

/// Bytes of bookkeeping an entry costs the host besides the allocations of its key and value:
/// the two `Vec` headers in a B-tree slot, and the slot's share of its node (nodes hold 11
/// entries and are half full after ascending inserts). So millions of empty entries cannot
/// slip under the quota, and the figures count what the host really holds.
pub(crate) const ENTRY_OVERHEAD: u64 = 96;

impl Held {
    /// Bytes everything held costs the host.
    pub fn bytes(&self) -> u64 {
        self.state.bytes() + self.windows.bytes() + self.joins.bytes()
    }

    /// Counts the bytes again (after a restore: a checkpoint may come from a host that
    /// counted otherwise).
    pub fn recount(&mut self) {
        self.state.recount();
        self.windows.recount();
        self.joins.recount();
    }
}

/// The committed key-value state of one operator instance.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyedState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: u64,
}

/// Bytes an entry costs the host, and counts against the quotas.
pub(crate) fn entry_size(key: &[u8], value: &[u8]) -> u64 {
    entry_size_of(key.len(), value.len())
}

/// [`entry_size`] of a key and a value of these lengths.
fn entry_size_of(key_len: usize, value_len: usize) -> u64 {
    crate::budget::allocation(key_len) + crate::budget::allocation(value_len) + ENTRY_OVERHEAD
}

impl KeyedState {
    /// The committed value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes counted against the quota (keys, values and a fixed per-entry overhead).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// All committed entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Counts the bytes again.
    fn recount(&mut self) {
        self.bytes = self.entries.iter().map(|(k, v)| entry_size(k, v)).sum();
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        // The key moves into the map: its length is kept to count a replaced entry.
        let key_len = key.len();
        self.bytes += entry_size(&key, &value);
        if let Some(old) = self.entries.insert(key, value) {
            self.bytes = self.bytes.saturating_sub(entry_size_of(key_len, old.len()));
        }
    }

    fn delete(&mut self, key: &[u8]) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes = self.bytes.saturating_sub(entry_size(key, &old));
        }
    }
}

/// The uncommitted writes of one call on top of a [`KeyedState`].
#[derive(Debug, Default)]
pub struct StateTxn {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    added_bytes: u64,
}

/// Bytes of keyed state held by all operator instances of one tenant, counted against the
/// tenant's quota, so that many instances cannot together exhaust the host's memory.
#[derive(Debug)]
pub struct TenantState {
    name: String,
    bytes: AtomicU64,
    quota: u64,
}

impl TenantState {
    /// The account of tenant `name` with `quota` bytes.
    pub fn new(name: &str, quota: u64) -> Arc<Self> {
        Arc::new(TenantState {
            name: name.to_string(),
            bytes: AtomicU64::new(0),
            quota,
        })
    }

    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Records that one instance went from holding `before` to `after` bytes.
    pub fn adjust(&self, before: u64, after: u64) {
        if after >= before {
            self.bytes.fetch_add(after - before, Ordering::Relaxed);
        } else {
            let drop = before - after;
            let _ = self
                .bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                    Some(held.saturating_sub(drop))
                });
        }
    }

    /// Charges a write of `adding` bytes (committed later, or released when its call fails),
    /// or refuses it when it would take the tenant over its quota. Writes of calls in flight
    /// count, so instances parked mid-call cannot together pass the quota.
    pub fn charge(&self, adding: u64) -> Result<(), StateQuotaExceeded> {
        self.bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(adding)
                    .filter(|total| *total <= self.quota)
            })
            .map(|_| ())
            .map_err(|held| StateQuotaExceeded {
                holder: format!("tenant \"{}\"", self.name),
                held,
                adding,
                quota: self.quota,
            })
    }

    /// Gives back `bytes` charged before.
    pub fn release(&self, bytes: u64) {
        self.adjust(bytes, 0);
    }
}

/// A put would take the instance, or its tenant, over a state quota.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "state quota exceeded: {holder} holds {held} bytes of state and the write would add \
     {adding} more, over its quota of {quota} bytes; delete state that is no longer needed or \
     ask for a larger quota"
)]
pub struct StateQuotaExceeded {
    /// Who holds the state: the operator instance or the tenant.
    pub holder: String,
    /// Bytes held when the write was attempted (committed plus written in this call).
    pub held: u64,
    /// Bytes the write would add.
    pub adding: u64,
    /// The quota in bytes.
    pub quota: u64,
}

impl StateTxn {
    /// The value of `key` as this call sees it.
    pub fn get<'a>(&'a self, base: &'a KeyedState, key: &[u8]) -> Option<&'a [u8]> {
        match self.writes.get(key) {
            Some(write) => write.as_deref(),
            None => base.get(key),
        }
    }

    /// Records a put, refusing it when committed plus written bytes would pass `quota`.
    pub fn put(
        &mut self,
        base: &KeyedState,
        key: Vec<u8>,
        value: Vec<u8>,
        quota: u64,
    ) -> Result<(), StateQuotaExceeded> {
        let adding = entry_size(&key, &value);
        let held = base.bytes() + self.added_bytes;
        if held.saturating_add(adding) > quota {
            return Err(StateQuotaExceeded {
                holder: "this operator instance".into(),
                held,
                adding,
                quota,
            });
        }
        self.added_bytes += adding;
        self.writes.insert(key, Some(value));
        Ok(())
    }

    /// Records a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Up to `limit` entries starting with `prefix` (and after `start_after`, when given), in
    /// key order, as this call sees them.
    pub fn scan(
        &self,
        base: &KeyedState,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let start = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        let in_prefix = |k: &&Vec<u8>| k.starts_with(prefix);
        let mut committed = base
            .entries
            .range((start.clone(), Bound::Unbounded))
            .take_while(|(k, _)| in_prefix(k))
            .peekable();
        let mut written = self
            .writes
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| in_prefix(k))
            .peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let take_written = match (committed.peek(), written.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((ck, _)), Some((wk, _))) => wk <= ck,
            };
            if take_written {
                let Some((wk, wv)) = written.next() else {
                    break;
                };
                if committed.peek().is_some_and(|(ck, _)| *ck == wk) {
                    committed.next();
                }
                if let Some(v) = wv {
                    out.push((wk.clone(), v.clone()));
                }
            } else {
                let Some((ck, cv)) = committed.next() else {
                    break;
                };
                out.push((ck.clone(), cv.clone()));
            }
        }
        out
    }

    /// Bytes the uncommitted writes add (puts counted in full).
    pub fn pending_bytes(&self) -> u64 {
        self.added_bytes
    }

    /// Applies the writes to `base`; called only when the call succeeded.
    pub fn commit(mut self, base: &mut KeyedState) {
        self.commit_some(base, usize::MAX);
    }

    /// Applies at most `max` of the writes to `base`, in key order; true when none is left.
    /// A call that wrote a million keys is committed in pieces, between which the worker may
    /// run other work: the host's share of a call is as preemptible as the guest's.
    pub fn commit_some(&mut self, base: &mut KeyedState, max: usize) -> bool {
        for _ in 0..max {
            match self.writes.pop_first() {
                Some((key, Some(value))) => base.put(key, value),
                Some((key, None)) => base.delete(&key),
                None => return true,
            }
        }
        self.writes.is_empty()
    }

    /// Drops at most `max` of the writes of a failed call; true when none is left.
    pub fn discard_some(&mut self, max: usize) -> bool {
        for _ in 0..max {
            if self.writes.pop_first().is_none() {
                return true;
            }
        }
        self.writes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_visible_in_the_call_and_only_after_commit_outside_it() {
        let mut base = KeyedState::default();
        let mut txn = StateTxn::default();
        txn.put(&base, b"a".to_vec(), b"1".to_vec(), u64::MAX)
            .unwrap();
        assert_eq!(txn.get(&base, b"a"), Some(&b"1"[..]));
        assert_eq!(base.get(b"a"), None);
        txn.commit(&mut base);
        assert_eq!(base.get(b"a"), Some(&b"1"[..]));
        assert_eq!(base.bytes(), entry_size(b"a", b"1"));
    }

    #[test]
    fn a_dropped_transaction_leaves_no_trace() {
        let base = KeyedState::default();
        let mut txn = StateTxn::default();
        txn.put(&base, b"a".to_vec(), b"1".to_vec(), u64::MAX)
            .unwrap();
        drop(txn);
        assert!(base.is_empty());
    }

    #[test]
    fn scan_merges_committed_and_written_entries_in_key_order() {
        let mut base = KeyedState::default();
        let mut setup = StateTxn::default();
        for k in ["p1", "p3", "p5", "q1"] {
            setup
                .put(&base, k.into(), b"old".to_vec(), u64::MAX)
                .unwrap();
        }
        setup.commit(&mut base);
        let mut txn = StateTxn::default();
        txn.put(&base, b"p2".to_vec(), b"new".to_vec(), u64::MAX)
            .unwrap();
        txn.put(&base, b"p3".to_vec(), b"new".to_vec(), u64::MAX)
            .unwrap();
        txn.delete(b"p5".to_vec());
        let keys: Vec<_> = txn
            .scan(&base, b"p", None, 10)
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            keys,
            [("p1", "old"), ("p2", "new"), ("p3", "new")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(txn.scan(&base, b"p", None, 1).len(), 1);
        let next: Vec<_> = txn
            .scan(&base, b"p", Some(b"p2"), 10)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(next, [b"p3".to_vec()], "paging resumes after the given key");
    }

    #[test]
    fn a_put_over_the_quota_is_refused_with_the_numbers() {
        let base = KeyedState::default();
        let mut txn = StateTxn::default();
        let err = txn.put(&base, vec![0; 10], vec![0; 100], 64).unwrap_err();
        assert!(err.to_string().contains("quota of 64 bytes"), "{err}");
    }

    #[test]
    fn replacing_a_value_accounts_the_difference() {
        let mut base = KeyedState::default();
        for value in [vec![0; 100], vec![0; 10]] {
            let mut txn = StateTxn::default();
            txn.put(&base, b"k".to_vec(), value, u64::MAX).unwrap();
            txn.commit(&mut base);
        }
        assert_eq!(base.bytes(), entry_size(b"k", &[0; 10]));
    }
}
