//! Scheduling: which runnable actor gets the next fuel slice.
//!
//! The executor ([`executor`]) owns the worker threads and asks a [`Policy`] for the next
//! runnable task at every slice boundary; the decision is always ours, never a general-purpose
//! async runtime's.

pub mod executor;
pub mod priority;

use std::collections::VecDeque;

/// Identifies a task (an actor) registered with an executor.
pub type TaskId = usize;

/// Orders runnable tasks. The executor calls [`Policy::push`] when a task becomes runnable
/// (or comes back after a slice) and [`Policy::pop`] to choose the next slice.
pub trait Policy: Send {
    /// The policy's name, as given on the command line.
    fn name(&self) -> &'static str;
    /// Makes `task` runnable.
    fn push(&mut self, task: TaskId);
    /// Takes the task that should run next.
    fn pop(&mut self) -> Option<TaskId>;
    /// Number of runnable tasks.
    fn len(&self) -> usize;
    /// True when nothing is runnable.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First come, first served: the order every actor runtime uses by default. A task that yields
/// goes to the back, so tasks share the workers slice by slice.
#[derive(Debug, Default)]
pub struct Fifo {
    queue: VecDeque<TaskId>,
}

impl Policy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn push(&mut self, task: TaskId) {
        self.queue.push_back(task);
    }

    fn pop(&mut self) -> Option<TaskId> {
        self.queue.pop_front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

/// The scheduling policies a host can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// First come, first served.
    #[default]
    Fifo,
}

impl PolicyKind {
    /// A fresh policy of this kind.
    pub fn build(self) -> Box<dyn Policy> {
        match self {
            PolicyKind::Fifo => Box::new(Fifo::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_runs_tasks_in_arrival_order() {
        let mut fifo = Fifo::default();
        for task in [3, 1, 2] {
            fifo.push(task);
        }
        assert_eq!(
            [fifo.pop(), fifo.pop(), fifo.pop(), fifo.pop()],
            [Some(3), Some(1), Some(2), None]
        );
    }
}
