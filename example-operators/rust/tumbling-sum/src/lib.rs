//! `tumbling-sum`: sums a numeric field per key over event-time tumbling windows, emitting one
//! result per key and window once the window is complete.
//!
//! Windows are `size_ms` long and aligned to the epoch: an event at time `t` belongs to the
//! window `[start, end)` with `start = floor(t / size_ms) * size_ms` and
//! `end = start + size_ms`. The operator keeps a running sum and count for each key and window
//! in host state and registers a timer at `end`, so the window closes when the watermark
//! reaches its exclusive end, that is once the host has seen every event earlier than `end`.
//! The timer then emits
//!
//! ```json
//! {"key": "<event key as UTF-8>", "window_start": 0, "window_end": 60000, "sum": 42, "count": 3}
//! ```
//!
//! with the event key (none for unkeyed events, whose `"key"` is `""`), event time `end - 1`
//! (the last instant inside the window), and deletes the window's state. The sum is an integer
//! while every summed value is one, and a floating-point number otherwise.
//!
//! # Config
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `size_ms` | positive integer, required | Window length in milliseconds. |
//! | `field` | string, default `"value"` | The numeric field of the JSON event value to sum. |
//!
//! An event whose value is not a JSON object with a numeric `field` fails the batch with
//! `invalid-input`.
//!
//! # State layout
//!
//! One entry per key and open window, under `w/` + window end (8 bytes, big-endian, sign bit
//! flipped so keys sort by time) + the event key bytes; the value is the JSON object
//! `{"sum": .., "count": ..}`. A timer `(key, end)` names its entry directly.

use cameo_sdk::serde::{Deserialize, Serialize};
use cameo_sdk::serde_json::{Number, json};
use cameo_sdk::{Config, Error, Event, Operator, Output, Result, state, timers};

/// The parsed configuration.
struct TumblingSum {
    size_ms: i64,
    field: String,
}

/// The running aggregate of one key and window, as stored in state.
#[derive(Serialize, Deserialize)]
#[serde(crate = "cameo_sdk::serde")]
struct Window {
    sum: Number,
    count: u64,
}

impl Operator for TumblingSum {
    fn init(config: &Config) -> Result<Self> {
        let size_ms = config.require_i64("size_ms")?;
        if size_ms <= 0 {
            return Err(Error::invalid_input(format!(
                "config field `size_ms` must be positive, got {size_ms}"
            )));
        }
        let field = config.get_str("field")?.unwrap_or("value").to_string();
        Ok(TumblingSum { size_ms, field })
    }

    fn process(&mut self, event: Event, _out: &mut Output) -> Result<()> {
        let value: cameo_sdk::serde_json::Value = event.value_json()?;
        let amount = match value.get(&self.field) {
            Some(cameo_sdk::serde_json::Value::Number(number)) => number.clone(),
            _ => {
                return Err(Error::invalid_input(format!(
                    "event value has no numeric field `{}`",
                    self.field
                )));
            }
        };
        let end = self.window_end(event.event_time)?;
        let key = event.key.as_deref().unwrap_or_default();
        let state_key = state_key(key, end);
        let window = match state::get_json::<Window>(&state_key)? {
            Some(window) => Window {
                sum: add(&window.sum, &amount),
                count: window.count + 1,
            },
            None => Window {
                sum: amount,
                count: 1,
            },
        };
        state::put_json(&state_key, &window)?;
        timers::register(event.key.as_deref(), end);
        Ok(())
    }

    fn on_timer(&mut self, key: Option<Vec<u8>>, end: i64, out: &mut Output) -> Result<()> {
        let state_key = state_key(key.as_deref().unwrap_or_default(), end);
        // Unkeyed events and events with an empty key share a window, and so its state,
        // but register distinct timers; the second one finds nothing left to emit.
        let Some(window) = state::get_json::<Window>(&state_key)? else {
            return Ok(());
        };
        state::delete(&state_key);
        let result = json!({
            "key": String::from_utf8_lossy(key.as_deref().unwrap_or_default()),
            "window_start": end - self.size_ms,
            "window_end": end,
            "sum": window.sum,
            "count": window.count,
        });
        out.emit(
            Event::json(&result)?
                .with_key_opt(key)
                .with_event_time(end - 1),
        );
        Ok(())
    }
}

impl TumblingSum {
    /// The exclusive end of the window holding `event_time`.
    fn window_end(&self, event_time: i64) -> Result<i64> {
        let start = event_time.div_euclid(self.size_ms) * self.size_ms;
        start.checked_add(self.size_ms).ok_or_else(|| {
            Error::invalid_input(format!("event time {event_time} is too late for a window"))
        })
    }
}

/// `w/` + `end` (big-endian, sign bit flipped) + `key`.
fn state_key(key: &[u8], end: i64) -> Vec<u8> {
    let mut state_key = Vec::with_capacity(10 + key.len());
    state_key.extend_from_slice(b"w/");
    state_key.extend_from_slice(&((end as u64) ^ (1 << 63)).to_be_bytes());
    state_key.extend_from_slice(key);
    state_key
}

/// `a + b`, exact while both are integers that fit, floating-point otherwise.
fn add(a: &Number, b: &Number) -> Number {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
        && let Some(sum) = x.checked_add(y)
    {
        return Number::from(sum);
    }
    let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
    Number::from_f64(sum).unwrap_or_else(|| Number::from(0))
}

cameo_sdk::export_operator!(TumblingSum);

#[cfg(test)]
mod tests {
    use super::*;

    fn op(config: &str) -> Result<TumblingSum> {
        TumblingSum::init(&Config::from_json(config)?)
    }

    #[test]
    fn windows_align_to_the_epoch() {
        let op = op(r#"{"size_ms": 1000}"#).unwrap();
        assert_eq!(op.window_end(0).unwrap(), 1000);
        assert_eq!(op.window_end(999).unwrap(), 1000);
        assert_eq!(op.window_end(1000).unwrap(), 2000);
        assert_eq!(op.window_end(-1).unwrap(), 0);
        assert!(op.window_end(i64::MAX).is_err());
        assert_eq!(op.field, "value");
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            op("{}").err().unwrap().message(),
            "config field `size_ms` is required but missing"
        );
        assert!(op(r#"{"size_ms": 0}"#).is_err());
    }

    #[test]
    fn state_keys_sort_by_time() {
        assert!(state_key(b"k", -5) < state_key(b"k", 5));
        assert!(state_key(b"z", 5) < state_key(b"a", 6));
    }

    #[test]
    fn sums_stay_integral_when_possible() {
        assert_eq!(add(&Number::from(2), &Number::from(3)), Number::from(5));
        let mixed = add(&Number::from(2), &Number::from_f64(0.5).unwrap());
        assert_eq!(mixed.as_f64(), Some(2.5));
    }
}
