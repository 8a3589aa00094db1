//! The rules of docs/rules.md, each driven only through the HTTP API and observed on REST
//! and on the stream.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, EventStream, TestApp};

pub(crate) async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .put(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn gate(
    app: &TestApp,
    lot: &str,
    event: &str,
    plate: &str,
    at: Option<&str>,
) -> Value {
    let mut body =
        json!({"parkingLotId": lot, "gateId": "north", "event": event, "plateNumber": plate});
    if let Some(at) = at {
        body["timestamp"] = json!(at);
    }
    let response = post(app, "/api/monitor/gate", body).await;
    assert_eq!(response.status(), 200, "gate {event} {plate}");
    response.json().await.unwrap()
}

/// The next event of `kind` (skipping others), as JSON.
pub(crate) async fn contractor(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    put(app, &format!("/api/contractors/{id}"), body).await
}

pub(crate) async fn next_of(stream: &mut EventStream, kind: &str) -> Value {
    loop {
        let (k, data) = stream.next_data().await;
        if k == kind {
            return data;
        }
    }
}

#[tokio::test]
async fn entries_and_exits_move_the_count_and_exits_carry_the_stay_length() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let mut stream = app.subscribe("types=capacity_update").await;
    stream.connected().await;

    let entry = gate(
        &app,
        "a",
        "vehicle_entry",
        "ka-01 ab 1234",
        Some("2026-11-26T08:00:00Z"),
    )
    .await;
    assert_eq!(entry["occupied"], 1);
    assert_eq!(entry["event"], "vehicle_entry");
    assert_eq!(entry["plateNumber"], "KA01AB1234");
    assert_eq!(entry["gateId"], "north");
    assert!(entry.get("duration").is_none());
    assert_eq!(next_of(&mut stream, "capacity_update").await, entry);

    let exit = gate(
        &app,
        "a",
        "vehicle_exit",
        "KA01AB1234",
        Some("2026-11-26T09:30:00Z"),
    )
    .await;
    assert_eq!(exit["occupied"], 0);
    assert_eq!(exit["duration"], 5400);
    assert_eq!(exit["timestamp"], "2026-11-26T09:30:00.000Z");
    assert_eq!(next_of(&mut stream, "capacity_update").await, exit);

    // An exit never seen entering: the count cannot go below 0, and there is no duration.
    let ghost = gate(&app, "a", "vehicle_exit", "ZZ99", None).await;
    assert_eq!(ghost["occupied"], 0);
    assert!(ghost.get("duration").is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_repeated_event_id_changes_nothing_and_answers_the_same_even_after_a_restart() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let body = json!({"eventId": "cam7-000123", "parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "AB1"});
    let first: Value = post(&app, "/api/monitor/gate", body.clone())
        .await
        .json()
        .await
        .unwrap();
    let again: Value = post(&app, "/api/monitor/gate", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, again);
    let app = app.restart().await;
    let after_restart: Value = post(&app, "/api/monitor/gate", body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, after_restart);
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 1);
    app.stop().await;
}

#[tokio::test]
async fn capacity_alerts_are_raised_once_escalate_and_resolve_with_hysteresis() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let mut alerts = app.subscribe("types=alert").await;
    alerts.connected().await;

    app.set_count("a", 9).await; // 90%: warning
    let warning = alerts.next_data().await.1;
    assert_eq!(
        (warning["type"].as_str(), warning["severity"].as_str()),
        (Some("capacity_warning"), Some("medium"))
    );
    assert_eq!(warning["status"], "active");
    assert_eq!(warning["message"], "Parking lot is 90% full");
    assert!(warning["contractorId"].is_null());

    app.set_count("a", 10).await; // full: breach, no second warning
    let breach = alerts.next_data().await.1;
    assert_eq!(
        (breach["type"].as_str(), breach["severity"].as_str()),
        (Some("capacity_breach"), Some("high"))
    );

    app.set_count("a", 12).await; // over capacity: the same breach, escalated
    let critical = alerts.next_data().await.1;
    assert_eq!(critical["_id"], breach["_id"]);
    assert_eq!(critical["severity"], "critical");

    app.set_count("a", 9).await; // 90%: 5+ points below 100%, the breach resolves; warning stays
    let resolved = alerts.next_data().await.1;
    assert_eq!(resolved["_id"], breach["_id"]);
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["resolvedAt"].is_string());

    app.set_count("a", 10).await; // full again: a new breach
    let second = alerts.next_data().await.1;
    assert_eq!(second["type"], "capacity_breach");
    assert_ne!(second["_id"], breach["_id"]);
    app.set_count("a", 9).await;
    assert_eq!(alerts.next_data().await.1["_id"], second["_id"]);

    app.set_count("a", 9).await; // no duplicate warning while one is active
    app.set_count("a", 8).await; // 80%: 10 points below 90%, the warning resolves
    let warning_resolved = alerts.next_data().await.1;
    assert_eq!(warning_resolved["_id"], warning["_id"]);
    assert_eq!(warning_resolved["status"], "resolved");
    alerts.expect_silence(Duration::from_millis(200)).await;

    let active = app.get_json("/api/alerts?status=active").await;
    assert_eq!(active, json!([]));
    let all = app.get_json("/api/alerts?lot=a").await;
    let ids: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["_id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(
        ids[2], warning["_id"],
        "newest first: the warning was raised first"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_warning_resolves_only_five_points_below_its_threshold() {
    let app = spawn_app().await;
    put(
        &app,
        "/api/lots/a",
        json!({"name": "A", "totalSlots": 100, "warningThreshold": 0.8}),
    )
    .await;
    let mut alerts = app.subscribe("types=alert").await;
    alerts.connected().await;
    app.set_count("a", 80).await;
    let warning = alerts.next_data().await.1;
    app.set_count("a", 76).await; // 4 points below: still active
    alerts.expect_silence(Duration::from_millis(200)).await;
    app.set_count("a", 75).await; // 5 points below: resolved
    let resolved = alerts.next_data().await.1;
    assert_eq!(
        (resolved["_id"].clone(), resolved["status"].clone()),
        (warning["_id"].clone(), json!("resolved"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_silent_camera_raises_camera_offline_and_its_next_report_resolves_it() {
    let app = spawn_app_with(|s| s.camera_timeout = Duration::from_millis(200)).await;
    app.put_lot("a", 100).await;
    let mut alerts = app.subscribe("types=alert").await;
    alerts.connected().await;
    let report = json!({"parkingLotId": "a", "cameraId": "cam-1", "occupied": 10});
    let answer: Value = post(&app, "/api/monitor/lot", report.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["occupied"], 10);

    let offline = alerts.next_data().await.1;
    assert_eq!(offline["type"], "camera_offline");
    assert_eq!(offline["severity"], "high");
    assert!(offline["message"].as_str().unwrap().contains("cam-1"));
    assert_eq!(
        app.get_json("/api/alerts?status=active").await[0]["_id"],
        offline["_id"]
    );

    post(&app, "/api/monitor/lot", report).await;
    let back = alerts.next_data().await.1;
    assert_eq!(back["_id"], offline["_id"]);
    assert_eq!(back["status"], "resolved");
    app.stop().await;
}

#[tokio::test]
async fn operators_acknowledge_and_resolve_with_409_on_invalid_transitions() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    app.set_count("a", 10).await;
    let mut second_page = app.subscribe("types=alert").await;
    second_page.connected().await;
    let alerts = app.get_json("/api/alerts?status=active&limit=1").await;
    let id = alerts[0]["_id"].as_str().unwrap().to_owned();

    let ack = post(&app, &format!("/api/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(ack.status(), 200);
    let ack: Value = ack.json().await.unwrap();
    assert_eq!(ack["status"], "acknowledged");
    assert!(ack["acknowledgedAt"].is_string());
    assert_eq!(
        second_page.next_data().await.1,
        ack,
        "every open dashboard sees the change"
    );
    assert_eq!(
        post(&app, &format!("/api/alerts/{id}/acknowledge"), json!({}))
            .await
            .status(),
        409
    );

    let resolved: Value = post(&app, &format!("/api/alerts/{id}/resolve"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["status"], "resolved");
    let again = post(&app, &format!("/api/alerts/{id}/resolve"), json!({})).await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"]["code"],
        "conflict"
    );
    assert_eq!(
        post(&app, "/api/alerts/alert_nope/resolve", json!({}))
            .await
            .status(),
        404
    );

    contractor(&app, "acme", json!({"name": "Acme", "allocations": [{"parkingLotId": "a", "allocatedCapacity": 1}], "plates": []})).await;
    gate(&app, "a", "vehicle_entry", "STRANGER", None).await;
    let violation = app.get_json("/api/violations?status=pending").await[0].clone();
    let vid = violation["_id"].as_str().unwrap();
    let acked: Value = post(
        &app,
        &format!("/api/violations/{vid}/acknowledge"),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(
        post(
            &app,
            &format!("/api/violations/{vid}/acknowledge"),
            json!({})
        )
        .await
        .status(),
        409
    );
    assert_eq!(
        post(&app, &format!("/api/violations/{vid}/resolve"), json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(&app, &format!("/api/violations/{vid}/resolve"), json!({}))
            .await
            .status(),
        409
    );
    assert_eq!(
        app.get_json("/api/violations?status=resolved").await[0]["_id"],
        violation["_id"]
    );
    app.stop().await;
}

#[tokio::test]
async fn contractor_settings_are_checked_against_lots_and_other_contractors() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let unknown_lot = contractor(&app, "acme", json!({"name": "Acme", "allocations": [{"parkingLotId": "nowhere", "allocatedCapacity": 1}]})).await;
    assert_eq!(unknown_lot.status(), 404);
    assert_eq!(
        unknown_lot.json::<Value>().await.unwrap()["error"]["field"],
        "allocations[0].parkingLotId"
    );
    assert_eq!(
        contractor(&app, "acme", json!({"name": "Acme", "plates": ["AB1"]}))
            .await
            .status(),
        201
    );
    let taken = contractor(&app, "rival", json!({"name": "Rival", "plates": ["ab-1"]})).await;
    assert_eq!(taken.status(), 409);
    assert_eq!(
        contractor(
            &app,
            "acme",
            json!({"name": "Acme", "plates": ["AB1", "CD2"]})
        )
        .await
        .status(),
        200
    );
    for (body, field) in [
        (json!({"name": "", "plates": []}), "name"),
        (json!({"name": "X", "plates": [""]}), "plates[0]"),
        (
            json!({"name": "X", "penaltyPerVehicle": -5}),
            "penaltyPerVehicle",
        ),
    ] {
        let response = contractor(&app, "x", body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"]["field"],
            field
        );
    }
    let list = app.get_json("/api/contractors").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["plates"], json!(["AB1", "CD2"]));
    app.stop().await;
}

#[tokio::test]
async fn bad_monitor_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let cases = [
        (
            "/api/monitor/gate",
            json!({"parkingLotId": "a", "event": "vehicle_parked", "plateNumber": "P1"}),
            422,
            "event",
        ),
        (
            "/api/monitor/gate",
            json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": ""}),
            422,
            "plateNumber",
        ),
        (
            "/api/monitor/gate",
            json!({"parkingLotId": "a", "event": "vehicle_entry"}),
            422,
            "plateNumber",
        ),
        (
            "/api/monitor/gate",
            json!({"parkingLotId": "zz", "event": "vehicle_entry", "plateNumber": "P1"}),
            404,
            "parkingLotId",
        ),
        (
            "/api/monitor/gate",
            json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "P1", "timestamp": "2099-01-01T00:00:00Z"}),
            422,
            "timestamp",
        ),
        (
            "/api/monitor/gate",
            json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "P1", "timestamp": "noon"}),
            422,
            "timestamp",
        ),
        (
            "/api/monitor/gate",
            json!([{"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "P1"}, {"parkingLotId": "a", "event": "x", "plateNumber": "P2"}]),
            422,
            "[1].event",
        ),
        (
            "/api/monitor/lot",
            json!({"parkingLotId": "a", "occupied": 3}),
            422,
            "cameraId",
        ),
        (
            "/api/monitor/lot",
            json!({"parkingLotId": "a", "cameraId": "c 1", "occupied": 3}),
            422,
            "cameraId",
        ),
        (
            "/api/monitor/lot",
            json!({"parkingLotId": "a", "cameraId": "c1", "occupied": -3}),
            422,
            "occupied",
        ),
    ];
    for (path, body, status, field) in cases {
        let response = post(&app, path, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let wrong_type = app
        .http
        .post(app.url("/api/monitor/gate"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 0);
    assert_eq!(app.get_json("/api/violations").await, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn list_queries_refuse_bad_parameters() {
    let app = spawn_app().await;
    for query in ["status=open", "limit=0", "limit=1001", "limit=ten"] {
        for list in ["alerts", "violations"] {
            let url = app.url(&format!("/api/{list}?{query}"));
            let response = app.http.get(url).send().await.unwrap();
            assert_eq!(response.status(), 400, "{list}?{query}");
        }
    }
    let response = app
        .http
        .get(app.url("/api/violations"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("last-event-id"));
    app.stop().await;
}
