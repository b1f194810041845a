//! Shadow runs of a running job's operator over the API: started on a version of the
//! tenant's modules, reported, promoted (an upgrade through [`super::upgrade::change`], so the
//! job's record follows it across a crash as any upgrade's does) or stopped.
//!
//! A shadow's state and tallies are no part of what a checkpoint promises, but the job's
//! record names each shadow started and neither stopped nor promoted: a job that resumes
//! (after a pause, a server restart or a crash) starts it again, from a new copy of the
//! operator's state taken at the first checkpoint barrier after the resume. Its report then
//! says so: its comparisons start over there, and the first run's ended with the restart.

use std::time::{Duration, Instant};

use cameo_host::{JobMonitor, ShadowError, ShadowReport, ShadowStarted};

use super::upgrade::{Change, Changed, change, running_monitor};
use super::{Jobs, lock, tenant_job};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::{Job, ShadowRecord, ShadowRestart, now_ms};

/// A shadow run's report, with what its job's restarts did to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The run's report since it (last) started.
    #[serde(flatten)]
    pub report: ShadowReport,
    /// When the shadow was first started, ms since the Unix epoch.
    pub first_started_ms: Option<u64>,
    /// Each time the job resumed and the shadow was started again, oldest first.
    pub restarts: Vec<ShadowRestart>,
    /// What the restarts mean for the counts, when there were any.
    pub note: Option<String>,
}

/// What the report of a shadow recorded as `record` says about its restarts.
fn restart_note(record: &ShadowRecord) -> Option<String> {
    let last = record.restarts.last()?;
    Some(format!(
        "the job resumed {} time(s) since this shadow first started at checkpoint {}; each \
         time the shadow started again from a new copy of the operator's state (last at \
         checkpoint {}), and the counts are of its run since then only: what the earlier runs \
         compared ended with the job's restart",
        record.restarts.len(),
        record.checkpoint,
        last.checkpoint
            .map_or_else(|| "none".to_string(), |c| c.to_string())
    ))
}

/// Writes what `update` does to the shadow records of job `id` (re-reading the job, which may
/// have changed meanwhile).
fn update_records(state: &AppState, id: &str, update: impl FnOnce(&mut Job)) {
    let mut job = match state.store.job(id) {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(err) => {
            tracing::error!(job = id, "its shadow runs could not be recorded: {err}");
            return;
        }
    };
    let before = job.shadows.clone();
    update(&mut job);
    if job.shadows != before
        && let Err(err) = state.store.put_job(&job)
    {
        tracing::error!(job = id, "its shadow runs could not be recorded: {err}");
    }
}

/// How long starting a shadow waits for the checkpoint at whose barrier it copies the state.
const SHADOW_CHECKPOINT: Duration = Duration::from_secs(10);

/// The API's status for a refused shadow request.
fn api_error(err: &ShadowError) -> ApiError {
    let message = err.to_string();
    match err {
        ShadowError::Refused { .. } => ApiError::unprocessable(message),
        ShadowError::UnknownOperator { .. } | ShadowError::NoShadow { .. } => {
            ApiError::not_found(message)
        }
        _ => ApiError::conflict(message),
    }
}

impl Jobs {
    /// The monitor of job `id` while it runs here, whatever its record says.
    fn live_monitor(&self, id: &str) -> Option<cameo_host::JobMonitor> {
        lock(&self.running).get(id).map(|r| r.monitor.clone())
    }
}

/// Starts a shadow run of module `reference` (`name@N`) beside operator `operator` of running
/// job `id` of `who`'s tenant; answered once the shadows hold their copy of the state (or
/// after [`SHADOW_CHECKPOINT`]).
pub fn start(
    state: &AppState,
    who: &Principal,
    id: &str,
    operator: &str,
    reference: Option<&str>,
) -> Result<ShadowStarted, ApiError> {
    let _changing = state.jobs.changing(id)?;
    let job = tenant_job(state, who, id)?;
    let monitor = running_monitor(state, &job)?;
    let reference = reference.ok_or_else(|| {
        ApiError::bad_request("name the module version the shadow runs: `module=NAME@N`")
    })?;
    let (pinned, version) = state
        .modules
        .resolve(&state.store, &who.tenant, reference)
        .map_err(ApiError::unprocessable)?;
    let host = state.jobs.host()?;
    let module = state
        .modules
        .load_version(host.engine(), &pinned, &version)
        .map_err(ApiError::unprocessable)?;
    let started = monitor
        .shadow(operator, &module, SHADOW_CHECKPOINT)
        .map_err(|err| api_error(&err))?;
    update_records(state, id, |job| {
        job.shadows.insert(
            operator.to_string(),
            ShadowRecord {
                module: pinned.clone(),
                started_ms: now_ms(),
                checkpoint: started.checkpoint,
                restarts: Vec::new(),
            },
        );
    });
    Ok(started)
}

/// The report of the shadow run beside operator `operator` of job `id` (the last one, once
/// stopped), while the job runs here, with what the job's restarts did to it.
pub fn report(
    state: &AppState,
    who: &Principal,
    id: &str,
    operator: &str,
) -> Result<Report, ApiError> {
    let job = tenant_job(state, who, id)?;
    let recorded = job.shadows.get(operator);
    let monitor = state.jobs.live_monitor(id).ok_or_else(|| {
        ApiError::conflict(format!(
            "job {id} is {}, not running; a shadow's report lives as long as the job runs{}",
            super::state_name(job.state),
            if recorded.is_some() {
                " (its shadow starts again when the job resumes)"
            } else {
                ""
            }
        ))
    })?;
    let report = match (monitor.shadow_report(operator), recorded) {
        (Ok(report), _) => report,
        (Err(ShadowError::NoShadow { .. }), Some(record)) => {
            let why = match record.restarts.last().and_then(|r| r.error.as_deref()) {
                Some(error) => format!("it could not be started again: {error}"),
                None => "it is being started again".to_string(),
            };
            return Err(ApiError::conflict(format!(
                "the shadow of operator \"{operator}\" running {} ended with the job's \
                 restart and {why}; start it again with `cameo job shadow {id} {operator} \
                 MODULE@N` if it does not come back",
                record.module
            )));
        }
        (Err(err), _) => return Err(api_error(&err)),
    };
    Ok(Report {
        first_started_ms: recorded.map(|r| r.started_ms),
        restarts: recorded.map(|r| r.restarts.clone()).unwrap_or_default(),
        note: recorded.and_then(restart_note),
        report,
    })
}

/// Starts again, beside job `job` just resumed, the shadow runs its record names (on a
/// thread: each waits for the checkpoint at whose barrier it takes its copy of the state);
/// records each restart, or why it could not be done.
pub(super) fn restart_recorded(state: &AppState, job: &Job) {
    if job.shadows.is_empty() {
        return;
    }
    let state = std::sync::Arc::clone(state);
    let id = job.id.clone();
    let tenant = job.tenant.clone();
    let shadows = job.shadows.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("cameo-shadows-{id}"))
        .spawn(move || {
            for (operator, record) in shadows {
                let result = restart_one(&state, &id, &tenant, &operator, &record.module);
                if let Err(error) = &result {
                    tracing::warn!(job = %id, operator, "its shadow was not started again: {error}");
                }
                update_records(&state, &id, |job| {
                    if let Some(kept) = job.shadows.get_mut(&operator)
                        && kept.module == record.module
                    {
                        kept.restarts.push(ShadowRestart {
                            at_ms: now_ms(),
                            checkpoint: result.as_ref().ok().copied(),
                            error: result.err(),
                        });
                    }
                });
            }
        });
    if let Err(err) = spawned {
        tracing::error!(job = %job.id, "its shadow runs were not started again: {err}");
    }
}

/// Starts the shadow of `operator` of running job `id` again on `pinned`; the checkpoint at
/// whose barrier it took its copy of the state, or why it could not start.
fn restart_one(
    state: &AppState,
    id: &str,
    tenant: &str,
    operator: &str,
    pinned: &str,
) -> Result<u64, String> {
    // Waits for any upgrade or shadow change under way on the job, as a user's request would.
    let until = Instant::now() + SHADOW_CHECKPOINT;
    let _changing = loop {
        match state.jobs.changing(id) {
            Ok(changing) => break changing,
            Err(err) if Instant::now() >= until => return Err(err.message),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let monitor: JobMonitor = state
        .jobs
        .live_monitor(id)
        .ok_or_else(|| format!("job {id} stopped before its shadow started again"))?;
    let (pinned, version) = state.modules.resolve(&state.store, tenant, pinned)?;
    let host = state.jobs.host().map_err(|err| err.message)?;
    let module = state
        .modules
        .load_version(host.engine(), &pinned, &version)?;
    let started = monitor
        .shadow(operator, &module, SHADOW_CHECKPOINT)
        .map_err(|err| err.to_string())?;
    tracing::info!(job = id, operator, shadow = %pinned, checkpoint = started.checkpoint, "shadow started again with its job");
    Ok(started.checkpoint)
}

/// Forgets the shadow runs of job `id` that stopped by themselves (fell behind, could not
/// run) while it ran, so that a resume does not start them again.
pub(super) fn forget_stopped(state: &AppState, id: &str, monitor: &JobMonitor) {
    update_records(state, id, |job| {
        job.shadows.retain(|operator, _| {
            !matches!(monitor.shadow_report(operator), Ok(report) if report.stopped.is_some())
        });
    });
}

/// Stops the shadow run beside operator `operator` of running job `id`; answers its final
/// report.
pub fn stop(
    state: &AppState,
    who: &Principal,
    id: &str,
    operator: &str,
) -> Result<ShadowReport, ApiError> {
    let _changing = state.jobs.changing(id)?;
    let job = tenant_job(state, who, id)?;
    let monitor = running_monitor(state, &job)?;
    let report = monitor
        .stop_shadow(operator)
        .map_err(|err| api_error(&err))?;
    update_records(state, id, |job| {
        job.shadows.remove(operator);
    });
    Ok(report)
}

/// Upgrades operator `operator` of running job `id` to the version its shadow runs, the way
/// any upgrade goes (recorded, crash-consistent); the shadow stops once the upgrade is done.
/// A refused upgrade leaves the shadow running.
pub fn promote(
    state: &AppState,
    who: &Principal,
    id: &str,
    operator: &str,
) -> Result<Changed, ApiError> {
    let job = tenant_job(state, who, id)?;
    let monitor = running_monitor(state, &job)?;
    let report = monitor
        .shadow_report(operator)
        .map_err(|err| api_error(&err))?;
    if report.stopped.is_some() {
        return Err(api_error(&ShadowError::NoShadow {
            operator: operator.to_string(),
            what: "running",
        }));
    }
    let changed = change(
        state,
        who,
        id,
        operator,
        Some(&report.shadow),
        Change::Promote,
    )?;
    update_records(state, id, |job| {
        job.shadows.remove(operator);
    });
    Ok(changed)
}
