//! The slice executor: worker threads that take the next runnable task from the [`Policy`],
//! run one slice of it, and put it back if it has more to do.
//!
//! A task becomes runnable through [`Activator::activate`]; an `AtomicBool` per task makes
//! activation idempotent, so a task is in the run queue at most once and runs on one worker at
//! a time.
//!
//! Timed tasks (sources) are not ordered by the policy: a busy worker runs those that are due
//! between two slices (unless a waiting worker is about to wake for them; after 200 µs it
//! runs them anyway), a worker without policy work runs them before it waits, and a waiting
//! worker sleeps until the next one falls due. A due timer therefore waits about a slice,
//! whatever the policy.
//!
//! Under a preemptive policy a worker keeps its task across slice boundaries while nothing
//! better waits, and gives it up at the first boundary after something better arrives: urgent
//! work waits at most one slice for a busy worker. Queuing work wakes a worker only when one
//! is waiting for work (busy workers see it at their next slice end).

//!
//! # Layout
//! - this module: the [`Task`] trait, [`Activator`], [`Spawner`] and [`Executor`].
//! - `shared`: what workers and activators share (tasks, run queue, timers).
//! - `worker`: the worker loop.

mod shared;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use super::priority::Priority;
pub use super::queue::{PassedOver, TenantSchedStats};
use super::queue::{RunQueue, TenantShares};
use super::timers::TimedTask;
use super::{Policy, TaskId};
use crate::sync::{LockRecovered, RwLockRecovered};
use shared::{Body, DRIVE_STEP, Shared, TaskSlot};
use worker::worker_loop;

/// What a task reports after one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceOutcome {
    /// It has more to do now: put it back in the run queue.
    Busy,
    /// It has nothing to do until activated again.
    Idle,
}

/// What one slice did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceReport {
    /// Whether the task has more to do.
    pub outcome: SliceOutcome,
    /// Fuel the slice burned, charged to the task's tenant.
    pub fuel: u64,
}

/// Something the executor runs slice by slice (an actor).
pub trait Task: Send {
    /// Runs one slice: at most one fuel quantum of guest code.
    fn run_slice(&mut self, activator: &Activator) -> SliceReport;
    /// True when the task has work waiting; checked after it went idle, to close the race
    /// with an activation that arrived meanwhile.
    fn has_work(&self) -> bool;
    /// How urgent the task's next work is.
    fn priority(&self) -> Priority;
    /// True while a call is parked mid-way (it yielded at a slice boundary).
    fn in_call(&self) -> bool;
}

/// Makes tasks runnable; cheap to clone and share with sources and sinks.
#[derive(Clone)]
pub struct Activator {
    shared: Arc<Shared>,
}

impl Activator {
    /// Puts `task` in the run queue with the priority it reports (its best pending work),
    /// or moves it up if it waits there and now ranks better; a running task is left alone.
    /// A timed task (a source waiting for room) is run as soon as possible.
    pub fn wake(&self, task: TaskId) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        match &slot.body {
            Body::Timed(_) => self.shared.arm(task, Instant::now()),
            Body::Task(inner) => {
                let priority = if slot.scheduled.load(Ordering::Acquire) {
                    // Queued or running: a running task holds its lock (and is ranked afresh
                    // at its next slice end), so never wait for it.
                    let Ok(waiting) = inner.try_lock() else {
                        return;
                    };
                    waiting.priority()
                } else {
                    inner.lock_recovered().priority()
                };
                self.shared.schedule(&slot, task, &priority);
            }
        }
    }

    /// Puts `task` in the run queue with `priority`, or moves it up if it waits there and
    /// `priority` ranks better; a running task is left alone. A timed task is armed for now.
    pub fn activate(&self, task: TaskId, priority: &Priority) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        match &slot.body {
            Body::Timed(_) => self.shared.arm(task, Instant::now()),
            Body::Task(_) => self.shared.schedule(&slot, task, priority),
        }
    }

    /// Runs timed task `task` at `at`, and after that whenever it asks to run.
    pub fn arm(&self, task: TaskId, at: Instant) {
        self.shared.arm(task, at);
    }

    /// Runs timed task `task` on this thread until it finishes, whether or not workers run
    /// (they may run it too meanwhile: a task runs on one thread at a time).
    pub fn drive(&self, task: TaskId) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        let Body::Timed(timed) = &slot.body else {
            return;
        };
        loop {
            let Some(at) = shared::run_once(timed) else {
                return;
            };
            std::thread::sleep(at.saturating_duration_since(Instant::now()).min(DRIVE_STEP));
        }
    }
}

/// When the earliest timed task falls due, read without a lock; the one thread watching it
/// is unparked when that time changes.
pub struct TimerWatch {
    shared: Arc<Shared>,
}

impl TimerWatch {
    /// When the earliest timer falls due; `None` when no timer is armed.
    pub fn next_due(&self) -> Option<Instant> {
        self.shared.next_timer_at()
    }

    /// Makes the calling thread the watcher: it is unparked (`std::thread::park_timeout`
    /// returns) when a timer is armed that falls due before the time it last gave to
    /// [`TimerWatch::sleeping_until`]. One thread only.
    pub fn watch_from_this_thread(&self) {
        let _ = self.shared.timer_watcher.set(std::thread::current());
    }

    /// The watcher is about to sleep until `wake`: timers armed from now on that fall due
    /// later need not unpark it. Returns when the earliest timer falls due, read after that
    /// was said, so a timer armed meanwhile is not missed (sleep until it instead).
    pub fn sleeping_until(&self, wake: Instant) -> Option<Instant> {
        self.shared
            .watcher_wakes
            .store(self.shared.nanos(wake), Ordering::SeqCst);
        match self.shared.next_timer.load(Ordering::SeqCst) {
            u64::MAX => None,
            nanos => Some(self.shared.origin + std::time::Duration::from_nanos(nanos)),
        }
    }
}

/// Registers tasks on a running executor from any thread; cheap to clone.
#[derive(Clone)]
pub struct Spawner {
    shared: Arc<Shared>,
}

impl Spawner {
    /// Registers the task `make` builds from its own id (not yet runnable) and returns the
    /// id. The task list stays locked meanwhile, so the id is the task's own.
    pub fn add(&self, make: impl FnOnce(TaskId) -> Box<dyn Task>) -> TaskId {
        let mut tasks = self.shared.tasks.write_recovered();
        let id = tasks.len();
        tasks.push(Arc::new(TaskSlot {
            scheduled: AtomicBool::new(false),
            body: Body::Task(Mutex::new(make(id))),
        }));
        id
    }

    /// A handle that makes tasks runnable.
    pub fn activator(&self) -> Activator {
        Activator {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Worker threads plus the run queue.
pub struct Executor {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Executor {
    /// An executor scheduling by `policy` within `shares`, with no workers yet (see
    /// [`Executor::start`]).
    pub fn new(policy: Box<dyn Policy>, shares: TenantShares) -> Self {
        let preempts = policy.preempts();
        let shared = Arc::new(Shared {
            tasks: RwLock::new(Vec::new()),
            queue: Mutex::new(RunQueue::new(policy, shares)),
            preempts,
            runnable: Condvar::new(),
            pushes: AtomicU64::new(0),
            next_timer: AtomicU64::new(u64::MAX),
            origin: Instant::now(),
            timer_watcher: std::sync::OnceLock::new(),
            watcher_wakes: AtomicU64::new(u64::MAX),
            shutdown: AtomicBool::new(false),
            tracing: AtomicBool::new(false),
            trace: Mutex::new(Vec::new()),
        });
        Executor {
            shared,
            workers: Vec::new(),
        }
    }

    /// A view of when the earliest timed task falls due, for a thread outside the workers
    /// (the epoch ticker) that ends the running slices the moment a source is due instead of
    /// at their natural end.
    pub fn timer_watch(&self) -> TimerWatch {
        TimerWatch {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Starts `workers` worker threads (at least one).
    pub fn start(&mut self, workers: usize) -> std::io::Result<()> {
        for _ in 0..workers.max(1) {
            let index = self.workers.len();
            let shared = Arc::clone(&self.shared);
            let handle = std::thread::Builder::new()
                .name(format!("cameo-worker-{index}"))
                .spawn(move || worker_loop(&shared))?;
            self.workers.push(handle);
        }
        Ok(())
    }

    #[cfg(test)]
    /// Registers a task (not yet runnable) and returns its id.
    pub fn add(&self, task: Box<dyn Task>) -> TaskId {
        self.register(|_| Ok::<_, std::convert::Infallible>(Body::Task(Mutex::new(task))))
            .unwrap_or_else(|never| match never {})
    }

    /// Registers the task `make` builds from its own id (not yet runnable) and returns the
    /// id; nothing is registered when `make` fails.
    pub fn add_with<E>(
        &self,
        make: impl FnOnce(TaskId) -> Result<Box<dyn Task>, E>,
    ) -> Result<TaskId, E> {
        self.register(|id| Ok(Body::Task(Mutex::new(make(id)?))))
    }

    #[cfg(test)]
    /// Registers a timed task (not yet armed: see [`Activator::arm`]) and returns its id.
    pub fn add_timed(&self, task: Box<dyn TimedTask>) -> TaskId {
        self.register(|_| Ok::<_, std::convert::Infallible>(Body::Timed(Mutex::new(task))))
            .unwrap_or_else(|never| match never {})
    }

    /// Registers the timed task `make` builds from its own id (not yet armed) and returns the
    /// id; nothing is registered when `make` fails.
    pub fn add_timed_with<E>(
        &self,
        make: impl FnOnce(TaskId) -> Result<Box<dyn TimedTask>, E>,
    ) -> Result<TaskId, E> {
        self.register(|id| Ok(Body::Timed(Mutex::new(make(id)?))))
    }

    /// Registers the body `make` builds from the id it gets. The list stays locked meanwhile,
    /// so the id is the task's own whoever else registers.
    fn register<E>(&self, make: impl FnOnce(TaskId) -> Result<Body, E>) -> Result<TaskId, E> {
        let mut tasks = self.shared.tasks.write_recovered();
        let id = tasks.len();
        let body = make(id)?;
        tasks.push(Arc::new(TaskSlot {
            scheduled: AtomicBool::new(false),
            body,
        }));
        Ok(id)
    }

    /// A handle that registers tasks while the executor runs.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A handle that makes tasks runnable.
    pub fn activator(&self) -> Activator {
        Activator {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The index of tenant `name` in the run queue, registering it with an equal share.
    pub fn tenant(&self, name: &str) -> usize {
        self.shared.queue().shares().tenant(name)
    }

    /// Scheduling figures per tenant so far.
    pub fn stats(&self) -> Vec<TenantSchedStats> {
        self.shared.queue().shares().stats()
    }

    /// Starts recording which task runs each slice (see [`Executor::slice_trace`]).
    pub fn trace_slices(&self) {
        self.shared.tracing.store(true, Ordering::Release);
    }

    /// The task of every slice run since [`Executor::trace_slices`], in order.
    pub fn slice_trace(&self) -> Vec<TaskId> {
        self.shared
            .trace
            .lock()
            .map(|trace| trace.clone())
            .unwrap_or_default()
    }

    /// Stops the workers after their current slice and waits for them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        {
            // Under the queue's lock: a worker between its check of the flag and its wait
            // holds the lock, so it either sees the flag or is waiting when notified.
            let _queue = self.shared.queue();
            self.shared.shutdown.store(true, Ordering::Release);
            self.shared.runnable.notify_all();
        }
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
        // Tasks may hold activators (sources do): dropping them breaks the cycle back to
        // this executor.
        self.shared.tasks.write_recovered().clear();
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
