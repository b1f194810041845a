//! `wordcount-v3`: a third version of `wordcount` for upgrade tests, whose state changed
//! shape: it keeps each count as decimal text (`"42"`), where the versions before it kept 8
//! bytes little-endian. It exports `upgrader` (the contract's version 0.2.0), which converts
//! a count the earlier versions wrote; a value it cannot read fails the conversion of that
//! key. A count written by a version whose name has `v3` in it (this one, loaded under another
//! name) is read as decimal text and written again; the key `convtrap` makes the conversion
//! trap (a panic), for tests of a conversion that cannot finish.
//! It counts every occurrence once, like `wordcount`, and tags what it emits:
//! `{"word": w, "count": n, "version": 3}`.
//!
//! # Config
//!
//! None.

use std::collections::BTreeMap;

use cameo_sdk::serde_json::{Value, json};
use cameo_sdk::{Config, Error, Event, Operator, Output, Result, UpgradeState, state};

/// All counts live in host state, as decimal text.
struct WordCountV3;

impl Operator for WordCountV3 {
    fn init(_config: &Config) -> Result<Self> {
        Ok(WordCountV3)
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
                out.emit(
                    Event::json(&json!({"word": word, "count": count, "version": 3}))?
                        .with_key(word.as_bytes())
                        .with_event_time(event.event_time),
                );
                counts.insert(word, count);
            }
        }
        for (word, count) in counts {
            state::put(word.as_bytes(), count.to_string().as_bytes());
        }
        Ok(())
    }
}

impl UpgradeState for WordCountV3 {
    fn upgrade_state(
        &mut self,
        from_version: &str,
        key: &[u8],
        value: Vec<u8>,
    ) -> Result<Option<Vec<u8>>> {
        if key == b"convtrap" {
            panic!("asked to trap converting `convtrap`");
        }
        if from_version.contains("v3") {
            // Written by this version (under another name): read and written again.
            let count = std::str::from_utf8(&value)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| Error::failed("not a decimal count"))?;
            return Ok(Some(count.to_string().into_bytes()));
        }
        let bytes: [u8; 8] = value.as_slice().try_into().map_err(|_| {
            Error::failed(format!(
                "the count of {:?} holds {} bytes, not the 8 of an earlier version",
                String::from_utf8_lossy(key),
                value.len()
            ))
        })?;
        Ok(Some(u64::from_le_bytes(bytes).to_string().into_bytes()))
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

/// The count stored for `word` as decimal text, 0 if none.
fn stored_count(word: &str) -> Result<u64> {
    match state::get(word.as_bytes()) {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| {
                Error::failed(format!(
                    "state entry for `{word}` is not a decimal count ({} bytes)",
                    bytes.len()
                ))
            }),
    }
}

cameo_sdk::export_upgradable!(WordCountV3);
