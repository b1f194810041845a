//! Operator logs: every line a job's operator instances log or print (from the host's
//! [`LogSink`]), kept per job in a bounded on-disk ring in the data directory, with a count
//! of the lines the ring dropped.
//!
//! A job's ring is `logs/<job>/` with two segments, `a.ndjson` and `b.ndjson`, of at most
//! [`SEGMENT_BYTES`] each. Lines go to the newer one; when it is full, the older is emptied
//! (its lines counted in `dropped`) and becomes the newer. So a job keeps its newest 1 to 2
//! segments of lines, whatever it logs. Each line is JSON:
//! `{"seq", "ms", "operator", "instance", "stream", "level", "text"}` with `seq` counting up
//! from 1 per job, so a reader resumes with `since=SEQ`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cameo_host::{LogLine, LogSink};

use crate::store::now_ms;

/// Bytes one segment holds at most before the ring turns.
pub const SEGMENT_BYTES: u64 = 1 << 20;

/// The segments, older first once both exist.
const SEGMENTS: [&str; 2] = ["a.ndjson", "b.ndjson"];

/// The file that keeps the count of dropped lines.
const DROPPED: &str = "dropped";

/// The ring of one job, open for appending.
struct Ring {
    dir: PathBuf,
    /// Index in [`SEGMENTS`] of the segment being written.
    current: usize,
    file: File,
    size: u64,
    next_seq: u64,
    dropped: u64,
}

/// The log rings of every job, and the sink the host hands lines to.
pub struct Logs {
    dir: PathBuf,
    segment_bytes: u64,
    rings: Mutex<HashMap<String, Ring>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a reader gets: lines after a `seq`, and how many lines the ring dropped in all.
#[derive(Debug, Default)]
pub struct Read {
    /// Whole NDJSON lines, each ending in a newline.
    pub text: String,
    /// The `seq` of the last line returned, if any.
    pub last_seq: Option<u64>,
    /// Lines the ring dropped since the job started.
    pub dropped: u64,
}

/// The `seq` of an NDJSON log line.
fn seq_of(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["seq"].as_u64())
}

/// The first and last `seq` in segment `path`, and its size; none when empty or missing.
fn segment_span(path: &Path) -> Option<(u64, u64, u64)> {
    let file = File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let mut first = None;
    let mut last = None;
    for line in BufReader::new(file).split(b'\n').map_while(Result::ok) {
        if let Some(seq) = seq_of(&line) {
            first.get_or_insert(seq);
            last = Some(seq);
        }
    }
    Some((first?, last?, size))
}

impl Ring {
    /// Opens the ring in `dir`, continuing after what it holds.
    fn open(dir: PathBuf) -> std::io::Result<Ring> {
        std::fs::create_dir_all(&dir)?;
        let spans = SEGMENTS.map(|name| segment_span(&dir.join(name)));
        // Write to the segment holding the newest lines.
        let current = match spans {
            [Some(a), Some(b)] if b.1 > a.1 => 1,
            [None, Some(_)] => 1,
            _ => 0,
        };
        let next_seq = spans.iter().flatten().map(|s| s.1).max().unwrap_or(0) + 1;
        let dropped = std::fs::read_to_string(dir.join(DROPPED))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        let path = dir.join(SEGMENTS[current]);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Ring {
            dir,
            current,
            file,
            size,
            next_seq,
            dropped,
        })
    }

    /// Empties the older segment, counting its lines as dropped, and writes there next.
    fn turn(&mut self) -> std::io::Result<()> {
        let older = 1 - self.current;
        let path = self.dir.join(SEGMENTS[older]);
        if let Some((first, last, _)) = segment_span(&path) {
            self.dropped += last - first + 1;
            std::fs::write(self.dir.join(DROPPED), format!("{}\n", self.dropped))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        self.current = older;
        self.size = 0;
        Ok(())
    }

    fn append(&mut self, line: &LogLine<'_>, segment_bytes: u64) -> std::io::Result<()> {
        let rest = line
            .label
            .split_once('/')
            .map_or(line.label, |(_, rest)| rest);
        let (operator, instance) = match rest.rsplit_once('#') {
            Some((operator, instance)) => (operator, instance.parse::<u64>().unwrap_or(0)),
            None => (rest, 0),
        };
        let mut text = serde_json::json!({
            "seq": self.next_seq,
            "ms": now_ms(),
            "operator": operator,
            "instance": instance,
            "stream": line.stream,
            "level": line.level,
            "text": line.text,
        })
        .to_string();
        text.push('\n');
        if self.size > 0 && self.size + text.len() as u64 > segment_bytes {
            self.turn()?;
        }
        self.file.write_all(text.as_bytes())?;
        self.size += text.len() as u64;
        self.next_seq += 1;
        Ok(())
    }
}

impl Logs {
    /// The rings under `data_dir/logs`.
    pub fn new(data_dir: &Path) -> Self {
        Self::with_segment_bytes(data_dir, SEGMENT_BYTES)
    }

    /// The same with segments of `segment_bytes` (small ones let tests see the ring turn).
    pub fn with_segment_bytes(data_dir: &Path, segment_bytes: u64) -> Self {
        Logs {
            dir: data_dir.join("logs"),
            segment_bytes,
            rings: Mutex::new(HashMap::new()),
        }
    }

    /// The ring directory of job `job` (job ids are `j` and digits).
    fn job_dir(&self, job: &str) -> PathBuf {
        let safe: String = job
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        self.dir.join(safe)
    }

    /// Lines of job `job` whose `seq` is above `since`, at most `limit`.
    pub fn read(&self, job: &str, since: u64, limit: usize) -> std::io::Result<Read> {
        let dir = self.job_dir(job);
        let mut segments: Vec<(u64, PathBuf)> = SEGMENTS
            .iter()
            .map(|name| dir.join(name))
            .filter_map(|path| segment_span(&path).map(|span| (span.0, path)))
            .collect();
        segments.sort();
        let mut read = Read {
            dropped: std::fs::read_to_string(dir.join(DROPPED))
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(0),
            ..Read::default()
        };
        let mut count = 0;
        for (_, path) in segments {
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            };
            for line in BufReader::new(file).split(b'\n') {
                let line = line?;
                // A line still being written does not parse yet: stop before it.
                let Some(seq) = seq_of(&line) else { break };
                if seq <= since {
                    continue;
                }
                if count >= limit {
                    return Ok(read);
                }
                read.text.push_str(&String::from_utf8_lossy(&line));
                read.text.push('\n');
                read.last_seq = Some(seq);
                count += 1;
            }
        }
        Ok(read)
    }

    /// Writes `line` to the ring of its job, opening it first if need be.
    fn write(&self, line: &LogLine<'_>) -> std::io::Result<()> {
        let job = line
            .label
            .split_once('/')
            .map_or(line.label, |(job, _)| job);
        let mut rings = lock(&self.rings);
        if let Some(ring) = rings.get_mut(job) {
            return ring.append(line, self.segment_bytes);
        }
        let mut ring = Ring::open(self.job_dir(job))?;
        ring.append(line, self.segment_bytes)?;
        rings.insert(job.to_string(), ring);
        Ok(())
    }

    /// Closes job `job`'s ring (it is opened again on its next line).
    pub fn close(&self, job: &str) {
        lock(&self.rings).remove(job);
    }
}

impl LogSink for Logs {
    fn line(&self, line: LogLine<'_>) {
        if let Err(err) = self.write(&line) {
            tracing::warn!("a log line of {} could not be kept: {err}", line.label);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LogLine<'_> {
        LogLine {
            label: "j1/op#1",
            stream: "log",
            level: "info",
            text,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_and_counts_the_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let logs = Logs::with_segment_bytes(dir.path(), 400);
        for i in 0..40 {
            logs.line(line(&format!("line {i}")));
        }
        let read = logs.read("j1", 0, 1000).unwrap();
        let seqs: Vec<u64> = read
            .text
            .lines()
            .map(|l| seq_of(l.as_bytes()).unwrap())
            .collect();
        assert!(read.dropped > 0);
        assert_eq!(seqs.first().copied(), Some(read.dropped + 1));
        assert_eq!(seqs.last().copied(), Some(40));
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
        let last: serde_json::Value =
            serde_json::from_str(read.text.lines().last().unwrap_or_default()).unwrap();
        assert_eq!(last["operator"], "op");
        assert_eq!(last["instance"], 1);
        assert_eq!(last["text"], "line 39");

        // Reopened (a restart), the ring goes on after its last line.
        let again = Logs::with_segment_bytes(dir.path(), 400);
        again.line(line("after"));
        let after = again.read("j1", 40, 10).unwrap();
        assert_eq!(after.last_seq, Some(41));
        assert!(after.text.contains("\"after\""));
        assert_eq!(again.read("j1", 0, 3).unwrap().text.lines().count(), 3);
    }
}
