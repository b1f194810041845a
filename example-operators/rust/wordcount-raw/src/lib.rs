//! `wordcount-raw`: `wordcount` written against the bindings wit-bindgen generates, without
//! `cameo-sdk`: the baseline `cameo bench languages` measures the SDK's glue against. The text
//! of an event is its value's `text` field when the value is a JSON object with a string
//! `text` field, else the whole value as UTF-8; words are runs of alphanumeric characters,
//! lower-cased, counted in host state (8 bytes little-endian per word), with one event
//! `{"count":n,"word":w}` keyed by the word per occurrence.

use std::collections::BTreeMap;

use serde_json::Value;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "operator",
});

use cameo::operator::state;
use cameo::operator::types::{Event, OperatorError};
use exports::cameo::operator::handler::Guest;

/// The text to count: the `text` field of a JSON object, else the whole value.
fn text_of(value: &[u8]) -> Result<String, OperatorError> {
    if let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(value)
        && let Some(Value::String(text)) = object.remove("text")
    {
        return Ok(text);
    }
    String::from_utf8(value.to_vec())
        .map_err(|err| OperatorError::InvalidInput(format!("event value is not UTF-8: {err}")))
}

/// The count stored for `word`, 0 if none.
fn stored_count(word: &str) -> Result<u64, OperatorError> {
    match state::get(word.as_bytes()) {
        None => Ok(0),
        Some(bytes) => bytes
            .try_into()
            .map(u64::from_le_bytes)
            .map_err(|_| OperatorError::Failed(format!("state entry for `{word}` is not a count"))),
    }
}

struct WordCountRaw;

impl Guest for WordCountRaw {
    fn init(_config: String) -> Result<(), OperatorError> {
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Result<Vec<Event>, OperatorError> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut out = Vec::new();
        for event in batch {
            let text = text_of(&event.value)?;
            for word in text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_lowercase)
            {
                let count = match counts.get(&word) {
                    Some(count) => *count,
                    None => stored_count(&word)?,
                } + 1;
                let value = serde_json::to_vec(&serde_json::json!({"word": word, "count": count}))
                    .map_err(|err| OperatorError::Failed(err.to_string()))?;
                out.push(Event {
                    key: Some(word.as_bytes().to_vec()),
                    value,
                    event_time: event.event_time,
                    headers: Vec::new(),
                });
                counts.insert(word, count);
            }
        }
        for (word, count) in counts {
            state::put(word.as_bytes(), &count.to_le_bytes());
        }
        Ok(out)
    }

    fn on_timer(_key: Option<Vec<u8>>, _time: i64) -> Result<Vec<Event>, OperatorError> {
        Ok(Vec::new())
    }
}

export!(WordCountRaw);
