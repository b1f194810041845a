//! The worker loop: take the best task, run its slices, keep it while nothing clearly better
//! waits, and run due timers between slices.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::shared::{Body, Shared};
use super::{Activator, SliceOutcome};
use crate::sched::TaskId;
use crate::sched::priority::Priority;
use crate::sched::queue::RunQueue;
use crate::sync::{LockRecovered, WaitRecovered};

/// Waits for the next policy-ordered task and its tenant, running due timed tasks while there
/// is none
/// (queued work goes first: a due timer waits at most for the next slice end); `None` at
/// shutdown. `since` is reset after waiting and after timed tasks, so neither is charged to
/// any tenant.
fn next_task(shared: &Shared, since: &mut Instant) -> Option<(TaskId, usize)> {
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
                    .wait_timeout_recovered(queue, at.saturating_duration_since(now))
                    .0
            }
            None => shared.runnable.wait_recovered(queue),
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

/// Charges `tenant` the time and fuel a task used, unless the task is demoted: a long call
/// runs as background work, after every tenant's work within its share, so it does not use
/// up its tenant's share either (the tenant's other work keeps its standing).
fn charge(
    queue: &mut RunQueue,
    tenant: usize,
    priority: &Priority,
    (ns, fuel): (u64, u64),
    now: Instant,
) {
    queue.passed_over((ns, fuel));
    if !queue.demotes(priority) {
        queue.shares().charge(tenant, ns, fuel, now);
    }
}

pub(super) fn worker_loop(shared: &Arc<Shared>) {
    let activator = Activator {
        shared: Arc::clone(shared),
    };
    // Time this worker spent for tenants, charged slice by slice: everything since the
    // previous charge (the slice and the scheduling around it), except time spent waiting
    // for work.
    let mut since = Instant::now();
    while let Some((next, tenant)) = next_task(shared, &mut since) {
        let Some(slot) = shared.slot(next) else {
            shared.queue().shares().stopped(tenant);
            continue;
        };
        let Body::Task(task) = &slot.body else {
            shared.queue().shares().stopped(tenant);
            continue;
        };
        let mut task = task.lock_recovered();
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
                let mut queue = shared.queue();
                charge(&mut queue, tenant, &priority, (owed_ns, owed_fuel), now);
                queue.shares().stopped(tenant);
                drop(queue);
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
            charge(&mut queue, tenant, &priority, (owed_ns, owed_fuel), now);
            (owed_fuel, owed_ns) = (0, 0);
            if shared.shutdown.load(Ordering::Acquire) || queue.should_yield(&priority, now) {
                // Back in line; this worker takes the best task next (maybe this one).
                queue.shares().stopped(tenant);
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
