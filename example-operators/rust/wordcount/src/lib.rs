//! `wordcount`: counts words across the whole stream and emits a running count for every
//! word occurrence.
//!
//! The text of an event is its value's `text` field when the value is a JSON object with a
//! string `text` field, and otherwise the whole value as UTF-8. It is split on every character
//! that is not alphanumeric and lower-cased. For each word, in order, the operator adds one to
//! the word's count in host state (key: the word's UTF-8 bytes; value: the count as a `u64`,
//! 8 bytes little-endian) and emits an event keyed by the word, with the input's event time and
//! the value `{"count": n, "word": w}`, where `n` is the running count. The last count emitted
//! for a word is therefore its total so far.
//!
//! Counts are read from state at most once per word and batch, and written back once at the
//! end of the batch, so a failed batch leaves the counts as they were.
//!
//! # Config
//!
//! None.
//!
//! A value that is not valid UTF-8 fails the batch with `invalid-input`.

use std::collections::BTreeMap;

use cameo_sdk::serde_json::{Value, json};
use cameo_sdk::{Config, Error, Event, Operator, Output, Result, state};

/// Word counting needs no configuration: all counts live in host state.
struct WordCount;

impl Operator for WordCount {
    fn init(_config: &Config) -> Result<Self> {
        Ok(WordCount)
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        self.process_batch(vec![event], out)
    }

    fn process_batch(&mut self, batch: Vec<Event>, out: &mut Output) -> Result<()> {
        // Counts touched by this batch, so each word is read and written once per batch.
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for event in batch {
            for word in words(&text_of(&event)?) {
                let count = match counts.get(&word) {
                    Some(count) => *count,
                    None => stored_count(&word)?,
                } + 1;
                out.emit(
                    Event::json(&json!({"word": word, "count": count}))?
                        .with_key(word.as_bytes())
                        .with_event_time(event.event_time),
                );
                counts.insert(word, count);
            }
        }
        for (word, count) in counts {
            state::put(word.as_bytes(), &count.to_le_bytes());
        }
        Ok(())
    }
}

/// The text to count: the `text` field of a JSON object, else the whole value.
fn text_of(event: &Event) -> Result<String> {
    if let Ok(Value::Object(mut object)) = event.value_json::<Value>()
        && let Some(Value::String(text)) = object.remove("text")
    {
        return Ok(text);
    }
    Ok(event.value_str()?.to_string())
}

/// The lower-cased words of `text`, split on anything that is not alphanumeric.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
}

/// The count stored for `word`, 0 if none.
fn stored_count(word: &str) -> Result<u64> {
    match state::get(word.as_bytes()) {
        None => Ok(0),
        Some(bytes) => {
            let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                Error::failed(format!(
                    "state entry for `{word}` holds {} bytes, not an 8-byte count",
                    bytes.len()
                ))
            })?;
            Ok(u64::from_le_bytes(bytes))
        }
    }
}

cameo_sdk::export_operator!(WordCount);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_lowercases() {
        let words: Vec<String> = words("Hello, hello WORLD!  été-2024").collect();
        assert_eq!(words, ["hello", "hello", "world", "été", "2024"]);
    }

    #[test]
    fn text_field_or_whole_value() {
        let text = text_of(&Event::new(r#"{"text": "a b", "x": 1}"#)).unwrap();
        assert_eq!(text, "a b");
        let text = text_of(&Event::new(r#"{"body": "a b"}"#)).unwrap();
        assert_eq!(text, r#"{"body": "a b"}"#);
        let text = text_of(&Event::new("plain words")).unwrap();
        assert_eq!(text, "plain words");
        assert!(
            text_of(&Event::new(vec![0xff]))
                .unwrap_err()
                .is_invalid_input()
        );
    }
}
