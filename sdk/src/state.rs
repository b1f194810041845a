//! Host-held key-value state, private to the operator instance.
//!
//! Keys and values are bytes; [`get_json`] and [`put_json`] store JSON-encoded values. The
//! host keeps the state outside the component, so it survives a trap and the new instance the
//! host creates afterwards. Writes made during a call become visible to later calls only if the
//! call succeeds: a call that returns an error or traps leaves no partial state. The host counts
//! state against the tenant's quota, and a `put` past the quota traps the call.
//!
//! ```no_run
//! use cameo_sdk::state;
//!
//! state::put(b"greeting", b"hello");
//! assert_eq!(state::get(b"greeting").as_deref(), Some(&b"hello"[..]));
//! state::put_json(b"totals/eu", &[1, 2, 3])?;
//! let totals: Option<Vec<u32>> = state::get_json(b"totals/eu")?;
//! for (key, _value) in state::scan(b"totals/", None, 100) {
//!     state::delete(&key);
//! }
//! # Ok::<(), cameo_sdk::Error>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::cameo::operator::state as raw;
use crate::{Error, Result};

/// The value stored under `key`, if any.
pub fn get(key: &[u8]) -> Option<Vec<u8>> {
    raw::get(key)
}

/// Stores `value` under `key`, replacing any previous value.
pub fn put(key: &[u8], value: &[u8]) {
    raw::put(key, value)
}

/// Removes `key`; removing a missing key does nothing.
pub fn delete(key: &[u8]) {
    raw::delete(key)
}

/// Up to `limit` entries whose key starts with `prefix`, as `(key, value)` pairs in key order,
/// starting after `start_after` when given: pass the last key of one page to get the next.
/// The host returns at most 10 000 entries per call.
pub fn scan(prefix: &[u8], start_after: Option<&[u8]>, limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw::scan(prefix, start_after, limit)
}

/// The JSON value stored under `key`, deserialised into `T`, if any. A stored value that is
/// not valid JSON for `T` gives [`Error::Failed`] naming the key.
pub fn get_json<T: DeserializeOwned>(key: &[u8]) -> Result<Option<T>> {
    match raw::get(key) {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
            Error::failed(format!(
                "state entry {} does not hold the expected JSON: {err}",
                String::from_utf8_lossy(key)
            ))
        }),
    }
}

/// Stores `value` as JSON under `key`, replacing any previous value.
pub fn put_json<T: Serialize + ?Sized>(key: &[u8], value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|err| {
        Error::failed(format!(
            "cannot serialise state entry {}: {err}",
            String::from_utf8_lossy(key)
        ))
    })?;
    raw::put(key, &bytes);
    Ok(())
}
