//! The checkpoint coordinator of a running job: triggers checkpoints, collects the parts
//! from sources, actors and sinks, and hands complete ones to a writer thread.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::store::KEPT_CHECKPOINTS;
use super::{ActorSnapshot, Checkpoint, CheckpointStore, SinkPosition};
use crate::dataflow::dead_letter::DeadLetters;
use crate::sync::LockRecovered;

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
    /// The id of the last checkpoint written (0: none yet).
    pub last_id: u64,
}

/// Coordinates checkpoints of one running job: triggers them, collects the parts, and hands
/// complete ones to a writer thread.
pub struct Checkpointer {
    store: CheckpointStore,
    participants: Participants,
    progress: Mutex<Progress>,
    requested: AtomicU64,
    /// Where complete checkpoints go: the writer thread, once started.
    pub(super) complete: Mutex<Option<Sender<(Checkpoint, Instant)>>>,
    stats: Mutex<CheckpointStats>,
    /// Where the dead-letter output stands, read when a checkpoint completes.
    dead_letters: Mutex<Option<Arc<DeadLetters>>>,
    /// The source offsets and sink positions of the checkpoints this run wrote that are
    /// still kept, oldest first.
    kept: Mutex<VecDeque<Positions>>,
    /// Told where the oldest checkpoint a resume may still start from stands.
    on_release: Mutex<Option<ReleaseHook>>,
}

/// A checkpoint's source offsets and sink positions.
type Positions = (BTreeMap<String, u64>, BTreeMap<String, SinkPosition>);

/// Told, per source and per sink, the input and output no kept checkpoint needs again (see
/// [`Checkpointer::on_release`]).
pub type ReleaseHook =
    Box<dyn Fn(&BTreeMap<String, u64>, &BTreeMap<String, SinkPosition>) + Send + Sync>;

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
            dead_letters: Mutex::new(None),
            kept: Mutex::new(VecDeque::new()),
            on_release: Mutex::new(None),
        })
    }

    /// Calls `hook` each time a checkpoint is written with the source offsets and sink
    /// positions of the oldest checkpoint still kept, once every kept one was written by this
    /// run: input up to those offsets is never read again, and output is never cut back
    /// before those positions, whichever kept checkpoint a resume starts from.
    pub fn on_release(&self, hook: ReleaseHook) {
        *self.on_release.lock_recovered() = Some(hook);
    }

    /// Records in every checkpoint where the dead-letter output stands when it completes;
    /// the output holds back letters of inputs after the barrier until then (see
    /// [`DeadLetters`]), so the position covers exactly the inputs before it.
    pub fn watch_dead_letters(&self, dead_letters: Arc<DeadLetters>) {
        *self.dead_letters.lock_recovered() = Some(dead_letters);
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock_recovered()
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

    /// Calls `set` with the id the next checkpoint triggered will have, while no checkpoint can
    /// be triggered: what `set` arranges for barriers from that id on is in place before the
    /// first of them is injected, and no barrier already on its way has that id.
    pub fn before_next(&self, set: impl FnOnce(u64)) {
        let progress = self.progress();
        set(progress.next_id);
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
        let (Some(mut checkpoint), Some(started)) =
            (progress.pending.take(), progress.started.take())
        else {
            return;
        };
        if let Some(dead_letters) = &*self.dead_letters.lock_recovered() {
            let position = dead_letters.checkpoint_completed(checkpoint.id);
            checkpoint
                .sinks
                .insert(super::DEAD_LETTERS.to_string(), position);
        }
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
                    stats.last_id = stats.last_id.max(checkpoint.id);
                    stats.last_duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                }
                tracing::debug!(id = checkpoint.id, bytes, "checkpoint written");
                let mut kept = self.kept.lock_recovered();
                kept.push_back((checkpoint.sources.clone(), checkpoint.sinks.clone()));
                while kept.len() > KEPT_CHECKPOINTS {
                    kept.pop_front();
                }
                if kept.len() == KEPT_CHECKPOINTS
                    && let (Some((offsets, positions)), Some(hook)) =
                        (kept.front(), &*self.on_release.lock_recovered())
                {
                    hook(offsets, positions);
                }
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
