//! The operator's log: lines from the `log` import and from the guest's stdout/stderr,
//! rate-limited per call and forwarded to `tracing` tagged with the operator's name, and to
//! the embedder's [`LogSink`] when it set one ([`super::OperatorEngine::set_log_sink`]). What
//! a call logs is charged to its job's memory budget until it is written out; a line the
//! budget has no room for is dropped and counted, never an error the guest sees.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::bindings::Level;
use crate::budget::{Budget, Resource, allocation};
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
#[derive(Clone)]
pub struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
}

struct Captured {
    bytes: Vec<u8>,
    dropped: u64,
    budget: Budget,
}

impl CapturedOutput {
    /// An empty capture whose bytes are charged to `budget` until taken.
    fn charged_to(budget: Budget) -> Self {
        CapturedOutput {
            inner: Arc::new(Mutex::new(Captured {
                bytes: Vec::new(),
                dropped: 0,
                budget,
            })),
        }
    }

    fn append(&self, data: &[u8]) {
        let Ok(mut captured) = self.inner.lock() else {
            return;
        };
        let room = CAPTURE_BYTES_PER_CALL.saturating_sub(captured.bytes.len());
        let mut kept = room.min(data.len());
        if captured
            .budget
            .charge(Resource::LogLines, kept as u64)
            .is_err()
        {
            kept = 0;
        }
        captured.bytes.extend_from_slice(&data[..kept]);
        captured.dropped += (data.len() - kept) as u64;
    }

    /// Takes what was written since the last call, and how many bytes were dropped.
    fn take(&self) -> (Vec<u8>, u64) {
        match self.inner.lock() {
            Ok(mut captured) => {
                let bytes = std::mem::take(&mut captured.bytes);
                captured.budget.release(bytes.len() as u64);
                (bytes, std::mem::take(&mut captured.dropped))
            }
            Err(_) => (Vec::new(), 0),
        }
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        self.budget.release(self.bytes.len() as u64);
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
    /// Log lines dropped because the memory budget had no room for them.
    over_budget: u64,
    /// The job's memory budget, charged for the lines held.
    budget: Budget,
    /// Bytes of `lines` charged to `budget`.
    charged: u64,
    /// The guest's stdout.
    pub stdout: CapturedOutput,
    /// The guest's stderr.
    pub stderr: CapturedOutput,
}

impl OperatorLog {
    /// A log for the instance named `label`, whose lines are charged to `budget` until they
    /// are written out, also handing its lines to `sink` if given.
    pub fn new(label: Arc<str>, budget: Budget, sink: Option<Arc<dyn LogSink>>) -> Self {
        OperatorLog {
            label,
            sink,
            lines: Vec::new(),
            suppressed: 0,
            over_budget: 0,
            stdout: CapturedOutput::charged_to(budget.clone()),
            stderr: CapturedOutput::charged_to(budget.clone()),
            budget,
            charged: 0,
        }
    }

    /// Records one line from the `log` import, or counts it when over the per-call limit or
    /// the memory budget.
    pub fn push(&mut self, level: Level, message: String) {
        if self.lines.len() >= LOG_LINES_PER_CALL {
            self.suppressed += 1;
            return;
        }
        let message = match bounded(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(cut) => cut,
        };
        let bytes = allocation(message.len());
        if self.budget.charge(Resource::LogLines, bytes).is_err() {
            self.over_budget += 1;
            return;
        }
        self.charged += bytes;
        self.lines.push((level, message));
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
        if self.over_budget > 0 {
            tracing::warn!(
                target: "operator",
                operator = label,
                "{} log lines were dropped: the job's memory budget had no room for them",
                self.over_budget
            );
            self.over_budget = 0;
        }
        self.budget.release(std::mem::take(&mut self.charged));
        panic
    }
}

impl Drop for OperatorLog {
    fn drop(&mut self) {
        self.budget.release(self.charged);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{BudgetConfig, MemoryBudget};

    fn budget(bytes: u64) -> Budget {
        MemoryBudget::new(BudgetConfig {
            host_bytes: bytes,
            tenant_bytes: bytes,
            job_bytes: bytes,
        })
        .for_job("tenant", "job")
    }

    #[test]
    fn log_lines_are_charged_until_written_out() {
        let budget = budget(1 << 20);
        let mut log = OperatorLog::new("job/op#0".into(), budget.clone(), None);
        log.push(Level::Info, "x".repeat(1000));
        assert!(budget.used() >= 1000, "a held line is charged");
        log.flush();
        assert_eq!(budget.used(), 0, "a written line is given back");
    }

    #[test]
    fn lines_the_budget_has_no_room_for_are_dropped_and_counted() {
        let budget = budget(3000);
        let mut log = OperatorLog::new("job/op#0".into(), budget.clone(), None);
        log.push(Level::Info, "a".repeat(2000));
        log.push(Level::Info, "b".repeat(2000));
        assert_eq!(log.lines.len(), 1);
        assert_eq!(log.over_budget, 1);
        assert!(budget.used() <= 3000);
        log.flush();
        assert_eq!((budget.used(), log.over_budget), (0, 0));
    }

    #[test]
    fn captured_output_is_charged_until_taken_and_given_back_when_dropped() {
        let budget = budget(1 << 20);
        let log = OperatorLog::new("job/op#0".into(), budget.clone(), None);
        log.stdout.append(&[b'o'; 500]);
        assert_eq!(budget.used(), 500);
        let (bytes, dropped) = log.stdout.take();
        assert_eq!((bytes.len(), dropped, budget.used()), (500, 0, 0));
        log.stderr.append(&[b'e'; 100]);
        drop(log);
        assert_eq!(budget.used(), 0);
    }
}
