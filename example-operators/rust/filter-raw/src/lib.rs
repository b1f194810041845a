//! `filter-raw`: the `min` test of `filter` written against the bindings wit-bindgen
//! generates, without `cameo-sdk`: the baseline `cameo bench languages` measures the SDK's
//! glue against. Config: `field` (a top-level field name) and `min` (a number); keeps the
//! events whose JSON value has that field holding a number >= `min`.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::Value;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "operator",
});

use cameo::operator::types::{Event, OperatorError};
use exports::cameo::operator::handler::Guest;

/// The parsed configuration.
#[derive(Deserialize)]
struct Config {
    field: String,
    min: f64,
}

thread_local! {
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
}

/// Whether `value` (JSON) has `field` holding a number >= `min`.
fn keeps(value: &[u8], config: &Config) -> Result<bool, OperatorError> {
    let value: Value = serde_json::from_slice(value).map_err(|err| {
        OperatorError::InvalidInput(format!("event value is not valid JSON: {err}"))
    })?;
    Ok(value
        .get(config.field.as_str())
        .and_then(Value::as_f64)
        .is_some_and(|n| n >= config.min))
}

struct FilterRaw;

impl Guest for FilterRaw {
    fn init(config: String) -> Result<(), OperatorError> {
        let parsed: Config = serde_json::from_str(&config).map_err(|err| {
            OperatorError::InvalidInput(format!(
                "config needs a string `field` and a number `min`: {err}"
            ))
        })?;
        CONFIG.with(|slot| *slot.borrow_mut() = Some(parsed));
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Result<Vec<Event>, OperatorError> {
        CONFIG.with(|slot| {
            let slot = slot.borrow();
            let config = slot
                .as_ref()
                .ok_or_else(|| OperatorError::Failed("operator is not initialised".into()))?;
            let mut kept = Vec::with_capacity(batch.len());
            for event in batch {
                if keeps(&event.value, config)? {
                    kept.push(event);
                }
            }
            Ok(kept)
        })
    }

    fn on_timer(_key: Option<Vec<u8>>, _time: i64) -> Result<Vec<Event>, OperatorError> {
        Ok(Vec::new())
    }
}

export!(FilterRaw);
