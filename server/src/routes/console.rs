//! The web console at `/`: a static page, its script and style, embedded in the binary. It
//! signs in with a token and shows only what that token may see, from the API.

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;

use crate::auth::Principal;

/// `GET /`: the console's page.
pub async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../console/index.html"),
    )
}

/// `GET /console/app.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../console/app.js"),
    )
}

/// `GET /console/style.css`.
pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../console/style.css"),
    )
}

/// `GET /v1/whoami`: the token's tenant and role.
pub async fn whoami(who: Principal) -> Json<serde_json::Value> {
    Json(serde_json::json!({"tenant": who.tenant, "role": who.role.name()}))
}
