//! `/v1/jobs/{id}/operators/{name}`: changing the module version a running job's operator
//! runs, and going back, while the job runs; shadow runs of another version beside it.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::jobs::shadow;
use crate::jobs::upgrade::{self, Change, Changed};

/// The query of `POST /v1/jobs/{id}/operators/{name}/upgrade`.
#[derive(Debug, Deserialize)]
pub struct UpgradeQuery {
    /// The module to run: `name@N`, or `name` for its newest version.
    pub module: Option<String>,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::internal(format!("the request's work failed: {err}")))?
        .map(Json)
}

/// `POST /v1/jobs/{id}/operators/{name}/upgrade?module=NAME@N`: the operator's instances
/// switch to the module at the next checkpoint barrier, with their state; answered once the
/// checkpoint that carries the switch is written.
pub async fn upgrade(
    State(state): State<AppState>,
    who: Principal,
    Path((id, operator)): Path<(String, String)>,
    Query(query): Query<UpgradeQuery>,
) -> Result<Json<Changed>, ApiError> {
    who.require(Role::Deploy, "upgrade operators")?;
    blocking(move || {
        upgrade::change(
            &state,
            &who,
            &id,
            &operator,
            query.module.as_deref(),
            Change::Upgrade,
        )
    })
    .await
}

/// `POST /v1/jobs/{id}/operators/{name}/rollback`: back to the version the operator ran
/// before its current one, the way an upgrade goes.
pub async fn rollback(
    State(state): State<AppState>,
    who: Principal,
    Path((id, operator)): Path<(String, String)>,
) -> Result<Json<Changed>, ApiError> {
    who.require(Role::Deploy, "roll back operators")?;
    blocking(move || upgrade::change(&state, &who, &id, &operator, None, Change::Rollback)).await
}

/// `POST /v1/jobs/{id}/operators/{name}/shadow?module=NAME@N`: runs the version beside the
/// operator on a copy of its input, from a copy of its state taken at the next checkpoint
/// barrier; its output is compared, never sent on.
pub async fn shadow_start(
    State(state): State<AppState>,
    who: Principal,
    Path((id, operator)): Path<(String, String)>,
    Query(query): Query<UpgradeQuery>,
) -> Result<Json<cameo_host::ShadowStarted>, ApiError> {
    who.require(Role::Deploy, "start shadow runs")?;
    blocking(move || shadow::start(&state, &who, &id, &operator, query.module.as_deref())).await
}

/// `GET /v1/jobs/{id}/operators/{name}/shadow`: the shadow run's report: outputs matched and
/// differing per key, the first differing pairs, both versions' cost and call latency.
pub async fn shadow_report(
    State(state): State<AppState>,
    who: Principal,
    Path((id, operator)): Path<(String, String)>,
) -> Result<Json<shadow::Report>, ApiError> {
    who.require(Role::Read, "read shadow reports")?;
    blocking(move || shadow::report(&state, &who, &id, &operator)).await
}

/// `POST /v1/jobs/{id}/operators/{name}/shadow/promote`: upgrades the operator to the
/// shadow's version (as `upgrade` does); the shadow stops.
pub async fn shadow_promote(
    State(state): State<AppState>,
    who: Principal,
    Path((id, operator)): Path<(String, String)>,
) -> Result<Json<Changed>, ApiError> {
    who.require(Role::Deploy, "promote shadow runs")?;
    blocking(move || shadow::promote(&state, &who, &id, &operator)).await
}

/// `POST /v1/jobs/{id}/operators/{name}/shadow/stop`: drops the shadow run; answers its final
/// report.
pub async fn shadow_stop(
    State(state): State<AppState>,
    who: Principal,
    Path((id, operator)): Path<(String, String)>,
) -> Result<Json<cameo_host::ShadowReport>, ApiError> {
    who.require(Role::Deploy, "stop shadow runs")?;
    blocking(move || shadow::stop(&state, &who, &id, &operator)).await
}
