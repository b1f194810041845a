//! Hash maps for keys that guests and inputs choose: a fast hash (foldhash) with a seed drawn
//! per process, so no input can be crafted to collide everywhere.

/// A hash map with the host's fast, per-process seeded hash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
