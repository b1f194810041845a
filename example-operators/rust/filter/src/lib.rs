//! `filter`: keeps the events whose JSON value has a field that equals a configured value or
//! reaches a configured minimum, and drops the rest.
//!
//! # Config
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `field` | string, required | The field to test: a top-level field name, or a JSON Pointer such as `/order/total` when it starts with `/`. |
//! | `equals` | any JSON value, optional | Keep events whose field equals this value. Two numbers compare by value (`2` equals `2.0`); anything else compares as JSON (a string only equals the same string). |
//! | `min` | number, optional | Keep events whose field is a number greater than or equal to `min`. |
//!
//! At least one of `equals` and `min` is required; with both, an event must pass both tests.
//! An event whose field is missing (or is not a number, for `min`) is dropped. An event whose
//! value is not a JSON object fails the batch with `invalid-input`.
//!
//! In a job spec:
//!
//! ```toml
//! [[operator]]
//! name = "paid"
//! module = "../rust/filter"
//! inputs = ["orders"]
//! config = { field = "status", equals = "paid" }
//! ```

use cameo_sdk::serde_json::Value;
use cameo_sdk::{Config, Error, Event, Operator, Output, Result};

/// The parsed configuration.
struct Filter {
    field: String,
    equals: Option<Value>,
    min: Option<f64>,
}

impl Operator for Filter {
    fn init(config: &Config) -> Result<Self> {
        let field = config.require_str("field")?.to_string();
        let equals = config.value("equals").filter(|v| !v.is_null()).cloned();
        let min = config.get_f64("min")?;
        if equals.is_none() && min.is_none() {
            return Err(Error::invalid_input(
                "config needs `equals` or `min` (or both) besides `field`",
            ));
        }
        Ok(Filter { field, equals, min })
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        if self.keeps(&event)? {
            out.emit(event);
        }
        Ok(())
    }
}

impl Filter {
    fn keeps(&self, event: &Event) -> Result<bool> {
        let found = if self.field.starts_with('/') {
            let value: Value = event.value_json()?;
            if !value.is_object() {
                return Err(Error::invalid_input("event value is not a JSON object"));
            }
            value.pointer(&self.field).cloned()
        } else {
            // One field read without building the rest of the event.
            event.json_field::<Value>(&self.field).map_err(|err| {
                if event.value_json::<Value>().is_ok_and(|value| !value.is_object()) {
                    Error::invalid_input("event value is not a JSON object")
                } else {
                    err
                }
            })?
        };
        let Some(found) = found.as_ref() else {
            return Ok(false);
        };
        if let Some(expected) = &self.equals
            && !json_equal(found, expected)
        {
            return Ok(false);
        }
        if let Some(min) = self.min {
            match found.as_f64() {
                Some(number) if number >= min => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// JSON equality, except that two numbers compare by value.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        _ => a == b,
    }
}

cameo_sdk::export_operator!(Filter);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &str, values: &[&str]) -> Result<Vec<String>> {
        let mut filter = Filter::init(&Config::from_json(config)?)?;
        let mut out = Output::new();
        filter.process_batch(values.iter().map(|v| Event::new(*v)).collect(), &mut out)?;
        Ok(out
            .into_events()
            .into_iter()
            .map(|e| String::from_utf8(e.value).unwrap())
            .collect())
    }

    #[test]
    fn equals_strings_and_numbers() {
        let kept = run(
            r#"{"field": "s", "equals": "a"}"#,
            &[r#"{"s": "a"}"#, r#"{"s": "b"}"#, r#"{"t": "a"}"#],
        )
        .unwrap();
        assert_eq!(kept, [r#"{"s": "a"}"#]);
        let kept = run(
            r#"{"field": "n", "equals": 2}"#,
            &[r#"{"n": 2.0}"#, r#"{"n": "2"}"#, r#"{"n": 3}"#],
        )
        .unwrap();
        assert_eq!(kept, [r#"{"n": 2.0}"#]);
    }

    #[test]
    fn min_and_pointer() {
        let kept = run(
            r#"{"field": "/a/b", "min": 10}"#,
            &[
                r#"{"a": {"b": 10}}"#,
                r#"{"a": {"b": 9.5}}"#,
                r#"{"a": {"b": "x"}}"#,
            ],
        )
        .unwrap();
        assert_eq!(kept, [r#"{"a": {"b": 10}}"#]);
    }

    #[test]
    fn errors() {
        let err = run(r#"{"field": "x"}"#, &[]).unwrap_err();
        assert!(err.is_invalid_input());
        let err = run(r#"{"equals": 1}"#, &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "config field `field` is required but missing"
        );
        let err = run(r#"{"field": "x", "min": 1}"#, &["nope"]).unwrap_err();
        assert!(err.is_invalid_input());
    }
}
