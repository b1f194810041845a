use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// One stream event: an optional key, an opaque value (often UTF-8 JSON), an event time in
/// milliseconds since the Unix epoch, and headers.
///
/// Build one with [`Event::new`] or [`Event::json`] and the `with_*` methods; read the value
/// with [`Event::value_str`] or [`Event::value_json`].
///
/// ```
/// use cameo_sdk::Event;
///
/// let event = Event::new(r#"{"price": 12}"#)
///     .with_key("ticker-7")
///     .with_event_time(1_700_000_000_000)
///     .with_header("source", "feed-a");
/// assert_eq!(event.key_str()?, Some("ticker-7"));
/// assert_eq!(event.header("source"), Some(&b"feed-a"[..]));
/// # Ok::<(), cameo_sdk::Error>(())
/// ```
pub use crate::bindings::cameo::operator::types::Event;

/// One header attached to an [`Event`]: a name and opaque bytes.
pub use crate::bindings::cameo::operator::types::Header;

impl Event {
    /// An event with this value, no key, event time 0 and no headers.
    ///
    /// Anything that converts into bytes works: `&str`, `String`, `&[u8]`, `Vec<u8>`, byte
    /// string literals.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Event {
            key: None,
            value: value.into(),
            event_time: 0,
            headers: Vec::new(),
        }
    }

    /// An event whose value is `value` serialised as JSON (no key, event time 0, no headers).
    ///
    /// ```
    /// let event = cameo_sdk::Event::json(&serde_json::json!({"word": "hi", "count": 2}))?;
    /// assert_eq!(event.value_str()?, r#"{"count":2,"word":"hi"}"#);
    /// # Ok::<(), cameo_sdk::Error>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(value)
            .map_err(|err| Error::failed(format!("cannot serialise event value: {err}")))?;
        Ok(Event::new(bytes))
    }

    /// The same event with key `key`.
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The same event with the key replaced by `key` (`None` removes it).
    pub fn with_key_opt(mut self, key: Option<Vec<u8>>) -> Self {
        self.key = key;
        self
    }

    /// The same event with value `value`.
    pub fn with_value(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.value = value.into();
        self
    }

    /// The same event with `value` serialised as JSON as its value.
    pub fn with_json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        self.value = serde_json::to_vec(value)
            .map_err(|err| Error::failed(format!("cannot serialise event value: {err}")))?;
        Ok(self)
    }

    /// The same event with event time `event_time` (milliseconds since the Unix epoch).
    pub fn with_event_time(mut self, event_time: i64) -> Self {
        self.event_time = event_time;
        self
    }

    /// The same event with one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// The value as UTF-8 text; [`Error::InvalidInput`] if it is not valid UTF-8.
    pub fn value_str(&self) -> Result<&str> {
        core::str::from_utf8(&self.value)
            .map_err(|err| Error::invalid_input(format!("event value is not UTF-8: {err}")))
    }

    /// The value parsed as JSON into `T`; [`Error::InvalidInput`] naming the problem if it is
    /// not valid JSON or does not match `T`.
    ///
    /// ```
    /// use cameo_sdk::serde_json::Value;
    ///
    /// let event = cameo_sdk::Event::new(r#"{"price": 12}"#);
    /// let value: Value = event.value_json()?;
    /// assert_eq!(value["price"], 12);
    ///
    /// let err = cameo_sdk::Event::new("not json").value_json::<Value>().unwrap_err();
    /// assert!(err.is_invalid_input());
    /// # Ok::<(), cameo_sdk::Error>(())
    /// ```
    pub fn value_json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.value)
            .map_err(|err| Error::invalid_input(format!("event value is not valid JSON: {err}")))
    }

    /// The key as UTF-8 text, `None` if the event has no key; [`Error::InvalidInput`] if the
    /// key is not valid UTF-8.
    pub fn key_str(&self) -> Result<Option<&str>> {
        match &self.key {
            None => Ok(None),
            Some(key) => core::str::from_utf8(key)
                .map(Some)
                .map_err(|err| Error::invalid_input(format!("event key is not UTF-8: {err}"))),
        }
    }

    /// The value of the first header named `name`, if any.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|header| header.name == name)
            .map(|header| header.value.as_slice())
    }
}

impl Header {
    /// A header with this name and value.
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_fields() {
        let event = Event::new("v")
            .with_key(b"k")
            .with_event_time(5)
            .with_header("h", "x");
        assert_eq!(event.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(event.value, b"v");
        assert_eq!(event.event_time, 5);
        assert_eq!(event.headers, vec![Header::new("h", "x")]);
        assert_eq!(event.clone().with_key_opt(None).key, None);
    }

    #[test]
    fn bad_utf8_is_invalid_input() {
        let err = Event::new(vec![0xff]).value_str().unwrap_err();
        assert!(err.is_invalid_input());
    }
}
