//! The operator's log: lines from the `log` import and from the guest's stdout/stderr,
//! rate-limited per call and forwarded to `tracing` tagged with the operator's name, and to
//! the embedder's [`LogSink`] when it set one ([`super::OperatorEngine::set_log_sink`]).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::bindings::Level;
use crate::limits::{CAPTURE_BYTES_PER_CALL, LOG_LINES_PER_CALL, MAX_LOG_LINE_BYTES};

/// `line` cut to [`MAX_LOG_LINE_BYTES`] (at a character boundary), saying how much was cut.
fn bounded(line: &str) -> std::borrow::Cow<'_, str> {
    if line.len() <= MAX_LOG_LINE_BYTES {
        return line.into();
    }
    let mut cut = MAX_LOG_LINE_BYTES;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{} … ({} more bytes cut: the limit is {MAX_LOG_LINE_BYTES} bytes per log line)",
        &line[..cut],
        line.len() - cut
    )
    .into()
}

/// Captured output of a guest stream, shared between the WASI stream and the host.
#[derive(Clone, Default)]
pub struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: u64,
}

impl CapturedOutput {
    fn append(&self, data: &[u8]) {
        let Ok(mut captured) = self.inner.lock() else {
            return;
        };
        let room = CAPTURE_BYTES_PER_CALL.saturating_sub(captured.bytes.len());
        let kept = room.min(data.len());
        captured.bytes.extend_from_slice(&data[..kept]);
        captured.dropped += (data.len() - kept) as u64;
    }

    /// Takes what was written since the last call, and how many bytes were dropped.
    fn take(&self) -> (Vec<u8>, u64) {
        match self.inner.lock() {
            Ok(mut captured) => (
                std::mem::take(&mut captured.bytes),
                std::mem::take(&mut captured.dropped),
            ),
            Err(_) => (Vec::new(), 0),
        }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CAPTURE_BYTES_PER_CALL)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// One line an operator instance logged or printed, as a [`LogSink`] receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// The instance: `job/operator#instance`.
    pub label: &'a str,
    /// `log` for the `log` import, `stdout` or `stderr` for printed output, `host` for the
    /// host's notices about the instance's log (lines dropped over the per-call limits).
    pub stream: &'static str,
    /// `trace`, `debug`, `info`, `warn` or `error`; printed output is `info`, notices `warn`.
    pub level: &'static str,
    /// The line, cut to the per-line limit.
    pub text: &'a str,
}

/// Where an embedder receives every line operators log or print (beside `tracing`), for
/// example to keep them per job. Called on the worker that ran the call: keep it quick.
pub trait LogSink: Send + Sync {
    /// Takes one line.
    fn line(&self, line: LogLine<'_>);
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// The log of one operator instance: what the guest logged during the current call.
pub struct OperatorLog {
    /// `job/operator#instance`, attached to every line.
    pub label: Arc<str>,
    sink: Option<Arc<dyn LogSink>>,
    lines: Vec<(Level, String)>,
    suppressed: u64,
    /// The guest's stdout.
    pub stdout: CapturedOutput,
    /// The guest's stderr.
    pub stderr: CapturedOutput,
}

impl OperatorLog {
    /// A log for the instance named `label`, also handing its lines to `sink` if given.
    pub fn new(label: Arc<str>, sink: Option<Arc<dyn LogSink>>) -> Self {
        OperatorLog {
            label,
            sink,
            lines: Vec::new(),
            suppressed: 0,
            stdout: CapturedOutput::default(),
            stderr: CapturedOutput::default(),
        }
    }

    /// Records one line from the `log` import, or counts it when over the per-call limit.
    pub fn push(&mut self, level: Level, message: String) {
        if self.lines.len() < LOG_LINES_PER_CALL {
            let message = match bounded(&message) {
                std::borrow::Cow::Borrowed(_) => message,
                std::borrow::Cow::Owned(cut) => cut,
            };
            self.lines.push((level, message));
        } else {
            self.suppressed += 1;
        }
    }

    /// Forwards everything logged since the last flush to `tracing`; returns the message of a
    /// panic the guest reported on stderr meanwhile (a Rust guest prints `panicked at
    /// FILE:LINE:COL:` and its message before it traps), so the failure can say it first.
    pub fn flush(&mut self) -> Option<String> {
        let mut panic = None;
        let label = &*self.label;
        let sink = self.sink.as_deref();
        let forward = |stream: &'static str, level: &'static str, text: &str| {
            if let Some(sink) = sink {
                sink.line(LogLine {
                    label,
                    stream,
                    level,
                    text,
                });
            }
        };
        for (level, message) in self.lines.drain(..) {
            forward("log", level_name(level), message.as_str());
            match level {
                Level::Trace => tracing::trace!(target: "operator", operator = label, "{message}"),
                Level::Debug => tracing::debug!(target: "operator", operator = label, "{message}"),
                Level::Info => tracing::info!(target: "operator", operator = label, "{message}"),
                Level::Warn => tracing::warn!(target: "operator", operator = label, "{message}"),
                Level::Error => tracing::error!(target: "operator", operator = label, "{message}"),
            }
        }
        for (stream, captured) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (bytes, dropped) = captured.take();
            let text = String::from_utf8_lossy(&bytes);
            if panic.is_none() {
                panic = panic_message(&text);
            }
            let mut lines = text.lines();
            for line in lines.by_ref().take(LOG_LINES_PER_CALL) {
                let line = bounded(line);
                forward(stream, "info", line.as_ref());
                tracing::info!(target: "operator", operator = label, stream, "{line}");
            }
            let rest = lines.count() as u64;
            if rest > 0 || dropped > 0 {
                let notice = format!(
                    "{rest} more lines and {dropped} bytes of {stream} were dropped (per-call log limit)"
                );
                forward("host", "warn", notice.as_str());
                tracing::warn!(target: "operator", operator = label, stream, "{notice}");
            }
        }
        if self.suppressed > 0 {
            let notice = format!(
                "{} log lines over the limit of {LOG_LINES_PER_CALL} per call were dropped",
                self.suppressed
            );
            forward("host", "warn", notice.as_str());
            tracing::warn!(target: "operator", operator = label, "{notice}");
            self.suppressed = 0;
        }
        panic
    }
}

/// The panic reported in `stderr`, as `panicked at FILE:LINE:COL: MESSAGE`, if there is one.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let rest = &stderr[start..];
    let mut lines = rest.lines();
    let mut message = lines.next()?.trim_end().to_string();
    for line in lines {
        if line.starts_with("note: ") || line.starts_with("stack backtrace") {
            break;
        }
        message.push(' ');
        message.push_str(line.trim());
    }
    Some(bounded(&message).into_owned())
}
