//! The HTTP API: one module per resource; every handler checks the caller's role and
//! tenant, and answers errors as `{"error": "..."}`.
//!
//! # Layout
//! - [`console`]: the web console at `/` (embedded static files) and `/v1/whoami`.
//! - [`health`]: `/healthz`, `/readyz`.
//! - [`metrics`]: the Prometheus scrape route, `/metrics`.
//! - [`tenants`]: tenants and their tokens.
//! - [`modules`]: the module registry.
//! - [`jobs`]: jobs, events into them and their dead letters.
//! - [`sinks`]: their http sinks' output, read once or followed.
//! - [`operators`]: upgrading and rolling back a running job's operators; shadow runs.
//! - [`logs`]: the logs of a job's operators.
//! - [`series`]: a running job's figures over time, for the console's charts.
//! - [`tail`]: reading sinks' outputs and dead letters by `seq`.
//! - [`table`]: every route in one table, which the router and the OpenAPI document are
//!   made from.
//! - [`openapi`]: the API described, `/v1/openapi.json`.

pub mod console;
pub mod health;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod modules;
pub mod openapi;
pub mod operators;
pub mod series;
pub mod sinks;
pub mod table;
pub mod tail;
pub mod tenants;

use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use http_body_util::BodyExt as _;

use crate::AppState;
use crate::error::ApiError;

/// The API's routes, made from [`table::endpoints`].
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for endpoint in table::endpoints() {
        router = router.route(endpoint.path, endpoint.handler);
    }
    router
        .fallback(|| async {
            ApiError::not_found(
                "no such route; the API is described at /v1/openapi.json and in docs/server.md",
            )
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
    let mut body = body;
    if let Some(size) = declared
        && size > limit
    {
        drain(&mut body, DRAIN_BYTES).await;
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::bad_request(format!(
                "the {what} was cut off or could not be read ({err}); send it again"
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                drain(&mut body, DRAIN_BYTES).await;
                return Err(too_large((bytes.len() + data.len()) as u64));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Bytes of a refused body the server still reads and drops, so a client still writing it
/// gets the refusal rather than a connection reset; past them the connection is closed.
const DRAIN_BYTES: u64 = 256 << 20;

/// Reads and drops what is left of `body`, at most `cap` bytes.
async fn drain(body: &mut Body, cap: u64) {
    let mut read = 0u64;
    while read < cap {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}
