//! Changing the module an operator runs while its job runs (an upgrade, or a rollback to the
//! module it ran before: the same thing to the host), without stopping the job or its other
//! operators.
//!
//! The new module is tried first: it must have been loaded by the host's engine, export what
//! the operator's window or join needs, instantiate, and accept the operator's config in
//! `init` (in a throwaway instance). A module that fails any of these is refused and nothing
//! changes. Then the operator's instances switch at the next checkpoint barrier (see
//! `actor::upgrade`), and the upgrade returns once the checkpoint taken at that barrier, the
//! first that names the new module, is written.

use std::time::{Duration, Instant};

use super::monitor::JobMonitor;
use crate::registry::OperatorModule;

/// A finished upgrade.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upgraded {
    /// The operator.
    pub operator: String,
    /// The module it ran before.
    pub from: String,
    /// The module it runs now.
    pub to: String,
    /// The first checkpoint that names the new module: a recovery from it or a later one
    /// runs the new module, from an earlier one the old.
    pub checkpoint: u64,
}

/// Why an operator's module was not changed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The job has no such operator.
    #[error("the job has no operator \"{operator}\"; its operators are: {known}")]
    UnknownOperator {
        /// The operator asked for.
        operator: String,
        /// The job's operators, comma-separated.
        known: String,
    },
    /// The job takes no checkpoints.
    #[error(
        "the job takes no checkpoints, and an operator changes module at a checkpoint barrier; \
         run it on a host with a data directory"
    )]
    NoCheckpoints,
    /// The job is over.
    #[error("the job is over; there is no operator left to change")]
    Finished,
    /// The operator already runs that module.
    #[error("operator \"{operator}\" already runs {module}; nothing to change")]
    Unchanged {
        /// The operator.
        operator: String,
        /// The module.
        module: String,
    },
    /// The module cannot run the operator: nothing was changed.
    #[error(
        "operator \"{operator}\" cannot run {module}: {reason}. Nothing was changed; it still \
         runs {current}"
    )]
    Refused {
        /// The operator.
        operator: String,
        /// The module refused.
        module: String,
        /// The module the operator still runs.
        current: String,
        /// Why.
        reason: String,
    },
    /// The switch is set but its checkpoint was not written in time.
    #[error(
        "operator \"{operator}\" switches to {module} at checkpoint {at}, which was not \
         written within {seconds} s; the switch takes effect when it is (the job's status \
         shows the module each operator runs)"
    )]
    Pending {
        /// The operator.
        operator: String,
        /// The module it switches to.
        module: String,
        /// The checkpoint at whose barrier it switches.
        at: u64,
        /// How long the upgrade waited.
        seconds: u64,
    },
}

impl JobMonitor {
    /// The modules each operator's instances run, by operator name: one, except while the
    /// instances of an upgraded operator switch one after the other.
    pub fn modules(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.switches
            .iter()
            .map(|(operator, switch)| (operator.clone(), switch.modules()))
            .collect()
    }

    /// How long each switch of an instance of operator `operator` held up its input (from
    /// the switch to the end of the first call of the new module), in the order they ended.
    pub fn switch_pauses(&self, operator: &str) -> Vec<Duration> {
        self.switches
            .get(operator)
            .map(|switch| switch.pauses())
            .unwrap_or_default()
    }

    /// Switches operator `operator` to `module` (loaded with the host's engine), keeping its
    /// keyed state, window panes, join buffers and timers, after trying `module` (see the
    /// module docs); waits at most `timeout` for the checkpoint that carries the switch. The
    /// job must be waited for meanwhile ([`super::JobHandle::wait`] writes checkpoints).
    pub fn upgrade(
        &self,
        operator: &str,
        module: &OperatorModule,
        timeout: Duration,
    ) -> Result<Upgraded, UpgradeError> {
        let switch = self
            .switches
            .get(operator)
            .ok_or_else(|| UpgradeError::UnknownOperator {
                operator: operator.to_string(),
                known: self.switches.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let checkpointer = self
            .checkpointer
            .as_ref()
            .ok_or(UpgradeError::NoCheckpoints)?;
        let current = switch.modules().join(", ");
        if current == module.name() {
            return Err(UpgradeError::Unchanged {
                operator: operator.to_string(),
                module: current,
            });
        }
        switch
            .check(module)
            .map_err(|reason| UpgradeError::Refused {
                operator: operator.to_string(),
                module: module.name().to_string(),
                current: current.clone(),
                reason,
            })?;
        if self.completion.is_finished() {
            return Err(UpgradeError::Finished);
        }
        let mut at = 0;
        checkpointer.before_next(|next| {
            at = next;
            switch.switch_at(module.clone(), next);
        });
        let until = Instant::now() + timeout;
        loop {
            let written = checkpointer.stats().last_id;
            if written >= at {
                tracing::info!(operator, from = %current, to = module.name(), checkpoint = written, "operator upgraded");
                return Ok(Upgraded {
                    operator: operator.to_string(),
                    from: current,
                    to: module.name().to_string(),
                    checkpoint: written,
                });
            }
            if self.completion.is_finished() {
                return Err(UpgradeError::Finished);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(UpgradeError::Pending {
                    operator: operator.to_string(),
                    module: module.name().to_string(),
                    at,
                    seconds: timeout.as_secs(),
                });
            }
            self.checkpoint(left);
        }
    }
}
