//! Converting the keyed state an earlier module version wrote, with the new version's
//! `upgrade-state` (the `upgrader` export of the contract's version 0.2.0) or, when it has
//! it, `packed-upgrader.upgrade-states` (many entries per call, in one buffer): every key,
//! once, in the first call after the switch, before the call's own input.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Func, Instance};

use super::failure::CallFailure;
use crate::bindings::{OperatorError, PACKED_UPGRADER_INTERFACE, UPGRADER_INTERFACE};
use crate::engine::HostState;
use crate::limits::Limits;
use crate::state::StateTxn;

/// At most this many bytes of entries (keys, values and their lengths) go into one
/// `upgrade-states` call.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// At most this many entries go into one `upgrade-states` call (each call has the fuel of
/// one call, so a chunk must stay well within it).
pub(crate) const CHUNK_ENTRIES: usize = 4096;

/// The tags of a `packed-upgrader` result entry (`wit/0.2.0/upgrader.wit`).
const REMOVE: u8 = 0;
const KEEP: u8 = 1;
const FAILED: u8 = 2;

/// Where a component's state conversion is.
#[derive(Clone, Default)]
pub(crate) struct ConverterIndex {
    /// `upgrader.upgrade-state`, one key per call.
    per_key: Option<ComponentExportIndex>,
    /// `packed-upgrader.upgrade-states`, many keys per call.
    packed: Option<ComponentExportIndex>,
}

impl ConverterIndex {
    /// Where the conversion exports of `component` are; `None` when it has neither.
    pub(crate) fn of(component: &wasmtime::component::Component) -> Option<Self> {
        let find = |interface: &str, name: &str| {
            let interface = component.get_export_index(None, interface)?;
            component.get_export_index(Some(&interface), name)
        };
        let index = ConverterIndex {
            per_key: find(UPGRADER_INTERFACE, "upgrade-state"),
            packed: find(PACKED_UPGRADER_INTERFACE, "upgrade-states"),
        };
        (index.per_key.is_some() || index.packed.is_some()).then_some(index)
    }

    /// The same, with the batched export forgotten when the per-key one is there.
    pub(crate) fn per_key_only(&self) -> Self {
        match &self.per_key {
            Some(_) => ConverterIndex {
                per_key: self.per_key,
                packed: None,
            },
            None => self.clone(),
        }
    }

    /// True when conversion goes in batches.
    pub(crate) fn is_packed(&self) -> bool {
        self.packed.is_some()
    }

    /// The conversion function of `instance`: the batched one when the component has it.
    pub(crate) fn lookup(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<Converter> {
        if let Some(func) = self
            .packed
            .as_ref()
            .and_then(|index| instance.get_func(&mut *store, index))
        {
            return Some(Converter::Packed(func));
        }
        self.per_key
            .as_ref()
            .and_then(|index| instance.get_func(&mut *store, index))
            .map(Converter::PerKey)
    }
}

/// A new version's state conversion, ready to call.
pub(crate) enum Converter {
    /// `upgrader.upgrade-state`: one call per key.
    PerKey(Func),
    /// `packed-upgrader.upgrade-states`: one call per chunk of keys.
    Packed(Func),
}

/// What converting one entry gave.
enum Converted {
    Keep(Vec<u8>),
    Remove,
    Failed(String),
}

/// Converts every entry of the instance's state written by `from`, then applies the results
/// together (a value replaces the old one, none removes the key; a key whose conversion
/// fails keeps its value, and is logged). Per key, each call has a fresh fuel budget; in
/// batches, each chunk (at most [`CHUNK_BYTES`] and [`CHUNK_ENTRIES`]) has one. A trap, or an
/// error of a whole batch, ends the conversion with nothing applied; the error names the
/// operator, its module and how many keys were to be converted.
pub(super) async fn convert(
    store: &mut Store<HostState>,
    converter: Converter,
    module: &str,
    from: &str,
    limits: &Limits,
) -> wasmtime::Result<()> {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = store
        .data()
        .held
        .state
        .iter()
        .map(|(key, value)| (key.to_vec(), value.to_vec()))
        .collect();
    let keys = entries.len();
    let operator = store.data().log.label.clone();
    let converted = match converter {
        Converter::PerKey(func) => per_key(store, func, from, &entries, limits).await,
        Converter::Packed(func) => packed(store, func, from, &entries, limits).await,
    };
    let results = match converted {
        Ok(results) => results,
        Err(err) => {
            // Said in full here: a trap's own text (and the panic before it) would otherwise
            // be all the failure tells.
            let panic = store.data_mut().log.flush();
            let reason = CallFailure::from_trap(&err, limits.fuel_per_call).after_panic(panic);
            return Err(wasmtime::Error::msg(format!(
                "operator \"{operator}\" ({module}) could not convert the {keys} keys of \
                 state {from} wrote, so none was converted and the state stays as {from} \
                 wrote it: {reason}"
            )));
        }
    };
    let mut txn = StateTxn::default();
    let mut failed = 0usize;
    let mut first_failure = None;
    for ((key, _), result) in entries.into_iter().zip(results) {
        match result {
            Converted::Keep(value) => {
                let held = &store.data().held.state;
                // Charged by the actor once the call is over, at what the state holds then.
                let _ = txn.put(held, key, value, u64::MAX);
            }
            Converted::Remove => txn.delete(key),
            Converted::Failed(reason) => {
                failed += 1;
                first_failure.get_or_insert_with(|| {
                    format!("{:?}: {reason}", String::from_utf8_lossy(&key))
                });
            }
        }
    }
    if let Some(first) = first_failure {
        tracing::warn!(
            operator = %operator,
            from,
            failed,
            "upgrade-state failed for {failed} of {keys} keys, which keep the value the \
             earlier version wrote; the first: {first}"
        );
    }
    txn.commit(&mut store.data_mut().held.state);
    Ok(())
}

/// `upgrade-state` once per entry, each call with a fresh fuel budget.
async fn per_key(
    store: &mut Store<HostState>,
    func: Func,
    from: &str,
    entries: &[(Vec<u8>, Vec<u8>)],
    limits: &Limits,
) -> wasmtime::Result<Vec<Converted>> {
    type Params<'a> = (&'a str, &'a [u8], &'a [u8]);
    type Results = (Result<Option<Vec<u8>>, OperatorError>,);
    let typed = func.typed::<Params<'_>, Results>(&*store)?;
    let mut results = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        store.set_fuel(limits.fuel_per_call)?;
        let (result,) = typed
            .call_async(&mut *store, (from, key.as_slice(), value.as_slice()))
            .await?;
        results.push(match result {
            Ok(Some(value)) => Converted::Keep(value),
            Ok(None) => Converted::Remove,
            Err(err) => Converted::Failed(format!("{err:?}")),
        });
    }
    Ok(results)
}

/// `upgrade-states` once per chunk of entries, each call with a fresh fuel budget.
async fn packed(
    store: &mut Store<HostState>,
    func: Func,
    from: &str,
    entries: &[(Vec<u8>, Vec<u8>)],
    limits: &Limits,
) -> wasmtime::Result<Vec<Converted>> {
    type Params<'a> = (&'a str, &'a [u8]);
    type Results = (Result<Vec<u8>, OperatorError>,);
    let typed = func.typed::<Params<'_>, Results>(&*store)?;
    let mut results = Vec::with_capacity(entries.len());
    let mut buffer = Vec::new();
    for chunk in chunks(entries) {
        pack(&mut buffer, chunk)?;
        store.set_fuel(limits.fuel_per_call)?;
        let (result,) = typed
            .call_async(&mut *store, (from, buffer.as_slice()))
            .await?;
        match result {
            Ok(packed) => unpack(&packed, chunk.len(), &mut results)?,
            Err(err) => {
                return Err(wasmtime::Error::msg(format!(
                    "upgrade-states refused a batch of {} keys: {err:?}",
                    chunk.len()
                )));
            }
        }
    }
    Ok(results)
}

/// `entries` cut into runs of at most [`CHUNK_ENTRIES`] entries and [`CHUNK_BYTES`] bytes
/// (an entry larger than that alone).
fn chunks(entries: &[(Vec<u8>, Vec<u8>)]) -> impl Iterator<Item = &[(Vec<u8>, Vec<u8>)]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0usize;
        let mut len = 0usize;
        for (key, value) in rest.iter().take(CHUNK_ENTRIES) {
            bytes += 8 + key.len() + value.len();
            if len > 0 && bytes > CHUNK_BYTES {
                break;
            }
            len += 1;
        }
        let (chunk, after) = rest.split_at(len);
        rest = after;
        Some(chunk)
    })
}

/// Writes `entries` into `buffer` in the layout of `upgrade-states`.
fn pack(buffer: &mut Vec<u8>, entries: &[(Vec<u8>, Vec<u8>)]) -> wasmtime::Result<()> {
    buffer.clear();
    put_len(buffer, entries.len())?;
    for (key, value) in entries {
        put_len(buffer, key.len())?;
        buffer.extend_from_slice(key);
        put_len(buffer, value.len())?;
        buffer.extend_from_slice(value);
    }
    Ok(())
}

fn put_len(buffer: &mut Vec<u8>, len: usize) -> wasmtime::Result<()> {
    let len = u32::try_from(len)
        .map_err(|_| wasmtime::Error::msg(format!("{len} bytes are over a packed length")))?;
    buffer.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Reads the result of an `upgrade-states` call over `expected` entries into `results`.
fn unpack(bytes: &[u8], expected: usize, results: &mut Vec<Converted>) -> wasmtime::Result<()> {
    let mut at = 0usize;
    let bad = |what: &str| {
        wasmtime::Error::msg(format!(
            "upgrade-states answered a batch of {expected} keys with {} bytes that do not \
             follow the layout of packed-upgrader: {what}",
            bytes.len()
        ))
    };
    let mut take = |len: usize, what: &str| {
        let part = bytes
            .get(at..at.saturating_add(len))
            .ok_or_else(|| bad(what))?;
        at += len;
        Ok::<&[u8], wasmtime::Error>(part)
    };
    let u32_at = |part: &[u8]| u32::from_le_bytes([part[0], part[1], part[2], part[3]]) as usize;
    let count = u32_at(take(4, "it ends inside the entry count")?);
    if count != expected {
        return Err(bad(&format!("it holds {count} results")));
    }
    for _ in 0..count {
        let tag = take(1, "it ends inside a tag")?[0];
        let mut payload = |what: &str| -> wasmtime::Result<Vec<u8>> {
            let len = u32_at(take(4, what)?);
            Ok(take(len, what)?.to_vec())
        };
        results.push(match tag {
            REMOVE => Converted::Remove,
            KEEP => Converted::Keep(payload("it ends inside a value")?),
            FAILED => Converted::Failed(
                String::from_utf8_lossy(&payload("it ends inside a reason")?).into_owned(),
            ),
            other => return Err(bad(&format!("{other} is not a tag (0, 1 or 2)"))),
        });
    }
    if at != bytes.len() {
        return Err(bad(&format!(
            "{} bytes follow the last result",
            bytes.len() - at
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(sizes: &[usize]) -> Vec<(Vec<u8>, Vec<u8>)> {
        sizes.iter().map(|n| (vec![1], vec![0; *n])).collect()
    }

    #[test]
    fn chunks_keep_every_entry_in_order_within_both_bounds() {
        let many = entries(&vec![1; CHUNK_ENTRIES * 2 + 3]);
        let lens: Vec<usize> = chunks(&many).map(<[_]>::len).collect();
        assert_eq!(lens, vec![CHUNK_ENTRIES, CHUNK_ENTRIES, 3]);
        let big = entries(&[CHUNK_BYTES / 2, CHUNK_BYTES / 2, CHUNK_BYTES * 2, 5]);
        let lens: Vec<usize> = chunks(&big).map(<[_]>::len).collect();
        // Two halves and their lengths are over the bound; the huge one goes alone.
        assert_eq!(lens, vec![1, 1, 1, 1]);
        assert_eq!(chunks(&[]).count(), 0);
    }

    #[test]
    fn a_result_that_does_not_follow_the_layout_is_refused_saying_how() {
        let mut results = Vec::new();
        let mut ok = 2u32.to_le_bytes().to_vec();
        ok.extend_from_slice(&[KEEP, 1, 0, 0, 0, b'x', REMOVE]);
        unpack(&ok, 2, &mut results).unwrap();
        assert!(matches!(&results[..], [Converted::Keep(v), Converted::Remove] if v == b"x"));
        let err = unpack(&ok, 3, &mut Vec::new()).unwrap_err().to_string();
        assert!(
            err.contains("batch of 3 keys") && err.contains("holds 2 results"),
            "{err}"
        );
        let mut bad_tag = 1u32.to_le_bytes().to_vec();
        bad_tag.push(7);
        let err = unpack(&bad_tag, 1, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("7 is not a tag"), "{err}");
        let err = unpack(&ok[..7], 2, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("ends inside a value"), "{err}");
    }
}
