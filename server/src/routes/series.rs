//! `/v1/jobs/{id}/series`: a running job's figures over time, one sample a second, from
//! which the console draws its charts.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::jobs::{self, state_name};
use crate::series::INTERVAL;

/// The query of a series read.
#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    /// Only samples taken after this time, ms since the Unix epoch.
    after: Option<u64>,
}

/// `GET /v1/jobs/{id}/series?after=T_MS`: `{"id", "state", "interval_ms", "samples"}`, the
/// samples of the job's figures taken after `after` (all that are kept without it), oldest
/// first; none once the job stopped running.
pub async fn series(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Read, "read jobs")?;
    let job = jobs::tenant_job(&state, &who, &id)?;
    let samples = state.series.after(&id, query.after.unwrap_or(0));
    Ok(Json(serde_json::json!({
        "id": id,
        "state": state_name(job.state),
        "interval_ms": INTERVAL.as_millis() as u64,
        "samples": samples,
    })))
}
