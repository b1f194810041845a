//! The http input: lines an embedder pushes into a job (`cameo serve` takes NDJSON posted over
//! HTTP), kept in an append-only file before they are acknowledged and read from there by
//! the source like a file that grows.
//!
//! An [`Inlet`] is the embedder's end: [`Inlet::push`] appends whole lines and returns once
//! they are written, so an acknowledged event survives a crash of the process; past
//! `capacity` unread bytes it refuses with [`InletError::Full`] (back-pressure, nothing
//! dropped). The job's end is a [`Follow`] reader, handed to the lines input (which parses
//! and numbers lines exactly as for a file), that blocks until more is written or the inlet
//! is closed. A job resumed from a checkpoint reads the file again from the start and skips
//! what the checkpoint had consumed, so nothing is lost and nothing is counted twice.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use crate::sync::{LockRecovered, WaitRecovered};

/// Why pushed lines were not taken.
#[derive(Debug, thiserror::Error)]
pub enum InletError {
    /// The job has not read enough of what it was given yet.
    #[error(
        "the job is behind: {unread} bytes of input are waiting and the source holds at most \
         {capacity}; retry after a moment (nothing of this request was taken)"
    )]
    Full {
        /// Bytes pushed and not yet read by the job.
        unread: u64,
        /// The most the inlet holds unread.
        capacity: u64,
    },
    /// The input was closed: the source has ended.
    #[error("the source was ended; it takes no more input")]
    Closed,
    /// The inlet's file could not be written.
    #[error("could not keep the input in {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The state the embedder and the reader share.
struct State {
    /// The append-only file.
    file: File,
    /// Bytes in the file, all of them whole lines.
    written: u64,
    /// Lines in the file.
    lines: u64,
    /// Bytes the reader has taken.
    read: u64,
    /// No more input will come: the reader ends at the end of the file.
    closed: bool,
    /// The job is gone: the reader ends at once.
    stopped: bool,
}

struct Shared {
    path: PathBuf,
    capacity: u64,
    state: Mutex<State>,
    /// Signalled when lines are appended, or the inlet is closed or stopped.
    changed: Condvar,
}

/// The embedder's end of an http source: see the module docs.
#[derive(Clone)]
pub struct Inlet {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Inlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inlet")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// The marker file saying the input at `path` was closed.
fn closed_marker(path: &Path) -> PathBuf {
    path.with_extension("closed")
}

impl Inlet {
    /// Opens (or creates) the inlet file at `path`, holding at most `capacity` unread bytes.
    /// A partial last line, left by a crash in the middle of a write that was never
    /// acknowledged, is cut off.
    pub fn open(path: &Path, capacity: u64) -> std::io::Result<Inlet> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let whole = bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |end| end + 1);
        if whole < bytes.len() {
            file.set_len(whole as u64)?;
        }
        file.seek(SeekFrom::Start(whole as u64))?;
        let lines = bytes[..whole].iter().filter(|b| **b == b'\n').count() as u64;
        Ok(Inlet {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                capacity: capacity.max(1),
                state: Mutex::new(State {
                    file,
                    written: whole as u64,
                    lines,
                    read: 0,
                    closed: closed_marker(path).exists(),
                    stopped: false,
                }),
                changed: Condvar::new(),
            }),
        })
    }

    /// Appends `text` (lines; a last line without a break gets one) and returns the number of
    /// lines taken once they are written. Refused whole when the job is behind.
    pub fn push(&self, text: &[u8]) -> Result<u64, InletError> {
        if text.is_empty() {
            return Ok(0);
        }
        let mut state = self.shared.state.lock_recovered();
        if state.closed {
            return Err(InletError::Closed);
        }
        let unread = state.written.saturating_sub(state.read);
        // An empty inlet takes any request, so one larger than the capacity still goes in.
        if unread > 0 && unread + text.len() as u64 > self.shared.capacity {
            return Err(InletError::Full {
                unread,
                capacity: self.shared.capacity,
            });
        }
        let needs_break = text.last() != Some(&b'\n');
        let io_error = |source| InletError::Io {
            path: self.shared.path.display().to_string(),
            source,
        };
        let written = state.written;
        let result = state.file.write_all(text).and_then(|()| {
            if needs_break {
                state.file.write_all(b"\n")
            } else {
                Ok(())
            }
        });
        if let Err(err) = result {
            // Cut off what was written of this request, so the file holds whole lines only.
            let _ = state.file.set_len(written);
            let _ = state.file.seek(SeekFrom::Start(written));
            return Err(io_error(err));
        }
        let lines = text.iter().filter(|b| **b == b'\n').count() as u64 + u64::from(needs_break);
        state.written += text.len() as u64 + u64::from(needs_break);
        state.lines += lines;
        drop(state);
        self.shared.changed.notify_all();
        Ok(lines)
    }

    /// Ends the input: the source ends once the job has read what was pushed. Kept across a
    /// restart.
    pub fn close(&self) -> Result<(), InletError> {
        let mut state = self.shared.state.lock_recovered();
        if !state.closed {
            File::create(closed_marker(&self.shared.path)).map_err(|source| InletError::Io {
                path: closed_marker(&self.shared.path).display().to_string(),
                source,
            })?;
            state.closed = true;
        }
        drop(state);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Releases the reader for good (the job ended or is going away); the input is not closed.
    pub fn stop(&self) {
        self.shared.state.lock_recovered().stopped = true;
        self.shared.changed.notify_all();
    }

    /// Lines pushed so far (since the inlet was created, across restarts).
    pub fn lines(&self) -> u64 {
        self.shared.state.lock_recovered().lines
    }

    /// Bytes pushed and not yet read by the job.
    pub fn unread(&self) -> u64 {
        let state = self.shared.state.lock_recovered();
        state.written.saturating_sub(state.read)
    }

    /// True once the input was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock_recovered().closed
    }

    /// A reader of the inlet's lines from the start of the file.
    pub(crate) fn follow(&self) -> std::io::Result<Follow> {
        let file = File::open(&self.shared.path)?;
        self.shared.state.lock_recovered().read = 0;
        Ok(Follow {
            shared: Arc::clone(&self.shared),
            file,
            position: 0,
        })
    }
}

/// The job's end of an inlet: reads what was pushed, blocking until more is or the inlet is
/// closed; the end of input when it is closed and read to its end, or stopped.
pub(crate) struct Follow {
    shared: Arc<Shared>,
    file: File,
    position: u64,
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut state = self.shared.state.lock_recovered();
        loop {
            if state.stopped {
                return Ok(0);
            }
            if self.position < state.written {
                break;
            }
            if state.closed {
                return Ok(0);
            }
            state = self.shared.changed.wait_recovered(state);
        }
        let available = state.written - self.position;
        drop(state);
        let want = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let read = self.file.read(&mut buf[..want])?;
        self.position += read as u64;
        let mut state = self.shared.state.lock_recovered();
        state.read = state.read.max(self.position);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_lines_are_read_back_and_a_full_inlet_refuses_whole_requests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.ndjson");
        let inlet = Inlet::open(&path, 10).unwrap();
        assert_eq!(inlet.push(b"aaaa\nbbbb").unwrap(), 2);
        let err = inlet.push(b"c\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the job is behind: 10 bytes of input are waiting and the source holds at most 10; \
             retry after a moment (nothing of this request was taken)"
        );
        let mut follow = inlet.follow().unwrap();
        let mut buf = [0u8; 64];
        let read = follow.read(&mut buf).unwrap();
        assert_eq!(&buf[..read], b"aaaa\nbbbb\n");
        assert_eq!(inlet.unread(), 0);
        inlet.push(b"c\n").unwrap();
        inlet.close().unwrap();
        let read = follow.read(&mut buf).unwrap();
        assert_eq!(&buf[..read], b"c\n");
        assert_eq!(
            follow.read(&mut buf).unwrap(),
            0,
            "closed and read to its end"
        );
        assert!(matches!(inlet.push(b"d"), Err(InletError::Closed)));
    }

    #[test]
    fn reopening_keeps_whole_lines_and_the_closed_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.ndjson");
        std::fs::write(&path, b"one\ntwo\npart").unwrap();
        let inlet = Inlet::open(&path, 100).unwrap();
        assert_eq!(inlet.lines(), 2);
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
        inlet.close().unwrap();
        assert!(Inlet::open(&path, 100).unwrap().is_closed());
    }
}
