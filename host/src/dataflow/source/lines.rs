//! The lines input: a file or stdin, one event per line (plain or JSON), read on a thread of
//! its own (reading may block) and handed over to the source task through a bounded channel.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::mpsc::{Receiver, TryRecvError};

use super::{Input, Item, Next, lookup, now_ms};
use crate::bindings::Event;
use crate::dataflow::spec::{InputFormat, LineOptions};
use crate::sched::TaskId;
use crate::sched::executor::Activator;

/// Lines read ahead of the source task, at most.
const READ_AHEAD: usize = 1024;

/// Lines from a reader, as a source's input.
pub struct Lines {
    lines: Receiver<std::io::Result<String>>,
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
                for line in reader.lines() {
                    let failed = line.is_err();
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

    fn take(&mut self, line: std::io::Result<String>) -> Next {
        self.number += 1;
        let number = self.number;
        let item = match line {
            Err(err) => {
                self.failed = true;
                Item::Bad(
                    None,
                    format!(
                        "could not read line {number}: {err}; the rest of the input is skipped"
                    ),
                )
            }
            Ok(line) if line.trim().is_empty() => Item::Nothing,
            Ok(line) => match parse_line(line, &self.options) {
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
