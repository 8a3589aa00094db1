//! `GET /api/session`: each role's token learns who it is and what it may do (what the
//! dashboard shows or hides by), with the server's `--currency`; without `--auth` every
//! request is the unrestricted anonymous admin.

use std::time::Duration;

use parkstream_server::auth::{mint, Role, Secret};
use parkstream_server::config::AuthMode;
use serde_json::json;

use crate::auth::{get, SECRET};
use crate::helpers::spawn_app_with;

fn token(role: Role, contractor: Option<&str>, lots: Option<Vec<String>>) -> String {
    mint(
        SECRET.as_bytes(),
        "someone",
        role,
        contractor,
        lots,
        Duration::from_secs(600),
    )
    .unwrap()
}

#[tokio::test]
async fn every_role_learns_what_it_may_do_and_the_currency() {
    let app = spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new(SECRET));
        s.currency = Some("EUR".parse().unwrap());
    })
    .await;
    // (role, operate, administer, ingest), as docs/protocol.md's role table says.
    let roles = [
        (Role::Admin, true, true, true),
        (Role::Operator, true, false, true),
        (Role::Viewer, false, false, false),
        (Role::Monitor, false, false, true),
        (Role::Contractor, false, false, false),
    ];
    for (role, operate, administer, ingest) in roles {
        let contractor = (role == Role::Contractor).then_some("acme");
        let (status, body) = get(&app, "/api/session", Some(&token(role, contractor, None))).await;
        assert_eq!(status, 200, "{role:?}: {body}");
        assert_eq!(body["subject"], "someone");
        assert_eq!(body["role"], role.name());
        assert_eq!(
            body["permissions"],
            json!({"operate": operate, "administer": administer, "ingest": ingest}),
            "{role:?}"
        );
        assert_eq!(body["currency"], "EUR");
        let expires = body["expiresAt"].as_str().expect("expiresAt");
        assert!(expires.ends_with('Z') && expires.len() == 24, "{expires}");
        match contractor {
            Some(id) => assert_eq!(body["contractorId"], id),
            None => assert!(body.get("contractorId").is_none(), "{body}"),
        }
        assert!(body.get("lots").is_none(), "no lots claim: {body}");
    }

    let scoped = token(
        Role::Viewer,
        None,
        Some(vec!["lot_a".into(), "lot_b".into()]),
    );
    let (_, body) = get(&app, "/api/session", Some(&scoped)).await;
    assert_eq!(body["lots"], json!(["lot_a", "lot_b"]));

    let (status, body) = get(&app, "/api/session", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    app.stop().await;
}

#[tokio::test]
async fn without_auth_every_request_is_the_anonymous_admin_and_optional_fields_are_left_out() {
    let app = spawn_app_with(|_| {}).await;
    let (status, body) = get(&app, "/api/session", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "subject": "anonymous",
            "role": "admin",
            "permissions": {"operate": true, "administer": true, "ingest": true}
        }),
        "no contractorId, lots, expiresAt or currency: {body}"
    );
    app.stop().await;
}
