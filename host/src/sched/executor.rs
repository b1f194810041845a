//! The slice executor: worker threads that take the next runnable task from the [`Policy`],
//! run one slice of it, and put it back if it has more to do.
//!
//! A task becomes runnable through [`Activator::activate`]; an `AtomicBool` per task makes
//! activation idempotent, so a task is in the run queue at most once and runs on one worker at
//! a time.
//!
//! Under a preemptive policy a worker keeps its task across slice boundaries while nothing
//! better waits, and gives it up at the first boundary after something better arrives: urgent
//! work waits at most one slice for a busy worker. Queuing work wakes a worker only when one
//! is waiting for work (busy workers see it at their next slice end).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use std::time::{Duration, Instant};

use super::priority::Priority;
pub use super::queue::TenantSchedStats;
use super::queue::{RunQueue, TenantShares};
use super::{Policy, TaskId};

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
    /// The tenant whose share the task's work is charged to (that of [`Task::priority`]).
    fn tenant(&self) -> usize;
    /// True while a call is parked mid-way (it yielded at a slice boundary).
    fn in_call(&self) -> bool;
}

struct TaskSlot {
    scheduled: AtomicBool,
    task: Mutex<Box<dyn Task>>,
}

struct Shared {
    tasks: RwLock<Vec<Arc<TaskSlot>>>,
    queue: Mutex<RunQueue>,
    /// Copied from the policy: calls may be parked for better work.
    preempts: bool,
    runnable: Condvar,
    /// Pushes into the run queue so far: a worker that saw no push since it last compared
    /// its task with the waiting ones may keep running it without taking the queue's lock.
    pushes: AtomicU64,
    shutdown: AtomicBool,
    tracing: AtomicBool,
    trace: Mutex<Vec<TaskId>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, RunQueue> {
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

    fn push(&self, queue: &mut RunQueue, task: TaskId, priority: &Priority, ready: Instant) {
        queue.push(task, priority, ready);
        self.pushes.fetch_add(1, Ordering::AcqRel);
    }

    /// Queues `task` and wakes a waiting worker, if any.
    fn enqueue(&self, task: TaskId, priority: &Priority) {
        let mut queue = self.queue();
        self.push(&mut queue, task, priority, Instant::now());
        let idle = queue.has_idle_worker();
        drop(queue);
        if idle {
            self.runnable.notify_one();
        }
    }
}

/// Makes tasks runnable; cheap to clone and share with sources and sinks.
#[derive(Clone)]
pub struct Activator {
    shared: Arc<Shared>,
}

impl Activator {
    /// Puts `task` in the run queue with the priority it reports, unless it is already there
    /// or running (for waking a producer that waited for room downstream).
    pub fn wake(&self, task: TaskId) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        if !slot.scheduled.swap(true, Ordering::AcqRel) {
            let priority = slot
                .task
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .priority();
            self.shared.enqueue(task, &priority);
        }
    }

    /// Puts `task` in the run queue with `priority` unless it is already there or running.
    pub fn activate(&self, task: TaskId, priority: &Priority) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        if !slot.scheduled.swap(true, Ordering::AcqRel) {
            self.shared.enqueue(task, priority);
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

/// Waits for the next task; `None` at shutdown. `since` is reset after a wait,
/// so waiting is not charged to any tenant.
fn next_task(shared: &Shared, since: &mut Instant) -> Option<TaskId> {
    let mut queue = shared.queue();
    loop {
        if shared.shutdown.load(Ordering::Acquire) {
            return None;
        }
        if let Some(next) = queue.pop(Instant::now()) {
            return Some(next);
        }
        queue.set_waiting(true);
        queue = shared
            .runnable
            .wait(queue)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.set_waiting(false);
        *since = Instant::now();
    }
}

/// Runs one slice of `task`, or, when the policy does not preempt, its whole call.
fn run_once(shared: &Shared, task: &mut dyn Task, activator: &Activator) -> SliceReport {
    let mut report = task.run_slice(activator);
    if !shared.preempts {
        // Run the call to completion: keep polling it, slice after slice.
        while report.outcome == SliceOutcome::Busy
            && task.in_call()
            && !shared.shutdown.load(Ordering::Acquire)
        {
            let next_report = task.run_slice(activator);
            report = SliceReport {
                outcome: next_report.outcome,
                fuel: report.fuel.saturating_add(next_report.fuel),
            };
        }
    }
    report
}

/// How long a worker may keep its task on the strength of one comparison with the waiting
/// tasks: their tenants' shares refill with time, so the comparison goes stale.
const RECHECK: Duration = Duration::from_millis(1);

/// A worker's last comparison of its running call with the waiting tasks, which found
/// nothing better.
struct LastCheck {
    /// The queue's push count then.
    pushes: u64,
    at: Instant,
}

impl LastCheck {
    /// True when nothing can have changed the comparison: the same call still runs (its
    /// priority is fixed while it runs), nothing was queued since, and it is recent.
    fn still_holds(&self, shared: &Shared, now: Instant) -> bool {
        self.pushes == shared.pushes.load(Ordering::Acquire)
            && now.saturating_duration_since(self.at) < RECHECK
    }
}

fn worker_loop(shared: &Arc<Shared>) {
    let activator = Activator {
        shared: Arc::clone(shared),
    };
    // Time this worker spent for tenants, charged slice by slice: everything since the
    // previous charge (the slice and the scheduling around it), except time spent waiting
    // for work.
    let mut since = Instant::now();
    while let Some(next) = next_task(shared, &mut since) {
        let Some(slot) = shared.slot(next) else {
            continue;
        };
        let mut task = slot
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tenant = task.tenant();
        let mut last_check: Option<LastCheck> = None;
        // Fuel and time run since the last charge to the tenant.
        let (mut owed_fuel, mut owed_ns) = (0u64, 0u64);
        loop {
            if shared.tracing.load(Ordering::Relaxed)
                && let Ok(mut trace) = shared.trace.lock()
            {
                trace.push(next);
            }
            let report = run_once(shared, task.as_mut(), &activator);
            let now = Instant::now();
            owed_ns =
                owed_ns.saturating_add(now.saturating_duration_since(since).as_nanos() as u64);
            owed_fuel = owed_fuel.saturating_add(report.fuel);
            since = now;
            if report.outcome == SliceOutcome::Idle {
                slot.scheduled.store(false, Ordering::Release);
                let again = task.has_work();
                let priority = task.priority();
                drop(task);
                shared
                    .queue()
                    .shares()
                    .charge(tenant, owed_ns, owed_fuel, now);
                if again {
                    activator.activate(next, &priority);
                }
                break;
            }
            if task.in_call()
                && let Some(check) = &last_check
                && check.still_holds(shared, now)
            {
                continue;
            }
            last_check = None;
            let priority = task.priority();
            let mut queue = shared.queue();
            queue.shares().charge(tenant, owed_ns, owed_fuel, now);
            (owed_fuel, owed_ns) = (0, 0);
            if shared.shutdown.load(Ordering::Acquire) || queue.should_yield(&priority, now) {
                // Back in line; this worker takes the best task next (maybe this one).
                shared.push(&mut queue, next, &priority, now);
                break;
            }
            if task.in_call() {
                last_check = Some(LastCheck {
                    pushes: shared.pushes.load(Ordering::Acquire),
                    at: now,
                });
            }
        }
    }
}
