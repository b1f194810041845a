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
//! Sums, minima and maxima are integers while every value is one, and floating-point numbers
//! otherwise.
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

use cameo_sdk::serde::{Deserialize, Serialize};
use cameo_sdk::serde_json::{Number, Value, json};
use cameo_sdk::{Config, Error, Event, Output, Result, Window, WindowOperator};

/// The parsed configuration.
struct WindowAgg {
    field: String,
}

/// The aggregate of one pane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "cameo_sdk::serde")]
struct Acc {
    sum: Number,
    count: u64,
    /// `None` until the pane's first value.
    min: Option<Number>,
    max: Option<Number>,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            sum: Number::from(0),
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
        let value: Value = event.value_json()?;
        let Some(Value::Number(amount)) = value.get(&self.field) else {
            return Err(Error::invalid_input(format!(
                "event value has no numeric field `{}`",
                self.field
            )));
        };
        acc.sum = add(&acc.sum, amount);
        acc.count += 1;
        acc.min = Some(extreme(acc.min.take(), amount.clone(), Ordering::Less));
        acc.max = Some(extreme(acc.max.take(), amount.clone(), Ordering::Greater));
        Ok(())
    }

    fn merge(&mut self, a: Acc, b: Acc) -> Result<Acc> {
        Ok(Acc {
            sum: add(&a.sum, &b.sum),
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
            "sum": acc.sum,
            "count": acc.count,
            "min": acc.min,
            "max": acc.max,
        });
        out.emit(
            Event::json(&result)?
                .with_key_opt(key.map(<[u8]>::to_vec))
                .with_event_time(window.max_time()),
        );
        Ok(())
    }
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

/// How `a` compares with `b`: exactly for integers, as floating-point numbers otherwise.
fn compare(a: &Number, b: &Number) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x.cmp(&y);
    }
    let x = a.as_f64().unwrap_or(0.0);
    let y = b.as_f64().unwrap_or(0.0);
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// `candidate` if it is more `towards` than `current` (or there is no current), else `current`.
fn extreme(current: Option<Number>, candidate: Number, towards: Ordering) -> Number {
    match current {
        Some(current) if compare(&candidate, &current) != towards => current,
        _ => candidate,
    }
}

/// The more `towards` of two optional extremes.
fn both(a: Option<Number>, b: Option<Number>, towards: Ordering) -> Option<Number> {
    match (a, b) {
        (a, None) => a,
        (a, Some(b)) => Some(extreme(a, b, towards)),
    }
}

cameo_sdk::export_windowed!(WindowAgg);

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(acc.sum, Number::from(12));
        assert_eq!(acc.count, 3);
        assert_eq!(acc.min, Some(Number::from(-2)));
        assert_eq!(acc.max, Some(Number::from(9)));
    }

    #[test]
    fn mixes_in_floats() {
        let acc = agg(&[r#"{"v": 1}"#, r#"{"v": 0.5}"#]).unwrap();
        assert_eq!(acc.sum.as_f64(), Some(1.5));
        assert_eq!(acc.min.and_then(|n| n.as_f64()), Some(0.5));
        assert_eq!(acc.max, Some(Number::from(1)));
    }

    #[test]
    fn merge_combines_sessions() {
        let mut op = WindowAgg::init(&Config::new()).unwrap();
        let a = agg(&[r#"{"v": 3}"#, r#"{"v": 4}"#]).unwrap();
        let b = agg(&[r#"{"v": 10}"#]).unwrap();
        let merged = op.merge(a, b).unwrap();
        assert_eq!(merged.sum, Number::from(17));
        assert_eq!(merged.count, 3);
        assert_eq!(merged.min, Some(Number::from(3)));
        assert_eq!(merged.max, Some(Number::from(10)));
        let merged = op.merge(Acc::default(), merged.clone()).unwrap();
        assert_eq!(merged.min, Some(Number::from(3)));
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
    fn rejects_non_numeric_fields() {
        let err = agg(&[r#"{"v": "x"}"#]).unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(err.message(), "event value has no numeric field `v`");
        assert!(agg(&["nope"]).unwrap_err().is_invalid_input());
    }
}
