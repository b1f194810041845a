//! The slice executor: worker threads that take the next runnable task from the [`Policy`],
//! run one slice of it, and put it back if it has more to do.
//!
//! A task becomes runnable through [`Activator::activate`]; an `AtomicBool` per task makes
//! activation idempotent, so a task is in the run queue at most once and runs on one worker at
//! a time.
//!
//! Timed tasks (sources) are not ordered by the policy: a busy worker runs those that are due
//! between two slices (unless a waiting worker is about to wake for them), a worker without
//! policy work runs them before it waits, and a waiting worker sleeps until the next one
//! falls due. A due timer therefore waits at most one slice, under every policy.
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
use super::timers::TimedTask;
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

/// What a task slot holds.
enum Body {
    /// Work ordered by the policy (an actor).
    Task(Mutex<Box<dyn Task>>),
    /// Work run at set times (a source).
    Timed(Mutex<Box<dyn TimedTask>>),
}

struct TaskSlot {
    /// True while a policy-ordered task is queued or running.
    scheduled: AtomicBool,
    body: Body,
}

/// How long past its time a due timer may wait for a waiting worker to wake for it before a
/// busy worker runs it between two slices.
const TIMER_OVERDUE: Duration = Duration::from_micros(200);

/// Most timed tasks a busy worker runs between two slices.
const TIMERS_PER_PAUSE: usize = 16;

/// Longest sleep of a thread driving a timed task itself ([`Activator::drive`]).
const DRIVE_STEP: Duration = Duration::from_millis(20);

struct Shared {
    tasks: RwLock<Vec<Arc<TaskSlot>>>,
    queue: Mutex<RunQueue>,
    /// Copied from the policy: calls may be parked for better work.
    preempts: bool,
    runnable: Condvar,
    /// Pushes into the run queue so far: a worker that saw no push since it last compared
    /// its task with the waiting ones may keep running it without taking the queue's lock.
    pushes: AtomicU64,
    /// When the earliest timer falls due, in nanoseconds since `origin` (`u64::MAX`: no
    /// timer), so that busy workers check for due timers without taking the queue's lock.
    next_timer: AtomicU64,
    origin: Instant,
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

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Publishes the earliest timer after the timers changed.
    fn publish_timer(&self, queue: &mut RunQueue) {
        let next = queue
            .timers()
            .earliest()
            .map_or(u64::MAX, |at| self.nanos(at));
        self.next_timer.store(next, Ordering::Release);
    }

    /// True when a timer is due by `now` (without taking the queue's lock).
    fn timer_due(&self, now: Instant) -> bool {
        self.next_timer.load(Ordering::Acquire) <= self.nanos(now)
    }

    /// Arms timed task `task` for `at`, waking a waiting worker when that is now the earliest
    /// timer (it sleeps until the earliest one).
    fn arm(&self, task: TaskId, at: Instant) {
        let mut queue = self.queue();
        let earliest = queue.timers().arm(task, at);
        self.publish_timer(&mut queue);
        let idle = earliest && queue.has_idle_worker();
        drop(queue);
        if idle {
            self.runnable.notify_one();
        }
    }

    /// Takes a timed task due by `now`. A busy worker leaves it to a waiting worker, which
    /// wakes for it, unless it is overdue.
    fn take_due_timer(&self, queue: &mut RunQueue, now: Instant, busy: bool) -> Option<TaskId> {
        if busy && queue.has_idle_worker() {
            let due = queue.timers().earliest()?;
            if now.saturating_duration_since(due) < TIMER_OVERDUE {
                return None;
            }
        }
        let task = queue.timers().pop_due(now)?;
        self.publish_timer(queue);
        Some(task)
    }

    /// Runs timed task `task` once and arms it for the time it asks for.
    fn run_timed(&self, task: TaskId) {
        let Some(slot) = self.slot(task) else {
            return;
        };
        let Body::Timed(timed) = &slot.body else {
            return;
        };
        let next = timed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .run(Instant::now());
        if let Some(at) = next {
            self.arm(task, at);
        }
    }

    /// Runs the timed tasks due now, between two slices of a busy worker, until one queues
    /// policy work (the worker then weighs it against its task at once; the other due timers
    /// wait for the next slice end).
    fn run_due_timers(&self, now: Instant) {
        let pushes = self.pushes.load(Ordering::Acquire);
        for _ in 0..TIMERS_PER_PAUSE {
            let Some(task) = self.take_due_timer(&mut self.queue(), now, true) else {
                return;
            };
            self.run_timed(task);
            if self.pushes.load(Ordering::Acquire) != pushes {
                return;
            }
        }
    }

    /// Moves `task` up in the run queue if it waits there and `priority` ranks it better: new
    /// work arrived for it. (A running task is ranked afresh at its next slice end.)
    fn improve(&self, task: TaskId, priority: &Priority) {
        let mut queue = self.queue();
        if queue.improve(task, priority, Instant::now()) {
            self.pushes.fetch_add(1, Ordering::AcqRel);
        }
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
                if !slot.scheduled.swap(true, Ordering::AcqRel) {
                    let priority = inner
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .priority();
                    self.shared.enqueue(task, &priority);
                } else if let Ok(waiting) = inner.try_lock() {
                    // Queued, not running (a running task holds its lock).
                    let priority = waiting.priority();
                    drop(waiting);
                    self.shared.improve(task, &priority);
                }
            }
        }
    }

    /// Puts `task` in the run queue with `priority`, or moves it up if it waits there and
    /// `priority` ranks better; a running task is left alone.
    pub fn activate(&self, task: TaskId, priority: &Priority) {
        let Some(slot) = self.shared.slot(task) else {
            return;
        };
        match &slot.body {
            Body::Timed(_) => self.shared.arm(task, Instant::now()),
            Body::Task(_) => {
                if slot.scheduled.swap(true, Ordering::AcqRel) {
                    self.shared.improve(task, priority);
                } else {
                    self.shared.enqueue(task, priority);
                }
            }
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
            let next = timed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .run(Instant::now());
            let Some(at) = next else {
                return;
            };
            std::thread::sleep(at.saturating_duration_since(Instant::now()).min(DRIVE_STEP));
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
        self.register(Body::Task(Mutex::new(task)))
    }

    /// Registers a timed task (not yet armed: see [`Activator::arm`]) and returns its id.
    pub fn add_timed(&self, task: Box<dyn TimedTask>) -> TaskId {
        self.register(Body::Timed(Mutex::new(task)))
    }

    fn register(&self, body: Body) -> TaskId {
        let mut tasks = self
            .shared
            .tasks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tasks.push(Arc::new(TaskSlot {
            scheduled: AtomicBool::new(false),
            body,
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
        // Tasks may hold activators (sources do): dropping them breaks the cycle back to
        // this executor.
        self.shared
            .tasks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits for the next policy-ordered task, running due timed tasks while there is none
/// (queued work goes first: a due timer waits at most for the next slice end); `None` at
/// shutdown. `since` is reset after waiting and after timed tasks, so neither is charged to
/// any tenant.
fn next_task(shared: &Shared, since: &mut Instant) -> Option<TaskId> {
    let mut queue = shared.queue();
    loop {
        if shared.shutdown.load(Ordering::Acquire) {
            return None;
        }
        let now = Instant::now();
        if let Some(next) = queue.pop(now) {
            return Some(next);
        }
        if let Some(timed) = shared.take_due_timer(&mut queue, now, false) {
            drop(queue);
            shared.run_timed(timed);
            *since = Instant::now();
            queue = shared.queue();
            continue;
        }
        let next_timer = queue.timers().earliest();
        queue.set_waiting(true);
        queue = match next_timer {
            Some(at) => {
                shared
                    .runnable
                    .wait_timeout(queue, at.saturating_duration_since(now))
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0
            }
            None => shared
                .runnable
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        queue.set_waiting(false);
        *since = Instant::now();
    }
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
        let Body::Task(task) = &slot.body else {
            continue;
        };
        let mut task = task.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tenant = task.tenant();
        let mut last_check: Option<LastCheck> = None;
        // Fuel and time run since the last charge to the tenant.
        let (mut owed_fuel, mut owed_ns) = (0u64, 0u64);
        // The trace records every slice, or every turn when calls run to completion.
        let mut turn_start = true;
        loop {
            if (shared.preempts || turn_start)
                && shared.tracing.load(Ordering::Relaxed)
                && let Ok(mut trace) = shared.trace.lock()
            {
                trace.push(next);
            }
            turn_start = false;
            let report = task.run_slice(&activator);
            let now = Instant::now();
            owed_ns =
                owed_ns.saturating_add(now.saturating_duration_since(since).as_nanos() as u64);
            owed_fuel = owed_fuel.saturating_add(report.fuel);
            since = now;
            if shared.timer_due(now) {
                shared.run_due_timers(now);
                since = Instant::now();
            }
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
            if !shared.preempts && task.in_call() && !shared.shutdown.load(Ordering::Acquire) {
                // Run the call to completion: keep polling it, slice after slice.
                continue;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::PolicyKind;
    use std::sync::atomic::AtomicU32;

    /// A call that lasts `slices` slices, and arms timed task `timer` during slice `arm_at`.
    struct LongCall {
        slices: u32,
        ran: Arc<AtomicU32>,
        arm_at: u32,
        timer: TaskId,
    }

    impl Task for LongCall {
        fn run_slice(&mut self, activator: &Activator) -> SliceReport {
            let ran = self.ran.fetch_add(1, Ordering::AcqRel) + 1;
            if ran == self.arm_at {
                activator.arm(self.timer, Instant::now());
            }
            let outcome = if ran < self.slices {
                SliceOutcome::Busy
            } else {
                SliceOutcome::Idle
            };
            SliceReport { outcome, fuel: 1 }
        }
        fn has_work(&self) -> bool {
            false
        }
        fn priority(&self) -> Priority {
            urgent()
        }
        fn tenant(&self) -> usize {
            0
        }
        fn in_call(&self) -> bool {
            self.ran.load(Ordering::Acquire) < self.slices
        }
    }

    fn urgent() -> Priority {
        Priority {
            due: Instant::now(),
            cost_ns: 0,
            tenant: 0,
        }
    }

    /// Records how many slices of the long call had run each time it runs, and when.
    struct Probe {
        ran: Arc<AtomicU32>,
        runs: Arc<Mutex<Vec<(u32, Instant)>>>,
    }

    impl TimedTask for Probe {
        fn run(&mut self, now: Instant) -> Option<Instant> {
            if let Ok(mut runs) = self.runs.lock() {
                runs.push((self.ran.load(Ordering::Acquire), now));
            }
            None
        }
    }

    /// Waits (without asserting anything about time) until `done` holds.
    fn wait_for(done: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(30);
        while !done() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn executor(policy: PolicyKind) -> Executor {
        Executor::new(policy.build(), TenantShares::new(1))
    }

    #[test]
    fn a_due_timer_runs_between_two_slices_of_a_call_that_runs_to_completion() {
        let mut executor = executor(PolicyKind::Fifo);
        let ran = Arc::new(AtomicU32::new(0));
        let runs = Arc::new(Mutex::new(Vec::new()));
        let timer = executor.add_timed(Box::new(Probe {
            ran: Arc::clone(&ran),
            runs: Arc::clone(&runs),
        }));
        let call = executor.add(Box::new(LongCall {
            slices: 50,
            ran: Arc::clone(&ran),
            arm_at: 3,
            timer,
        }));
        executor.activator().activate(call, &urgent());
        executor.start(1).unwrap();
        wait_for(|| ran.load(Ordering::Acquire) >= 50);
        executor.shutdown();
        let runs: Vec<u32> = runs.lock().unwrap().iter().map(|(at, _)| *at).collect();
        // The only worker runs the call to its end (FIFO), but the source armed in slice 3
        // runs right after it, not after the call's 50 slices.
        assert_eq!(runs, [3]);
    }

    #[test]
    fn a_waiting_worker_wakes_for_the_next_timer_and_not_before() {
        let mut executor = executor(PolicyKind::Edf);
        let runs = Arc::new(Mutex::new(Vec::new()));
        let timer = executor.add_timed(Box::new(Probe {
            ran: Arc::new(AtomicU32::new(0)),
            runs: Arc::clone(&runs),
        }));
        executor.start(2).unwrap();
        let at = Instant::now() + Duration::from_millis(5);
        executor.activator().arm(timer, at);
        wait_for(|| !runs.lock().unwrap().is_empty());
        executor.shutdown();
        let runs = runs.lock().unwrap().clone();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert!(runs[0].1 >= at, "ran {:?} early", at - runs[0].1);
    }
}
