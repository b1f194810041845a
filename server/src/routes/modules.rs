//! `/v1/modules`: push, list, show and remove a tenant's modules.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::modules::{Pushed, check_name};
use crate::store::Module;

/// `POST /v1/modules/{name}`: the body is the component; 201 with the new version, 200 with
/// the existing one for bytes pushed before.
pub async fn push(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Pushed>), ApiError> {
    who.require(Role::Deploy, "push modules")?;
    check_name(&name)?;
    let bytes = super::read_body(&headers, body, state.config.max_module_bytes, "module").await?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the upload is empty; send the component's bytes (`cameo module push NAME FILE`)",
        ));
    }
    let quotas = state
        .store
        .tenant(&who.tenant)?
        .map(|t| t.quotas)
        .unwrap_or(state.config.default_quotas);
    let engine = state.jobs.host()?.engine().clone();
    let pushed = state
        .modules
        .push(&state.store, engine, &who, &name, bytes, quotas)
        .await?;
    let status = if pushed.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(pushed)))
}

/// `GET /v1/modules`.
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<Module>>, ApiError> {
    who.require(Role::Read, "list modules")?;
    Ok(Json(state.store.modules(&who.tenant)?))
}

/// `GET /v1/modules/{name}`: the module and its versions.
pub async fn show(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<Json<Module>, ApiError> {
    who.require(Role::Read, "read modules")?;
    check_name(&name)?;
    state
        .store
        .module(&who.tenant, &name)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "there is no module \"{name}\"; `cameo module list` shows yours"
            ))
        })
}

/// The query of `DELETE /v1/modules/{name}`.
#[derive(Debug, Deserialize)]
pub struct RemoveQuery {
    /// Only this version; every version when absent.
    pub version: Option<u64>,
}

/// `DELETE /v1/modules/{name}[?version=N]`: refused (409) while a running job uses it.
pub async fn remove(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Query(query): Query<RemoveQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Role::Deploy, "remove modules")?;
    check_name(&name)?;
    let tenant = who.tenant.clone();
    let removed = state
        .modules
        .remove(&state.store, &who.tenant, &name, query.version, |pinned| {
            state.jobs.user_of(&tenant, pinned)
        })
        .await?;
    Ok(Json(
        serde_json::json!({"name": name, "removed_versions": removed}),
    ))
}
