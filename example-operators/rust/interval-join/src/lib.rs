//! `interval-join`: turns each pair of a host-managed interval join into one JSON event.
//!
//! The host pairs every left event with every right event of the same key whose event times
//! are within the join's bound; for each pair this operator emits
//!
//! ```json
//! {"key": "order-7", "left": {"amount": 12}, "right": "paid", "left_time": 1000, "right_time": 1450}
//! ```
//!
//! where `left` and `right` are the two values as JSON when they parse as JSON and as
//! strings (UTF-8, invalid bytes replaced) otherwise, and `"key"` is the key as UTF-8 (or
//! `null` for unkeyed events). The event carries the pair's key and the later of the two
//! event times, `max(left_time, right_time)`.
//!
//! # Config
//!
//! None.

use cameo_sdk::serde_json::{Value, json};
use cameo_sdk::{Config, Event, JoinOperator, Output, Result};

/// The operator; it has no configuration.
struct IntervalJoin;

impl JoinOperator for IntervalJoin {
    fn init(_config: &Config) -> Result<Self> {
        Ok(IntervalJoin)
    }

    fn join(&mut self, left: Event, right: Event, out: &mut Output) -> Result<()> {
        // The host pairs events of equal keys; the left one names the pair's key.
        let key = left.key.clone().or_else(|| right.key.clone());
        let joined = json!({
            "key": key.as_deref().map(String::from_utf8_lossy),
            "left": value_of(&left),
            "right": value_of(&right),
            "left_time": left.event_time,
            "right_time": right.event_time,
        });
        out.emit(
            Event::json(&joined)?
                .with_key_opt(key)
                .with_event_time(left.event_time.max(right.event_time)),
        );
        Ok(())
    }
}

/// The event's value as JSON if it is JSON, else as a string.
fn value_of(event: &Event) -> Value {
    event
        .value_json::<Value>()
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&event.value).into_owned()))
}

cameo_sdk::export_joiner!(IntervalJoin);

#[cfg(test)]
mod tests {
    use super::*;

    fn join(left: Event, right: Event) -> Event {
        let mut op = IntervalJoin::init(&Config::new()).unwrap();
        let mut out = Output::new();
        op.join(left, right, &mut out).unwrap();
        out.into_events().remove(0)
    }

    #[test]
    fn json_and_text_values() {
        let event = join(
            Event::new(r#"{"amount": 12}"#)
                .with_key("o7")
                .with_event_time(1000),
            Event::new("paid").with_key("o7").with_event_time(1450),
        );
        assert_eq!(event.key.as_deref(), Some(&b"o7"[..]));
        assert_eq!(event.event_time, 1450);
        assert_eq!(
            event.value_str().unwrap(),
            r#"{"key":"o7","left":{"amount":12},"left_time":1000,"right":"paid","right_time":1450}"#
        );
    }

    #[test]
    fn unkeyed_pairs_and_later_left_times() {
        let event = join(
            Event::new("3").with_event_time(20),
            Event::new(vec![0xff]).with_event_time(5),
        );
        assert_eq!(event.key, None);
        assert_eq!(event.event_time, 20);
        let value: Value = event.value_json().unwrap();
        assert_eq!(value["key"], Value::Null);
        assert_eq!(value["left"], json!(3));
        assert_eq!(value["right"], json!("\u{fffd}"));
    }
}
