//! Who did what: the actor (the token's `sub`) and note of acknowledging and resolving, on
//! REST, on the stream and in `GET /api/audit`, which lists every change made through the API.

use std::time::Duration;

use parkstream_server::auth::{mint, Role};
use serde_json::{json, Value};

use crate::auth::{get, secured, token, SECRET};
use crate::helpers::{spawn_app, TestApp};
use crate::rules::{contractor, gate, next_of};

fn token_of(subject: &str, role: Role) -> String {
    mint(
        SECRET.as_bytes(),
        subject,
        role,
        None,
        None,
        Duration::from_secs(600),
    )
    .unwrap()
}

async fn act(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.http.post(app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A secured server with lot `a` of 10 slots (created by `root`) and one active capacity
/// warning; answers the alert's id.
async fn with_a_warning(app: &TestApp) -> String {
    let root = token_of("root", Role::Admin);
    app.create_lot_as(&root, "a", 10).await;
    let response = app
        .http
        .post(app.url("/api/capacity/update"))
        .bearer_auth(&root)
        .json(&json!({"parkingLotId": "a", "occupied": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, alerts) = get(app, "/api/alerts?status=active", Some(&root)).await;
    assert_eq!(status, 200);
    alerts[0]["_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn acknowledging_and_resolving_record_who_and_why_in_rest_the_stream_and_the_audit() {
    let app = secured().await;
    let id = with_a_warning(&app).await;
    let ana = token_of("ana", Role::Operator);
    let root = token_of("root", Role::Admin);
    let mut stream = app
        .subscribe(&format!("types=alert&access_token={root}"))
        .await;
    stream.connected().await;

    let note = "Calling the site manager, \"quoted\" and ünïcode";
    let path = format!("/api/alerts/{id}/acknowledge");
    let (status, acked) = act(&app, &path, &ana, Some(json!({"note": note}))).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["acknowledgedBy"], "ana");
    assert_eq!(acked["note"], note);
    assert!(acked.get("resolvedBy").is_none(), "absent until resolved");
    let event = next_of(&mut stream, "alert").await;
    assert_eq!(event["acknowledgedBy"], "ana");
    assert_eq!(event["note"], note);

    // An empty body still works; the note given before stays.
    let (status, resolved) = act(&app, &format!("/api/alerts/{id}/resolve"), &root, None).await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["resolvedBy"], "root");
    assert_eq!(resolved["acknowledgedBy"], "ana");
    assert_eq!(resolved["note"], note);
    assert_eq!(next_of(&mut stream, "alert").await["resolvedBy"], "root");
    let (_, listed) = get(&app, "/api/alerts?status=resolved", Some(&root)).await;
    assert_eq!(listed[0]["resolvedBy"], "root");

    let (status, audit) = get(&app, "/api/audit", Some(&root)).await;
    assert_eq!(status, 200);
    let rows: Vec<(String, String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target"]["kind"].as_str().unwrap().to_owned(),
                e["target"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |actor: &str, action: &str, kind: &str, target: &str| {
        (actor.into(), action.into(), kind.into(), target.into())
    };
    assert_eq!(
        rows,
        vec![
            row("root", "alert.resolve", "alert", &id),
            row("ana", "alert.acknowledge", "alert", &id),
            row("root", "lot.create", "lot", "a"),
        ],
        "newest first; ingest is not audited"
    );
    let summary = audit[1]["summary"].as_str().unwrap();
    assert!(
        summary.contains("capacity_warning") && summary.contains(note),
        "{summary}"
    );
    assert!(audit[0]["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn only_an_admin_reads_the_audit() {
    let app = secured().await;
    for role in [Role::Viewer, Role::Operator, Role::Monitor] {
        let (status, body) = get(&app, "/api/audit", Some(&token(role))).await;
        assert_eq!(status, 403, "{role:?}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(get(&app, "/api/audit", None).await.0, 401);
    assert_eq!(
        get(&app, "/api/audit", Some(&token(Role::Admin))).await.0,
        200
    );
}

#[tokio::test]
async fn a_note_longer_than_500_characters_is_422_and_changes_nothing() {
    let app = secured().await;
    let id = with_a_warning(&app).await;
    let ana = token_of("ana", Role::Operator);
    let path = format!("/api/alerts/{id}/acknowledge");
    let (status, body) = act(&app, &path, &ana, Some(json!({"note": "x".repeat(501)}))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(body["error"]["field"], "note");
    let (status, body) = act(&app, &path, &ana, Some(json!({"note": 5}))).await;
    assert_eq!((status, &body["error"]["field"]), (422, &json!("note")));

    let root = token_of("root", Role::Admin);
    let (_, active) = get(&app, "/api/alerts?status=active", Some(&root)).await;
    assert_eq!(active[0]["_id"], id.as_str(), "still active");
    let (_, audit) = get(&app, "/api/audit", Some(&root)).await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "only the lot: {audit}");

    let (status, _) = act(&app, &path, &ana, Some(json!({"note": "y".repeat(500)}))).await;
    assert_eq!(status, 200, "500 characters are allowed");
}

#[tokio::test]
async fn the_audit_filters_by_actor_and_period_and_pages() {
    let app = secured().await;
    let (ana, bo) = (token_of("ana", Role::Admin), token_of("bo", Role::Admin));
    app.create_lot_as(&ana, "a", 10).await;
    app.create_lot_as(&bo, "b", 10).await;
    let update = app
        .http
        .put(app.url("/api/lots/a"))
        .bearer_auth(&ana)
        .json(&json!({"name": "A", "totalSlots": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 200);
    let response = app
        .http
        .put(app.url("/api/contractors/acme"))
        .bearer_auth(&bo)
        .json(&json!({"name": "Acme", "allocations": [{"parkingLotId": "a", "allocatedCapacity": 2}], "plates": ["P1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let (_, all) = get(&app, "/api/audit", Some(&ana)).await;
    let actions: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "contractor.create",
            "lot.update",
            "lot.create",
            "lot.create"
        ]
    );
    assert!(all[1]["summary"].as_str().unwrap().contains("20 slots"));

    let (_, by_ana) = get(&app, "/api/audit?actor=ana", Some(&ana)).await;
    assert_eq!(by_ana.as_array().unwrap().len(), 2);
    assert!(by_ana
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"] == "ana"));
    let (_, page) = get(&app, "/api/audit?limit=1", Some(&ana)).await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["action"], "contractor.create");

    let first = all[3]["at"].as_str().unwrap();
    let last = all[0]["at"].as_str().unwrap();
    let (_, within) = get(
        &app,
        &format!("/api/audit?from={first}&to={last}"),
        Some(&ana),
    )
    .await;
    assert_eq!(within.as_array().unwrap().len(), 4);
    let (_, future) = get(&app, "/api/audit?from=2999-01-01T00:00:00Z", Some(&ana)).await;
    assert_eq!(future, json!([]));
}

#[tokio::test]
async fn audit_queries_with_from_after_to_or_a_bad_time_are_422() {
    let app = secured().await;
    let admin = token(Role::Admin);
    let (status, body) = get(
        &app,
        "/api/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        Some(&admin),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(body["error"]["field"], "from");
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
    ] {
        let (status, body) = get(&app, &format!("/api/audit?{query}"), Some(&admin)).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
    for limit in ["0", "1001", "ten"] {
        let (status, _) = get(&app, &format!("/api/audit?limit={limit}"), Some(&admin)).await;
        assert_eq!(status, 400, "limit={limit}");
    }
}

#[tokio::test]
async fn without_authentication_a_violation_is_resolved_by_anonymous() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    contractor(
        &app,
        "acme",
        json!({"name": "Acme", "allocations": [{"parkingLotId": "a", "allocatedCapacity": 0}], "plates": ["P1"]}),
    )
    .await;
    gate(&app, "a", "vehicle_entry", "P1", None).await;
    let violations = app.get_json("/api/violations").await;
    let id = violations[0]["_id"].as_str().unwrap();
    let response = app
        .http
        .post(app.url(&format!("/api/violations/{id}/resolve")))
        .json(&json!({"note": "Allocation raised by phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let resolved: Value = response.json().await.unwrap();
    assert_eq!(resolved["resolvedBy"], "anonymous");
    assert_eq!(resolved["note"], "Allocation raised by phone");
    assert!(resolved.get("acknowledgedBy").is_none());
    let audit = app.get_json("/api/audit?actor=anonymous").await;
    assert_eq!(audit[0]["action"], "violation.resolve");
    assert_eq!(audit[0]["target"], json!({"kind": "violation", "id": id}));
    assert!(audit[0]["summary"].as_str().unwrap().contains("acme"));
}
