//! Shadow runs of a running job's operator: another version run beside the current one on a
//! copy of its input, from a copy of its state taken at a checkpoint barrier, its output
//! compared and never sent on (see `actor::shadow`); then promoted (an upgrade to it) or
//! stopped.
//!
//! The shadow module is tried as an upgrade's is (loaded by the host's engine, exporting what
//! the operator's window or join needs, accepting the operator's config in `init`), and
//! refused before anything starts. A shadow is no part of what a checkpoint promises: a job
//! resumed from a checkpoint runs without the shadows it had.

use std::time::{Duration, Instant};

use super::monitor::JobMonitor;
use super::upgrade::{UpgradeError, Upgraded};
use crate::actor::shadow::report::ShadowReport;
use crate::actor::upgrade::ModuleSwitch;
use crate::registry::OperatorModule;

/// Why a shadow run was not started, promoted, stopped or reported.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
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
        "the job takes no checkpoints, and a shadow takes its copy of the operator's state at a \
         checkpoint barrier; run it on a host with a data directory"
    )]
    NoCheckpoints,
    /// The job is over.
    #[error("the job is over; there is no input left to shadow")]
    Finished,
    /// A shadow already runs beside the operator.
    #[error(
        "operator \"{operator}\" already has a shadow running {module}; promote it or stop it \
         first"
    )]
    AlreadyRunning {
        /// The operator.
        operator: String,
        /// The module the shadow runs.
        module: String,
    },
    /// The module cannot run the operator: nothing was started.
    #[error(
        "operator \"{operator}\" cannot run {module}: {reason}. No shadow was started; the \
         operator still runs {current}"
    )]
    Refused {
        /// The operator.
        operator: String,
        /// The module refused.
        module: String,
        /// The module the operator runs.
        current: String,
        /// Why.
        reason: String,
    },
    /// No shadow runs beside the operator (to promote or stop), or ever ran (to report).
    #[error(
        "operator \"{operator}\" has no shadow {what}; start one with `cameo job shadow JOB \
         {operator} MODULE@N`"
    )]
    NoShadow {
        /// The operator.
        operator: String,
        /// "running" or "run".
        what: &'static str,
    },
    /// Promoting the shadow's module failed as an upgrade.
    #[error(transparent)]
    Promote(#[from] UpgradeError),
}

/// A started shadow run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShadowStarted {
    /// The operator.
    pub operator: String,
    /// The module it runs.
    pub primary: String,
    /// The module the shadow runs.
    pub shadow: String,
    /// The checkpoint at whose barrier the shadow took its copy of the state.
    pub checkpoint: u64,
    /// The operator's instances, and how many shadows took their copy within the wait.
    pub instances: usize,
    /// Shadow instances running.
    pub instances_started: usize,
}

impl JobMonitor {
    fn switch(&self, operator: &str) -> Result<&ModuleSwitch, ShadowError> {
        self.switches
            .get(operator)
            .map(AsRef::as_ref)
            .ok_or_else(|| ShadowError::UnknownOperator {
                operator: operator.to_string(),
                known: self.switches.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// Starts a shadow run of `module` (loaded with the host's engine) beside operator
    /// `operator`, after trying the module as an upgrade would; waits at most `timeout` for
    /// the checkpoint at whose barrier the shadows take their copy of the state. The job must
    /// be waited for meanwhile ([`super::JobHandle::wait`] writes checkpoints).
    pub fn shadow(
        &self,
        operator: &str,
        module: &OperatorModule,
        timeout: Duration,
    ) -> Result<ShadowStarted, ShadowError> {
        let switch = self.switch(operator)?;
        let checkpointer = self
            .checkpointer
            .as_ref()
            .ok_or(ShadowError::NoCheckpoints)?;
        if let Some(run) = switch.shadow_run().filter(|run| !run.is_stopped()) {
            return Err(ShadowError::AlreadyRunning {
                operator: operator.to_string(),
                module: run.module().name().to_string(),
            });
        }
        let current = switch.modules().join(", ");
        let refused = |reason: String| ShadowError::Refused {
            operator: operator.to_string(),
            module: module.name().to_string(),
            current: current.clone(),
            reason,
        };
        switch.check(module).map_err(refused)?;
        if self.completion.is_finished() {
            return Err(ShadowError::Finished);
        }
        let run = switch
            .prepare_shadow(operator, module, &self.spawner)
            .map_err(refused)?;
        let mut at = 0;
        checkpointer.before_next(|next| {
            at = next;
            run.publish_at(next);
            switch.set_shadow_run(Some(std::sync::Arc::clone(&run)));
        });
        tracing::info!(operator, primary = %current, shadow = module.name(), checkpoint = at, "shadow run started");
        let until = Instant::now() + timeout;
        while checkpointer.stats().last_id < at && !self.completion.is_finished() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.checkpoint(left);
        }
        let report = run.report();
        Ok(ShadowStarted {
            operator: operator.to_string(),
            primary: current,
            shadow: module.name().to_string(),
            checkpoint: at,
            instances: report.instances,
            instances_started: report.instances_started,
        })
    }

    /// The report of the shadow run beside operator `operator` (the last one, when it has
    /// stopped).
    pub fn shadow_report(&self, operator: &str) -> Result<ShadowReport, ShadowError> {
        self.switch(operator)?
            .shadow_run()
            .map(|run| run.report())
            .ok_or_else(|| ShadowError::NoShadow {
                operator: operator.to_string(),
                what: "run",
            })
    }

    /// Stops the shadow run beside operator `operator`: its instances drop what they hold;
    /// the job and its output are untouched. Returns its final report.
    pub fn stop_shadow(&self, operator: &str) -> Result<ShadowReport, ShadowError> {
        let run = self.running_shadow(operator)?;
        run.stop("stopped by the user", Some(&self.spawner.activator()));
        Ok(run.report())
    }

    /// Makes the shadow's module the one operator `operator` runs, by an upgrade (see
    /// [`JobMonitor::upgrade`]: the operator's own state carries over at a checkpoint barrier,
    /// crash-consistently), then stops the shadow. A failed upgrade leaves the shadow running.
    pub fn promote_shadow(
        &self,
        operator: &str,
        timeout: Duration,
    ) -> Result<Upgraded, ShadowError> {
        let run = self.running_shadow(operator)?;
        let upgraded = self.upgrade(operator, run.module(), timeout)?;
        self.shadow_promoted(operator, &upgraded);
        Ok(upgraded)
    }

    /// Stops the shadow run beside operator `operator`, if one runs, as promoted by
    /// `upgraded` (for embedders that record the upgrade themselves around
    /// [`JobMonitor::upgrade`]).
    pub fn shadow_promoted(&self, operator: &str, upgraded: &Upgraded) {
        if let Ok(run) = self.running_shadow(operator) {
            run.stop(
                &format!(
                    "promoted: the operator runs {} from checkpoint {}",
                    upgraded.to, upgraded.checkpoint
                ),
                Some(&self.spawner.activator()),
            );
        }
    }

    fn running_shadow(
        &self,
        operator: &str,
    ) -> Result<std::sync::Arc<crate::actor::shadow::ShadowRun>, ShadowError> {
        self.switch(operator)?
            .shadow_run()
            .filter(|run| !run.is_stopped())
            .ok_or_else(|| ShadowError::NoShadow {
                operator: operator.to_string(),
                what: "running",
            })
    }
}
