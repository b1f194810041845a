//! Timed work: tasks the executor runs at set times, outside the policy's order.
//!
//! Sources are timed tasks: a paced source asks to run when its next events fall due, and a
//! source held back by a full mailbox is armed again when the mailbox drains. Workers run due
//! timed tasks between slices and when nothing is queued (see [`super::executor`]), so
//! sources need no threads of their own competing with the workers for cores, and every
//! policy gets its input on time.

use std::time::Instant;

use super::TaskId;
use super::keyed_heap::KeyedHeap;

/// Work run at set times (a source).
pub trait TimedTask: Send {
    /// Does what is due by `now` without blocking; returns when to run next, or `None` once
    /// the task has finished for good (the executor then drops it and never runs it again).
    fn run(&mut self, now: Instant) -> Option<Instant>;
}

/// When each armed timed task runs next.
#[derive(Default)]
pub struct Timers {
    armed: KeyedHeap<TaskId, Instant>,
}

impl Timers {
    /// Arms `task` for `at`, unless it is already armed for an earlier time. True when that
    /// made it the earliest timer.
    pub fn arm(&mut self, task: TaskId, at: Instant) -> bool {
        self.armed.push(task, at) && self.earliest() == Some(at)
    }

    /// The earliest armed time.
    pub fn earliest(&mut self) -> Option<Instant> {
        self.armed.peek().map(|(at, _)| at)
    }

    /// Takes a task due by `now`, disarming it.
    pub fn pop_due(&mut self, now: Instant) -> Option<TaskId> {
        let (at, _) = self.armed.peek()?;
        if at > now {
            return None;
        }
        self.armed.pop().map(|(_, task)| task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_task_runs_at_its_earliest_arming_and_once() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut timers = Timers::default();
        assert!(timers.arm(1, ms(10)));
        assert!(!timers.arm(2, ms(20)), "not the earliest");
        assert!(!timers.arm(1, ms(30)), "already armed earlier");
        assert!(timers.arm(2, ms(5)), "re-armed earlier");
        assert_eq!(timers.earliest(), Some(ms(5)));
        assert_eq!(timers.pop_due(ms(4)), None, "nothing due yet");
        assert_eq!(timers.pop_due(ms(40)), Some(2));
        assert_eq!(timers.pop_due(ms(40)), Some(1));
        assert_eq!(timers.pop_due(ms(40)), None, "stale armings are dropped");
        assert_eq!(timers.earliest(), None);
    }
}
