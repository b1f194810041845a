use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

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

    /// The value, parsed as JSON into `T`, borrowing from the event where `T` allows (a
    /// `&str` field of `T` points into the event instead of being copied).
    ///
    /// ```
    /// # use cameo_sdk::{Event, serde::Deserialize};
    /// #[derive(Deserialize)]
    /// # #[serde(crate = "cameo_sdk::serde")]
    /// struct Reading<'a> { sensor: &'a str, celsius: f64 }
    ///
    /// let event = Event::new(r#"{"sensor": "s1", "celsius": 21.5}"#);
    /// let reading: Reading = event.value_as().unwrap();
    /// assert_eq!((reading.sensor, reading.celsius), ("s1", 21.5));
    /// ```
    pub fn value_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        serde_json::from_slice(&self.value)
            .map_err(|err| Error::invalid_input(format!("event value is not valid JSON: {err}")))
    }

    /// One top-level field of the value, a JSON object, parsed into `T`; `None` when the
    /// object has no such field. The other fields are skipped without building them (no
    /// `serde_json::Value` tree, no copies), which makes this the fast way to read one or two
    /// fields of a large event. A value that is not a JSON object, or a field that is not a
    /// `T`, is [`Error::InvalidInput`](crate::Error::InvalidInput).
    ///
    /// ```
    /// # use cameo_sdk::Event;
    /// let event = Event::new(r#"{"sensor": "s1", "celsius": 21.5, "tags": ["a", "b"]}"#);
    /// assert_eq!(event.json_field::<f64>("celsius").unwrap(), Some(21.5));
    /// assert_eq!(event.json_field::<&str>("sensor").unwrap(), Some("s1"));
    /// assert_eq!(event.json_field::<f64>("missing").unwrap(), None);
    /// assert!(event.json_field::<f64>("sensor").is_err());
    /// ```
    pub fn json_field<'a, T: Deserialize<'a>>(&'a self, name: &str) -> Result<Option<T>> {
        // One pass over the bytes finds the field of a plainly valid object; anything else,
        // and a field that is not a `T`, is parsed again by serde_json for its exact answer.
        match crate::json_scan::top_level_field(&self.value, name) {
            Some(None) => return Ok(None),
            Some(Some(raw)) => {
                if let Ok(field) = serde_json::from_slice(raw) {
                    return Ok(Some(field));
                }
            }
            None => {}
        }
        parse_field(&self.value, name)
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

/// Top-level field `name` of JSON object `value` parsed into `T` by serde_json: the exact
/// answer and error message.
pub(crate) fn parse_field<'a, T: Deserialize<'a>>(
    value: &'a [u8],
    name: &str,
) -> Result<Option<T>> {
    let mut parser = serde_json::Deserializer::from_slice(value);
    let field = FieldSeed::<T> {
        name,
        found: PhantomData,
    }
    .deserialize(&mut parser)
    .and_then(|field| parser.end().map(|()| field));
    field.map_err(|err| {
        Error::invalid_input(format!(
            "cannot read field `{name}` of the event value: {err}"
        ))
    })
}

/// Finds one field of a JSON object, skipping the others.
struct FieldSeed<'n, T> {
    name: &'n str,
    found: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for FieldSeed<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> core::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for FieldSeed<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(
        self,
        mut map: M,
    ) -> core::result::Result<Self::Value, M::Error> {
        let mut value = None;
        while let Some(matches) = map.next_key_seed(KeyIs(self.name))? {
            if matches {
                // The last of repeated fields wins, as when parsing into a map.
                value = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(value)
    }
}

/// Compares an object key with a name without copying it.
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> core::result::Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> core::result::Result<bool, E> {
        Ok(key == self.0)
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
    fn json_field_reads_one_field_and_checks_the_rest() {
        let event = Event::new(r#"{"a": {"deep": [1, 2]}, "n": 7, "s": "x\"y", "n": 8}"#);
        assert_eq!(event.json_field::<i64>("n").unwrap(), Some(8));
        assert_eq!(
            event.json_field::<String>("s").unwrap(),
            Some("x\"y".into())
        );
        assert_eq!(event.json_field::<i64>("none").unwrap(), None);
        // An escaped key still matches.
        let event = Event::new(r#"{"\u006e": 1}"#);
        assert_eq!(event.json_field::<i64>("n").unwrap(), Some(1));
        for bad in [
            "[1]",
            "7",
            "nope",
            r#"{"n": 1"#,
            r#"{"n": 1} x"#,
            r#"{"n": "one"}"#,
        ] {
            let err = Event::new(bad).json_field::<i64>("n").unwrap_err();
            assert!(err.is_invalid_input(), "{bad}");
            assert!(
                err.message()
                    .starts_with("cannot read field `n` of the event value: "),
                "{}",
                err.message()
            );
        }
    }

    #[test]
    fn bad_utf8_is_invalid_input() {
        let err = Event::new(vec![0xff]).value_str().unwrap_err();
        assert!(err.is_invalid_input());
    }
}
