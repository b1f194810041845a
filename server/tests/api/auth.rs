//! Tokens, roles and tenants: 401 without a valid token, 403 for a role that may not, 404
//! for another tenant's things, on every route.

use cameo_tests::guests;

use crate::support::{Server, events, http_job};

#[test]
fn a_missing_or_unknown_token_is_401_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let reply = server.call("GET", "/v1/modules", None, b"");
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.error(),
        "no token: send `Authorization: Bearer <token>` (the CLI takes --token, CAMEO_TOKEN, \
         or `cameo login`)"
    );
    let reply = server.call("GET", "/v1/jobs", Some("cameo_nonsense"), b"");
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.error(),
        "this token is not known to the server; check it, or ask an admin for a new one"
    );
}

#[test]
fn a_role_that_may_not_is_403_naming_the_role_needed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let read = server.tenant("acme", "read");
    let operate = server.token("acme", "operate");
    let deploy = server.token("acme", "deploy");
    let admin = server.token("acme", "admin");
    let push = server.push(&read, "op", guests::FILTER);
    assert_eq!(push.status, 403);
    assert_eq!(
        push.error(),
        "a read token may not push modules; it needs a deploy token (ask an admin of tenant \
         \"acme\" for one)"
    );
    assert_eq!(server.push(&operate, "op", guests::FILTER).status, 403);
    assert_eq!(server.push(&deploy, "op", guests::FILTER).status, 201);
    let spec = http_job("op", "{}");
    let submit = server.call("POST", "/v1/jobs", Some(&read), spec.as_bytes());
    assert_eq!(submit.status, 403);
    assert!(
        submit
            .error()
            .starts_with("a read token may not submit jobs")
    );
    let id = server.submit(&operate, &spec);
    assert_eq!(
        server
            .call("GET", &format!("/v1/jobs/{id}"), Some(&read), b"")
            .status,
        200
    );
    let token = server.call(
        "POST",
        "/v1/tenants/acme/tokens",
        Some(&deploy),
        br#"{"role":"read"}"#,
    );
    assert_eq!(token.status, 403);
    assert_eq!(
        token.error(),
        "a deploy token may not make tokens; it needs an admin token (ask an admin of tenant \
         \"acme\" for one)"
    );
    let token = server.call(
        "POST",
        "/v1/tenants/acme/tokens",
        Some(&admin),
        br#"{"role":"read"}"#,
    );
    assert_eq!(token.status, 201, "a tenant's admin makes its own tokens");
    let tenant = server.call("POST", "/v1/tenants", Some(&admin), br#"{"name":"x"}"#);
    assert_eq!(tenant.status, 403);
    assert_eq!(
        tenant.error(),
        "only the server's admin token (tenant \"system\") may create tenants"
    );
    let role = server.call(
        "POST",
        "/v1/tenants/acme/tokens",
        Some(&server.admin_token()),
        br#"{"role":"root"}"#,
    );
    assert_eq!(role.status, 400);
    assert_eq!(
        role.error(),
        "`root` is not a role; use read, operate, deploy or admin"
    );
}

#[test]
fn a_tenant_cannot_see_or_touch_another_tenants_things() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.tenant("a", "admin");
    let b = server.tenant("b", "admin");
    assert_eq!(server.push(&b, "secret", guests::FILTER).status, 201);
    let id = server.submit(&b, &http_job("secret", "{}"));
    let routes = [
        ("GET", "/v1/modules/secret".to_string(), String::new()),
        ("DELETE", "/v1/modules/secret".to_string(), String::new()),
        ("GET", format!("/v1/jobs/{id}"), String::new()),
        ("POST", format!("/v1/jobs/{id}/cancel"), String::new()),
        ("POST", format!("/v1/jobs/{id}/sources/in"), events(0, 1)),
        ("GET", format!("/v1/jobs/{id}/sinks/out"), String::new()),
        (
            "POST",
            "/v1/tenants/b/tokens".to_string(),
            r#"{"role":"admin"}"#.into(),
        ),
    ];
    for (method, path, body) in &routes {
        let reply = server.call(method, path, Some(&a), body.as_bytes());
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        assert!(!reply.text.contains("b/"), "{}", reply.text);
    }
    let modules = server.call("GET", "/v1/modules", Some(&a), b"").json();
    assert_eq!(modules, serde_json::json!([]));
    let jobs = server.call("GET", "/v1/jobs", Some(&a), b"").json();
    assert_eq!(jobs, serde_json::json!([]));
    let using = server.call(
        "POST",
        "/v1/jobs",
        Some(&a),
        http_job("secret", "{}").as_bytes(),
    );
    assert_eq!(using.status, 422);
    assert!(
        using.error().contains("there is no module \"secret\""),
        "{}",
        using.error()
    );
    // B's things are untouched.
    let status = server
        .call("GET", &format!("/v1/jobs/{id}"), Some(&b), b"")
        .json();
    assert_eq!(status["state"], "running");
    assert_eq!(
        server
            .call("GET", "/v1/modules/secret", Some(&b), b"")
            .status,
        200
    );
}
