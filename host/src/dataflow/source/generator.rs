//! The generator input: synthetic events, as many as the spec says, each made when it is due.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::{Input, Item, Next, now_ms};
use crate::bindings::Event;

/// What a generator makes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorSpec {
    /// Events to generate.
    pub count: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Filler bytes per event.
    pub payload_bytes: usize,
    /// Key sequence seed.
    pub seed: u64,
}

/// Synthetic events: event `n` (from 1) has sequence number `n - 1`, a key from the seeded
/// hash of it, a value, and the filler.
pub struct Generator {
    spec: GeneratorSpec,
    payload: String,
    /// Events made so far, including those skipped on a restart.
    made: u64,
}

impl Generator {
    /// A generator of `spec`'s events.
    pub fn new(spec: GeneratorSpec) -> Self {
        Generator {
            payload: "x".repeat(spec.payload_bytes),
            spec,
            made: 0,
        }
    }

    fn make(&self, seq: u64) -> Event {
        let key = format!(
            "k{}",
            xxh3_64_with_seed(&seq.to_le_bytes(), self.spec.seed) % self.spec.keys.max(1)
        );
        let value = serde_json::json!({
            "key": key,
            "seq": seq,
            "value": seq % 100,
            "payload": self.payload,
        });
        Event {
            key: Some(key.into_bytes()),
            value: value.to_string().into_bytes(),
            event_time: now_ms(),
            headers: Vec::new(),
        }
    }
}

impl Input for Generator {
    fn next(&mut self, skip: u64) -> Next {
        // Events before a restart's checkpoint are not made again.
        self.made = self.made.max(skip.min(self.spec.count));
        if self.made >= self.spec.count {
            return Next::Ended;
        }
        let seq = self.made;
        self.made += 1;
        Next::Item(self.made, Item::Event(self.make(seq)))
    }
}
