//! `/v1/jobs`: submit, list, status, pause, resume and cancel jobs; push events into their
//! http sources, read their http sinks and their dead letters.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::tail;
use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::jobs::{self, state_name};
use crate::store::{Job, JobState};

/// Longest job spec accepted.
const MAX_SPEC_BYTES: u64 = 1 << 20;

use super::sinks::MAX_TAIL_LINES;

/// A job as listed.
fn listed(job: &Job) -> serde_json::Value {
    serde_json::json!({
        "id": job.id,
        "name": job.name,
        "state": state_name(job.state),
        "error": job.error,
        "modules": job.modules,
        "submitted_ms": job.submitted_ms,
    })
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::internal(format!("the request's work failed: {err}")))?
}

/// `POST /v1/jobs[?from_offset=N][&from_time=MS]`: the body is a job spec (TOML, or JSON);
/// 201 with the job, whose state is `failed` with the reason if it could not start. Its http
/// sources start from line N, or leave out the events before event time MS, when asked.
pub async fn submit(
    State(state): State<AppState>,
    who: Principal,
    Query(query): Query<ReplayQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    who.require(Role::Operate, "submit jobs")?;
    let bytes = super::read_body(&headers, body, MAX_SPEC_BYTES, "job spec").await?;
    let text = jobs::spec_text(&bytes)?;
    let replay = cameo_host::Replay {
        from_offset: query.from_offset,
        from_time: query.from_time,
    };
    let job = blocking(move || jobs::submit(&state, &who, text, replay)).await?;
    Ok((StatusCode::CREATED, Json(listed(&job))))
}

/// `GET /v1/jobs`.
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    who.require(Role::Read, "list jobs")?;
    let mut jobs: Vec<Job> = state
        .store
        .jobs()?
        .into_iter()
        .filter(|j| j.tenant == who.tenant)
        .collect();
    jobs.sort_by_key(|j| j.submitted_ms);
    Ok(Json(jobs.iter().map(listed).collect()))
}

/// `GET /v1/jobs/{id}`: state, error, figures (live while it runs), sources, instances,
/// each operator's module version and history, and the operator graph.
pub async fn status(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Read, "read jobs")?;
    let job = jobs::tenant_job(&state, &who, &id)?;
    let mut body = listed(&job);
    match (job.state, state.jobs.live(&id)) {
        (JobState::Running, Some(live)) => {
            body["summary"] = live["summary"].clone();
            body["sources"] = live["sources"].clone();
            body["instances"] = live["instances"].clone();
        }
        _ => {
            let summary = job.summary.clone().unwrap_or_default();
            body["instances"] = jobs::instances::instances(&id, &summary, None);
            body["summary"] = summary;
        }
    }
    let live = state.jobs.live_modules(&id);
    body["operators"] = jobs::upgrade::operators_status(&job, live.as_ref());
    body["graph"] = jobs::graph::graph(&job.spec);
    Ok(Json(body))
}

/// `POST /v1/jobs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Operate, "cancel jobs")?;
    let job = jobs::tenant_job(&state, &who, &id)?;
    if job.state == JobState::Paused {
        blocking(move || jobs::cancel_paused(&state, job)).await?;
        return Ok(Json(serde_json::json!({"id": id, "cancelled": true})));
    }
    if !state.jobs.cancel(&id) {
        return Err(ApiError::conflict(format!(
            "job {id} is {}, not running; there is nothing to cancel",
            state_name(job.state)
        )));
    }
    Ok(Json(serde_json::json!({"id": id, "cancelled": true})))
}

/// How long a pause waits for the job's checkpoint.
const PAUSE_CHECKPOINT: std::time::Duration = std::time::Duration::from_secs(10);

/// `POST /v1/jobs/{id}/pause`: the job's sources stop at a checkpoint barrier and the job
/// stops there; nothing sent to it is lost, and `resume` goes on from that checkpoint.
pub async fn pause(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Operate, "pause jobs")?;
    let job = jobs::tenant_job(&state, &who, &id)?;
    let not_running = |state: JobState| {
        ApiError::conflict(format!(
            "job {id} is {}, not running; only a running job can be paused",
            state_name(state)
        ))
    };
    if job.state != JobState::Running {
        return Err(not_running(job.state));
    }
    let shared = Arc::clone(&state);
    let pid = id.clone();
    if !blocking(move || shared.jobs.pause(&pid, PAUSE_CHECKPOINT)).await? {
        let now = jobs::tenant_job(&state, &who, &id)?;
        return Err(not_running(now.state));
    }
    let job = jobs::tenant_job(&state, &who, &id)?;
    Ok(Json(listed(&job)))
}

/// The query of `POST /v1/jobs` and `POST /v1/jobs/{id}/resume`.
#[derive(Debug, Deserialize)]
pub struct ReplayQuery {
    /// Replay: http sources read from this line instead of where the checkpoint (if any)
    /// left them.
    pub from_offset: Option<u64>,
    /// Replay: http sources leave out the events before this event time (ms).
    pub from_time: Option<i64>,
}

/// `POST /v1/jobs/{id}/resume[?from_offset=N][&from_time=MS]`: a paused job goes on from the
/// checkpoint it paused at, its http sources replaying from an earlier line or event time
/// when asked.
pub async fn resume(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<ReplayQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Operate, "resume jobs")?;
    let replay = cameo_host::Replay {
        from_offset: query.from_offset,
        from_time: query.from_time,
    };
    let job = blocking(move || jobs::resume(&state, &who, &id, replay)).await?;
    Ok(Json(listed(&job)))
}

/// The query of `POST /v1/jobs/{id}/sources/{name}`.
#[derive(Debug, Deserialize)]
pub struct SendQuery {
    /// End the source after these events.
    #[serde(default)]
    pub end: bool,
}

/// `POST /v1/jobs/{id}/sources/{name}[?end=true]`: NDJSON events, answered once they are
/// kept for the job; 429 with `Retry-After` when the job is behind (nothing was taken).
pub async fn send(
    State(state): State<AppState>,
    who: Principal,
    Path((id, source)): Path<(String, String)>,
    Query(query): Query<SendQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Operate, "send events")?;
    jobs::tenant_job(&state, &who, &id)?;
    let bytes = super::read_body(
        &headers,
        body,
        state.config.max_batch_bytes,
        "batch of events",
    )
    .await?;
    let accepted =
        blocking(move || jobs::send(&state, &who, &id, &source, &bytes, query.end)).await?;
    Ok(Json(serde_json::json!({"accepted": accepted})))
}

/// `GET /v1/jobs/{id}/dead-letters[?after=SEQ][&limit=N]`: the inputs whose call failed
/// (and input lines that could not become events), NDJSON with `seq`, `operator`, `reason`,
/// `key`, `value`, `event_time`, `timer`.
pub async fn dead_letters(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<super::sinks::TailQuery>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(Role::Read, "read dead letters")?;
    jobs::tenant_job(&state, &who, &id)?;
    let path = jobs::dead_letters_path(&state, &id);
    let limit = query.limit.unwrap_or(MAX_TAIL_LINES).min(MAX_TAIL_LINES);
    let after = query.after;
    let text = blocking(move || {
        let segments: Vec<PathBuf> = cameo_host::outlet_segments(&path)
            .map_err(|err| {
                ApiError::internal(format!("the dead letters could not be listed: {err}"))
            })?
            .into_iter()
            .map(|(_, file)| file)
            .collect();
        tail::read_after(&segments, after, limit)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text))
}
