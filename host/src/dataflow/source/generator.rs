//! The generator input: synthetic events, as many as the spec says, each made when it is due.
//!
//! Two modes. `hashed` (the default) spreads keys by a seeded hash of the sequence number and
//! stamps events with their ingest time. `exact` makes every field a function of the
//! sequence number alone, event time included, so another engine given the same formulas
//! computes the same windows: key `k{seq % keys}`, value `seq % 101`, event time
//! `seq * 1000 / event_rate` ms (integer division) from 0.

use serde::Deserialize;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::{Input, Item, Next, now_ms};
use crate::bindings::Event;

/// What a generator makes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeneratorSpec {
    /// Events to generate.
    pub count: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Filler bytes per event.
    pub payload_bytes: usize,
    /// Key sequence seed (`hashed` mode).
    pub seed: u64,
    /// How keys, values and event times are made.
    pub mode: GeneratorMode,
    /// Events per second of event time (`exact` mode; at least 1).
    pub event_rate: u64,
}

/// How a generator makes keys, values and event times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorMode {
    /// Key `k{hash(seq, seed) % keys}`, value `seq % 100`, event time the ingest time.
    #[default]
    Hashed,
    /// Key `k{seq % keys}`, value `seq % 101`, event time `seq * 1000 / event_rate` ms.
    Exact,
}

/// Event time in ms of event `seq` at `event_rate` events per second of event time.
pub fn exact_event_time(seq: u64, event_rate: u64) -> i64 {
    let ms = u128::from(seq) * 1000 / u128::from(event_rate.max(1));
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Synthetic events: event `n` (from 1) has sequence number `n - 1`, a key, a value and an
/// event time made from it as the [`GeneratorMode`] says, and the filler.
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
        if self.spec.mode == GeneratorMode::Exact {
            return self.make_exact(seq);
        }
        let key = xxh3_64_with_seed(&seq.to_le_bytes(), self.spec.seed) % self.spec.keys.max(1);
        self.event(key, seq, seq % 100, now_ms())
    }

    /// Event `seq` of the exact mode: the same fields, in the same order, as the hashed mode
    /// writes them.
    fn make_exact(&self, seq: u64) -> Event {
        let key = seq % self.spec.keys.max(1);
        self.event(
            key,
            seq,
            seq % 101,
            exact_event_time(seq, self.spec.event_rate),
        )
    }

    /// The event of key number `key`: `{"key":"k<key>","payload":"<payload>","seq":<seq>,
    /// "value":<value>}` (the order `serde_json` writes an object's fields in).
    fn event(&self, key: u64, seq: u64, value: u64, event_time: i64) -> Event {
        let mut digits = itoa::Buffer::new();
        let mut key_text = String::with_capacity(21);
        key_text.push('k');
        key_text.push_str(digits.format(key));
        // Sized once: the fixed text, the key, the payload and two numbers of up to 20 digits.
        let mut text = String::with_capacity(64 + key_text.len() + self.payload.len());
        text.push_str(r#"{"key":""#);
        text.push_str(&key_text);
        text.push_str(r#"","payload":""#);
        text.push_str(&self.payload);
        text.push_str(r#"","seq":"#);
        text.push_str(digits.format(seq));
        text.push_str(r#","value":"#);
        text.push_str(digits.format(value));
        text.push('}');
        Event {
            key: Some(key_text.into_bytes()),
            value: text.into_bytes(),
            event_time,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(count: u64, keys: u64, event_rate: u64) -> Generator {
        Generator::new(GeneratorSpec {
            count,
            keys,
            payload_bytes: 2,
            seed: 0,
            mode: GeneratorMode::Exact,
            event_rate,
        })
    }

    #[test]
    fn exact_events_are_functions_of_their_sequence_number() {
        let mut generator = exact(5, 3, 2);
        let mut events = Vec::new();
        while let Next::Item(_, Item::Event(event)) = generator.next(0) {
            events.push(event);
        }
        let keys: Vec<_> = events.iter().map(|e| e.key.clone().unwrap()).collect();
        assert_eq!(keys, [b"k0", b"k1", b"k2", b"k0", b"k1"]);
        let times: Vec<_> = events.iter().map(|e| e.event_time).collect();
        assert_eq!(times, [0, 500, 1000, 1500, 2000]);
        let value: serde_json::Value = serde_json::from_slice(&events[4].value).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"key": "k1", "seq": 4, "value": 4, "payload": "xx"})
        );
        assert_eq!(
            events[4].value, br#"{"key":"k1","payload":"xx","seq":4,"value":4}"#,
            "the fields in the order the hashed mode writes them"
        );
        assert!(matches!(generator.next(0), Next::Ended));
    }

    #[test]
    fn exact_values_wrap_at_101_and_times_do_not_overflow() {
        let generator = exact(1000, 10, 1_000_000);
        let value: serde_json::Value = serde_json::from_slice(&generator.make(707).value).unwrap();
        assert_eq!(value["value"], 0);
        assert_eq!(generator.make(2_999_999).event_time, 2999);
        assert_eq!(exact_event_time(u64::MAX, 1), i64::MAX);
        assert_eq!(exact_event_time(7, 0), 7000, "a rate of 0 counts as 1");
    }

    #[test]
    fn hashed_events_are_json_objects_keyed_by_a_hash_of_their_number() {
        let generator = Generator::new(GeneratorSpec {
            count: 10,
            keys: 7,
            payload_bytes: 5,
            seed: 3,
            mode: GeneratorMode::Hashed,
            event_rate: 1,
        });
        let event = generator.make(4);
        let key = xxh3_64_with_seed(&4u64.to_le_bytes(), 3) % 7;
        assert_eq!(event.key, Some(format!("k{key}").into_bytes()));
        let value: serde_json::Value = serde_json::from_slice(&event.value).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"key": format!("k{key}"), "seq": 4, "value": 4, "payload": "xxxxx"})
        );
    }
}
