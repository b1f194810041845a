//! Routing an operator's or source's output to the next mailboxes: forward, key-hash or
//! broadcast edges, to actors or sinks.

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use std::time::{Duration, Instant};

use super::edge_watermarks::EdgeWatermarks;
use super::mailbox::{Control, Mailbox, Message};
use super::profile::OperatorProfile;
use super::record::{PriorityContext, Record};
use super::sink::Sink;
use crate::sched::TaskId;
use crate::sched::executor::Activator;

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
    fn channel(&self) -> usize {
        match self {
            Target::Actor { channel, .. } | Target::Sink { channel, .. } => *channel,
        }
    }

    fn deliver(&self, mut records: Vec<Record>, activator: &Activator) {
        if records.is_empty() {
            return;
        }
        let channel = self.channel();
        for record in &mut records {
            record.channel = channel;
        }
        match self {
            Target::Actor {
                task,
                mailbox,
                profile,
                ..
            } => {
                let priority = records
                    .first()
                    .map(|record| profile.priority(&record.context));
                mailbox.push_all(records.into_iter().map(Message::Record));
                if let Some(priority) = priority {
                    activator.activate(*task, &priority);
                }
            }
            Target::Sink { sink, .. } => sink.write(records),
        }
    }

    fn control(&self, message: Control, activator: &Activator) {
        let message = message.on_channel(self.channel());
        match self {
            Target::Actor {
                task,
                mailbox,
                profile,
                ..
            } => {
                let is_watermark = matches!(message, Control::Watermark { .. });
                mailbox.push_all([Message::Control(message)]);
                if is_watermark {
                    // Whether a watermark is urgent depends on the receiver's own watermark
                    // and windows: the actor ranks its pending work itself.
                    activator.wake(*task);
                } else {
                    activator.activate(*task, &profile.priority(&now_context()));
                }
            }
            Target::Sink { sink, .. } => match message {
                Control::End { channel } => sink.end(channel),
                Control::Barrier { channel, id } => sink.barrier(channel, id),
                Control::Watermark { .. } | Control::Idle { .. } => {}
            },
        }
    }
}

/// One outgoing edge: the instances of one downstream operator or sink.
pub struct Edge {
    targets: Vec<Target>,
    partitioning: Partitioning,
    round_robin: usize,
    /// Where this sender's watermarks go when the edge combines its senders' (with this
    /// sender's slot there); otherwise they go to every target.
    combined: Option<(Arc<EdgeWatermarks>, usize)>,
}

impl Edge {
    /// False when no receiver's mailbox is full (as their shared count of full mailboxes
    /// says, when they keep one).
    fn may_be_full(&self) -> bool {
        match self.targets.first() {
            Some(Target::Actor { mailbox, .. }) => mailbox.full_peers() != Some(0),
            _ => true,
        }
    }

    /// An edge to `targets` (all instances of one receiver) partitioned by `partitioning`.
    pub fn new(targets: Vec<Target>, partitioning: Partitioning) -> Self {
        Edge {
            targets,
            partitioning,
            round_robin: 0,
            combined: None,
        }
    }

    /// This edge, sending its watermarks, idleness and end to `watermarks` as sender
    /// `sender` instead of to every target on its channel.
    pub fn combined(mut self, watermarks: Arc<EdgeWatermarks>, sender: usize) -> Self {
        self.combined = Some((watermarks, sender));
        self
    }
}

impl Edge {
    /// Sends `message` to every target, each on this sender's channel there.
    fn control(&self, message: Control, activator: &Activator) {
        for target in &self.targets {
            target.control(message, activator);
        }
    }
}

/// The context of control messages no event carried in: now, due now.
fn now_context() -> PriorityContext {
    PriorityContext::at_source(Instant::now(), 0, Duration::ZERO)
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
    pub fn send(&mut self, records: Vec<Record>, activator: &Activator) {
        if records.is_empty() {
            return;
        }
        let last = self.edges.len().saturating_sub(1);
        let mut records = Some(records);
        for (index, edge) in self.edges.iter_mut().enumerate() {
            let batch = if index == last {
                records.take().unwrap_or_default()
            } else {
                records.clone().unwrap_or_default()
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
                    // By target, each target's records in their order: the work follows the
                    // records, not the receivers (a wide edge has hundreds).
                    let mut routed: Vec<(usize, Record)> = batch
                        .into_iter()
                        .map(|record| {
                            let hash = xxh3_64(record.event.key.as_deref().unwrap_or_default());
                            ((hash % n as u64) as usize, record)
                        })
                        .collect();
                    routed.sort_by_key(|(target, _)| *target);
                    let mut routed = routed.into_iter().peekable();
                    while let Some((index, first)) = routed.next() {
                        let mut part = vec![first];
                        while let Some((_, record)) = routed.next_if(|(i, _)| *i == index) {
                            part.push(record);
                        }
                        if let Some(target) = edge.targets.get(index) {
                            target.deliver(part, activator);
                        }
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
    pub fn watermark(&self, time: i64, context: PriorityContext, activator: &Activator) {
        for edge in &self.edges {
            match &edge.combined {
                Some((combined, sender)) => combined.advance(*sender, time, context, activator),
                None => edge.control(
                    Control::Watermark {
                        channel: 0,
                        time,
                        context,
                    },
                    activator,
                ),
            }
        }
    }

    /// Tells every receiver that this sender is idle.
    pub fn idle(&self, activator: &Activator) {
        for edge in &self.edges {
            match &edge.combined {
                Some((combined, sender)) => combined.idle(*sender, now_context(), activator),
                None => edge.control(Control::Idle { channel: 0 }, activator),
            }
        }
    }

    /// Sends checkpoint barrier `id` to every receiver.
    pub fn barrier(&self, id: u64, activator: &Activator) {
        for edge in &self.edges {
            edge.control(Control::Barrier { channel: 0, id }, activator);
        }
    }

    /// Tells every receiver that this sender has ended.
    pub fn end(&self, activator: &Activator) {
        for edge in &self.edges {
            // The combined watermark first: a receiver whose inputs have all ended has had
            // their last watermark.
            if let Some((combined, sender)) = &edge.combined {
                combined.end(*sender, now_context(), activator);
            }
            edge.control(Control::End { channel: 0 }, activator);
        }
    }

    /// True when some receiving mailbox is full; `producer` is then woken once it drains. An
    /// edge none of whose receivers is full is passed over at the cost of one load.
    pub fn blocked(&self, producer: TaskId) -> bool {
        self.edges
            .iter()
            .filter(|edge| edge.may_be_full())
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
