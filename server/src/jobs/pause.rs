//! Pausing a job at a checkpoint barrier and resuming it from there; cancelling a paused job.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Jobs, lock, start_with, state_name, tenant_job};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::{Job, JobState};

impl Jobs {
    /// Pauses running job `id`: takes a checkpoint (a barrier from its sources), then stops
    /// it and waits until it is recorded as paused; its checkpoint and inputs are kept for
    /// [`resume`]. `Ok(false)` when it is not running.
    pub fn pause(&self, id: &str, timeout: Duration) -> Result<bool, ApiError> {
        let (monitor, paused) = match lock(&self.running).get(id) {
            Some(job) => (job.monitor.clone(), Arc::clone(&job.paused)),
            None => return Ok(false),
        };
        if !monitor.checkpoint(timeout) {
            if monitor.is_finished() {
                return Ok(false);
            }
            return Err(ApiError::unavailable(format!(
                "job {id} could not take a checkpoint within {} s, so it was not paused; \
                 retry, or cancel it",
                timeout.as_secs()
            )));
        }
        paused.store(true, Ordering::Release);
        monitor.cancel();
        let waiter = lock(&self.running)
            .get_mut(id)
            .and_then(|r| r.waiter.take());
        if let Some(waiter) = waiter {
            let _ = waiter.join();
        }
        Ok(true)
    }
}

/// Resumes paused job `id` of `who`'s tenant from the checkpoint it was paused at, its
/// rewindable sources replaying from `replay` when it asks for something.
pub fn resume(
    state: &AppState,
    who: &Principal,
    id: &str,
    replay: cameo_host::Replay,
) -> Result<Job, ApiError> {
    let mut job = tenant_job(state, who, id)?;
    if job.state != JobState::Paused {
        return Err(ApiError::conflict(format!(
            "job {id} is {}, not paused; there is nothing to resume",
            state_name(job.state)
        )));
    }
    let tenant = state
        .store
        .tenant(&who.tenant)?
        .ok_or_else(|| ApiError::unauthorized("this token's tenant no longer exists"))?;
    let _admitted = lock(&state.jobs.admission);
    let (jobs, instances) = state.jobs.running_count(&who.tenant);
    let spec = super::parse_spec(&job.spec)?;
    crate::quota::check_running(
        &who.tenant,
        &tenant.quotas,
        jobs,
        instances,
        crate::quota::instances_of(&spec),
    )?;
    // Refused before the job's state changes: a replay the job cannot do.
    super::check_replay(&spec, replay)?;
    job.state = JobState::Running;
    state.store.put_job(&job)?;
    if let Err(reason) = start_with(state, &job, replay) {
        job.state = JobState::Failed;
        job.error = Some(format!("could not be resumed: {reason}"));
        state.store.put_job(&job)?;
    }
    Ok(job)
}

/// Cancels paused job `job`: recorded as cancelled, its checkpoint and inputs removed.
pub fn cancel_paused(state: &AppState, mut job: Job) -> Result<(), ApiError> {
    job.state = JobState::Cancelled;
    state.store.put_job(&job)?;
    let host = state.jobs.host()?;
    host.remove_job_data(&job.id)
        .map_err(|err| ApiError::internal(format!("the job's data was not removed: {err}")))
}
