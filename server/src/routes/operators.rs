//! `/v1/jobs/{id}/operators/{name}`: changing the module version a running job's operator
//! runs, and going back, while the job runs.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::jobs::upgrade::{self, Change, Changed};

/// The query of `POST /v1/jobs/{id}/operators/{name}/upgrade`.
#[derive(Debug, Deserialize)]
pub struct UpgradeQuery {
    /// The module to run: `name@N`, or `name` for its newest version.
    pub module: Option<String>,
}

async fn blocking(
    work: impl FnOnce() -> Result<Changed, ApiError> + Send + 'static,
) -> Result<Json<Changed>, ApiError> {
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
