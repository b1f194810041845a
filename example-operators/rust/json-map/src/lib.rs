//! `json-map`: reshapes JSON events: keeps a subset of their fields, renames fields, and can
//! key each event by one of its fields.
//!
//! # Config
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `fields` | array of strings, optional | Keep only these top-level fields (absent ones are skipped). Without it every field is kept. |
//! | `rename` | object, optional | Renames fields: each entry maps an old name to a new name. Applied after `fields`, which uses the old names. |
//! | `key_field` | string, optional | Sets the event key from this field of the input (before `fields` and `rename`): a string's UTF-8 bytes, or the JSON text of any other value. |
//!
//! Every event value must be a JSON object; anything else, or a missing or `null` `key_field`,
//! fails the batch with `invalid-input` naming the problem. The output value is a JSON object
//! with its fields in name order; event time and headers are kept.
//!
//! In a job spec:
//!
//! ```toml
//! [[operator]]
//! name = "project"
//! module = "../rust/json-map"
//! inputs = ["orders"]
//! config = { fields = ["id", "amount", "currency"], rename = { amount = "total" }, key_field = "id" }
//! ```

use std::collections::BTreeMap;

use cameo_sdk::serde_json::{Map, Value};
use cameo_sdk::{Config, Error, Event, Operator, Output, Result};

/// The parsed configuration.
struct JsonMap {
    fields: Option<Vec<String>>,
    rename: BTreeMap<String, String>,
    key_field: Option<String>,
}

impl Operator for JsonMap {
    fn init(config: &Config) -> Result<Self> {
        Ok(JsonMap {
            fields: config.get("fields")?,
            rename: config.get("rename")?.unwrap_or_default(),
            key_field: config.get_str("key_field")?.map(str::to_string),
        })
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        let Value::Object(mut input) = event.value_json()? else {
            return Err(Error::invalid_input("event value is not a JSON object"));
        };
        let key = match &self.key_field {
            None => event.key.clone(),
            Some(name) => Some(key_bytes(name, input.get(name))?),
        };
        let selected: Map<String, Value> = match &self.fields {
            None => input,
            Some(fields) => fields
                .iter()
                .filter_map(|name| input.remove(name).map(|value| (name.clone(), value)))
                .collect(),
        };
        let output: Map<String, Value> = selected
            .into_iter()
            .map(|(name, value)| match self.rename.get(&name) {
                Some(new_name) => (new_name.clone(), value),
                None => (name, value),
            })
            .collect();
        out.emit(event.with_json(&output)?.with_key_opt(key));
        Ok(())
    }
}

/// The key taken from field `name`: a string's bytes, or any other value's JSON text.
fn key_bytes(name: &str, value: Option<&Value>) -> Result<Vec<u8>> {
    match value {
        None | Some(Value::Null) => Err(Error::invalid_input(format!(
            "key field `{name}` is missing from the event"
        ))),
        Some(Value::String(text)) => Ok(text.as_bytes().to_vec()),
        Some(other) => Ok(other.to_string().into_bytes()),
    }
}

cameo_sdk::export_operator!(JsonMap);

#[cfg(test)]
mod tests {
    use super::*;

    fn map(config: &str, value: &str) -> Result<Event> {
        let mut op = JsonMap::init(&Config::from_json(config)?)?;
        let mut out = Output::new();
        op.process(Event::new(value).with_event_time(7), &mut out)?;
        Ok(out.into_events().remove(0))
    }

    #[test]
    fn selects_renames_and_keys() {
        let event = map(
            r#"{"fields": ["id", "amount", "nope"], "rename": {"amount": "total"}, "key_field": "user"}"#,
            r#"{"id": 1, "amount": 2.5, "user": "ann", "extra": true}"#,
        )
        .unwrap();
        assert_eq!(event.value_str().unwrap(), r#"{"id":1,"total":2.5}"#);
        assert_eq!(event.key.as_deref(), Some(&b"ann"[..]));
        assert_eq!(event.event_time, 7);
    }

    #[test]
    fn numeric_keys_and_identity() {
        let event = map(r#"{"key_field": "id"}"#, r#"{"id": 42}"#).unwrap();
        assert_eq!(event.key.as_deref(), Some(&b"42"[..]));
        assert_eq!(event.value_str().unwrap(), r#"{"id":42}"#);
    }

    #[test]
    fn invalid_input() {
        let err = map("{}", "{oops").unwrap_err();
        assert!(err.is_invalid_input());
        assert!(
            err.message().contains("not valid JSON"),
            "{}",
            err.message()
        );
        let err = map("{}", "[1]").unwrap_err();
        assert_eq!(err.message(), "event value is not a JSON object");
        let err = map(r#"{"key_field": "k"}"#, "{}").unwrap_err();
        assert_eq!(err.message(), "key field `k` is missing from the event");
        let err = map(r#"{"fields": "id"}"#, "{}").unwrap_err();
        assert!(
            err.message()
                .starts_with("config field `fields` is invalid")
        );
    }
}
