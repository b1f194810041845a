//! `GET /v1/openapi.json`: the API described as OpenAPI 3.1, made from the route table the
//! router is made from ([`super::table`]).

use std::sync::OnceLock;

use axum::Json;
use serde_json::{Value, json};

use super::table::{Access, Endpoint, Input, endpoints};

/// The document, made once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| describe(&endpoints()))
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document().clone())
}

/// The names of the `{parameters}` in `path`.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
        .collect()
}

fn operation(endpoint: &Endpoint) -> Value {
    let mut parameters: Vec<Value> = path_parameters(endpoint.path)
        .into_iter()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();
    parameters.extend(endpoint.query.iter().map(|(name, description)| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "schema": {"type": "string"},
        })
    }));
    let error = json!({
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    });
    let mut responses = serde_json::Map::new();
    let success = endpoint
        .statuses
        .iter()
        .find(|(status, _)| *status < 300)
        .map_or((200, "the answer"), |s| *s);
    responses.insert(
        success.0.to_string(),
        json!({"description": success.1, "content": {endpoint.output: {}}}),
    );
    let mut failures: Vec<(u16, &str)> = match endpoint.access {
        Access::Public => Vec::new(),
        _ => vec![
            (401, "no token, or one the server does not know"),
            (403, "the token's role may not do this"),
        ],
    };
    if endpoint.path.contains('{') {
        failures.push((404, "no such thing for this tenant"));
    }
    failures.extend(
        endpoint
            .statuses
            .iter()
            .filter(|(status, _)| *status >= 300),
    );
    for (status, description) in failures {
        let mut answer = error.clone();
        answer["description"] = json!(description);
        responses.insert(status.to_string(), answer);
    }
    let who = match endpoint.access {
        Access::Public => "no token".to_string(),
        Access::Role(role) => format!("a token of role `{role}` or above"),
        Access::SystemAdmin => "the server's admin token".to_string(),
    };
    let mut operation = json!({
        "summary": endpoint.summary,
        "description": format!("Needs {who}."),
        "parameters": parameters,
        "responses": responses,
    });
    if endpoint.access == Access::Public {
        operation["security"] = json!([]);
    }
    if let Input::Body(content_type, description) = endpoint.input {
        operation["requestBody"] = json!({
            "required": true,
            "description": description,
            "content": {content_type: {}},
        });
    }
    operation
}

/// The OpenAPI document of `endpoints`.
pub fn describe(endpoints: &[Endpoint]) -> Value {
    let mut paths = serde_json::Map::new();
    for endpoint in endpoints {
        let item = paths.entry(endpoint.path).or_insert_with(|| json!({}));
        item[endpoint.method.to_ascii_lowercase()] = operation(endpoint);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cameo serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tenants push operator components, run jobs over them, send events \
                in and read results, logs and metrics out. Errors are `{\"error\": \"...\"}`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
            },
        },
        "security": [{"bearer": []}],
    })
}
