//! What the workers and activators share: the tasks, the run queue with its timers, and the
//! signals between them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use super::Task;
use crate::sched::TaskId;
use crate::sched::priority::Priority;
use crate::sched::queue::RunQueue;
use crate::sched::timers::TimedTask;
use crate::sync::{LockRecovered, RwLockRecovered};

/// What a task slot holds.
pub(super) enum Body {
    /// Work ordered by the policy (an actor).
    Task(Mutex<Box<dyn Task>>),
    /// Work run at set times (a source).
    Timed(Mutex<Box<dyn TimedTask>>),
}

pub(super) struct TaskSlot {
    /// True while a policy-ordered task is queued or running.
    pub(super) scheduled: AtomicBool,
    pub(super) body: Body,
}

/// How long past its time a due timer may wait for a waiting worker to wake for it before a
/// busy worker runs it between two slices.
const TIMER_OVERDUE: Duration = Duration::from_micros(200);

/// How long the watcher may sleep on past a timer that was already due when armed before it
/// is woken for it (see [`Shared::publish_timer`]), in nanoseconds.
const DUE_TIMER_SLACK_NANOS: u64 = 1_000_000;

/// Most timed tasks a busy worker runs between two slices.
const TIMERS_PER_PAUSE: usize = 16;

/// Longest sleep of a thread driving a timed task itself ([`Activator::drive`]).
pub(super) const DRIVE_STEP: Duration = Duration::from_millis(20);

pub(super) struct Shared {
    pub(super) tasks: RwLock<Vec<Arc<TaskSlot>>>,
    pub(super) queue: Mutex<RunQueue>,
    /// Copied from the policy: calls may be parked for better work.
    pub(super) preempts: bool,
    pub(super) runnable: Condvar,
    /// Pushes into the run queue so far: a worker that saw no push since it last compared
    /// its task with the waiting ones may keep running it without taking the queue's lock.
    pub(super) pushes: AtomicU64,
    /// When the earliest timer falls due, in nanoseconds since `origin` (`u64::MAX`: no
    /// timer), so that busy workers check for due timers without taking the queue's lock.
    pub(super) next_timer: AtomicU64,
    pub(super) origin: Instant,
    /// A thread outside the workers that waits for the earliest timer (the epoch ticker),
    /// unparked when a timer falls due before it would wake anyway.
    pub(super) timer_watcher: std::sync::OnceLock<std::thread::Thread>,
    /// When the watcher wakes next, in nanoseconds since `origin` (`u64::MAX` until it says).
    pub(super) watcher_wakes: AtomicU64,
    pub(super) shutdown: AtomicBool,
    pub(super) tracing: AtomicBool,
    pub(super) trace: Mutex<Vec<TaskId>>,
}

impl Shared {
    pub(super) fn queue(&self) -> MutexGuard<'_, RunQueue> {
        // A poisoned queue means a worker panicked mid-push; the queue itself is still sound.
        self.queue.lock_recovered()
    }

    pub(super) fn slot(&self, task: TaskId) -> Option<Arc<TaskSlot>> {
        let tasks = self.tasks.read_recovered();
        tasks.get(task).cloned()
    }

    pub(super) fn push(
        &self,
        queue: &mut RunQueue,
        task: TaskId,
        priority: &Priority,
        ready: Instant,
    ) {
        queue.push(task, priority, ready);
        self.pushes.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Publishes the earliest timer after the timers changed.
    pub(super) fn publish_timer(&self, queue: &mut RunQueue) {
        let next = queue
            .timers()
            .earliest()
            .map_or(u64::MAX, |at| self.nanos(at));
        let previous = self.next_timer.swap(next, Ordering::SeqCst);
        // The watcher reads the earliest timer again after saying when it wakes next, before
        // it sleeps: only a timer earlier than that wake is news to it. A later one is not (it
        // wakes, finds nothing due and sleeps again). A timer already due when armed (a source
        // that stopped at its run budget, or woken by a mailbox that drained) is news only if
        // the watcher would sleep past [`DUE_TIMER_SLACK`]: busy workers see it at their next
        // slice end anyway, and waking the watcher for each would cost a system call per
        // source run and cut every slice short.
        let now = self.nanos(Instant::now());
        let news_before = if next > now {
            next
        } else {
            now.saturating_add(DUE_TIMER_SLACK_NANOS)
        };
        if next < previous
            && news_before < self.watcher_wakes.load(Ordering::SeqCst)
            && let Some(watcher) = self.timer_watcher.get()
        {
            watcher.unpark();
        }
    }

    /// When the earliest timer falls due (without taking the queue's lock).
    pub(super) fn next_timer_at(&self) -> Option<Instant> {
        match self.next_timer.load(Ordering::Acquire) {
            u64::MAX => None,
            nanos => Some(self.origin + Duration::from_nanos(nanos)),
        }
    }

    /// True when a timer is due by `now` (without taking the queue's lock).
    pub(super) fn timer_due(&self, now: Instant) -> bool {
        self.next_timer.load(Ordering::Acquire) <= self.nanos(now)
    }

    /// Arms timed task `task` for `at`, waking a waiting worker when that is now the earliest
    /// timer (it sleeps until the earliest one).
    pub(super) fn arm(&self, task: TaskId, at: Instant) {
        let mut queue = self.queue();
        let earliest = queue.timers().arm(task, at);
        self.publish_timer(&mut queue);
        if earliest {
            self.wake_a_waiting_worker(queue);
        }
    }

    /// Releases the queue and wakes a worker waiting for work, if one is (it takes the new
    /// work, or sleeps until the new earliest timer).
    fn wake_a_waiting_worker(&self, queue: MutexGuard<'_, RunQueue>) {
        let idle = queue.has_idle_worker();
        drop(queue);
        if idle {
            self.runnable.notify_one();
        }
    }

    /// Takes a timed task due by `now`. A busy worker leaves it to a waiting worker, which
    /// wakes for it, unless it is overdue.
    pub(super) fn take_due_timer(
        &self,
        queue: &mut RunQueue,
        now: Instant,
        busy: bool,
    ) -> Option<TaskId> {
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

    /// Runs timed task `task` once (see [`run_once`]) and arms it for the time it asks for.
    pub(super) fn run_timed(&self, task: TaskId) {
        let Some(slot) = self.slot(task) else {
            return;
        };
        let Body::Timed(timed) = &slot.body else {
            return;
        };
        if let Some(at) = run_once(timed) {
            self.arm(task, at);
        }
    }

    /// Runs the timed tasks due now, between two slices of a busy worker, until the run
    /// queue changes (the worker then weighs what was queued against its task at once; the
    /// other due timers wait for its next slice end).
    pub(super) fn run_due_timers(&self, now: Instant) {
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

    /// Makes policy task `task` (in `slot`) runnable with `priority`: queues it and wakes a
    /// waiting worker if it was neither queued nor running, or moves it up if it waits in the
    /// queue and `priority` ranks it better (new work arrived for it). A running task is left
    /// alone: it is ranked afresh at its next slice end. Marking and queuing happen under the
    /// queue's lock, so a second activation never sees a task marked but not yet queued.
    pub(super) fn schedule(&self, slot: &TaskSlot, task: TaskId, priority: &Priority) {
        let mut queue = self.queue();
        let now = Instant::now();
        if slot.scheduled.swap(true, Ordering::AcqRel) {
            if queue.improve(task, priority, now) {
                self.pushes.fetch_add(1, Ordering::AcqRel);
            }
            return;
        }
        self.push(&mut queue, task, priority, now);
        self.wake_a_waiting_worker(queue);
    }
}

/// Runs `timed` once; once it has finished it is replaced by [`Finished`], which drops what
/// it held (a source's input). Returns when it asks to run next.
pub(super) fn run_once(timed: &Mutex<Box<dyn TimedTask>>) -> Option<Instant> {
    let mut timed = timed.lock_recovered();
    let next = timed.run(Instant::now());
    if next.is_none() {
        *timed = Box::new(Finished);
    }
    next
}

/// What a finished timed task becomes: it never runs again.
struct Finished;

impl TimedTask for Finished {
    fn run(&mut self, _now: Instant) -> Option<Instant> {
        None
    }
}
