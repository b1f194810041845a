//! Reading NDJSON outputs by `seq` (a sink's segments, a job's dead letters) without reading
//! what comes before: in such a file every line's `seq` is one more than the line before's,
//! so the first line past a `seq` is found by a binary search over byte offsets that parses
//! one line per step, and the lines after it are copied without parsing.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::ApiError;

/// Bytes read at once around a probed offset.
const PROBE_BYTES: usize = 4096;

/// The `seq` of one whole NDJSON line.
fn seq_of(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// The `seq` of the first whole line of `path`.
pub fn first_seq(path: &Path) -> Option<u64> {
    let file = File::open(path).ok()?;
    let line = BufReader::new(file).split(b'\n').next()?.ok()?;
    seq_of(&line)
}

/// The first line starting at or after byte `at` of `file`: its offset and `seq`, if it is
/// whole.
fn line_after(file: &mut File, at: u64) -> std::io::Result<Option<(u64, u64)>> {
    let mut reader = BufReader::with_capacity(PROBE_BYTES, &mut *file);
    reader.seek(SeekFrom::Start(at.saturating_sub(1)))?;
    // Past the end of the line holding byte `at - 1` (nothing to skip at the start).
    let skipped = if at == 0 {
        0
    } else {
        reader.skip_until(b'\n')? as u64
    };
    let start = at.saturating_sub(1) + skipped;
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Ok(None);
    }
    Ok(seq_of(&line[..line.len() - 1]).map(|seq| (start, seq)))
}

/// The byte offset in `file` from which the lines with a `seq` of at least `target` start,
/// or a little before (never after).
fn offset_of(file: &mut File, target: u64) -> std::io::Result<u64> {
    let (mut low, mut high) = (0u64, file.metadata()?.len());
    while high.saturating_sub(low) > PROBE_BYTES as u64 {
        let mid = low + (high - low) / 2;
        match line_after(file, mid)? {
            Some((start, seq)) if seq < target => low = start,
            _ => high = mid,
        }
    }
    Ok(low)
}

/// Whole lines of the files `segments` (in order) whose `seq` is above `after`, at most
/// `limit`. A segment whose next one starts at or before `after + 1` is skipped unread.
pub fn read_after(
    segments: &[PathBuf],
    after: Option<u64>,
    limit: usize,
) -> Result<String, ApiError> {
    let failed =
        |err: std::io::Error| ApiError::internal(format!("the output could not be read: {err}"));
    let mut out = String::new();
    let mut count = 0;
    for (index, path) in segments.iter().enumerate() {
        if let (Some(after), Some(next)) = (after, segments.get(index + 1))
            && first_seq(next).is_some_and(|first| first <= after + 1)
        {
            continue;
        }
        let mut file = match File::open(path) {
            Ok(file) => file,
            // Released meanwhile, or never written.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(failed(err)),
        };
        let start = match after {
            Some(after) => offset_of(&mut file, after + 1).map_err(failed)?,
            None => 0,
        };
        file.seek(SeekFrom::Start(start)).map_err(failed)?;
        // Past the search, every line's seq is one more than the one before.
        let mut passed = after.is_none();
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(failed)? == 0 {
                break;
            }
            // A line still being written has no line break yet: stop before it.
            if line.last() != Some(&b'\n') {
                return Ok(out);
            }
            if !passed {
                let seq = seq_of(&line[..line.len() - 1]);
                if seq.is_none_or(|seq| after.is_some_and(|after| seq <= after)) {
                    continue;
                }
                passed = true;
            }
            out.push_str(&String::from_utf8_lossy(&line));
            count += 1;
            if count >= limit {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_after_a_seq_are_found_by_search_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let line = |seq: u64| format!("{{\"seq\":{seq},\"value\":\"{}\"}}\n", "x".repeat(40));
        let first = dir.path().join("out.ndjson");
        let second = dir.path().join("out.1.ndjson");
        std::fs::write(&first, (0..3000).map(line).collect::<String>()).unwrap();
        let mut last = (3000..3500).map(line).collect::<String>();
        last.push_str("{\"seq\":3500,\"val");
        std::fs::write(&second, last).unwrap();
        let segments = [first, second];
        let seqs = |text: String| -> Vec<u64> {
            text.lines()
                .map(|l| seq_of(l.as_bytes()).unwrap())
                .collect()
        };
        for after in [0, 1, 77, 1234, 2998, 2999, 3000, 3498] {
            let got = seqs(read_after(&segments, Some(after), 5).unwrap());
            let want: Vec<u64> = (after + 1..(after + 6).min(3500)).collect();
            assert_eq!(got, want, "after {after}");
        }
        assert_eq!(seqs(read_after(&segments, None, 2).unwrap()), [0, 1]);
        assert!(read_after(&segments, Some(3499), 5).unwrap().is_empty());
        assert_eq!(
            seqs(read_after(&segments, Some(2990), 10_000).unwrap()).len(),
            509,
            "the partial last line is left out"
        );
    }
}
