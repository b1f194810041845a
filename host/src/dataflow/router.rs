//! Routing an operator's or source's output to the next mailboxes: forward, key-hash or
//! broadcast edges, to actors or sinks.

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use super::mailbox::{Mailbox, Message, PriorityContext};
use super::sink::Sink;
use crate::bindings::Event;
use crate::sched::TaskId;
use crate::sched::executor::Activator;
use crate::sched::profile::OperatorProfile;
use std::time::{Duration, Instant};

/// How events of one edge are spread over the receiving instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioning {
    /// Instance `i` sends to instance `i` when both sides have the same parallelism;
    /// otherwise events are spread round-robin, one call's output at a time.
    #[default]
    Forward,
    /// By a stable hash (xxh3) of the event key, so every key goes to one instance and its
    /// order is kept.
    KeyHash,
    /// Every instance gets every event.
    Broadcast,
}

/// One receiver of an edge.
#[derive(Clone)]
pub enum Target {
    /// An actor's mailbox.
    Actor {
        /// The actor's task id, to activate it.
        task: TaskId,
        /// The receiving operator's profile, which turns a message's context into the
        /// actor's priority.
        profile: Arc<OperatorProfile>,
        /// Its mailbox.
        mailbox: Arc<Mailbox>,
        /// The sender's channel number at the actor.
        channel: usize,
    },
    /// A sink.
    Sink {
        /// The sink.
        sink: Arc<Sink>,
        /// The sender's channel number at the sink.
        channel: usize,
    },
}

impl Target {
    fn deliver(&self, events: Vec<(Event, PriorityContext)>, activator: &Activator) {
        if events.is_empty() {
            return;
        }
        match self {
            Target::Actor {
                task,
                mailbox,
                channel,
                profile,
            } => {
                let channel = *channel;
                let priority = events.first().map(|(_, context)| profile.priority(context));
                mailbox.push_all(events.into_iter().map(|(event, meta)| Message::Event {
                    event,
                    meta,
                    channel,
                }));
                if let Some(priority) = priority {
                    activator.activate(*task, &priority);
                }
            }
            Target::Sink { sink, channel } => sink.write(events, *channel),
        }
    }

    fn control(&self, message: impl Fn(usize) -> Message, activator: &Activator) {
        match self {
            Target::Actor {
                task,
                mailbox,
                channel,
                profile,
            } => {
                let message = message(*channel);
                let is_watermark = matches!(message, Message::Watermark { .. });
                mailbox.push_all([message]);
                if is_watermark {
                    // Whether a watermark is urgent depends on the receiver's own watermark
                    // and windows: the actor ranks its pending work itself.
                    activator.wake(*task);
                } else {
                    let now = PriorityContext::at_source(Instant::now(), 0, Duration::ZERO);
                    activator.activate(*task, &profile.priority(&now));
                }
            }
            Target::Sink { sink, channel } => match message(*channel) {
                Message::End { channel } => sink.end(channel),
                Message::Barrier { channel, id } => sink.barrier(channel, id),
                Message::Watermark { .. } | Message::Event { .. } | Message::Idle { .. } => {}
            },
        }
    }
}

/// One outgoing edge: the instances of one downstream operator or sink.
pub struct Edge {
    targets: Vec<Target>,
    partitioning: Partitioning,
    round_robin: usize,
}

impl Edge {
    /// An edge to `targets` (all instances of one receiver) partitioned by `partitioning`.
    pub fn new(targets: Vec<Target>, partitioning: Partitioning) -> Self {
        Edge {
            targets,
            partitioning,
            round_robin: 0,
        }
    }
}

/// All outgoing edges of one sender instance.
pub struct Router {
    edges: Vec<Edge>,
    /// This sender's instance index and the number of instances of its operator.
    instance: usize,
    instances: usize,
}

impl Router {
    /// A router for instance `instance` of `instances`.
    pub fn new(edges: Vec<Edge>, instance: usize, instances: usize) -> Self {
        Router {
            edges,
            instance,
            instances,
        }
    }

    /// Sends one call's output down every edge.
    pub fn send(&mut self, events: Vec<(Event, PriorityContext)>, activator: &Activator) {
        if events.is_empty() {
            return;
        }
        let last = self.edges.len().saturating_sub(1);
        let mut events = Some(events);
        for (index, edge) in self.edges.iter_mut().enumerate() {
            let batch = if index == last {
                events.take().unwrap_or_default()
            } else {
                events.clone().unwrap_or_default()
            };
            let n = edge.targets.len();
            if n == 0 {
                continue;
            }
            match edge.partitioning {
                Partitioning::Forward if n == 1 => edge.targets[0].deliver(batch, activator),
                Partitioning::Forward if n == self.instances => {
                    edge.targets[self.instance].deliver(batch, activator)
                }
                Partitioning::Forward => {
                    edge.round_robin = (edge.round_robin + 1) % n;
                    edge.targets[edge.round_robin].deliver(batch, activator);
                }
                Partitioning::KeyHash => {
                    let mut parts: Vec<Vec<(Event, PriorityContext)>> = vec![Vec::new(); n];
                    for (event, meta) in batch {
                        let hash = xxh3_64(event.key.as_deref().unwrap_or_default());
                        parts[(hash % n as u64) as usize].push((event, meta));
                    }
                    for (target, part) in edge.targets.iter().zip(parts) {
                        target.deliver(part, activator);
                    }
                }
                Partitioning::Broadcast => {
                    for target in &edge.targets {
                        target.deliver(batch.clone(), activator);
                    }
                }
            }
        }
    }

    /// Sends a watermark to every receiver.
    pub fn watermark(&self, time: i64, meta: PriorityContext, activator: &Activator) {
        for target in self.edges.iter().flat_map(|edge| &edge.targets) {
            target.control(
                |channel| Message::Watermark {
                    channel,
                    time,
                    meta,
                },
                activator,
            );
        }
    }

    /// Tells every receiver that this sender is idle.
    pub fn idle(&self, activator: &Activator) {
        for target in self.edges.iter().flat_map(|edge| &edge.targets) {
            target.control(|channel| Message::Idle { channel }, activator);
        }
    }

    /// Sends checkpoint barrier `id` to every receiver.
    pub fn barrier(&self, id: u64, activator: &Activator) {
        for target in self.edges.iter().flat_map(|edge| &edge.targets) {
            target.control(|channel| Message::Barrier { channel, id }, activator);
        }
    }

    /// Tells every receiver that this sender has ended.
    pub fn end(&self, activator: &Activator) {
        for target in self.edges.iter().flat_map(|edge| &edge.targets) {
            target.control(|channel| Message::End { channel }, activator);
        }
    }

    /// True when some receiving mailbox is full; `producer` is then woken once it drains.
    pub fn blocked(&self, producer: TaskId) -> bool {
        self.edges
            .iter()
            .flat_map(|edge| &edge.targets)
            .any(|target| match target {
                Target::Actor { mailbox, .. } => mailbox.register_blocked(producer),
                Target::Sink { .. } => false,
            })
    }

    /// True when some receiving mailbox is full (without registering for a wake-up).
    pub fn any_full(&self) -> bool {
        self.edges
            .iter()
            .flat_map(|edge| &edge.targets)
            .any(|target| match target {
                Target::Actor { mailbox, .. } => mailbox.is_full(),
                Target::Sink { .. } => false,
            })
    }
}
