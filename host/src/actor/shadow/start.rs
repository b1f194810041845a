//! Creating the shadow instances of a run: one actor per instance of the operator, on the
//! running executor, each fed by its primary and sending nothing on.

use std::sync::Arc;

use super::{ShadowLinks, ShadowRun};
use crate::actor::upgrade::ModuleSwitch;
use crate::actor::{Actor, ActorLinks};
use crate::dataflow::mailbox::Mailbox;
use crate::dataflow::router::Router;
use crate::registry::OperatorModule;
use crate::sched::executor::Spawner;

impl ModuleSwitch {
    /// A run of `module` beside operator `operator`, with its shadow instances registered on
    /// `spawner`'s executor (idle until their primaries hand them a state). The run is not
    /// published: no primary feeds it yet. The module must have passed [`ModuleSwitch::check`].
    pub(crate) fn prepare_shadow(
        &self,
        operator: &str,
        module: &OperatorModule,
        spawner: &Spawner,
    ) -> Result<Arc<ShadowRun>, String> {
        let links: &ShadowLinks = self.shadow_links.get().ok_or_else(|| {
            format!("operator \"{operator}\" was wired without what a shadow needs")
        })?;
        let run = ShadowRun::new(
            operator,
            module.clone(),
            self.modules().join(", "),
            &links.instances,
            self.template.limits.shadow_behind_bytes,
        );
        for primary in &links.instances {
            let Some(feed) = run.feed(primary) else {
                continue;
            };
            let mut cx = self.template.clone();
            cx.module = module.clone();
            cx.convert_from = None;
            // Its own switch: a shadow never changes module, and the operator's switch lists
            // only what the job's instances run.
            let switch = ModuleSwitch::new(cx.clone(), self.engine.clone());
            let label: Arc<str> = format!("{primary}~shadow").into();
            let task = spawner.add(|task| {
                let links = ActorLinks {
                    operator: Arc::clone(&links.operator),
                    task,
                    mailbox: Arc::new(Mailbox::new(1)),
                    router: Router::new(Vec::new(), 0, 1),
                    inputs: links.inputs.clone(),
                    metrics: Arc::clone(&links.metrics),
                    dead_letters: Arc::clone(&links.dead_letters),
                    completion: Arc::clone(&links.completion),
                    late: None,
                    checkpointer: None,
                    left_channels: links.left_channels,
                    latency_target: links.latency_target,
                    profile: Arc::clone(&links.profile),
                    switch,
                };
                Box::new(Actor::new_shadow(
                    label,
                    self.engine.clone(),
                    cx,
                    links,
                    &run,
                    primary,
                ))
            });
            let _ = feed.task.set(task);
        }
        Ok(run)
    }
}
