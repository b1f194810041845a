//! The web console: its embedded files are served, and `/v1/whoami` tells the page which
//! tenant and role it signed in as.

use crate::support::Server;

#[test]
fn the_console_is_served_and_whoami_names_the_tokens_tenant_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let page = server.call("GET", "/", None, b"");
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<title>cameo</title>"), "{}", page.text);
    assert!(page.text.contains(r#"<script src="/console/app.js">"#));
    let script = server.call("GET", "/console/app.js", None, b"");
    assert_eq!(script.status, 200);
    assert!(script.text.contains("/v1/whoami"));
    assert!(
        script.text.contains(r#"who.role === "read""#),
        "read tokens get no actions"
    );
    assert_eq!(
        server.call("GET", "/console/style.css", None, b"").status,
        200
    );

    let reader = server.tenant("acme", "read");
    let who = server.call("GET", "/v1/whoami", Some(&reader), b"");
    assert_eq!(who.status, 200, "{}", who.text);
    assert_eq!(
        who.json(),
        serde_json::json!({"tenant": "acme", "role": "read"})
    );
    assert_eq!(server.call("GET", "/v1/whoami", None, b"").status, 401);
}
