//! Upgrading a running job's operator to another module version, and rolling it back, with
//! the job's record kept consistent with what its checkpoints say across a crash.
//!
//! The record names the version being switched to (`pending`) before the switch starts, so
//! that a server that stops in the middle offers both versions when it resumes the job; the
//! checkpoint it resumes from names the one the operator ran at its barrier, and the record
//! is brought in line with it ([`reconcile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cameo_host::{Host, JobMonitor, JobPlan, ModuleSource, OperatorModule, UpgradeError};

use super::{Jobs, lock, parse_spec, state_name, tenant_job};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::{Job, JobState, ModuleChange, OperatorModules, now_ms};

/// How long an upgrade waits for the checkpoint that carries the switch.
const UPGRADE_CHECKPOINT: Duration = Duration::from_secs(10);

/// Which way a module changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// To a version named by the user.
    Upgrade,
    /// Back to the version the operator ran before its current one.
    Rollback,
    /// To the version a shadow run beside the operator runs; the shadow stops.
    Promote,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::Upgrade => "upgraded",
            Change::Rollback => "rolled-back",
            Change::Promote => "promoted",
        }
    }
}

/// A finished change, as the API answers it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Changed {
    /// The job.
    pub job: String,
    /// The operator.
    pub operator: String,
    /// The version it ran.
    pub from: String,
    /// The version it runs.
    pub to: String,
    /// The first checkpoint that names `to`.
    pub checkpoint: u64,
}

impl Jobs {
    /// The monitor of running job `id`.
    fn monitor_of(&self, id: &str) -> Option<JobMonitor> {
        lock(&self.running).get(id).map(|r| r.monitor.clone())
    }

    /// Marks `pinned` as used by running job `id` (it cannot be removed while the job may
    /// go back to it), and as what `operator` runs when `runs`.
    fn note_module(&self, id: &str, operator: &str, pinned: &str, runs: bool) {
        if let Some(running) = lock(&self.running).get_mut(id) {
            if !running.modules.iter().any(|m| m == pinned) {
                running.modules.push(pinned.to_string());
            }
            if runs {
                running
                    .operators
                    .insert(operator.to_string(), pinned.to_string());
            }
        }
    }
}

/// Switches operator `operator` of job `id` of `who`'s tenant to module `reference`
/// (`name` or `name@N`), or back to the version it ran before (`Change::Rollback`, when
/// `reference` is `None`).
pub fn change(
    state: &AppState,
    who: &Principal,
    id: &str,
    operator: &str,
    reference: Option<&str>,
    how: Change,
) -> Result<Changed, ApiError> {
    let _changing = state.jobs.changing(id)?;
    let job = tenant_job(state, who, id)?;
    let monitor = running_monitor(state, &job)?;
    let spec = parse_spec(&job.spec)?;
    let Some(spec_operator) = spec.operators.iter().find(|o| o.name.get_ref() == operator) else {
        let known: Vec<&str> = spec
            .operators
            .iter()
            .map(|o| o.name.get_ref().as_str())
            .collect();
        return Err(ApiError::not_found(format!(
            "job {id} has no operator \"{operator}\"; its operators are: {}",
            known.join(", ")
        )));
    };
    let current = job.module_of(operator, spec_operator.module.get_ref());
    let target = match (how, reference) {
        (Change::Upgrade | Change::Promote, Some(reference)) => reference.to_string(),
        (Change::Upgrade | Change::Promote, None) => {
            return Err(ApiError::bad_request(
                "name the module version to upgrade to: `module=NAME@N`",
            ));
        }
        (Change::Rollback, _) => previous(&job, operator).ok_or_else(|| {
            ApiError::conflict(format!(
                "operator \"{operator}\" of job {id} has run only {current}; there is no \
                 earlier version to roll back to"
            ))
        })?,
    };
    let (pinned, version) = state
        .modules
        .resolve(&state.store, &who.tenant, &target)
        .map_err(ApiError::unprocessable)?;
    let host = state.jobs.host()?;
    let module = state
        .modules
        .load_version(host.engine(), &pinned, &version)
        .map_err(ApiError::unprocessable)?;

    // Recorded before the switch starts, so a restart in the middle can resume on either.
    let mut record = job
        .operators
        .get(operator)
        .cloned()
        .unwrap_or_else(|| OperatorModules {
            module: current.clone(),
            pending: None,
            history: vec![ModuleChange {
                module: current.clone(),
                change: "submitted".into(),
                at_ms: job.submitted_ms,
                checkpoint: None,
            }],
        });
    record.pending = Some(pinned.clone());
    save(state, id, operator, record.clone())?;
    state.jobs.note_module(id, operator, &pinned, false);

    let result = monitor.upgrade(operator, &module, UPGRADE_CHECKPOINT);
    match result {
        Ok(upgraded) => {
            record.pending = None;
            record.module = pinned.clone();
            record.history.push(ModuleChange {
                module: pinned.clone(),
                change: how.name().into(),
                at_ms: now_ms(),
                checkpoint: Some(upgraded.checkpoint),
            });
            save(state, id, operator, record)?;
            state.jobs.note_module(id, operator, &pinned, true);
            if how == Change::Promote {
                monitor.shadow_promoted(operator, &upgraded);
            }
            Ok(Changed {
                job: id.to_string(),
                operator: operator.to_string(),
                from: current,
                to: pinned,
                checkpoint: upgraded.checkpoint,
            })
        }
        // Set, and takes effect at the checkpoint: the record keeps it pending.
        Err(err @ UpgradeError::Pending { .. }) => Err(ApiError::unavailable(err.to_string())),
        Err(err) => {
            record.pending = None;
            save(state, id, operator, record)?;
            let message = err.to_string().replace(module.name(), &pinned);
            Err(match err {
                UpgradeError::Refused { .. } => ApiError::unprocessable(message),
                UpgradeError::UnknownOperator { .. } => ApiError::not_found(message),
                _ => ApiError::conflict(message),
            })
        }
    }
}

/// The monitor of `job`, which must be running; the error says why it is not.
pub(super) fn running_monitor(state: &AppState, job: &Job) -> Result<JobMonitor, ApiError> {
    let id = &job.id;
    match state.jobs.monitor_of(id) {
        Some(monitor) if job.state == JobState::Running => Ok(monitor),
        _ => Err(ApiError::conflict(format!(
            "job {id} is {}, not running; only a running job's operators can be changed{}",
            state_name(job.state),
            if job.state == JobState::Paused {
                format!(" (resume it with `cameo job resume {id}` first)")
            } else {
                String::new()
            }
        ))),
    }
}

/// The version operator `operator` ran before its current one, if it changed.
fn previous(job: &Job, operator: &str) -> Option<String> {
    let history = &job.operators.get(operator)?.history;
    let effective: Vec<&ModuleChange> =
        history.iter().filter(|c| c.change != "abandoned").collect();
    effective
        .len()
        .checked_sub(2)
        .and_then(|i| effective.get(i))
        .map(|c| c.module.clone())
}

/// Writes `record` as what operator `operator` of job `id` runs (re-reading the job, which
/// may have changed meanwhile).
fn save(
    state: &AppState,
    id: &str,
    operator: &str,
    record: OperatorModules,
) -> Result<(), ApiError> {
    let Some(mut job) = state.store.job(id)? else {
        return Ok(());
    };
    job.operators.insert(operator.to_string(), record);
    state.store.put_job(&job)?;
    Ok(())
}

/// Puts in `plan` the module each changed operator of `job` runs, and offers every other
/// version it ran or was switching to, for the checkpoint the job resumes from to choose.
/// Returns the versions in use, by the name the host knows each loaded module by.
pub(super) fn apply_records(
    state: &AppState,
    host: &Host,
    job: &Job,
    plan: &mut JobPlan,
) -> Result<BTreeMap<String, String>, String> {
    let mut pins = BTreeMap::new();
    let mut load = |pinned: &str| -> Result<OperatorModule, String> {
        let (_, version) = state
            .modules
            .resolve(&state.store, &job.tenant, pinned)
            .map_err(|reason| format!("module {reason}"))?;
        let module = state
            .modules
            .load_version(host.engine(), pinned, &version)?;
        pins.insert(module.name().to_string(), pinned.to_string());
        Ok(module)
    };
    for (operator, record) in &job.operators {
        let current = load(&record.module)?;
        plan.set_module(operator, ModuleSource::Loaded(current));
        let others: BTreeSet<&str> = record
            .history
            .iter()
            .map(|c| c.module.as_str())
            .chain(record.pending.as_deref())
            .filter(|m| *m != record.module)
            .collect();
        let mut offered = Vec::new();
        for pinned in others {
            match load(pinned) {
                Ok(module) => offered.push(module),
                Err(reason) => tracing::warn!(job = %job.id, operator, "{pinned}: {reason}"),
            }
        }
        plan.offer_versions(operator, offered);
    }
    Ok(pins)
}

/// Brings the record of `job`, just resumed, in line with the modules its checkpoint made
/// its operators run: a pending switch the checkpoint carries is done; one it does not carry
/// was abandoned. Returns the job as recorded.
pub(super) fn reconcile(
    state: &AppState,
    mut job: Job,
    monitor: &JobMonitor,
    pins: &BTreeMap<String, String>,
) -> Job {
    let running = monitor.modules();
    let mut changed = false;
    for (operator, record) in &mut job.operators {
        let Some(runs) = running
            .get(operator)
            .and_then(|names| names.first())
            .map(|name| pins.get(name).cloned().unwrap_or_else(|| name.clone()))
        else {
            continue;
        };
        if let Some(pending) = record.pending.take() {
            let (module, change) = if runs == pending {
                (pending, "upgraded")
            } else {
                (pending, "abandoned")
            };
            record.history.push(ModuleChange {
                module,
                change: change.into(),
                at_ms: now_ms(),
                checkpoint: None,
            });
            changed = true;
        }
        if record.module != runs {
            record.module = runs;
            changed = true;
        }
    }
    if changed && let Err(err) = state.store.put_job(&job) {
        tracing::error!(job = %job.id, "the modules its checkpoint resumed could not be recorded: {err}");
    }
    job
}

/// What each operator of `job` runs, and its history, for the job's status.
pub fn operators_status(
    job: &Job,
    live: Option<&BTreeMap<String, Vec<String>>>,
) -> serde_json::Value {
    let Ok(spec) = parse_spec(&job.spec) else {
        return serde_json::Value::Null;
    };
    let operators: serde_json::Map<String, serde_json::Value> = spec
        .operators
        .iter()
        .map(|o| {
            let name = o.name.get_ref();
            let record = job.operators.get(name);
            let mut body = serde_json::json!({
                "module": job.module_of(name, o.module.get_ref()),
                "pending": record.and_then(|r| r.pending.clone()),
                "history": record.map(|r| r.history.clone()).unwrap_or_default(),
            });
            if let Some(live) = live.and_then(|l| l.get(name)) {
                body["running"] = serde_json::json!(live);
            }
            (name.clone(), body)
        })
        .collect();
    serde_json::Value::Object(operators)
}

/// Held while a job's operator changes module: one change of a job at a time.
pub struct Changing<'a> {
    jobs: &'a Jobs,
    id: String,
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        lock(&self.jobs.changing).remove(&self.id);
    }
}

impl Jobs {
    /// Claims job `id` for a change of module; refused while another is under way.
    pub(super) fn changing(&self, id: &str) -> Result<Changing<'_>, ApiError> {
        if !lock(&self.changing).insert(id.to_string()) {
            return Err(ApiError::conflict(format!(
                "an operator of job {id} is changing module now; retry when it is done"
            )));
        }
        Ok(Changing {
            jobs: self,
            id: id.to_string(),
        })
    }

    /// The modules the operators of running job `id` run now.
    pub fn live_modules(&self, id: &str) -> Option<BTreeMap<String, Vec<String>>> {
        self.monitor_of(id).map(|m| m.modules())
    }
}
