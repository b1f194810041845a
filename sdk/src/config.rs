use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// The operator's configuration: the `config` table of the job spec, as a JSON object.
///
/// The `get_*` methods return `Ok(None)` when a field is absent (or JSON `null`) and an
/// [`Error::InvalidInput`] naming the field when it has the wrong type; the `require_*`
/// methods also fail, naming the field, when it is absent.
///
/// ```
/// use cameo_sdk::Config;
///
/// let config = Config::from_json(r#"{"size_ms": 60000, "field": "price"}"#)?;
/// assert_eq!(config.require_i64("size_ms")?, 60_000);
/// assert_eq!(config.get_str("field")?.unwrap_or("value"), "price");
/// assert_eq!(config.get_str("missing")?, None);
///
/// let err = config.require_str("size_ms").unwrap_err();
/// assert_eq!(err.message(), "config field `size_ms` must be a string, got a number");
/// let err = config.require_str("key_field").unwrap_err();
/// assert_eq!(err.message(), "config field `key_field` is required but missing");
/// # Ok::<(), cameo_sdk::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    fields: Map<String, Value>,
}

impl Config {
    /// An empty configuration, as the host passes when the job spec has no `config` table.
    pub fn new() -> Self {
        Config::default()
    }

    /// Parses a JSON object; [`Error::InvalidInput`] if `json` is not one.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(json)
            .map_err(|err| Error::invalid_input(format!("config is not valid JSON: {err}")))?;
        Config::from_value(value)
    }

    /// Wraps a JSON value; [`Error::InvalidInput`] if it is not an object. `null` gives an
    /// empty configuration.
    pub fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Object(fields) => Ok(Config { fields }),
            Value::Null => Ok(Config::new()),
            other => Err(Error::invalid_input(format!(
                "config must be a JSON object, got {}",
                kind(&other)
            ))),
        }
    }

    /// The raw JSON value of field `name`, if present.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// Whether field `name` is present and not `null`.
    pub fn contains(&self, name: &str) -> bool {
        self.present(name).is_some()
    }

    /// Whether the configuration has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// Field `name` as a string.
    pub fn get_str(&self, name: &str) -> Result<Option<&str>> {
        self.typed(name, "a string", Value::as_str)
    }

    /// Field `name` as a signed integer.
    pub fn get_i64(&self, name: &str) -> Result<Option<i64>> {
        self.typed(name, "an integer", Value::as_i64)
    }

    /// Field `name` as an unsigned integer.
    pub fn get_u64(&self, name: &str) -> Result<Option<u64>> {
        self.typed(name, "a non-negative integer", Value::as_u64)
    }

    /// Field `name` as a number (integers are converted).
    pub fn get_f64(&self, name: &str) -> Result<Option<f64>> {
        self.typed(name, "a number", Value::as_f64)
    }

    /// Field `name` as a boolean.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>> {
        self.typed(name, "a boolean", Value::as_bool)
    }

    /// Field `name` deserialised into `T`.
    ///
    /// ```
    /// let config = cameo_sdk::Config::from_json(r#"{"fields": ["a", "b"]}"#)?;
    /// let fields: Option<Vec<String>> = config.get("fields")?;
    /// assert_eq!(fields, Some(vec!["a".to_string(), "b".to_string()]));
    /// # Ok::<(), cameo_sdk::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => T::deserialize(value).map(Some).map_err(|err| {
                Error::invalid_input(format!("config field `{name}` is invalid: {err}"))
            }),
        }
    }

    /// Field `name` as a string; an error naming the field if it is missing.
    pub fn require_str(&self, name: &str) -> Result<&str> {
        self.get_str(name)?.ok_or_else(|| missing(name))
    }

    /// Field `name` as a signed integer; an error naming the field if it is missing.
    pub fn require_i64(&self, name: &str) -> Result<i64> {
        self.get_i64(name)?.ok_or_else(|| missing(name))
    }

    /// Field `name` as an unsigned integer; an error naming the field if it is missing.
    pub fn require_u64(&self, name: &str) -> Result<u64> {
        self.get_u64(name)?.ok_or_else(|| missing(name))
    }

    /// Field `name` as a number; an error naming the field if it is missing.
    pub fn require_f64(&self, name: &str) -> Result<f64> {
        self.get_f64(name)?.ok_or_else(|| missing(name))
    }

    /// Field `name` as a boolean; an error naming the field if it is missing.
    pub fn require_bool(&self, name: &str) -> Result<bool> {
        self.get_bool(name)?.ok_or_else(|| missing(name))
    }

    /// Field `name` deserialised into `T`; an error naming the field if it is missing.
    pub fn require<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.get(name)?.ok_or_else(|| missing(name))
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|value| !value.is_null())
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        expected: &str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => convert(value).map(Some).ok_or_else(|| {
                Error::invalid_input(format!(
                    "config field `{name}` must be {expected}, got {}",
                    kind(value)
                ))
            }),
        }
    }
}

impl From<Map<String, Value>> for Config {
    fn from(fields: Map<String, Value>) -> Self {
        Config { fields }
    }
}

fn missing(name: &str) -> Error {
    Error::invalid_input(format!("config field `{name}` is required but missing"))
}

/// A short description of a JSON value's type, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|n| n < 0) => "a negative number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_objects() {
        let err = Config::from_json("[1]").unwrap_err();
        assert_eq!(err.message(), "config must be a JSON object, got an array");
        assert!(Config::from_json("null").unwrap().is_empty());
        assert!(Config::from_json("{").unwrap_err().is_invalid_input());
    }

    #[test]
    fn typed_getters() {
        let config = Config::from_json(r#"{"n": -3, "f": 1.5, "b": true, "z": null}"#).unwrap();
        assert_eq!(config.get_i64("n").unwrap(), Some(-3));
        assert_eq!(
            config.get_u64("n").unwrap_err().message(),
            "config field `n` must be a non-negative integer, got a negative number"
        );
        assert_eq!(config.get_f64("f").unwrap(), Some(1.5));
        assert_eq!(config.get_f64("n").unwrap(), Some(-3.0));
        assert_eq!(
            config.get_i64("f").unwrap_err().message(),
            "config field `f` must be an integer, got a fractional number"
        );
        assert!(config.require_bool("b").unwrap());
        assert_eq!(config.get_str("z").unwrap(), None);
        assert!(!config.contains("z"));
        assert_eq!(
            config.require::<Vec<u8>>("z").unwrap_err().message(),
            "config field `z` is required but missing"
        );
        assert!(
            config
                .get::<String>("n")
                .unwrap_err()
                .message()
                .starts_with("config field `n` is invalid")
        );
    }
}
