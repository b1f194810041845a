//! How window accumulators cross to the host and back: a compact binary encoding (postcard)
//! behind a one-byte tag, with JSON as the fallback and for accumulators written by older
//! versions of this crate.
//!
//! The host stores accumulators as opaque bytes and hands them back on the next batch, at
//! merges and when a pane fires, so every batch decodes and encodes each pane it touches.
//! JSON costs a parse and a print per pane; postcard is a few byte copies. Operator authors
//! never see the encoding: any `Serialize + DeserializeOwned` type works.
//!
//! postcard is not self-describing, so a few serde shapes do not survive it (untagged or
//! internally tagged enums, `#[serde(flatten)]`, `skip_serializing_if`, `serde_json::Value`).
//! The first accumulator an instance encodes is decoded again to check; if that fails, the
//! instance writes JSON from then on. Decoding looks at the tag, so both encodings (and
//! checkpoints holding either) are always read.

use std::cell::Cell;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// The first byte of a postcard-encoded accumulator. JSON text never starts with a NUL byte.
const POSTCARD_TAG: u8 = 0;

/// Which encoding this instance writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Not chosen yet: the next encode tries postcard and checks it.
    Unknown,
    /// The accumulator type survives postcard.
    Postcard,
    /// It does not: JSON.
    Json,
}

std::thread_local! {
    /// The encoding chosen for this instance's accumulator type (a component holds one
    /// windowed operator, so one slot is enough).
    static FORMAT: Cell<Format> = const { Cell::new(Format::Unknown) };
}

/// Forgets the chosen encoding (a new instance may hold another type).
pub(crate) fn reset() {
    FORMAT.with(|format| format.set(Format::Unknown));
}

/// Encodes an accumulator for the host.
pub(crate) fn encode<A: Serialize + DeserializeOwned>(acc: &A) -> Result<Vec<u8>> {
    match FORMAT.with(Cell::get) {
        Format::Postcard => encode_postcard(acc),
        Format::Json => encode_json(acc),
        Format::Unknown => {
            let chosen = match encode_postcard(acc) {
                Ok(bytes) if decode_postcard::<A>(&bytes).is_ok() => Some(bytes),
                _ => None,
            };
            FORMAT.with(|format| {
                format.set(if chosen.is_some() {
                    Format::Postcard
                } else {
                    Format::Json
                })
            });
            match chosen {
                Some(bytes) => Ok(bytes),
                None => encode_json(acc),
            }
        }
    }
}

/// Appends an accumulator's encoding to `out` (as [`encode`] writes it, without a buffer of
/// its own once the encoding is chosen).
pub(crate) fn encode_into<A: Serialize + DeserializeOwned>(
    acc: &A,
    out: &mut Vec<u8>,
) -> Result<()> {
    if FORMAT.with(Cell::get) != Format::Postcard {
        out.extend_from_slice(&encode(acc)?);
        return Ok(());
    }
    out.push(POSTCARD_TAG);
    *out = postcard::to_extend(acc, std::mem::take(out))
        .map_err(|err| Error::failed(format!("cannot serialise a window accumulator: {err}")))?;
    Ok(())
}

/// Decodes an accumulator the host handed back; `what` names it in the error.
pub(crate) fn decode<A: DeserializeOwned>(
    bytes: &[u8],
    what: impl FnOnce() -> String,
) -> Result<A> {
    let decoded = if bytes.first() == Some(&POSTCARD_TAG) {
        decode_postcard(bytes)
    } else {
        serde_json::from_slice(bytes).map_err(|err| err.to_string())
    };
    decoded.map_err(|err| {
        const SHOWN: usize = 64;
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]);
        let more = if bytes.len() > SHOWN { "..." } else { "" };
        Error::failed(format!(
            "the window accumulator of {} is corrupt: {err} (it holds {} bytes: {shown:?}{more}); \
             accumulators are WindowOperator::Acc encoded by this SDK",
            what(),
            bytes.len()
        ))
    })
}

fn encode_postcard<A: Serialize>(acc: &A) -> Result<Vec<u8>> {
    postcard::to_extend(acc, vec![POSTCARD_TAG])
        .map_err(|err| Error::failed(format!("cannot serialise a window accumulator: {err}")))
}

fn decode_postcard<A: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<A, String> {
    let body = bytes.get(1..).unwrap_or_default();
    match postcard::take_from_bytes::<A>(body) {
        Ok((acc, [])) => Ok(acc),
        Ok((_, rest)) => Err(format!(
            "{} bytes left over after the accumulator",
            rest.len()
        )),
        Err(err) => Err(err.to_string()),
    }
}

fn encode_json<A: Serialize>(acc: &A) -> Result<Vec<u8>> {
    serde_json::to_vec(acc)
        .map_err(|err| Error::failed(format!("cannot serialise a window accumulator: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Plain {
        n: u64,
        total: i64,
        name: Option<String>,
    }

    #[test]
    fn plain_types_use_postcard_and_round_trip() {
        reset();
        let acc = Plain {
            n: 3,
            total: -7,
            name: Some("x".into()),
        };
        let bytes = encode(&acc).unwrap();
        assert_eq!(bytes[0], POSTCARD_TAG);
        assert!(bytes.len() < serde_json::to_vec(&acc).unwrap().len());
        assert_eq!(decode::<Plain>(&bytes, String::new).unwrap(), acc);
    }

    #[test]
    fn json_written_before_still_decodes() {
        reset();
        let acc: Plain = decode(br#"{"n":1,"total":2,"name":null}"#, String::new).unwrap();
        assert_eq!(acc.total, 2);
    }

    #[test]
    fn types_postcard_cannot_read_fall_back_to_json() {
        reset();
        let acc = serde_json::json!({"any": [1, "two"]});
        let bytes = encode(&acc).unwrap();
        assert_eq!(bytes, br#"{"any":[1,"two"]}"#.to_vec());
        let back: serde_json::Value = decode(&bytes, String::new).unwrap();
        assert_eq!(back, acc);
        reset();
    }

    #[test]
    fn corrupt_bytes_name_the_pane() {
        reset();
        let err = decode::<Plain>(&[POSTCARD_TAG, 0xff], || "key \"a\"".into()).unwrap_err();
        assert!(
            err.message()
                .starts_with("the window accumulator of key \"a\" is corrupt: "),
            "{}",
            err.message()
        );
        let err = decode::<u8>(&[POSTCARD_TAG, 1, 2], String::new).unwrap_err();
        assert!(
            err.message().contains("1 bytes left over"),
            "{}",
            err.message()
        );
    }
}
