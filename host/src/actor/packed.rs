//! The layouts of the contract's 0.2.0 `packed` and `packed-process` interfaces
//! (`wit/0.2.0/packed.wit`): a window batch, or a batch of events, written into one buffer,
//! and the accumulators read back from one.

use std::ops::Range;

use super::accumulate::{EventRef, PaneRef};
use crate::bindings::Event;

/// The length that stands for "none" in an optional byte string.
const NONE: u32 = u32::MAX;

/// Why a packed result could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackedError {
    /// The buffer ended inside an item.
    #[error("it ends after {at} bytes, inside {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where the buffer ended.
        at: usize,
    },
    /// Bytes were left after the last item.
    #[error("{0} bytes are left after the last accumulator")]
    Trailing(usize),
}

/// Appends a `u32` length (or count).
fn put_len(out: &mut Vec<u8>, len: usize) {
    // Lengths of what the host holds fit in a u32: batches are bounded far below 4 GiB.
    let len = u32::try_from(len).unwrap_or(NONE - 1);
    out.extend_from_slice(&len.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_opt_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => put_bytes(out, bytes),
        None => out.extend_from_slice(&NONE.to_le_bytes()),
    }
}

/// The batch of `packed.accumulate`: its panes, then its events with their panes' indices.
pub(super) fn encode_batch(panes: &[PaneRef<'_>], events: &[(u32, EventRef<'_>)]) -> Vec<u8> {
    let size = 8
        + panes
            .iter()
            .map(|p| 24 + p.key.map_or(0, <[u8]>::len) + p.acc.map_or(0, <[u8]>::len))
            .sum::<usize>()
        + events.iter().map(|(_, e)| 4 + event_size(e)).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    put_len(&mut out, panes.len());
    for pane in panes {
        put_pane(&mut out, pane);
    }
    put_len(&mut out, events.len());
    for (pane, event) in events {
        out.extend_from_slice(&pane.to_le_bytes());
        put_event(&mut out, event);
    }
    out
}

/// Appends a pane: key, window, accumulator.
pub(super) fn put_pane(out: &mut Vec<u8>, pane: &PaneRef<'_>) {
    put_opt_bytes(out, pane.key);
    out.extend_from_slice(&pane.window.start.to_le_bytes());
    out.extend_from_slice(&pane.window.end.to_le_bytes());
    put_opt_bytes(out, pane.acc);
}

/// Appends a `u32` count.
pub(super) fn put_count(out: &mut Vec<u8>, count: usize) {
    put_len(out, count);
}

/// Bytes an event takes in a packed buffer.
pub(super) fn event_size(event: &EventRef<'_>) -> usize {
    20 + event.key.map_or(0, <[u8]>::len)
        + event.value.len()
        + event
            .headers
            .iter()
            .map(|h| 8 + h.name.len() + h.value.len())
            .sum::<usize>()
}

/// Appends an event: key, value, time, headers.
pub(super) fn put_event(out: &mut Vec<u8>, event: &EventRef<'_>) {
    put_opt_bytes(out, event.key);
    put_bytes(out, event.value);
    out.extend_from_slice(&event.event_time.to_le_bytes());
    put_len(out, event.headers.len());
    for header in event.headers {
        put_bytes(out, header.name.as_bytes());
        put_bytes(out, &header.value);
    }
}

/// The batch of `packed-process.process`: its events.
pub(super) fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    put_events(&mut out, events);
    out
}

/// Appends `events`, count first (reserving room for them first).
pub(super) fn put_events(out: &mut Vec<u8>, events: &[Event]) {
    let size: usize = events.iter().map(|e| event_size(&e.into())).sum();
    out.reserve(4 + size);
    put_len(out, events.len());
    for event in events {
        put_event(out, &event.into());
    }
}

/// The `u32` at `*at`, moving past it.
fn read_len(bytes: &[u8], at: &mut usize, what: &'static str) -> Result<usize, PackedError> {
    let part = bytes
        .get(*at..at.saturating_add(4))
        .ok_or(PackedError::Truncated {
            what,
            at: bytes.len(),
        })?;
    *at += 4;
    Ok(u32::from_le_bytes([part[0], part[1], part[2], part[3]]) as usize)
}

/// The bytes at `*at` of length `len`, moving past them.
fn read_slice<'a>(
    bytes: &'a [u8],
    at: &mut usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], PackedError> {
    let part = bytes
        .get(*at..at.saturating_add(len))
        .ok_or(PackedError::Truncated {
            what,
            at: bytes.len(),
        })?;
    *at += len;
    Ok(part)
}

fn read_bytes(bytes: &[u8], at: &mut usize, what: &'static str) -> Result<Vec<u8>, PackedError> {
    let len = read_len(bytes, at, what)?;
    read_slice(bytes, at, len, what).map(<[u8]>::to_vec)
}

/// The `i64` at `*at`, moving past it.
pub(super) fn read_i64(
    bytes: &[u8],
    at: &mut usize,
    what: &'static str,
) -> Result<i64, PackedError> {
    let part = read_slice(bytes, at, 8, what)?;
    let mut array = [0; 8];
    array.copy_from_slice(part);
    Ok(i64::from_le_bytes(array))
}

/// Reads events written by [`put_event`], count first.
pub(super) fn read_events(bytes: &[u8], at: &mut usize) -> Result<Vec<Event>, PackedError> {
    let count = read_len(bytes, at, "the event count")?;
    // Each event takes at least 20 bytes: a larger count is cut short below.
    let mut events = Vec::with_capacity(count.min(bytes.len() / 20));
    for _ in 0..count {
        let key = match read_len(bytes, at, "an event's key")? as u32 {
            NONE => None,
            len => Some(read_slice(bytes, at, len as usize, "an event's key")?.to_vec()),
        };
        let value = read_bytes(bytes, at, "an event's value")?;
        let event_time = read_i64(bytes, at, "an event's time")?;
        let headers = (0..read_len(bytes, at, "an event's header count")?)
            .map(|_| {
                let name = read_bytes(bytes, at, "a header's name")?;
                let value = read_bytes(bytes, at, "a header's value")?;
                Ok(crate::bindings::Header {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    value,
                })
            })
            .collect::<Result<_, PackedError>>()?;
        events.push(Event {
            key,
            value,
            event_time,
            headers,
        });
    }
    Ok(events)
}

/// Reads the result of `packed.accumulate`: one accumulator per pane.
pub(super) fn decode_accumulators(bytes: &[u8]) -> Result<Vec<Range<usize>>, PackedError> {
    let mut at = 0;
    let count = read_len(bytes, &mut at, "the accumulator count")?;
    // Each accumulator takes at least its 4-byte length: a larger count is cut short below.
    let mut accs = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let len = read_len(bytes, &mut at, "an accumulator's length")?;
        let end = at.saturating_add(len);
        if end > bytes.len() {
            return Err(PackedError::Truncated {
                what: "an accumulator",
                at: bytes.len(),
            });
        }
        accs.push(at..end);
        at = end;
    }
    if at != bytes.len() {
        return Err(PackedError::Trailing(bytes.len() - at));
    }
    Ok(accs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accs(items: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        put_len(&mut out, items.len());
        for item in items {
            put_bytes(&mut out, item);
        }
        out
    }

    #[test]
    fn accumulators_read_back_as_written() {
        let bytes = accs(&[b"abc", b"", b"\x00\xff"]);
        let read: Vec<&[u8]> = decode_accumulators(&bytes)
            .unwrap()
            .into_iter()
            .map(|range| &bytes[range])
            .collect();
        assert_eq!(read, [&b"abc"[..], b"", b"\x00\xff"]);
    }

    #[test]
    fn a_short_or_long_result_is_an_error_not_a_panic() {
        let bytes = accs(&[b"abc"]);
        assert_eq!(
            decode_accumulators(&bytes[..bytes.len() - 1]),
            Err(PackedError::Truncated {
                what: "an accumulator",
                at: bytes.len() - 1
            })
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_accumulators(&long), Err(PackedError::Trailing(1)));
        assert!(decode_accumulators(&[1, 0]).is_err());
        // A count far past what the bytes could hold allocates nothing for it.
        assert!(decode_accumulators(&u32::MAX.to_le_bytes()).is_err());
        let huge_len = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe];
        assert!(decode_accumulators(&huge_len).is_err());
    }

    #[test]
    fn a_batch_lays_out_panes_then_events() {
        let header = crate::bindings::Header {
            name: "h".into(),
            value: b"v".to_vec(),
        };
        let headers = [header];
        let panes = [PaneRef {
            key: Some(b"k"),
            window: crate::bindings::Window { start: 0, end: 10 },
            acc: None,
        }];
        let events = [(
            0,
            EventRef {
                key: None,
                value: b"{}",
                event_time: 5,
                headers: &headers,
            },
        )];
        let bytes = encode_batch(&panes, &events);
        let mut expected = Vec::new();
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.push(b'k');
        expected.extend_from_slice(&0i64.to_le_bytes());
        expected.extend_from_slice(&10i64.to_le_bytes());
        expected.extend_from_slice(&u32::MAX.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&0u32.to_le_bytes());
        expected.extend_from_slice(&u32::MAX.to_le_bytes());
        expected.extend_from_slice(&2u32.to_le_bytes());
        expected.extend_from_slice(b"{}");
        expected.extend_from_slice(&5i64.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.push(b'h');
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.push(b'v');
        assert_eq!(bytes, expected);
    }

    #[test]
    fn events_are_laid_out_count_first() {
        let events = [
            Event {
                key: Some(b"k".to_vec()),
                value: b"v".to_vec(),
                event_time: -5,
                headers: vec![crate::bindings::Header {
                    name: "h".into(),
                    value: vec![9],
                }],
            },
            Event {
                key: None,
                value: Vec::new(),
                event_time: 7,
                headers: Vec::new(),
            },
        ];
        let mut expected = 2u32.to_le_bytes().to_vec();
        for part in [
            &1u32.to_le_bytes()[..],
            b"k",
            &1u32.to_le_bytes(),
            b"v",
            &(-5i64).to_le_bytes(),
            &1u32.to_le_bytes(),
            &1u32.to_le_bytes(),
            b"h",
            &1u32.to_le_bytes(),
            &[9],
            &u32::MAX.to_le_bytes(),
            &0u32.to_le_bytes(),
            &7i64.to_le_bytes(),
            &0u32.to_le_bytes(),
        ] {
            expected.extend_from_slice(part);
        }
        assert_eq!(encode_events(&events), expected);
    }
}
