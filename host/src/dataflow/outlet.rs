//! The http output: an http sink's NDJSON lines, kept on disk in segments for an embedder to
//! read (`cameo serve` answers them by `seq`), bounded to a tail of the newest output.
//!
//! What the sink writes is kept in memory until it flushes (after each batch), then appended
//! in one write. The first segment is the file at the outlet's path; each next one starts
//! after a flush that filled the newest to its size, and is named after the bytes before it (`out.ndjson`,
//! `out.2097152.ndjson`, ...). [`Outlet::release`] deletes the oldest segments while what is
//! left still holds the tail the outlet keeps, and only those wholly before the output the
//! oldest kept checkpoint had written: a resumed job cuts its output back to its checkpoint,
//! which must still be on disk. So an outlet holds its tail, what came after its oldest kept
//! checkpoint, and one segment, however long the job runs.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::sync::LockRecovered;

/// The file of the segment after `bytes`: the outlet's path for the first.
fn segment_path(path: &Path, bytes: u64) -> PathBuf {
    if bytes == 0 {
        return path.to_path_buf();
    }
    path.with_extension(format!("{bytes}.ndjson"))
}

/// The segments of the outlet at `path` on disk, oldest first: the bytes before each, and its
/// file.
pub fn outlet_segments(path: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    if path.exists() {
        segments.push((0, path.to_path_buf()));
    }
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem().and_then(|s| s.to_str())) else {
        return Ok(segments);
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(segments),
        Err(err) => return Err(err),
    };
    let prefix = format!("{stem}.");
    for entry in entries {
        let name = entry?.file_name();
        if let Some(base) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".ndjson"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            segments.push((base, dir.join(&name)));
        }
    }
    segments.sort_by_key(|(base, _)| *base);
    Ok(segments)
}

struct State {
    /// Written and not flushed yet: whole lines once the sink flushes.
    pending: Vec<u8>,
    /// The newest segment, appended to.
    file: File,
    /// The segments kept, oldest first (bytes before each, file); the last is `file`'s.
    segments: VecDeque<(u64, PathBuf)>,
    /// Bytes written, counted from the first output ever.
    written: u64,
}

/// An http sink's output: see the module docs. Clones share it.
#[derive(Clone)]
pub struct Outlet {
    path: PathBuf,
    segment_bytes: u64,
    keep_bytes: u64,
    state: Arc<Mutex<State>>,
}

impl Outlet {
    /// Opens the outlet at `path`, keeping a tail of at least `keep_bytes` in segments of a
    /// quarter of that: empty, or when resuming, cut back to `resume_at` bytes (where the
    /// checkpoint left it) so that replayed output is not written twice.
    pub fn open(path: &Path, keep_bytes: u64, resume_at: Option<u64>) -> std::io::Result<Outlet> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let found = outlet_segments(path)?;
        let at = resume_at.unwrap_or(0);
        if at > 0 && found.first().is_none_or(|(base, _)| *base > at) {
            return Err(std::io::Error::other(format!(
                "the output before byte {at} of {} is no longer kept, so it cannot be cut back \
                 to its checkpoint",
                path.display()
            )));
        }
        let mut segments = VecDeque::new();
        for (base, file) in found {
            // A segment after the position goes (on a fresh start, every one after the
            // first); the one holding it is cut.
            if base > at {
                std::fs::remove_file(&file)?;
            } else {
                segments.push_back((base, file));
            }
        }
        if segments.is_empty() {
            segments.push_back((0, path.to_path_buf()));
        }
        let (base, last) = segments.back().cloned().unwrap_or((0, path.to_path_buf()));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&last)?;
        file.set_len(at - base)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Outlet {
            path: path.to_path_buf(),
            segment_bytes: (keep_bytes / 4).max(1),
            keep_bytes,
            state: Arc::new(Mutex::new(State {
                pending: Vec::new(),
                file,
                segments,
                written: at,
            })),
        })
    }

    /// Deletes the oldest segments while the rest holds at least the tail the outlet keeps,
    /// each only if it ends at or before byte `floor` (the output the oldest kept checkpoint
    /// had written). Returns the bytes deleted.
    pub fn release(&self, floor: u64) -> u64 {
        let mut state = self.state.lock_recovered();
        let mut freed = 0;
        while state.segments.len() > 1 {
            let (first, next) = (state.segments[0].0, state.segments[1].0);
            if next > floor || state.written - next < self.keep_bytes {
                break;
            }
            if let Err(err) = std::fs::remove_file(&state.segments[0].1) {
                tracing::warn!(
                    "{} could not be deleted: {err}",
                    state.segments[0].1.display()
                );
                break;
            }
            freed += next - first;
            state.segments.pop_front();
        }
        freed
    }
}

impl Write for Outlet {
    /// Keeps `buf` until the next flush.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.state.lock_recovered().pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Appends what was written since the last flush (whole lines: the sink flushes after a
    /// batch) in one write; once that fills the newest segment, the next flush starts a new
    /// one.
    fn flush(&mut self) -> std::io::Result<()> {
        let mut state = self.state.lock_recovered();
        if state.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut state.pending);
        state.file.write_all(&pending)?;
        state.written += pending.len() as u64;
        // The buffer is kept for the next batch.
        state.pending = pending;
        state.pending.clear();
        let base = state.segments.back().map_or(0, |(base, _)| *base);
        if state.written - base >= self.segment_bytes {
            let next = segment_path(&self.path, state.written);
            match File::create(&next) {
                Ok(file) => {
                    state.file = file;
                    let written = state.written;
                    state.segments.push_back((written, next));
                }
                Err(err) => tracing::warn!(
                    "the next segment of an output, {}, could not be made: {err}",
                    next.display()
                ),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(path: &Path) -> String {
        outlet_segments(path)
            .unwrap()
            .iter()
            .map(|(_, file)| std::fs::read_to_string(file).unwrap())
            .collect()
    }

    #[test]
    fn output_rolls_over_segments_is_released_to_its_tail_and_cut_back_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut outlet = Outlet::open(&path, 16, None).unwrap();
        for i in 0..8 {
            outlet.write_all(format!("line{i}\n").as_bytes()).unwrap();
            outlet.flush().unwrap();
        }
        // Segments of 4 bytes: each line is one.
        assert_eq!(outlet_segments(&path).unwrap().len(), 9);
        assert_eq!(all(&path).lines().count(), 8);
        // The oldest kept checkpoint had written 3 lines: only what is before it may go.
        assert_eq!(outlet.release(18), 18);
        assert_eq!(all(&path), "line3\nline4\nline5\nline6\nline7\n");
        // Past the floor, the tail of 16 bytes stays.
        assert_eq!(outlet.release(48), 12);
        assert_eq!(all(&path), "line5\nline6\nline7\n");

        // Resumed at the end of line 5: what came after goes.
        drop(outlet);
        let mut resumed = Outlet::open(&path, 16, Some(36)).unwrap();
        assert_eq!(all(&path), "line5\n");
        resumed.write_all(b"again\n").unwrap();
        assert_eq!(all(&path), "line5\n", "kept until flushed");
        resumed.flush().unwrap();
        assert_eq!(all(&path), "line5\nagain\n");
        // A checkpoint before what is kept cannot be resumed.
        drop(resumed);
        let err = Outlet::open(&path, 16, Some(6)).err().unwrap();
        assert!(err.to_string().contains("is no longer kept"), "{err}");
        // A fresh start keeps nothing.
        Outlet::open(&path, 16, None).unwrap();
        assert_eq!(all(&path), "");
    }
}
