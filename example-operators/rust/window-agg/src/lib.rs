//! `window-agg`: the sum, count, minimum and maximum of a numeric field per key and window,
//! over windows the host manages (tumbling, sliding or session, as the job spec says).
//!
//! Each pane (one key in one window) keeps the accumulator `{"sum", "count", "min", "max"}`;
//! session windows that come to overlap merge by adding sums and counts and taking the
//! smaller minimum and the larger maximum. When a pane fires it emits
//!
//! ```json
//! {"key": "sensor-1", "window_start": 0, "window_end": 60000, "sum": 42, "count": 3, "min": 2, "max": 30}
//! ```
//!
//! with the pane's key (`"key"` is the key as UTF-8, or `null` for unkeyed events) and event
//! time `window_end - 1`. A pane that a late event (within the allowed lateness) updates
//! fires again with the new totals, so the last result per key and window is the final one.
//! Sums, minima and maxima are integers while every value is an integer that fits in 64 bits
//! (and the sum does), and floating-point numbers otherwise. A sum that leaves the f64 range
//! is `null`, and stays `null` for the rest of its pane: no later value brings it back (the
//! count still says how many values went in).
//!
//! # Config
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `field` | string, default `"value"` | The numeric field of the JSON event value to aggregate. |
//!
//! An event whose value is not a JSON object with a numeric `field` fails its batch with
//! `invalid-input`.
//!
//! ```toml
//! [[operator]]
//! name = "agg"
//! module = "../rust/window-agg"
//! inputs = ["readings"]
//! partition = "key-hash"
//! config = { field = "celsius" }
//! window = { kind = "tumbling", size_ms = 60000, allowed_lateness_ms = 5000 }
//! ```

use core::cmp::Ordering;
use core::fmt;

use cameo_sdk::serde::de::{self, Deserializer, Visitor};
use cameo_sdk::serde::{Deserialize, Serialize};
use cameo_sdk::serde_json::{Number, json};
use cameo_sdk::{Config, Error, Event, Output, Result, Window, WindowOperator};

/// The parsed configuration.
struct WindowAgg {
    field: String,
}

/// A number as the aggregate keeps it: an integer while every value is one that fits, else
/// floating-point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(crate = "cameo_sdk::serde")]
enum Num {
    Int(i64),
    Float(f64),
}

/// The aggregate of one pane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "cameo_sdk::serde")]
struct Acc {
    sum: Num,
    count: u64,
    /// `None` until the pane's first value.
    min: Option<Num>,
    max: Option<Num>,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            sum: Num::Int(0),
            count: 0,
            min: None,
            max: None,
        }
    }
}

impl WindowOperator for WindowAgg {
    type Acc = Acc;

    fn init(config: &Config) -> Result<Self> {
        let field = config.get_str("field")?.unwrap_or("value").to_string();
        Ok(WindowAgg { field })
    }

    fn add(&mut self, acc: &mut Acc, event: &Event) -> Result<()> {
        let Ok(Some(JsonNum(amount))) = event.json_field::<JsonNum>(&self.field) else {
            return Err(Error::invalid_input(format!(
                "event value has no numeric field `{}`",
                self.field
            )));
        };
        acc.sum = acc.sum.add(amount);
        acc.count += 1;
        acc.min = Some(extreme(acc.min, amount, Ordering::Less));
        acc.max = Some(extreme(acc.max, amount, Ordering::Greater));
        Ok(())
    }

    fn merge(&mut self, a: Acc, b: Acc) -> Result<Acc> {
        Ok(Acc {
            sum: a.sum.add(b.sum),
            count: a.count + b.count,
            min: both(a.min, b.min, Ordering::Less),
            max: both(a.max, b.max, Ordering::Greater),
        })
    }

    fn fire(
        &mut self,
        key: Option<&[u8]>,
        window: Window,
        acc: Acc,
        out: &mut Output,
    ) -> Result<()> {
        let result = json!({
            "key": key.map(String::from_utf8_lossy),
            "window_start": window.start,
            "window_end": window.end,
            "sum": acc.sum.to_json(),
            "count": acc.count,
            "min": acc.min.and_then(Num::to_json),
            "max": acc.max.and_then(Num::to_json),
        });
        out.emit(
            Event::json(&result)?
                .with_key_opt(key.map(<[u8]>::to_vec))
                .with_event_time(window.max_time()),
        );
        Ok(())
    }
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(n) => n as f64,
            Num::Float(x) => x,
        }
    }

    /// `self + other`, exact while both are integers and the sum fits.
    fn add(self, other: Num) -> Num {
        if let (Num::Int(a), Num::Int(b)) = (self, other)
            && let Some(sum) = a.checked_add(b)
        {
            return Num::Int(sum);
        }
        Num::Float(self.as_f64() + other.as_f64())
    }

    /// How `self` compares with `other`: exactly for integers, as floating-point otherwise.
    fn compare(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            _ => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    /// The JSON number; `None` (written `null`) for a float JSON cannot hold: a sum that left
    /// the f64 range, which stays infinite (or NaN, when infinities of both signs met) for
    /// the rest of its pane.
    fn to_json(self) -> Option<Number> {
        match self {
            Num::Int(n) => Some(Number::from(n)),
            Num::Float(x) => Number::from_f64(x),
        }
    }
}

/// A JSON number read from an event.
struct JsonNum(Num);

impl<'de> Deserialize<'de> for JsonNum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        deserializer.deserialize_any(NumVisitor)
    }
}

struct NumVisitor;

impl Visitor<'_> for NumVisitor {
    type Value = JsonNum;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> core::result::Result<JsonNum, E> {
        Ok(JsonNum(Num::Int(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> core::result::Result<JsonNum, E> {
        Ok(JsonNum(match i64::try_from(n) {
            Ok(n) => Num::Int(n),
            Err(_) => Num::Float(n as f64),
        }))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> core::result::Result<JsonNum, E> {
        Ok(JsonNum(Num::Float(x)))
    }
}

/// `candidate` if it is more `towards` than `current` (or there is no current), else `current`.
fn extreme(current: Option<Num>, candidate: Num, towards: Ordering) -> Num {
    match current {
        Some(current) if candidate.compare(current) != towards => current,
        _ => candidate,
    }
}

/// The more `towards` of two optional extremes.
fn both(a: Option<Num>, b: Option<Num>, towards: Ordering) -> Option<Num> {
    match (a, b) {
        (a, None) => a,
        (a, Some(b)) => Some(extreme(a, b, towards)),
    }
}

cameo_sdk::export_windowed!(WindowAgg);

#[cfg(test)]
mod tests {
    use super::*;
    use cameo_sdk::serde_json::Value;

    fn agg(values: &[&str]) -> Result<Acc> {
        let mut op = WindowAgg::init(&Config::from_json(r#"{"field": "v"}"#)?)?;
        let mut acc = Acc::default();
        for value in values {
            op.add(&mut acc, &Event::new(*value))?;
        }
        Ok(acc)
    }

    #[test]
    fn aggregates_integers_exactly() {
        let acc = agg(&[r#"{"v": 5}"#, r#"{"v": -2}"#, r#"{"v": 9}"#]).unwrap();
        assert_eq!(acc.sum, Num::Int(12));
        assert_eq!(acc.count, 3);
        assert_eq!(acc.min, Some(Num::Int(-2)));
        assert_eq!(acc.max, Some(Num::Int(9)));
    }

    #[test]
    fn mixes_in_floats() {
        let acc = agg(&[r#"{"v": 1}"#, r#"{"v": 0.5}"#]).unwrap();
        assert_eq!(acc.sum, Num::Float(1.5));
        assert_eq!(acc.min, Some(Num::Float(0.5)));
        assert_eq!(acc.max, Some(Num::Int(1)));
    }

    #[test]
    fn merge_combines_sessions() {
        let mut op = WindowAgg::init(&Config::new()).unwrap();
        let a = agg(&[r#"{"v": 3}"#, r#"{"v": 4}"#]).unwrap();
        let b = agg(&[r#"{"v": 10}"#]).unwrap();
        let merged = op.merge(a, b).unwrap();
        assert_eq!(merged.sum, Num::Int(17));
        assert_eq!(merged.count, 3);
        assert_eq!(merged.min, Some(Num::Int(3)));
        assert_eq!(merged.max, Some(Num::Int(10)));
        let merged = op.merge(Acc::default(), merged.clone()).unwrap();
        assert_eq!(merged.min, Some(Num::Int(3)));
    }

    #[test]
    fn fire_emits_the_result_at_the_end_of_the_window() {
        let mut op = WindowAgg::init(&Config::new()).unwrap();
        let mut out = Output::new();
        let acc = agg(&[r#"{"v": 2}"#]).unwrap();
        op.fire(Some(b"k"), Window::new(0, 10), acc, &mut out)
            .unwrap();
        let event = &out.events()[0];
        assert_eq!(event.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(event.event_time, 9);
        assert_eq!(
            event.value_str().unwrap(),
            r#"{"count":1,"key":"k","max":2,"min":2,"sum":2,"window_end":10,"window_start":0}"#
        );
        let mut out = Output::new();
        op.fire(None, Window::new(0, 10), Acc::default(), &mut out)
            .unwrap();
        let value: Value = out.events()[0].value_json().unwrap();
        assert_eq!(value["key"], Value::Null);
    }

    #[test]
    fn a_sum_past_the_f64_range_is_null_and_stays_null() {
        let mut op = WindowAgg::init(&Config::new()).unwrap();
        let acc = agg(&[r#"{"v": 1e308}"#, r#"{"v": 1e308}"#, r#"{"v": -1e308}"#]).unwrap();
        let other = agg(&[r#"{"v": -1e308}"#, r#"{"v": -1e308}"#]).unwrap();
        // Infinities of both signs meet in a merge: still no sum.
        let merged = op.merge(acc.clone(), other).unwrap();
        for (acc, count) in [(acc, 3), (merged, 5)] {
            let mut out = Output::new();
            op.fire(Some(b"k"), Window::new(0, 10), acc, &mut out)
                .unwrap();
            let value: Value = out.events()[0].value_json().unwrap();
            assert_eq!(value["sum"], Value::Null);
            assert_eq!(value["count"], count);
            assert_eq!(value["max"], 1e308);
        }
    }

    #[test]
    fn rejects_non_numeric_fields() {
        let err = agg(&[r#"{"v": "x"}"#]).unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(err.message(), "event value has no numeric field `v`");
        assert!(agg(&["nope"]).unwrap_err().is_invalid_input());
    }
}
