//! One operator instance as an actor: its wasm instance (or the call in flight that owns it),
//! its mailbox, event-time bookkeeping, and what to do when a call fails.
//!
//! # Layout
//! - [`call`]: a call as a future that owns the store, polled one fuel slice at a time.
//! - [`failure`]: why a call failed.

pub mod call;
pub mod failure;

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use call::{CallContext, CallDone, CallFuture, CallInput, Instance, Slot};

use crate::bindings::Event;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::mailbox::{Mailbox, Message, Meta, Taken};
use crate::dataflow::router::Router;
use crate::dataflow::sink::Completion;
use crate::engine::OperatorEngine;
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::{Activator, SliceOutcome, Task};
use crate::state::KeyedState;
use crate::time::{InputWatermarks, TimerQueue};

/// Something to pass downstream once the timers it made due have fired.
enum Forward {
    Watermark(i64, Meta),
    End,
}

/// The parts of a job an actor talks to.
pub struct ActorLinks {
    /// The operator's label without the instance number (`job/operator`), for metrics.
    pub operator: Arc<str>,
    /// The actor's own task id.
    pub task: TaskId,
    /// Its mailbox.
    pub mailbox: Arc<Mailbox>,
    /// Where its output goes.
    pub router: Router,
    /// Number of upstream senders (channels) feeding the mailbox.
    pub inputs: usize,
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
    /// The job's dead-letter output.
    pub dead_letters: Arc<DeadLetters>,
    /// The job's completion, failed when an instance cannot be created.
    pub completion: Arc<Completion>,
}

/// One operator instance.
pub struct Actor {
    label: Arc<str>,
    engine: OperatorEngine,
    cx: CallContext,
    links: ActorLinks,
    instance: Option<Instance>,
    state: KeyedState,
    in_flight: Option<CallFuture>,
    retry: VecDeque<(Event, Meta)>,
    timers: TimerQueue,
    due: VecDeque<(i64, Option<Vec<u8>>, Meta)>,
    forward: VecDeque<Forward>,
    watermarks: InputWatermarks,
    blocked: bool,
    finished: bool,
}

impl Actor {
    /// An actor named `label` running `cx.module`; it instantiates on its first call.
    pub fn new(
        label: Arc<str>,
        engine: OperatorEngine,
        cx: CallContext,
        links: ActorLinks,
    ) -> Self {
        let watermarks = InputWatermarks::new(links.inputs);
        Actor {
            label,
            engine,
            cx,
            links,
            instance: None,
            state: KeyedState::default(),
            in_flight: None,
            retry: VecDeque::new(),
            timers: TimerQueue::default(),
            due: VecDeque::new(),
            forward: VecDeque::new(),
            watermarks,
            blocked: false,
            finished: false,
        }
    }

    /// Picks the next call to make, handling control messages on the way. `None`: nothing to
    /// do now.
    fn next_input(&mut self, activator: &Activator) -> Option<CallInput> {
        loop {
            if let Some((event, meta)) = self.retry.pop_front() {
                return Some(CallInput::Process {
                    events: vec![event],
                    metas: vec![meta],
                });
            }
            if let Some((time, key, meta)) = self.due.pop_front() {
                return Some(CallInput::Timer { key, time, meta });
            }
            while let Some(forward) = self.forward.pop_front() {
                match forward {
                    Forward::Watermark(time, meta) => {
                        self.links.router.watermark(time, meta, activator)
                    }
                    Forward::End => {
                        self.links.router.end(activator);
                        self.finished = true;
                    }
                }
            }
            if self.links.router.blocked(self.links.task) {
                self.blocked = true;
                return None;
            }
            let (taken, wake) = self.links.mailbox.take(self.cx.limits.batch_size);
            for producer in wake {
                activator.activate(producer);
            }
            match taken {
                Taken::Nothing => return None,
                Taken::Events(batch) => {
                    let (events, metas) = batch.into_iter().unzip();
                    return Some(CallInput::Process { events, metas });
                }
                Taken::Control(Message::Watermark {
                    channel,
                    time,
                    meta,
                }) => {
                    if let Some(watermark) = self.watermarks.advance(channel, time) {
                        self.watermark_advanced(watermark, meta);
                    }
                }
                Taken::Control(Message::End { channel }) => {
                    let meta = Meta {
                        ingest: Instant::now(),
                    };
                    if let Some(watermark) = self.watermarks.end(channel) {
                        self.watermark_advanced(watermark, meta);
                    }
                    if self.watermarks.all_ended() {
                        self.forward.push_back(Forward::End);
                    }
                }
                Taken::Control(Message::Event(event, meta)) => {
                    let events = vec![event];
                    return Some(CallInput::Process {
                        events,
                        metas: vec![meta],
                    });
                }
            }
        }
    }

    fn watermark_advanced(&mut self, watermark: i64, meta: Meta) {
        for (time, key) in self.timers.due(watermark) {
            self.due.push_back((time, key, meta));
        }
        if watermark < i64::MAX {
            self.forward.push_back(Forward::Watermark(watermark, meta));
        }
    }

    fn start(&mut self, input: CallInput) -> CallFuture {
        let slot = match self.instance.take() {
            Some(instance) => Slot::Live(instance),
            None => Slot::Fresh(
                self.engine
                    .new_store(Arc::clone(&self.label), std::mem::take(&mut self.state)),
            ),
        };
        call::start(slot, input, self.cx.clone())
    }

    /// Applies a finished call: outputs downstream, timers registered, failures handled.
    fn finish(&mut self, done: CallDone, activator: &Activator) {
        self.links.metrics.add_call(&self.links.operator, done.fuel);
        self.instance = done.instance;
        if let Some(state) = done.orphaned_state {
            self.state = state;
        }
        if let Some(reason) = done.fatal {
            self.links.completion.fail(reason);
            return;
        }
        let meta = done.input.output_meta();
        match done.result {
            Ok(output) => {
                for (key, time) in output.timers {
                    if time <= self.watermarks.current() {
                        let meta = meta.unwrap_or(Meta {
                            ingest: Instant::now(),
                        });
                        self.due.push_back((time, key, meta));
                    } else {
                        self.timers.register(key, time);
                    }
                }
                if let Some(meta) = meta {
                    let events = output.events.into_iter().map(|e| (e, meta)).collect();
                    self.links.router.send(events, activator);
                }
            }
            Err(failure) => {
                let reason = failure.to_string();
                match done.input {
                    CallInput::Process { events, metas } if events.len() > 1 => {
                        tracing::debug!(
                            operator = &*self.label,
                            "a batch of {} failed ({reason}); retrying its events one by one",
                            events.len()
                        );
                        for pair in events.into_iter().zip(metas).rev() {
                            self.retry.push_front(pair);
                        }
                    }
                    CallInput::Process { events, .. } => {
                        for event in &events {
                            self.links.dead_letters.record(
                                &self.links.operator,
                                Some(event),
                                None,
                                &reason,
                            );
                        }
                    }
                    CallInput::Timer { time, .. } => {
                        self.links.dead_letters.record(
                            &self.links.operator,
                            None,
                            Some(time),
                            &reason,
                        );
                    }
                }
            }
        }
    }

    /// Polls the call in flight for one slice; returns true when it finished.
    fn poll_in_flight(&mut self, activator: &Activator) -> bool {
        let Some(mut future) = self.in_flight.take() else {
            return true;
        };
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Pending => {
                self.in_flight = Some(future);
                false
            }
            Poll::Ready(done) => {
                self.finish(done, activator);
                true
            }
        }
    }
}

impl Task for Actor {
    fn run_slice(&mut self, activator: &Activator) -> SliceOutcome {
        if self.links.completion.is_finished() {
            // The job failed: drop everything instead of working for nothing.
            self.in_flight = None;
            while !matches!(self.links.mailbox.take(usize::MAX).0, Taken::Nothing) {}
            return SliceOutcome::Idle;
        }
        self.blocked = false;
        if self.in_flight.is_none() {
            match self.next_input(activator) {
                Some(input) => self.in_flight = Some(self.start(input)),
                None => return SliceOutcome::Idle,
            }
        }
        if !self.poll_in_flight(activator) {
            return SliceOutcome::Busy;
        }
        if self.has_work() {
            SliceOutcome::Busy
        } else {
            SliceOutcome::Idle
        }
    }

    fn has_work(&self) -> bool {
        if self.finished {
            return false;
        }
        if self.in_flight.is_some()
            || !self.retry.is_empty()
            || !self.due.is_empty()
            || !self.forward.is_empty()
        {
            return true;
        }
        if self.blocked {
            return !self.links.router.any_full();
        }
        !self.links.mailbox.is_empty()
    }
}
