//! `/v1/openapi.json` describes exactly the routes the server serves.

use cameo_server::routes::table::{Access, endpoints};

use crate::support::Server;

#[test]
fn the_openapi_document_lists_every_route_and_every_listed_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let reply = server.call("GET", "/v1/openapi.json", None, b"");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();

    let table = endpoints();
    let operations: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        operations,
        table.len(),
        "the document has other routes than the router"
    );
    for endpoint in &table {
        let method = endpoint.method.to_ascii_lowercase();
        let operation = &doc["paths"][endpoint.path][&method];
        assert!(
            operation.is_object(),
            "{} {} is not in the document",
            endpoint.method,
            endpoint.path
        );
        let params: Vec<&str> = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            params.len(),
            endpoint.path.matches('{').count(),
            "{}",
            endpoint.path
        );

        // Served: without a token, a route answers 401 (or, if public, 200: the console's
        // one public parameter names a file it has); never the fallback for unknown routes
        // nor 405.
        let path = endpoint
            .path
            .split('/')
            .map(|part| match part {
                "{file}" => "app.js",
                part if part.starts_with('{') => "x",
                part => part,
            })
            .collect::<Vec<_>>()
            .join("/");
        let answer = server.call(endpoint.method, &path, None, b"");
        let expected = if endpoint.access == Access::Public {
            200
        } else {
            401
        };
        assert_eq!(
            answer.status, expected,
            "{} {path}: {}",
            endpoint.method, answer.text
        );
        assert!(
            !answer.text.contains("no such route"),
            "{} {path}",
            endpoint.method
        );
    }

    let unknown = server.call("GET", "/v1/nothing", None, b"");
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.error().contains("/v1/openapi.json"),
        "{}",
        unknown.error()
    );
}
