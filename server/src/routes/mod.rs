//! The HTTP API: one module per resource; every handler checks the caller's role and
//! tenant, and answers errors as `{"error": "..."}`.
//!
//! # Layout
//! - [`health`]: `/healthz`, `/readyz`.
//! - [`tenants`]: tenants and their tokens.
//! - [`modules`]: the module registry.
//! - [`jobs`]: jobs, and events in and out of them.

pub mod health;
pub mod jobs;
pub mod modules;
pub mod tenants;

use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use http_body_util::BodyExt as _;

use crate::AppState;
use crate::error::ApiError;

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/tenants", post(tenants::create).get(tenants::list))
        .route("/v1/tenants/{name}/tokens", post(tenants::token))
        .route("/v1/modules", get(modules::list))
        .route(
            "/v1/modules/{name}",
            post(modules::push)
                .get(modules::show)
                .delete(modules::remove),
        )
        .route("/v1/jobs", post(jobs::submit).get(jobs::list))
        .route("/v1/jobs/{id}", get(jobs::status))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/v1/jobs/{id}/sources/{name}", post(jobs::send))
        .route("/v1/jobs/{id}/sinks/{name}", get(jobs::tail))
        .fallback(|| async {
            ApiError::not_found("no such route; the API is described in docs/server.md")
        })
        .with_state(state)
}

/// Reads a request body of at most `limit` bytes (413 past it, before reading when the
/// request declares its length); `what` names it in errors.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let too_large = |size: u64| {
        ApiError::too_large(format!(
            "the {what} has {size} bytes or more, over the server's limit of {limit} bytes; \
             send less"
        ))
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared
        && size > limit
    {
        return Err(too_large(size));
    }
    let mut body = body;
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::bad_request(format!(
                "the {what} was cut off or could not be read ({err}); send it again"
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                return Err(too_large((bytes.len() + data.len()) as u64));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}
