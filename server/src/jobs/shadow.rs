//! Shadow runs of a running job's operator over the API: started on a version of the
//! tenant's modules, reported, promoted (an upgrade through [`super::upgrade::change`], so the
//! job's record follows it across a crash as any upgrade's does) or stopped.
//!
//! A shadow is not recorded with the job: it is no part of what a checkpoint promises, and a
//! job resumed after a restart runs without it (start it again).

use std::time::Duration;

use cameo_host::{ShadowError, ShadowReport, ShadowStarted};

use super::upgrade::{Change, Changed, change, running_monitor};
use super::{Jobs, lock, tenant_job};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

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
    monitor
        .shadow(operator, &module, SHADOW_CHECKPOINT)
        .map_err(|err| api_error(&err))
}

/// The report of the shadow run beside operator `operator` of job `id` (the last one, once
/// stopped), while the job runs here.
pub fn report(
    state: &AppState,
    who: &Principal,
    id: &str,
    operator: &str,
) -> Result<ShadowReport, ApiError> {
    let job = tenant_job(state, who, id)?;
    let monitor = state.jobs.live_monitor(id).ok_or_else(|| {
        ApiError::conflict(format!(
            "job {id} is {}, not running; a shadow's report lives as long as the job runs",
            super::state_name(job.state)
        ))
    })?;
    monitor
        .shadow_report(operator)
        .map_err(|err| api_error(&err))
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
    monitor.stop_shadow(operator).map_err(|err| api_error(&err))
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
    change(
        state,
        who,
        id,
        operator,
        Some(&report.shadow),
        Change::Promote,
    )
}
