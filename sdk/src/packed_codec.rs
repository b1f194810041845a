//! The byte layout of the contract's 0.2.0 packed interfaces (`wit/0.2.0/packed.wit`):
//! reading a buffer front to back (and, for tests, writing events into one as the host does).

use crate::{Error, Event, Header, Result};

/// The length that stands for "none" in an optional byte string.
pub(crate) const NONE: u32 = u32::MAX;

/// Reads a packed buffer front to back.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    /// How far it has read.
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    #[inline]
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        match self.bytes.get(self.at..self.at.saturating_add(len)) {
            Some(part) => {
                self.at += len;
                Ok(part)
            }
            None => Err(self.ended(what)),
        }
    }

    #[cold]
    fn ended(&self, what: &str) -> Error {
        Error::failed(format!(
            "the packed batch ends after {} bytes, inside {what}",
            self.bytes.len()
        ))
    }

    #[inline]
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub(crate) fn i64(&mut self, what: &str) -> Result<i64> {
        let b = self.take(8, what)?;
        let mut array = [0; 8];
        array.copy_from_slice(b);
        Ok(i64::from_le_bytes(array))
    }

    #[inline]
    pub(crate) fn bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.u32(what)?;
        self.take(len as usize, what)
    }

    #[inline]
    pub(crate) fn opt_bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>> {
        match self.u32(what)? {
            NONE => Ok(None),
            len => self.take(len as usize, what).map(Some),
        }
    }

    /// Reads event `position` into `event`, reusing its buffers.
    pub(crate) fn event_into(&mut self, event: &mut Event, position: u32) -> Result<()> {
        match self.opt_bytes("an event's key")? {
            Some(key) => refill(event.key.get_or_insert_with(Vec::new), key),
            None => event.key = None,
        }
        refill(&mut event.value, self.bytes("an event's value")?);
        event.event_time = self.i64("an event's time")?;
        event.headers.clear();
        for _ in 0..self.u32("an event's header count")? {
            let name = self.bytes("a header's name")?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| {
                Error::failed(format!("header name of event {position} is not UTF-8"))
            })?;
            let value = self.bytes("a header's value")?.to_vec();
            event.headers.push(Header { name, value });
        }
        Ok(())
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.at != self.bytes.len() {
            return Err(Error::failed(format!(
                "{} bytes are left after the last event of the packed batch",
                self.bytes.len() - self.at
            )));
        }
        Ok(())
    }
}

/// Sets `buffer` to `bytes`, keeping its allocation.
fn refill(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.clear();
    buffer.extend_from_slice(bytes);
}

/// An empty event whose buffers [`Reader::event_into`] fills.
pub(crate) fn blank_event() -> Event {
    Event {
        key: None,
        value: Vec::new(),
        event_time: 0,
        headers: Vec::new(),
    }
}

/// Appends a `u32` length (or count).
#[cfg(test)]
fn put_len(out: &mut Vec<u8>, len: usize) {
    // What one call holds is far below 4 GiB (the linear memory is 32-bit).
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

#[cfg(test)]
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends `events`, count first, as the host writes a batch (for tests).
#[cfg(test)]
pub(crate) fn put_events(out: &mut Vec<u8>, events: &[Event]) {
    put_len(out, events.len());
    for event in events {
        match &event.key {
            Some(key) => put_bytes(out, key),
            None => out.extend_from_slice(&NONE.to_le_bytes()),
        }
        put_bytes(out, &event.value);
        out.extend_from_slice(&event.event_time.to_le_bytes());
        put_len(out, event.headers.len());
        for header in &event.headers {
            put_bytes(out, header.name.as_bytes());
            put_bytes(out, &header.value);
        }
    }
}
