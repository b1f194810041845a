//! The http input: lines an embedder pushes into a job (`cameo serve` takes NDJSON posted over
//! HTTP), kept in append-only files before they are acknowledged and read from there by the
//! source like a file that grows.
//!
//! An [`Inlet`] is the embedder's end: [`Inlet::push`] appends whole lines and returns once
//! they are written, so an acknowledged event survives a crash of the process; past
//! `capacity` unread bytes it refuses with [`InletError::Full`] (back-pressure, nothing
//! dropped). The job's end is a [`Follow`] reader, handed to the lines input (which parses
//! and numbers lines exactly as for a file), that blocks until more is written or the inlet
//! is closed. A job resumed from a checkpoint reads the inlet again from its oldest kept line
//! and skips what the checkpoint had consumed, so nothing is lost and nothing is counted
//! twice.
//!
//! The input is kept in segments: the first is the file at the inlet's path, each next one
//! starts once the newest holds `segment_bytes` and is named after the bytes and lines before
//! it (`in.ndjson`, `in.8388608-41000.ndjson`, ...). [`Inlet::release`] deletes the segments
//! wholly before a line that no kept checkpoint needs again, so an inlet holds its unread
//! input, what came after its oldest kept checkpoint and one segment, however long it runs.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use crate::sync::{LockRecovered, WaitRecovered};

/// Bytes of one segment of an inlet, unless opened with another size.
pub const SEGMENT_BYTES: u64 = 8 << 20;

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

/// One file of an inlet: where it is, and the bytes and lines before it.
#[derive(Debug, Clone)]
struct Segment {
    path: PathBuf,
    base_bytes: u64,
    base_lines: u64,
}

/// The state the embedder and the reader share. Byte positions count from the first byte
/// ever pushed, across segments.
struct State {
    /// The newest segment, appended to.
    file: File,
    /// The segments kept, oldest first; the last is `file`'s.
    segments: VecDeque<Segment>,
    /// Bytes pushed, all of them whole lines.
    written: u64,
    /// Lines pushed.
    lines: u64,
    /// Bytes the reader has taken.
    read: u64,
    /// No more input will come: the reader ends at the end of the input.
    closed: bool,
    /// The job is gone: the reader ends at once.
    stopped: bool,
}

struct Shared {
    path: PathBuf,
    capacity: u64,
    segment_bytes: u64,
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

/// The file of the segment after `bytes` and `lines`: the inlet's path for the first.
fn segment_path(path: &Path, bytes: u64, lines: u64) -> PathBuf {
    if bytes == 0 {
        return path.to_path_buf();
    }
    path.with_extension(format!("{bytes}-{lines}.ndjson"))
}

/// The segments of the inlet at `path` found on disk, oldest first.
fn find_segments(path: &Path) -> std::io::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    if path.exists() {
        segments.push(Segment {
            path: path.to_path_buf(),
            base_bytes: 0,
            base_lines: 0,
        });
    }
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem().and_then(|s| s.to_str())) else {
        return Ok(segments);
    };
    let prefix = format!("{stem}.");
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(base) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".ndjson"))
        else {
            continue;
        };
        if let Some((bytes, lines)) = base.split_once('-')
            && let (Ok(base_bytes), Ok(base_lines)) = (bytes.parse(), lines.parse())
        {
            segments.push(Segment {
                path: dir.join(&name),
                base_bytes,
                base_lines,
            });
        }
    }
    segments.sort_by_key(|s| s.base_bytes);
    Ok(segments)
}

impl Inlet {
    /// Opens (or creates) the inlet at `path`, holding at most `capacity` unread bytes, in
    /// segments of [`SEGMENT_BYTES`].
    pub fn open(path: &Path, capacity: u64) -> std::io::Result<Inlet> {
        Self::open_with(path, capacity, SEGMENT_BYTES)
    }

    /// Opens (or creates) the inlet at `path`, holding at most `capacity` unread bytes, in
    /// segments of `segment_bytes`. A partial last line, left by a crash in the middle of a
    /// write that was never acknowledged, is cut off.
    pub fn open_with(path: &Path, capacity: u64, segment_bytes: u64) -> std::io::Result<Inlet> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut segments: VecDeque<Segment> = find_segments(path)?.into();
        let last = match segments.back() {
            Some(last) => last.clone(),
            None => {
                let first = Segment {
                    path: path.to_path_buf(),
                    base_bytes: 0,
                    base_lines: 0,
                };
                segments.push_back(first.clone());
                first
            }
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&last.path)?;
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
                segment_bytes: segment_bytes.max(1),
                state: Mutex::new(State {
                    file,
                    segments,
                    written: last.base_bytes + whole as u64,
                    lines: last.base_lines + lines,
                    read: 0,
                    closed: closed_marker(path).exists(),
                    stopped: false,
                }),
                changed: Condvar::new(),
            }),
        })
    }

    fn io_error(&self, path: &Path) -> impl Fn(std::io::Error) -> InletError {
        let path = path.display().to_string();
        move |source| InletError::Io {
            path: path.clone(),
            source,
        }
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
        let Some(last) = state.segments.back().cloned() else {
            return Err(InletError::Closed);
        };
        let end = state.written - last.base_bytes;
        let result = state.file.write_all(text).and_then(|()| {
            if needs_break {
                state.file.write_all(b"\n")
            } else {
                Ok(())
            }
        });
        if let Err(err) = result {
            // Cut off what was written of this request, so the file holds whole lines only.
            let _ = state.file.set_len(end);
            let _ = state.file.seek(SeekFrom::Start(end));
            return Err(self.io_error(&last.path)(err));
        }
        let lines = text.iter().filter(|b| **b == b'\n').count() as u64 + u64::from(needs_break);
        state.written += text.len() as u64 + u64::from(needs_break);
        state.lines += lines;
        if state.written - last.base_bytes >= self.shared.segment_bytes {
            // The next request goes to a new segment; if it cannot be made, to this one.
            let next = segment_path(&self.shared.path, state.written, state.lines);
            match File::create(&next) {
                Ok(file) => {
                    state.file = file;
                    let (base_bytes, base_lines) = (state.written, state.lines);
                    state.segments.push_back(Segment {
                        path: next,
                        base_bytes,
                        base_lines,
                    });
                }
                Err(err) => tracing::warn!(
                    "the next segment of an inlet, {}, could not be made: {err}",
                    next.display()
                ),
            }
        }
        drop(state);
        self.shared.changed.notify_all();
        Ok(lines)
    }

    /// Deletes the segments that hold only lines before line `line` (counted from 1 over the
    /// whole input; lines up to `line` are consumed for good, e.g. by the oldest checkpoint a
    /// resume may start from) and that the reader has passed. Returns the bytes deleted.
    pub fn release(&self, line: u64) -> u64 {
        let mut state = self.shared.state.lock_recovered();
        let mut freed = 0;
        while state.segments.len() > 1 {
            let (first, next) = (&state.segments[0], &state.segments[1]);
            if next.base_lines > line || next.base_bytes > state.read {
                break;
            }
            let size = next.base_bytes - first.base_bytes;
            if let Err(err) = std::fs::remove_file(&first.path) {
                tracing::warn!("{} could not be deleted: {err}", first.path.display());
                break;
            }
            freed += size;
            state.segments.pop_front();
        }
        freed
    }

    /// Bytes the inlet keeps on disk now.
    pub fn kept_bytes(&self) -> u64 {
        let state = self.shared.state.lock_recovered();
        state
            .segments
            .front()
            .map_or(0, |first| state.written - first.base_bytes)
    }

    /// Ends the input: the source ends once the job has read what was pushed. Kept across a
    /// restart.
    pub fn close(&self) -> Result<(), InletError> {
        let mut state = self.shared.state.lock_recovered();
        if !state.closed {
            let marker = closed_marker(&self.shared.path);
            File::create(&marker).map_err(self.io_error(&marker))?;
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

    /// A reader of the inlet's lines from its oldest kept one, and the number of lines
    /// before that one (where the reader's line numbers start).
    pub(crate) fn follow(&self) -> (Follow, u64) {
        let mut state = self.shared.state.lock_recovered();
        let (position, lines) = state
            .segments
            .front()
            .map_or((0, 0), |first| (first.base_bytes, first.base_lines));
        state.read = position;
        let follow = Follow {
            shared: Arc::clone(&self.shared),
            file: None,
            position,
        };
        (follow, lines)
    }
}

/// The job's end of an inlet: reads what was pushed, blocking until more is or the inlet is
/// closed; the end of input when it is closed and read to its end, or stopped.
pub(crate) struct Follow {
    shared: Arc<Shared>,
    /// The segment being read (its first byte's position) and its file.
    file: Option<(u64, File)>,
    /// Where the next read starts.
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
        // The segment holding the position, and where it ends.
        let index = state
            .segments
            .iter()
            .rposition(|s| s.base_bytes <= self.position)
            .ok_or_else(|| {
                std::io::Error::other(format!(
                    "the inlet's input at byte {} was released before it was read",
                    self.position
                ))
            })?;
        let segment = state.segments[index].clone();
        let end = state
            .segments
            .get(index + 1)
            .map_or(state.written, |next| next.base_bytes);
        drop(state);
        if self.file.as_ref().map(|(base, _)| *base) != Some(segment.base_bytes) {
            let mut file = File::open(&segment.path)?;
            file.seek(SeekFrom::Start(self.position - segment.base_bytes))?;
            self.file = Some((segment.base_bytes, file));
        }
        let want = buf
            .len()
            .min(usize::try_from(end - self.position).unwrap_or(usize::MAX));
        let read = match &mut self.file {
            Some((_, file)) => file.read(&mut buf[..want])?,
            None => 0,
        };
        self.position += read as u64;
        let mut state = self.shared.state.lock_recovered();
        state.read = state.read.max(self.position);
        Ok(read)
    }
}

#[cfg(test)]
mod tests;
