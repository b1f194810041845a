//! Changing the module an operator runs while its job runs: the switch every instance of the
//! operator shares, the trial a new module passes before anything changes, and an instance's
//! swap at a checkpoint barrier.
//!
//! The host holds an instance's keyed state, window panes, join buffers and timers, not the
//! guest, so a swap drops only the wasm instance: the next call instantiates the new module
//! over the same held state. Every instance swaps when it aligns the first checkpoint barrier
//! at or after the one the switch names, before it snapshots, so the checkpoint taken at that
//! barrier names the new module and every earlier one the old: a recovery comes back on one
//! version, whichever checkpoint it resumes from.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::Actor;
use super::call::{self, CallContext};
use super::shadow::{ShadowLinks, ShadowRun};
use crate::engine::OperatorEngine;
use crate::registry::OperatorModule;
use crate::sync::LockRecovered;

/// The module every instance of one operator runs, and the module it is switching to.
pub struct ModuleSwitch {
    /// What a call of the operator needs besides its input (its module is the one it
    /// started with), for the trial of a new module.
    pub(super) template: CallContext,
    pub(super) engine: OperatorEngine,
    state: Mutex<SwitchState>,
    /// What a shadow instance of the operator needs, recorded when the job is wired.
    pub(super) shadow_links: OnceLock<ShadowLinks>,
}

#[derive(Default)]
struct SwitchState {
    /// The module to switch to, and the first checkpoint barrier at which instances switch.
    target: Option<(OperatorModule, u64)>,
    /// The module each instance runs, by instance label.
    running: BTreeMap<String, String>,
    /// Per switch of an instance: from the switch to the end of the first call of the new
    /// module (instantiation, `init`, conversion and the call's own input).
    pauses: Vec<Duration>,
    /// The shadow run beside the operator, if one runs.
    shadow: Option<Arc<ShadowRun>>,
}

impl ModuleSwitch {
    /// The switch of an operator whose calls run with `template` on `engine`.
    pub fn new(template: CallContext, engine: OperatorEngine) -> Arc<Self> {
        Arc::new(ModuleSwitch {
            template,
            engine,
            state: Mutex::new(SwitchState::default()),
            shadow_links: OnceLock::new(),
        })
    }

    /// Records what a shadow instance of the operator needs (once, when the job is wired).
    pub(crate) fn set_shadow_links(&self, links: ShadowLinks) {
        let _ = self.shadow_links.set(links);
    }

    /// The shadow run beside the operator, if one runs.
    pub(crate) fn shadow_run(&self) -> Option<Arc<ShadowRun>> {
        self.state.lock_recovered().shadow.clone()
    }

    /// Sets (or with `None` clears) the shadow run beside the operator; returns the one it
    /// replaces.
    pub(crate) fn set_shadow_run(&self, run: Option<Arc<ShadowRun>>) -> Option<Arc<ShadowRun>> {
        std::mem::replace(&mut self.state.lock_recovered().shadow, run)
    }

    /// Records that instance `label` runs `module`.
    pub(crate) fn running(&self, label: &str, module: &str) {
        self.state
            .lock_recovered()
            .running
            .insert(label.to_string(), module.to_string());
    }

    /// The modules the operator's instances run now, each once, in order (one, except
    /// between two instances' swaps).
    pub fn modules(&self) -> Vec<String> {
        let state = self.state.lock_recovered();
        let mut modules: Vec<String> = state.running.values().cloned().collect();
        modules.sort();
        modules.dedup();
        modules
    }

    /// How long each switch of an instance held up its input: from the switch to the end of
    /// the first call of the new module, in the order they ended.
    pub fn pauses(&self) -> Vec<Duration> {
        self.state.lock_recovered().pauses.clone()
    }

    /// The module the operator switches to, once every instance has aligned barrier `at` or a
    /// later one.
    pub(crate) fn switch_at(&self, module: OperatorModule, at: u64) {
        self.state.lock_recovered().target = Some((module, at));
    }

    /// The module an instance running `current` switches to at barrier `id`, if it does.
    fn due(&self, id: u64, current: &str) -> Option<OperatorModule> {
        let state = self.state.lock_recovered();
        match &state.target {
            Some((module, at)) if id >= *at && module.name() != current => Some(module.clone()),
            _ => None,
        }
    }

    /// Checks that `module` can run the operator: loaded by this engine, exporting what the
    /// operator's window or join needs, and accepting its config in `init` (see
    /// [`ModuleSwitch::trial`]); the error says why not.
    pub(crate) fn check(&self, module: &OperatorModule) -> Result<(), String> {
        if !module.is_for(&self.engine) {
            return Err(format!(
                "{} was loaded by another engine; load it with this host's engine \
                 (Host::engine)",
                module.name()
            ));
        }
        let cx = &self.template;
        if let Some(reason) = module.missing_export(cx.window.is_some(), cx.join.is_some()) {
            return Err(reason);
        }
        self.trial(module)
    }

    /// Instantiates `module` in a throwaway store and calls its `init` with the operator's
    /// config, on this thread; the error says why it cannot run the operator.
    fn trial(&self, module: &OperatorModule) -> Result<(), String> {
        let mut cx = self.template.clone();
        cx.module = module.clone();
        let store = self.engine.new_store(
            Arc::clone(&cx.operator),
            crate::state::Held::default(),
            cx.window,
            cx.join,
            cx.accounts.clone(),
        );
        let mut future = Box::pin(call::trial(store, cx));
        let mut context = Context::from_waker(Waker::noop());
        loop {
            // The trial yields between fuel slices like any call; it runs them back to back.
            if let Poll::Ready(result) = future.as_mut().poll(&mut context) {
                return result;
            }
        }
    }
}

impl Actor {
    /// After a call ended: the first one since a switch ends the pause the switch made.
    pub(super) fn first_call_after_switch_ended(&mut self) {
        if let Some(at) = self.switched_at.take() {
            self.links
                .switch
                .state
                .lock_recovered()
                .pauses
                .push(at.elapsed());
        }
    }

    /// At checkpoint barrier `id`, before the snapshot: swaps to the module the operator is
    /// switching to, if this barrier is the one. The wasm instance is dropped; what the host
    /// holds for it stays, and the next call instantiates the new module over it.
    pub(super) fn switch_module_at(&mut self, id: u64) {
        let Some(module) = self.links.switch.due(id, self.cx.module.name()) else {
            return;
        };
        if let Some(mut instance) = self.instance.take() {
            self.held = std::mem::take(instance.held_mut());
        }
        tracing::info!(
            instance = %self.label,
            from = self.cx.module.name(),
            to = module.name(),
            barrier = id,
            "operator instance switched module"
        );
        self.links.switch.running(&self.label, module.name());
        self.switched_at = Some(Instant::now());
        let from = std::mem::replace(&mut self.cx.module, module);
        // A conversion still due (two switches without a call between) is from the version
        // that wrote the state.
        if self.cx.convert_from.is_none() {
            self.cx.convert_from = Some(from.name().into());
        }
        self.settle();
    }
}
