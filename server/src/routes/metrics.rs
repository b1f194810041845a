//! `GET /metrics`: Prometheus text format; a tenant's token sees its series, the server's
//! admin token every tenant's.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;
use crate::auth::{Principal, Role, SYSTEM_TENANT};
use crate::error::ApiError;
use crate::metrics::{self, Exposition};

/// The content type of the text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    who: Principal,
) -> Result<impl IntoResponse, ApiError> {
    who.require(Role::Read, "read metrics")?;
    let everyone = who.tenant == SYSTEM_TENANT && who.role == Role::Admin;
    let tenant = (!everyone).then_some(who.tenant.as_str());
    let mut out = Exposition::default();
    let mut live = state.jobs.live_jobs(tenant);
    live.sort_by(|a, b| a.id.cmp(&b.id));
    for job in &live {
        metrics::job_series(&mut out, job);
    }
    if let Ok(host) = state.jobs.host() {
        for stats in host.sched_stats() {
            if tenant.is_none_or(|t| t == stats.tenant) {
                metrics::tenant_series(&mut out, &stats);
            }
        }
    }
    let jobs: Vec<_> = state
        .store
        .jobs()?
        .into_iter()
        .filter(|j| tenant.is_none_or(|t| t == j.tenant))
        .collect();
    metrics::job_counts(&mut out, &jobs);
    Ok(([(header::CONTENT_TYPE, TEXT_FORMAT)], out.render()))
}
