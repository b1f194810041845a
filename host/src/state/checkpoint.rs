//! Consistent checkpoints by asynchronous barrier snapshotting: sources inject numbered
//! barriers into the dataflow; each actor, once a barrier arrived on all its inputs, snapshots
//! what it holds and passes the barrier on; sinks record their output position. When every
//! part has reported, the checkpoint is complete and is written to its own redb file.
//!
//! A restart resumes from the newest checkpoint that reads back intact; a damaged file is
//! reported and the one before it is used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::Held;
use crate::time::{InputWatermarks, TimerQueue};

/// Completed checkpoints kept per job; older ones are deleted.
const KEPT_CHECKPOINTS: usize = 3;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ACTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("actors");

/// What one actor holds at a barrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorSnapshot {
    /// Keyed state and window panes.
    pub held: Held,
    /// Registered timers.
    pub timers: TimerQueue,
    /// Watermarks of its inputs.
    pub watermarks: InputWatermarks,
}

/// Where a sink's output stood at a barrier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkPosition {
    /// Bytes written (a file sink is truncated back to this on restore).
    pub bytes: u64,
    /// Events written: the next event's sequence number.
    pub seq: u64,
}

/// A complete checkpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// Its number; later checkpoints have larger numbers.
    pub id: u64,
    /// Per source: input consumed (lines, or generated events).
    pub sources: BTreeMap<String, u64>,
    /// Per sink: output position.
    pub sinks: BTreeMap<String, SinkPosition>,
    /// Per actor label: its snapshot.
    pub actors: BTreeMap<String, ActorSnapshot>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    id: u64,
    job: String,
    sources: BTreeMap<String, u64>,
    sinks: BTreeMap<String, SinkPosition>,
    actors: usize,
}

/// A checkpoint could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system trouble.
    #[error("checkpoint storage {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database refused.
    #[error("checkpoint {path}: {reason}")]
    Database {
        /// The file.
        path: String,
        /// What redb said.
        reason: String,
    },
    /// The file reads but its contents are damaged or from another job.
    #[error("checkpoint {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The checkpoint files of one job: `<data dir>/checkpoints/<job>/chk-<id>.redb`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    job: String,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let body = postcard::to_stdvec(value).map_err(|e| e.to_string())?;
    let mut out = xxh3_64(&body).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let (sum, body) = bytes
        .split_at_checked(8)
        .ok_or_else(|| "a record is shorter than its checksum".to_string())?;
    let expected = u64::from_le_bytes(sum.try_into().map_err(|_| "bad checksum".to_string())?);
    if xxh3_64(body) != expected {
        return Err("a record's checksum does not match its contents".into());
    }
    postcard::from_bytes(body).map_err(|e| format!("a record does not decode: {e}"))
}

impl CheckpointStore {
    /// The checkpoints of `job` under `data_dir`.
    pub fn new(data_dir: &Path, job: &str) -> Self {
        let safe: String = job
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        CheckpointStore {
            dir: data_dir.join("checkpoints").join(safe),
            job: job.to_string(),
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> CheckpointError {
        let path = path.display().to_string();
        move |source| CheckpointError::Io {
            path: path.clone(),
            source,
        }
    }

    fn file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("chk-{id:010}.redb"))
    }

    /// Checkpoint ids on disk, newest first.
    pub fn ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(self.io(&self.dir)(err)),
        };
        let mut ids: Vec<u64> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_prefix("chk-")?
                    .strip_suffix(".redb")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Writes a complete checkpoint (atomically: a temporary file renamed into place), then
    /// deletes all but the newest few. Returns the bytes written.
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<u64, CheckpointError> {
        std::fs::create_dir_all(&self.dir).map_err(self.io(&self.dir))?;
        let path = self.file(checkpoint.id);
        let tmp = path.with_extension("redb.tmp");
        let db_error = |reason: String| CheckpointError::Database {
            path: tmp.display().to_string(),
            reason,
        };
        let _ = std::fs::remove_file(&tmp);
        {
            let db = redb::Database::create(&tmp).map_err(|e| db_error(e.to_string()))?;
            let txn = db.begin_write().map_err(|e| db_error(e.to_string()))?;
            {
                let mut meta = txn.open_table(META).map_err(|e| db_error(e.to_string()))?;
                let record = encode(&CheckpointMeta {
                    id: checkpoint.id,
                    job: self.job.clone(),
                    sources: checkpoint.sources.clone(),
                    sinks: checkpoint.sinks.clone(),
                    actors: checkpoint.actors.len(),
                })
                .map_err(db_error)?;
                meta.insert("checkpoint", record.as_slice())
                    .map_err(|e| db_error(e.to_string()))?;
                let mut actors = txn
                    .open_table(ACTORS)
                    .map_err(|e| db_error(e.to_string()))?;
                for (label, snapshot) in &checkpoint.actors {
                    let record = encode(snapshot).map_err(db_error)?;
                    actors
                        .insert(label.as_str(), record.as_slice())
                        .map_err(|e| db_error(e.to_string()))?;
                }
            }
            txn.commit().map_err(|e| db_error(e.to_string()))?;
        }
        std::fs::rename(&tmp, &path).map_err(self.io(&path))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        for old in self.ids()?.into_iter().skip(KEPT_CHECKPOINTS) {
            let _ = std::fs::remove_file(self.file(old));
        }
        Ok(bytes)
    }

    /// Reads checkpoint `id` back, verifying every record.
    pub fn read(&self, id: u64) -> Result<Checkpoint, CheckpointError> {
        let path = self.file(id);
        let shown = path.display().to_string();
        let damaged = |reason: String| CheckpointError::Damaged {
            path: shown.clone(),
            reason,
        };
        let db = redb::ReadOnlyDatabase::open(&path).map_err(|e| damaged(e.to_string()))?;
        let txn = db.begin_read().map_err(|e| damaged(e.to_string()))?;
        let meta_table = txn.open_table(META).map_err(|e| damaged(e.to_string()))?;
        let meta_bytes = meta_table
            .get("checkpoint")
            .map_err(|e| damaged(e.to_string()))?
            .ok_or_else(|| damaged("it has no checkpoint record".into()))?;
        let meta: CheckpointMeta = decode(meta_bytes.value()).map_err(&damaged)?;
        if meta.job != self.job || meta.id != id {
            return Err(damaged(format!(
                "it holds checkpoint {} of job \"{}\"",
                meta.id, meta.job
            )));
        }
        let actors_table = txn.open_table(ACTORS).map_err(|e| damaged(e.to_string()))?;
        let mut actors = BTreeMap::new();
        for entry in actors_table.iter().map_err(|e| damaged(e.to_string()))? {
            let (label, record) = entry.map_err(|e| damaged(e.to_string()))?;
            let snapshot: ActorSnapshot = decode(record.value()).map_err(&damaged)?;
            actors.insert(label.value().to_string(), snapshot);
        }
        if actors.len() != meta.actors {
            return Err(damaged(format!(
                "it lists {} actors but holds {}",
                meta.actors,
                actors.len()
            )));
        }
        Ok(Checkpoint {
            id,
            sources: meta.sources,
            sinks: meta.sinks,
            actors,
        })
    }

    /// The newest checkpoint that reads back intact; each damaged newer one is returned in
    /// the list of problems (to report), and skipped.
    pub fn latest(&self) -> Result<(Option<Checkpoint>, Vec<CheckpointError>), CheckpointError> {
        let mut problems = Vec::new();
        for id in self.ids()? {
            match self.read(id) {
                Ok(checkpoint) => return Ok((Some(checkpoint), problems)),
                Err(err) => problems.push(err),
            }
        }
        Ok((None, problems))
    }

    /// Deletes every checkpoint of the job (after it completed).
    pub fn clear(&self) -> Result<(), CheckpointError> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.io(&self.dir)(err)),
        }
    }
}

/// Parts of the job a checkpoint waits for.
#[derive(Debug, Clone, Default)]
pub struct Participants {
    /// Source names.
    pub sources: Vec<String>,
    /// Actor labels.
    pub actors: Vec<String>,
    /// Sink names.
    pub sinks: Vec<String>,
}

#[derive(Default)]
struct Progress {
    next_id: u64,
    pending: Option<Checkpoint>,
    started: Option<Instant>,
    ended_sources: BTreeMap<String, u64>,
    finished_actors: BTreeMap<String, ActorSnapshot>,
    finished_sinks: BTreeMap<String, SinkPosition>,
}

/// Statistics of the checkpoints taken in a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckpointStats {
    /// Checkpoints completed and written.
    pub completed: u64,
    /// The checkpoint the run resumed from, if any.
    pub restored_from: Option<u64>,
    /// Milliseconds from trigger to written, of the last checkpoint.
    pub last_duration_ms: f64,
    /// Bytes of the last checkpoint file.
    pub last_bytes: u64,
}

/// Coordinates checkpoints of one running job: triggers them, collects the parts, and hands
/// complete ones to a writer thread.
pub struct Checkpointer {
    store: CheckpointStore,
    participants: Participants,
    progress: Mutex<Progress>,
    requested: AtomicU64,
    complete: Mutex<Option<Sender<(Checkpoint, Instant)>>>,
    stats: Mutex<CheckpointStats>,
}

impl Checkpointer {
    /// A coordinator for `participants`, numbering checkpoints after `last_id`.
    pub fn new(store: CheckpointStore, participants: Participants, last_id: u64) -> Arc<Self> {
        Arc::new(Checkpointer {
            store,
            participants,
            progress: Mutex::new(Progress {
                next_id: last_id + 1,
                ..Progress::default()
            }),
            requested: AtomicU64::new(0),
            complete: Mutex::new(None),
            stats: Mutex::new(CheckpointStats::default()),
        })
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest checkpoint sources should inject a barrier for (0: none yet).
    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::Acquire)
    }

    /// Records that the run resumed from `id`.
    pub fn restored_from(&self, id: u64) {
        if let Ok(mut stats) = self.stats.lock() {
            stats.restored_from = Some(id);
        }
    }

    /// Statistics so far.
    pub fn stats(&self) -> CheckpointStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Starts the next checkpoint unless one is still in progress; returns its id.
    pub fn trigger(&self) -> Option<u64> {
        let mut progress = self.progress();
        if progress.pending.is_some() {
            return None;
        }
        let id = progress.next_id;
        progress.next_id += 1;
        progress.pending = Some(Checkpoint {
            id,
            sources: progress.ended_sources.clone(),
            sinks: progress.finished_sinks.clone(),
            actors: progress.finished_actors.clone(),
        });
        progress.started = Some(Instant::now());
        self.requested.store(id, Ordering::Release);
        self.check_complete(&mut progress);
        Some(id)
    }

    /// A source injected barrier `id` after consuming `offset` of its input. `inject` runs
    /// under the coordinator's lock, so a source cannot end between recording and sending.
    pub fn source_barrier(&self, name: &str, id: u64, offset: u64, inject: impl FnOnce()) {
        let mut progress = self.progress();
        if let Some(pending) = progress.pending.as_mut()
            && pending.id == id
        {
            pending.sources.insert(name.to_string(), offset);
            inject();
        }
        self.check_complete(&mut progress);
    }

    /// A source ended after consuming `offset`; it counts as reported for every checkpoint
    /// from now on.
    pub fn source_ended(&self, name: &str, offset: u64) {
        let mut progress = self.progress();
        progress.ended_sources.insert(name.to_string(), offset);
        if let Some(pending) = progress.pending.as_mut() {
            pending.sources.entry(name.to_string()).or_insert(offset);
        }
        self.check_complete(&mut progress);
    }

    /// An actor aligned barrier `id` and snapshotted.
    pub fn actor_snapshot(&self, label: &str, id: u64, snapshot: ActorSnapshot) {
        let mut progress = self.progress();
        if let Some(pending) = progress.pending.as_mut()
            && pending.id == id
        {
            pending.actors.insert(label.to_string(), snapshot);
        }
        self.check_complete(&mut progress);
    }

    /// An actor saw the end of all its inputs; its final snapshot stands for every later
    /// checkpoint.
    pub fn actor_finished(&self, label: &str, snapshot: ActorSnapshot) {
        let mut progress = self.progress();
        if let Some(pending) = progress.pending.as_mut() {
            pending
                .actors
                .entry(label.to_string())
                .or_insert_with(|| snapshot.clone());
        }
        progress.finished_actors.insert(label.to_string(), snapshot);
        self.check_complete(&mut progress);
    }

    /// A sink aligned barrier `id` at `position`.
    pub fn sink_barrier(&self, name: &str, id: u64, position: SinkPosition) {
        let mut progress = self.progress();
        if let Some(pending) = progress.pending.as_mut()
            && pending.id == id
        {
            pending.sinks.insert(name.to_string(), position);
        }
        self.check_complete(&mut progress);
    }

    /// A sink saw the end of all its inputs at `position`.
    pub fn sink_finished(&self, name: &str, position: SinkPosition) {
        let mut progress = self.progress();
        progress.finished_sinks.insert(name.to_string(), position);
        if let Some(pending) = progress.pending.as_mut() {
            pending.sinks.entry(name.to_string()).or_insert(position);
        }
        self.check_complete(&mut progress);
    }

    fn check_complete(&self, progress: &mut Progress) {
        let Some(pending) = &progress.pending else {
            return;
        };
        let p = &self.participants;
        let done = p.sources.iter().all(|s| pending.sources.contains_key(s))
            && p.actors.iter().all(|a| pending.actors.contains_key(a))
            && p.sinks.iter().all(|s| pending.sinks.contains_key(s));
        if !done {
            return;
        }
        let (Some(checkpoint), Some(started)) = (progress.pending.take(), progress.started.take())
        else {
            return;
        };
        let sender = self.complete.lock().ok().and_then(|s| s.clone());
        if let Some(sender) = sender {
            let _ = sender.send((checkpoint, started));
        }
    }

    /// Starts the thread that triggers a checkpoint every `interval` and writes complete
    /// ones; it stops when the returned handle is stopped.
    pub fn start(self: &Arc<Self>, interval: Duration) -> std::io::Result<CheckpointThread> {
        let (complete_tx, complete_rx) = mpsc::channel();
        if let Ok(mut slot) = self.complete.lock() {
            *slot = Some(complete_tx);
        }
        let (stop_tx, stop_rx) = mpsc::channel();
        let this = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("cameo-checkpoints".into())
            .spawn(move || this.run(interval, &complete_rx, &stop_rx))?;
        Ok(CheckpointThread {
            stop: stop_tx,
            handle: Some(handle),
        })
    }

    fn run(
        &self,
        interval: Duration,
        complete: &Receiver<(Checkpoint, Instant)>,
        stop: &Receiver<()>,
    ) {
        let mut next = Instant::now() + interval;
        loop {
            if stop.try_recv().is_ok() {
                return;
            }
            let wait = next
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(20));
            match complete.recv_timeout(wait) {
                Ok((checkpoint, started)) => self.write(&checkpoint, started),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if Instant::now() >= next {
                self.trigger();
                next = Instant::now() + interval;
            }
        }
    }

    fn write(&self, checkpoint: &Checkpoint, started: Instant) {
        match self.store.write(checkpoint) {
            Ok(bytes) => {
                if let Ok(mut stats) = self.stats.lock() {
                    stats.completed += 1;
                    stats.last_bytes = bytes;
                    stats.last_duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                }
                tracing::debug!(id = checkpoint.id, bytes, "checkpoint written");
            }
            Err(err) => tracing::error!("checkpoint {} not written: {err}", checkpoint.id),
        }
    }
}

/// The running checkpoint thread.
pub struct CheckpointThread {
    stop: Sender<()>,
    handle: Option<JoinHandle<()>>,
}

impl CheckpointThread {
    /// Stops the thread; checkpoints complete by then are written first.
    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(handle) = self.handle.take()
            && handle.join().is_err()
        {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: u64) -> Checkpoint {
        let mut held = Held::default();
        let mut txn = super::super::StateTxn::default();
        txn.put(&held.state, b"k".to_vec(), b"v".to_vec(), u64::MAX)
            .unwrap();
        txn.commit(&mut held.state);
        Checkpoint {
            id,
            sources: [("in".to_string(), 42)].into(),
            sinks: [("out".to_string(), SinkPosition { bytes: 10, seq: 2 })].into(),
            actors: [(
                "job/op".to_string(),
                ActorSnapshot {
                    held,
                    timers: TimerQueue::default(),
                    watermarks: InputWatermarks::new(1),
                },
            )]
            .into(),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "job one");
        for id in 1..=5 {
            store.write(&sample(id)).unwrap();
        }
        assert_eq!(store.ids().unwrap(), [5, 4, 3]);
        assert_eq!(store.read(4).unwrap(), sample(4));
        let (latest, problems) = store.latest().unwrap();
        assert_eq!(latest.unwrap().id, 5);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_damaged_checkpoint_is_reported_and_the_previous_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "job");
        store.write(&sample(1)).unwrap();
        store.write(&sample(2)).unwrap();
        std::fs::write(store.dir().join("chk-0000000002.redb"), b"garbage").unwrap();
        let (latest, problems) = store.latest().unwrap();
        assert_eq!(latest.unwrap().id, 1);
        assert_eq!(problems.len(), 1);
        let text = problems[0].to_string();
        assert!(text.contains("chk-0000000002.redb is damaged"), "{text}");
    }

    #[test]
    fn a_checkpoint_completes_when_every_part_reported() {
        let dir = tempfile::tempdir().unwrap();
        let participants = Participants {
            sources: vec!["in".into()],
            actors: vec!["job/op".into()],
            sinks: vec!["out".into()],
        };
        let checkpointer =
            Checkpointer::new(CheckpointStore::new(dir.path(), "job"), participants, 0);
        let (tx, rx) = mpsc::channel();
        *checkpointer.complete.lock().unwrap() = Some(tx);
        assert_eq!(checkpointer.trigger(), Some(1));
        assert_eq!(checkpointer.trigger(), None, "one checkpoint at a time");
        let mut injected = false;
        checkpointer.source_barrier("in", 1, 7, || injected = true);
        assert!(injected);
        checkpointer.actor_snapshot("job/op", 1, sample(1).actors["job/op"].clone());
        assert!(rx.try_recv().is_err());
        checkpointer.sink_finished("out", SinkPosition { bytes: 3, seq: 1 });
        let (checkpoint, _) = rx.try_recv().unwrap();
        assert_eq!(checkpoint.sources["in"], 7);
        assert_eq!(checkpoint.sinks["out"].seq, 1);
        assert_eq!(checkpointer.trigger(), Some(2));
    }
}
