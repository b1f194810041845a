//! An actor's part in checkpoints: aligning a barrier over its inputs, snapshotting what it
//! holds, and restoring a snapshot.

use super::Actor;
use crate::sched::executor::Activator;
use crate::state::checkpoint::ActorSnapshot;

impl Actor {
    /// What this instance holds, for a checkpoint.
    pub fn snapshot(&self) -> ActorSnapshot {
        let held = match &self.instance {
            Some(instance) => instance.held(),
            None => &self.held,
        };
        ActorSnapshot {
            held: held.clone(),
            timers: self.timers.clone(),
            watermarks: self.watermarks.clone(),
            module: Some(self.cx.module.name().to_string()),
            converting_from: self.cx.convert_from.as_deref().map(str::to_string),
        }
    }

    /// Resumes from a checkpoint's snapshot (before the first call).
    pub fn restore(&mut self, snapshot: ActorSnapshot) {
        let mut held = snapshot.held;
        held.recount();
        let mut timers = snapshot.timers;
        timers.recount();
        *self.held_mut() = held;
        self.timers = timers;
        self.watermarks.restore(snapshot.watermarks);
        if let Some(from) = snapshot.converting_from {
            self.cx.convert_from = Some(from.into());
        }
        self.settle();
    }

    /// Barrier `id` arrived on `channel`: hold that channel back until the barrier arrived on
    /// all others (alignment), then snapshot and pass the barrier on.
    pub(super) fn barrier_arrived(&mut self, channel: usize, id: u64, activator: &Activator) {
        if self.aligning.is_none() {
            self.aligning = Some(id);
        }
        if let Some(held) = self.held_channels.get_mut(channel) {
            *held = true;
        }
        // What a group's combined watermark says may include its senders' progress past
        // this barrier: it waits with the channel.
        if let Some(group) = self.links.inputs.group_of(channel)
            && let Some(held) = self.held_channels.get_mut(group)
        {
            *held = true;
        }
        for producer in self.links.mailbox.hold(channel) {
            activator.wake(producer);
        }
        self.try_complete_alignment(activator);
    }

    /// Once every input delivered the barrier being aligned (or ended), snapshots, passes the
    /// barrier on and releases the held inputs.
    pub(super) fn try_complete_alignment(&mut self, activator: &Activator) {
        let Some(id) = self.aligning else {
            return;
        };
        let aligned = self
            .held_channels
            .iter()
            .take(self.links.inputs.real())
            .enumerate()
            .all(|(channel, held)| *held || self.watermarks.is_ended(channel));
        if !aligned {
            return;
        }
        self.switch_module_at(id);
        self.start_shadow_at(id, activator);
        if let Some(checkpointer) = &self.links.checkpointer {
            checkpointer.actor_snapshot(&self.label, id, self.snapshot());
        }
        self.passed_barrier = id;
        self.links.router.barrier(id, activator);
        if let Some(late) = &self.links.late {
            late.barrier(id, activator);
        }
        self.held_channels.fill(false);
        self.links.mailbox.release_held();
        self.aligning = None;
    }
}
