//! `timer-count`: the smallest operator that uses event-time timers, and the conformance
//! suite's check of timers in every language.
//!
//! An event with key `k` (or none) and event time `t` is due at `t + 10`: the operator adds one
//! to the count of `(k, due)` in host state and registers a timer for `k` at `due`
//! (registering the same key and time again fires once). When the watermark reaches the
//! timer, it emits
//!
//! ```json
//! {"count": 2, "due": 15}
//! ```
//!
//! keyed by `k`, at event time `due`, and deletes the count. Timers fire in order of time,
//! then key (no key first). An event whose value contains the text `trap` traps the call (a
//! panic) after counting it, which fails only its own call: the host sends its input to the
//! dead letters, discards the state writes and timers of that call and goes on.

use cameo_sdk::{Config, Error, Event, Operator, Output, Result, state, timers};

/// How long after an event's time its count is reported, in milliseconds.
const DELAY_MS: i64 = 10;

struct TimerCount;

/// The state key of the count of events of `key` due at `due`.
fn count_key(key: Option<&[u8]>, due: i64) -> Vec<u8> {
    let mut name = due.to_string().into_bytes();
    if let Some(key) = key {
        name.push(b'/');
        name.extend_from_slice(key);
    }
    name
}

/// The count stored under `name`, 0 when there is none.
fn stored(name: &[u8]) -> Result<u64> {
    match state::get(name) {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_le_bytes)
            .map_err(|_| {
                Error::failed(format!(
                    "state entry for `{}` holds {} bytes, not an 8-byte count",
                    String::from_utf8_lossy(name),
                    bytes.len()
                ))
            }),
    }
}

impl Operator for TimerCount {
    fn init(_config: &Config) -> Result<Self> {
        Ok(TimerCount)
    }

    fn process(&mut self, event: Event, _out: &mut Output) -> Result<()> {
        let due = event.event_time.saturating_add(DELAY_MS);
        let name = count_key(event.key.as_deref(), due);
        let count = stored(&name)? + 1;
        state::put(&name, &count.to_le_bytes());
        timers::register(event.key.as_deref(), due);
        // After the write and the timer, so that the host must discard both.
        if event.value.windows(4).any(|w| w == b"trap") {
            panic!("the event asked for a trap");
        }
        Ok(())
    }

    fn on_timer(&mut self, key: Option<Vec<u8>>, time: i64, out: &mut Output) -> Result<()> {
        let name = count_key(key.as_deref(), time);
        let count = stored(&name)?;
        state::delete(&name);
        let value = format!("{{\"count\":{count},\"due\":{time}}}");
        out.emit(
            Event::new(value)
                .with_key_opt(key)
                .with_event_time(time),
        );
        Ok(())
    }
}

cameo_sdk::export_operator!(TimerCount);
