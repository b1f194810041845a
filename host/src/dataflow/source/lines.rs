//! The lines input: a file or stdin, one event per line (plain or JSON), read on a thread of
//! its own (reading may block) and handed over to the source task through a bounded channel.

use std::io::{BufRead, Read as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::mpsc::{Receiver, TryRecvError};

use super::{Input, Item, Next, lookup, now_ms};
use crate::bindings::Event;
use crate::dataflow::spec::{InputFormat, LineOptions};
use crate::limits::MAX_LINE_BYTES;
use crate::sched::TaskId;
use crate::sched::executor::Activator;

/// Lines read ahead of the source task, at most.
const READ_AHEAD: usize = 1024;

/// One line as the reader thread hands it over.
enum Read {
    /// A line, without its line break.
    Line(String),
    /// A line that is not UTF-8 (its bytes, cut to the line limit).
    NotUtf8(Vec<u8>),
    /// A line over [`MAX_LINE_BYTES`]: how long it was (its bytes were skipped).
    TooLong(u64),
    /// The input could not be read.
    Failed(std::io::Error),
}

/// Reads the next line of `reader` keeping at most [`MAX_LINE_BYTES`] of it, so an endless
/// line cannot grow the host's memory; `None` at the end of the input.
fn read_line(reader: &mut dyn BufRead, buffer: &mut Vec<u8>) -> Option<Read> {
    buffer.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    match reader.take(limit).read_until(b'\n', buffer) {
        Err(err) => return Some(Read::Failed(err)),
        Ok(0) => return None,
        Ok(_) => {}
    }
    if buffer.last() != Some(&b'\n') && buffer.len() as u64 == limit {
        // Skip the rest of the line without keeping it.
        let mut skipped = buffer.len() as u64;
        loop {
            let (done, used) = match reader.fill_buf() {
                Err(err) => return Some(Read::Failed(err)),
                Ok([]) => (true, 0),
                Ok(chunk) => match chunk.iter().position(|b| *b == b'\n') {
                    Some(end) => (true, end + 1),
                    None => (false, chunk.len()),
                },
            };
            reader.consume(used);
            skipped += used as u64;
            if done {
                return Some(Read::TooLong(skipped));
            }
        }
    }
    if buffer.last() == Some(&b'\n') {
        buffer.pop();
        if buffer.last() == Some(&b'\r') {
            buffer.pop();
        }
    }
    Some(match String::from_utf8(std::mem::take(buffer)) {
        Ok(line) => Read::Line(line),
        Err(err) => Read::NotUtf8(err.into_bytes()),
    })
}

/// Lines from a reader, as a source's input.
pub struct Lines {
    lines: Receiver<Read>,
    /// Set by the source task when it found no line waiting: the reader then wakes it.
    waiting: Arc<AtomicBool>,
    options: LineOptions,
    /// Lines taken so far.
    number: u64,
    /// True after a read error: the rest of the input is skipped.
    failed: bool,
}

impl Lines {
    /// Starts reading `reader` on a thread named after source `name`, waking source task
    /// `task` through `activator` when a line arrives while it waits.
    pub fn spawn(
        name: &str,
        reader: Box<dyn BufRead + Send>,
        options: LineOptions,
        task: TaskId,
        activator: Activator,
    ) -> std::io::Result<Self> {
        let (sender, lines) = std::sync::mpsc::sync_channel(READ_AHEAD);
        let waiting = Arc::new(AtomicBool::new(false));
        let reader_waiting = Arc::clone(&waiting);
        std::thread::Builder::new()
            .name(format!("cameo-read-{name}"))
            .spawn(move || {
                let mut reader = reader;
                let mut buffer = Vec::new();
                while let Some(line) = read_line(&mut reader, &mut buffer) {
                    let failed = matches!(line, Read::Failed(_));
                    if sender.send(line).is_err() {
                        return;
                    }
                    // Pairs with the fence in `next`: either the task sees this line, or
                    // this thread sees that the task waits for one.
                    fence(Ordering::SeqCst);
                    if reader_waiting.swap(false, Ordering::SeqCst) {
                        activator.wake(task);
                    }
                    if failed {
                        break;
                    }
                }
                // The end of input is news too.
                drop(sender);
                activator.wake(task);
            })?;
        Ok(Lines {
            lines,
            waiting,
            options,
            number: 0,
            failed: false,
        })
    }

    /// Numbers the lines read after `lines` lines that are not read again (an input that
    /// starts past its beginning, as an inlet whose oldest lines were released).
    pub fn numbered_after(mut self, lines: u64) -> Self {
        self.number = lines;
        self
    }

    fn take(&mut self, line: Read) -> Next {
        self.number += 1;
        let number = self.number;
        let item = match line {
            Read::Failed(err) => {
                self.failed = true;
                Item::Bad(
                    None,
                    format!(
                        "could not read line {number}: {err}; the rest of the input is skipped"
                    ),
                )
            }
            Read::TooLong(bytes) => Item::Bad(
                None,
                format!(
                    "line {number} has {bytes} bytes, over the limit of {MAX_LINE_BYTES} bytes \
                     per line; it was skipped (split the record, or send it as a file)"
                ),
            ),
            Read::NotUtf8(bytes) => Item::Bad(
                Some(Event {
                    key: None,
                    value: bytes,
                    event_time: now_ms(),
                    headers: Vec::new(),
                }),
                format!("line {number} is not UTF-8 text"),
            ),
            Read::Line(line) if line.trim().is_empty() => Item::Nothing,
            Read::Line(line) => match parse_line(line, &self.options) {
                Ok(event) => Item::Event(event),
                Err((event, reason)) => Item::Bad(Some(event), format!("line {number}: {reason}")),
            },
        };
        Next::Item(number, item)
    }
}

impl Input for Lines {
    fn next(&mut self, _skip: u64) -> Next {
        if self.failed {
            return Next::Ended;
        }
        match self.lines.try_recv() {
            Ok(line) => return self.take(line),
            Err(TryRecvError::Disconnected) => return Next::Ended,
            Err(TryRecvError::Empty) => {}
        }
        // Ask to be woken, then look again: a line sent meanwhile did not see the request.
        self.waiting.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        match self.lines.try_recv() {
            Ok(line) => {
                self.waiting.store(false, Ordering::Release);
                self.take(line)
            }
            Err(TryRecvError::Disconnected) => Next::Ended,
            Err(TryRecvError::Empty) => Next::Waiting,
        }
    }
}

/// Turns one input line into an event; on a bad line, returns the raw event and why.
fn parse_line(line: String, options: &LineOptions) -> Result<Event, (Event, String)> {
    let mut event = Event {
        key: None,
        value: line.into_bytes(),
        event_time: now_ms(),
        headers: Vec::new(),
    };
    if options.format == InputFormat::Lines {
        return Ok(event);
    }
    let json: serde_json::Value = match serde_json::from_slice(&event.value) {
        Ok(json) => json,
        Err(err) => return Err((event, format!("not valid JSON: {err}"))),
    };
    if let Some(field) = &options.key_field {
        match lookup(&json, field) {
            Some(serde_json::Value::String(key)) => event.key = Some(key.clone().into_bytes()),
            Some(other) => event.key = Some(other.to_string().into_bytes()),
            None => return Err((event, format!("has no key field `{field}`"))),
        }
    }
    if let Some(field) = &options.event_time_field {
        match lookup(&json, field).and_then(serde_json::Value::as_i64) {
            Some(time) => event.event_time = time,
            None => {
                return Err((
                    event,
                    format!("has no integer event-time field `{field}` (milliseconds)"),
                ));
            }
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_without_its_event_time_field_is_refused_with_the_field_named() {
        let options = LineOptions {
            format: InputFormat::Ndjson,
            key_field: Some("k".into()),
            event_time_field: Some("meta.ts".into()),
            watermark_delay_ms: 0,
        };
        let event = parse_line(r#"{"k":"a","meta":{"ts":42}}"#.into(), &options).unwrap();
        assert_eq!(
            (event.key.as_deref(), event.event_time),
            (Some(&b"a"[..]), 42)
        );
        let (_, reason) = parse_line(r#"{"k":"a"}"#.into(), &options).unwrap_err();
        assert!(reason.contains("`meta.ts`"), "{reason}");
        let (_, reason) = parse_line("not json".into(), &options).unwrap_err();
        assert!(reason.starts_with("not valid JSON"), "{reason}");
    }
}
