//! `/v1/tenants`: the server's admin creates and lists tenants and sets their quotas; a
//! tenant's admin (or the server's) makes its tokens.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Principal, Role, SYSTEM_TENANT, new_token, token_hash};
use crate::error::ApiError;
use crate::modules::check_name;
use crate::store::{Quotas, Tenant, Token, now_ms};

/// The body of `POST /v1/tenants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Its name.
    pub name: String,
    /// Its quotas where not the server's defaults.
    #[serde(default)]
    pub quotas: QuotaChange,
}

/// `POST /v1/tenants`.
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    who.require_system_admin("create tenants")?;
    let new: NewTenant = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a tenant ({err}); send {{\"name\": \"...\"}} and optionally \
             \"quotas\": {{\"modules\": N, \"bytes\": N, \"running_jobs\": N, \"instances\": N, \
             \"events_per_s\": N, \"bytes_per_s\": N}}"
        ))
    })?;
    check_name(&new.name).map_err(|_| {
        ApiError::bad_request(format!(
            "`{}` is not a tenant name; use 1 to 64 letters, digits, `-` or `_`",
            new.name
        ))
    })?;
    if state.store.tenant(&new.name)?.is_some() {
        return Err(ApiError::conflict(format!(
            "tenant \"{}\" exists already; make it a token with `cameo tenant token {}`",
            new.name, new.name
        )));
    }
    let tenant = Tenant {
        name: new.name,
        created_ms: now_ms(),
        quotas: new.quotas.applied_to(state.config.default_quotas),
    };
    state.store.put_tenant(&tenant)?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// `GET /v1/tenants`.
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    who.require_system_admin("list tenants")?;
    Ok(Json(state.store.tenants()?))
}

/// The body of `PUT /v1/tenants/{name}/quotas` (and the `quotas` of a new tenant): the
/// quotas to change; the others stay.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaChange {
    /// Modules.
    pub modules: Option<u64>,
    /// Bytes of components stored.
    pub bytes: Option<u64>,
    /// Jobs running at once.
    pub running_jobs: Option<u64>,
    /// Operator instances running at once.
    pub instances: Option<u64>,
    /// Events per second sent.
    pub events_per_s: Option<u64>,
    /// Bytes per second sent.
    pub bytes_per_s: Option<u64>,
}

impl QuotaChange {
    /// `quotas` with the quotas this change gives.
    pub fn applied_to(&self, mut quotas: Quotas) -> Quotas {
        let q = &mut quotas;
        for (field, value) in [
            (&mut q.modules, self.modules),
            (&mut q.bytes, self.bytes),
            (&mut q.running_jobs, self.running_jobs),
            (&mut q.instances, self.instances),
            (&mut q.events_per_s, self.events_per_s),
            (&mut q.bytes_per_s, self.bytes_per_s),
        ] {
            if let Some(value) = value {
                *field = value;
            }
        }
        quotas
    }
}

/// `PUT /v1/tenants/{name}/quotas`: the server's admin changes a tenant's quotas; answers
/// the tenant. Jobs already running keep running; the new quotas apply from the next
/// request.
pub async fn set_quotas(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Tenant>, ApiError> {
    who.require_system_admin("change quotas")?;
    let change: QuotaChange = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a quota change ({err}); send any of {{\"modules\": N, \"bytes\": \
             N, \"running_jobs\": N, \"instances\": N, \"events_per_s\": N, \"bytes_per_s\": N}}"
        ))
    })?;
    let mut tenant = state.store.tenant(&name)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no tenant \"{name}\"; create it with `cameo tenant create {name}`"
        ))
    })?;
    tenant.quotas = change.applied_to(tenant.quotas);
    state.store.put_tenant(&tenant)?;
    state.ingest.reset(&name);
    Ok(Json(tenant))
}

/// The body of `POST /v1/tenants/{name}/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The token's role.
    pub role: String,
}

/// `POST /v1/tenants/{name}/tokens`: a new token, shown once.
pub async fn token(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let system_admin = who.tenant == SYSTEM_TENANT && who.role == Role::Admin;
    if !system_admin {
        if who.tenant != name {
            return Err(ApiError::not_found(format!(
                "there is no tenant \"{name}\""
            )));
        }
        who.require(Role::Admin, "make tokens")?;
    }
    let new: NewToken = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body is not a token request ({err}); send {{\"role\": \"read|operate|deploy|admin\"}}"
        ))
    })?;
    let role = Role::parse(&new.role)?;
    if state.store.tenant(&name)?.is_none() {
        return Err(ApiError::not_found(format!(
            "there is no tenant \"{name}\"; create it with `cameo tenant create {name}`"
        )));
    }
    let token = new_token()?;
    state.store.put_token(
        &token_hash(&token),
        &Token {
            tenant: name.clone(),
            role,
            created_ms: now_ms(),
        },
    )?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"tenant": name, "role": role.name(), "token": token})),
    ))
}
