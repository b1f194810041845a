//! The slice executor: worker threads that take the next runnable task from the [`Policy`],
//! run one slice of it, and put it back if it has more to do.
//!
//! A task becomes runnable through [`Activator::activate`]; an `AtomicBool` per task makes
//! activation idempotent, so a task is in the run queue at most once and runs on one worker at
//! a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use super::{Policy, TaskId};

/// What a task reports after one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceOutcome {
    /// It has more to do now: put it back in the run queue.
    Busy,
    /// It has nothing to do until activated again.
    Idle,
}

/// Something the executor runs slice by slice (an actor).
pub trait Task: Send {
    /// Runs one slice: at most one fuel quantum of guest code.
    fn run_slice(&mut self, activator: &Activator) -> SliceOutcome;
    /// True when the task has work waiting; checked after it went idle, to close the race
    /// with an activation that arrived meanwhile.
    fn has_work(&self) -> bool;
}

struct TaskSlot {
    scheduled: AtomicBool,
    task: Mutex<Box<dyn Task>>,
}

struct Shared {
    tasks: RwLock<Vec<Arc<TaskSlot>>>,
    queue: Mutex<Box<dyn Policy>>,
    runnable: Condvar,
    shutdown: AtomicBool,
    tracing: AtomicBool,
    trace: Mutex<Vec<TaskId>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Box<dyn Policy>> {
        // A poisoned queue means a worker panicked mid-push; the queue itself is still sound.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn slot(&self, task: TaskId) -> Option<Arc<TaskSlot>> {
        let tasks = self
            .tasks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tasks.get(task).cloned()
    }
}

/// Makes tasks runnable; cheap to clone and share with sources and sinks.
#[derive(Clone)]
pub struct Activator {
    shared: Arc<Shared>,
}

impl Activator {
    /// Puts `task` in the run queue unless it is already there or running.
    pub fn activate(&self, task: TaskId) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        if !slot.scheduled.swap(true, Ordering::AcqRel) {
            self.shared.queue().push(task);
            self.shared.runnable.notify_one();
        }
    }
}

/// Worker threads plus the run queue.
pub struct Executor {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Executor {
    /// An executor scheduling by `policy`, with no workers yet (see [`Executor::start`]).
    pub fn new(policy: Box<dyn Policy>) -> Self {
        let shared = Arc::new(Shared {
            tasks: RwLock::new(Vec::new()),
            queue: Mutex::new(policy),
            runnable: Condvar::new(),
            shutdown: AtomicBool::new(false),
            tracing: AtomicBool::new(false),
            trace: Mutex::new(Vec::new()),
        });
        Executor {
            shared,
            workers: Vec::new(),
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

    /// The id the next [`Executor::add`] will return.
    pub fn next_task_id(&self) -> TaskId {
        self.shared
            .tasks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Registers a task (not yet runnable) and returns its id.
    pub fn add(&self, task: Box<dyn Task>) -> TaskId {
        let mut tasks = self
            .shared
            .tasks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tasks.push(Arc::new(TaskSlot {
            scheduled: AtomicBool::new(false),
            task: Mutex::new(task),
        }));
        tasks.len() - 1
    }

    /// A handle that makes tasks runnable.
    pub fn activator(&self) -> Activator {
        Activator {
            shared: Arc::clone(&self.shared),
        }
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
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.runnable.notify_all();
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn worker_loop(shared: &Arc<Shared>) {
    let activator = Activator {
        shared: Arc::clone(shared),
    };
    loop {
        let next = {
            let mut queue = shared.queue();
            loop {
                if shared.shutdown.load(Ordering::Acquire) {
                    return;
                }
                if let Some(task) = queue.pop() {
                    break task;
                }
                queue = shared
                    .runnable
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let Some(slot) = shared.slot(next) else {
            continue;
        };
        let mut task = slot
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if shared.tracing.load(Ordering::Relaxed)
            && let Ok(mut trace) = shared.trace.lock()
        {
            trace.push(next);
        }
        match task.run_slice(&activator) {
            SliceOutcome::Busy => {
                drop(task);
                shared.queue().push(next);
                shared.runnable.notify_one();
            }
            SliceOutcome::Idle => {
                slot.scheduled.store(false, Ordering::Release);
                let again = task.has_work();
                drop(task);
                if again {
                    activator.activate(next);
                }
            }
        }
    }
}
