//! Executor tests: timed tasks between slices and while waiting.

use super::*;
use crate::sched::PolicyKind;
use crate::sched::timers::TimedTask;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

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
    fn in_call(&self) -> bool {
        self.ran.load(Ordering::Acquire) < self.slices
    }
}

fn urgent() -> Priority {
    Priority {
        due: Instant::now(),
        cost_ns: 0,
        tenant: 0,
        demoted: false,
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
