//! Liveness and readiness.

use std::sync::atomic::Ordering;

use axum::extract::State;

use crate::AppState;
use crate::error::ApiError;

/// `GET /healthz`: the server answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the jobs of the last run are resumed; 503 until then.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.ready.load(Ordering::Acquire) {
        Ok("ready\n")
    } else {
        Err(ApiError::unavailable(
            "the server is resuming the jobs of its last run; retry in a moment",
        ))
    }
}
