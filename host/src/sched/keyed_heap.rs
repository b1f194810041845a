//! A min-heap of ids by key in which an id is at most once: pushing an id again with a
//! smaller key moves it up. The older entry stays in the heap, stale, and is dropped when it
//! reaches the top (a lazy decrease-key).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

/// Ids ordered by their smallest key pushed since they were last popped.
pub struct KeyedHeap<I, K> {
    /// Every push, smallest key first; an entry is stale once its id was pushed again with
    /// a smaller key, or popped.
    heap: BinaryHeap<Reverse<(K, I)>>,
    /// The key of every id in the heap.
    live: HashMap<I, K>,
}

impl<I, K> Default for KeyedHeap<I, K> {
    fn default() -> Self {
        KeyedHeap {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
        }
    }
}

impl<I: Copy + Eq + Hash + Ord, K: Copy + Ord> KeyedHeap<I, K> {
    /// Puts `id` in with `key`, unless it is in already with a key as small; true when that
    /// changed the heap.
    pub fn push(&mut self, id: I, key: K) -> bool {
        if self.live.get(&id).is_some_and(|live| *live <= key) {
            return false;
        }
        self.live.insert(id, key);
        self.heap.push(Reverse((key, id)));
        true
    }

    #[cfg(test)]
    /// True when `id` is in the heap.
    pub fn contains(&self, id: I) -> bool {
        self.live.contains_key(&id)
    }

    /// The smallest key and its id.
    pub fn peek(&mut self) -> Option<(K, I)> {
        while let Some(Reverse((key, id))) = self.heap.peek().copied() {
            if self.live.get(&id) == Some(&key) {
                return Some((key, id));
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the smallest key and its id out.
    pub fn pop(&mut self) -> Option<(K, I)> {
        let (key, id) = self.peek()?;
        self.heap.pop();
        self.live.remove(&id);
        Some((key, id))
    }

    #[cfg(test)]
    /// Number of ids in the heap.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    #[cfg(test)]
    /// True when no id is in the heap.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_in_once_at_its_smallest_key() {
        let mut heap = KeyedHeap::default();
        assert!(heap.push(1, 10));
        assert!(heap.push(2, 20));
        assert!(!heap.push(1, 30), "already in with a smaller key");
        assert!(heap.push(2, 5), "moved up");
        assert_eq!((heap.len(), heap.contains(2)), (2, true));
        assert_eq!(heap.peek(), Some((5, 2)));
        assert_eq!(heap.pop(), Some((5, 2)));
        assert_eq!(heap.pop(), Some((10, 1)));
        assert_eq!(heap.pop(), None, "the stale entry of 2 is dropped");
        assert!(heap.is_empty());
    }
}
