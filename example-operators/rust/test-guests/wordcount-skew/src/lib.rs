//! `wordcount-skew`: `wordcount` with a planted difference, for shadow-run tests. It reads and
//! writes the same state as `wordcount` (key: the word's UTF-8 bytes; value: the count as a
//! `u64`, 8 bytes little-endian) and emits the same `{"word": w, "count": n}`, except for the
//! word `w3`, whose emitted count is ten times the true one (the stored count stays right).
//! A shadow run of it beside `wordcount` therefore matches on every key but `w3`.
//!
//! Words are split as `wordcount` splits them: the value as UTF-8 (or its `text` field when it
//! is a JSON object that has one), on every character that is not alphanumeric, lower-cased.
//!
//! # Config
//!
//! None.

use std::collections::BTreeMap;

use cameo_sdk::serde_json::{Value, json};
use cameo_sdk::{Config, Error, Event, Operator, Output, Result, state};

/// The word whose emitted count is skewed.
const SKEWED: &str = "w3";

/// All counts live in host state.
struct WordCountSkew;

impl Operator for WordCountSkew {
    fn init(_config: &Config) -> Result<Self> {
        Ok(WordCountSkew)
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        self.process_batch(vec![event], out)
    }

    fn process_batch(&mut self, batch: Vec<Event>, out: &mut Output) -> Result<()> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for event in batch {
            for word in words(&text_of(&event)?) {
                let count = match counts.get(&word) {
                    Some(count) => *count,
                    None => stored_count(&word)?,
                } + 1;
                let shown = if word == SKEWED { count * 10 } else { count };
                out.emit(
                    Event::json(&json!({"word": word, "count": shown}))?
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

cameo_sdk::export_operator!(WordCountSkew);
