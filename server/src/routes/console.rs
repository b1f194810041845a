//! The web console at `/`: a static page, its scripts and style, embedded in the binary. It
//! signs in with a token and shows only what that token may see, from the API.

use axum::Json;
use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

use crate::auth::Principal;
use crate::error::ApiError;

/// The console's files besides its page: name, content type, bytes. A new panel is one more
/// script here and one more `<script>` line in the page.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/chart.js"),
    ),
    (
        "graph.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/graph.js"),
    ),
    (
        "job.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/job.js"),
    ),
    (
        "shadow.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/shadow.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
];

/// `GET /`: the console's page.
pub async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../console/index.html"),
    )
}

/// `GET /console/{file}`: one of the console's scripts or its style.
pub async fn file(Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let (_, content_type, text) =
        FILES
            .iter()
            .find(|(file, _, _)| *file == name)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "the console has no file \"{name}\"; open the console at /"
                ))
            })?;
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *text,
    ))
}

/// `GET /v1/whoami`: the token's tenant and role.
pub async fn whoami(who: Principal) -> Json<serde_json::Value> {
    Json(serde_json::json!({"tenant": who.tenant, "role": who.role.name()}))
}
