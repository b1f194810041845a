//! The slice executor: worker threads that take the next runnable task from the [`Policy`],
//! run one slice of it, and put it back if it has more to do.
//!
//! A task becomes runnable through [`Activator::activate`]; an `AtomicBool` per task makes
//! activation idempotent, so a task is in the run queue at most once and runs on one worker at
//! a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::priority::Priority;
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
    /// True while a call is parked mid-way (it yielded at a slice boundary).
    fn in_call(&self) -> bool;
}

/// Scheduling figures of one tenant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantSchedStats {
    /// The tenant.
    pub tenant: String,
    /// Slices run.
    pub slices: u64,
    /// Fuel charged.
    pub fuel: u64,
    /// Time from a task becoming runnable to its slice starting, µs: median.
    pub ready_to_run_p50_us: f64,
    /// Same, 99th percentile.
    pub ready_to_run_p99_us: f64,
    /// Same, maximum.
    pub ready_to_run_max_us: f64,
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
    /// Per tenant: slices run and the ready-to-run delay histogram (ns).
    delays: Mutex<Vec<(u64, Option<Histogram<u64>>)>>,
    runnable: Condvar,
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
            self.shared.queue().push(task, &priority, Instant::now());
            self.shared.runnable.notify_one();
        }
    }

    /// Puts `task` in the run queue with `priority` unless it is already there or running.
    pub fn activate(&self, task: TaskId, priority: &Priority) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        if !slot.scheduled.swap(true, Ordering::AcqRel) {
            self.shared.queue().push(task, priority, Instant::now());
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
    /// An executor scheduling by `policy` within `shares`, with no workers yet (see
    /// [`Executor::start`]).
    pub fn new(policy: Box<dyn Policy>, shares: TenantShares) -> Self {
        let preempts = policy.preempts();
        let shared = Arc::new(Shared {
            tasks: RwLock::new(Vec::new()),
            queue: Mutex::new(RunQueue::new(policy, shares)),
            preempts,
            delays: Mutex::new(Vec::new()),
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

    /// The index of tenant `name` in the run queue, registering it with an equal share.
    pub fn tenant(&self, name: &str) -> usize {
        self.shared.queue().shares().tenant(name)
    }

    /// Scheduling figures per tenant so far.
    pub fn stats(&self) -> Vec<TenantSchedStats> {
        let fuel = self.shared.queue().shares().fuel();
        let delays = self.shared.delays.lock().unwrap_or_else(|p| p.into_inner());
        fuel.into_iter()
            .enumerate()
            .map(|(index, (tenant, fuel))| {
                let (slices, histogram) = delays
                    .get(index)
                    .map(|(slices, h)| (*slices, h.as_ref()))
                    .unwrap_or((0, None));
                let us = |q: f64| histogram.map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0);
                TenantSchedStats {
                    tenant,
                    slices,
                    fuel,
                    ready_to_run_p50_us: us(0.5),
                    ready_to_run_p99_us: us(0.99),
                    ready_to_run_max_us: histogram.map_or(0.0, |h| h.max() as f64 / 1000.0),
                }
            })
            .collect()
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

fn record_delay(shared: &Shared, tenant: usize, delay_ns: u64) {
    let mut delays = shared.delays.lock().unwrap_or_else(|p| p.into_inner());
    if delays.len() <= tenant {
        delays.resize_with(tenant + 1, || (0, Histogram::new(3).ok()));
    }
    if let Some((slices, histogram)) = delays.get_mut(tenant) {
        *slices += 1;
        if let Some(histogram) = histogram
            && histogram.record(delay_ns.max(1)).is_err()
        {
            histogram.saturating_record(delay_ns.max(1));
        }
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
    loop {
        let (next, ready) = {
            let mut queue = shared.queue();
            loop {
                if shared.shutdown.load(Ordering::Acquire) {
                    return;
                }
                if let Some(next) = queue.pop(Instant::now()) {
                    break next;
                }
                queue = shared
                    .runnable
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                since = Instant::now();
            }
        };
        let Some(slot) = shared.slot(next) else {
            continue;
        };
        let mut task = slot
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let started = Instant::now();
        let tenant = task.priority().tenant;
        record_delay(
            shared,
            tenant,
            started.saturating_duration_since(ready).as_nanos() as u64,
        );
        if shared.tracing.load(Ordering::Relaxed)
            && let Ok(mut trace) = shared.trace.lock()
        {
            trace.push(next);
        }
        let mut report = task.run_slice(&activator);
        if !shared.preempts {
            // Run the call to completion: keep polling it, slice after slice.
            while report.outcome == SliceOutcome::Busy
                && task.in_call()
                && !shared.shutdown.load(Ordering::Acquire)
            {
                let next_report = task.run_slice(&activator);
                report = SliceReport {
                    outcome: next_report.outcome,
                    fuel: report.fuel + next_report.fuel,
                };
            }
        }
        let now = Instant::now();
        let cpu_ns = now.saturating_duration_since(since).as_nanos() as u64;
        since = now;
        match report.outcome {
            SliceOutcome::Busy => {
                let priority = task.priority();
                drop(task);
                let mut queue = shared.queue();
                queue.shares().charge(tenant, cpu_ns, report.fuel, now);
                queue.push(next, &priority, now);
                drop(queue);
                shared.runnable.notify_one();
            }
            SliceOutcome::Idle => {
                slot.scheduled.store(false, Ordering::Release);
                let again = task.has_work();
                let priority = task.priority();
                drop(task);
                shared
                    .queue()
                    .shares()
                    .charge(tenant, cpu_ns, report.fuel, now);
                if again {
                    activator.activate(next, &priority);
                }
            }
        }
    }
}
