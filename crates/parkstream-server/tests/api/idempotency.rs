//! Idempotent gate events (`eventId`): keyed by lot and id, bodies compared on replay, and the
//! answers kept within a window of time and a count, in memory and in the database.

use std::time::Duration;

use parkstream_server::auth::{mint, Role, Secret};
use parkstream_server::config::AuthMode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

const SECRET: &str = "test-secret-0123456789abcdef";

async fn post_gate(app: &TestApp, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut request = app.http.post(app.url("/api/monitor/gate")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn entry(event_id: &str, lot: &str, plate: &str) -> Value {
    json!({"eventId": event_id, "parkingLotId": lot, "gateId": "north",
           "event": "vehicle_entry", "plateNumber": plate})
}

#[tokio::test]
async fn an_event_id_reused_in_another_lot_is_applied_there_and_reveals_nothing() {
    let app = spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new(SECRET));
    })
    .await;
    let admin = mint(
        SECRET.as_bytes(),
        "test",
        Role::Admin,
        None,
        None,
        Duration::from_secs(600),
    )
    .unwrap();
    // The gate backend of lot b, which may ingest but read nothing.
    let monitor = mint(
        SECRET.as_bytes(),
        "gates-b",
        Role::Monitor,
        None,
        None,
        Duration::from_secs(600),
    )
    .unwrap();
    for lot in ["a", "b"] {
        app.create_lot_as(&admin, lot, 10).await;
    }

    let (status, in_a) = post_gate(&app, &entry("gate-1", "a", "SECRET1"), Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(in_a["plateNumber"], "SECRET1");

    let (status, in_b) = post_gate(&app, &entry("gate-1", "b", "OTHER2"), Some(&monitor)).await;
    assert_eq!(status, 200, "{in_b}");
    assert_eq!(in_b["parkingLotId"], "b");
    assert_eq!(in_b["plateNumber"], "OTHER2");
    assert_eq!(in_b["occupied"], 1);
    assert!(
        !in_b.to_string().contains("SECRET1"),
        "lot a's answer leaked: {in_b}"
    );

    let lot = |id: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let got: Value = app
                .http
                .get(app.url(&format!("/api/lots/{id}")))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            got["occupied"].as_u64().unwrap()
        }
    };
    assert_eq!(
        (lot("a").await, lot("b").await),
        (1, 1),
        "both entries count"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_replay_with_a_different_body_is_409_idempotency_conflict() {
    let app = spawn_app_with(|_| {}).await;
    app.put_lot("a", 10).await;
    let original = json!({"eventId": "gate-7", "parkingLotId": "a", "gateId": "north",
                          "event": "vehicle_entry", "plateNumber": "KA-01 AB 1234",
                          "timestamp": "2026-01-05T08:00:00Z"});
    let (status, first) = post_gate(&app, &original, None).await;
    assert_eq!(status, 200);

    // The same event, written differently (plate and time normalize to the same): the first
    // answer again.
    let mut same = original.clone();
    same["plateNumber"] = json!("ka01ab1234");
    same["timestamp"] = json!("2026-01-05T09:00:00.000+01:00");
    assert_eq!(post_gate(&app, &same, None).await, (200, first.clone()));

    let changes: [(&str, Value); 5] = [
        ("plateNumber", json!("ZZ9")),
        ("event", json!("vehicle_exit")),
        ("gateId", json!("south")),
        ("gateId", Value::Null),
        ("timestamp", json!("2026-01-05T08:00:01Z")),
    ];
    for (field, value) in changes {
        let mut changed = original.clone();
        if value.is_null() {
            changed.as_object_mut().unwrap().remove(field);
        } else {
            changed[field] = value;
        }
        let (status, body) = post_gate(&app, &changed, None).await;
        assert_eq!(status, 409, "{field} changed: {body}");
        assert_eq!(body["error"]["code"], "idempotency_conflict");
        assert_eq!(body["error"]["field"], "eventId");
        let text = body.to_string();
        assert!(
            !text.contains("KA01AB1234") && !text.contains("occupied"),
            "the stored answer is not revealed: {text}"
        );
    }

    // In a batch the error names the item, and nothing of the batch is applied.
    let batch = json!([entry("gate-8", "a", "NEW1"), entry("gate-7", "a", "ZZ9")]);
    let (status, body) = post_gate(&app, &batch, None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_conflict");
    assert_eq!(body["error"]["field"], "[1].eventId");
    // Two items of one batch with one id and different bodies conflict too.
    let batch = json!([entry("gate-9", "a", "NEW1"), entry("gate-9", "a", "NEW2")]);
    let (status, body) = post_gate(&app, &batch, None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "[1].eventId");
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 1);

    // A time with more than milliseconds is compared as stored, to the millisecond.
    let fine = json!({"eventId": "gate-10", "parkingLotId": "a", "event": "vehicle_exit",
                      "plateNumber": "NEW1", "timestamp": "2026-01-05T08:00:00.123456Z"});
    let (status, fine_answer) = post_gate(&app, &fine, None).await;
    assert_eq!(status, 200);

    // What identifies the request is stored with its answer: the same after a restart.
    let app = app.restart().await;
    assert_eq!(post_gate(&app, &fine, None).await, (200, fine_answer));
    let mut changed = original.clone();
    changed["plateNumber"] = json!("ZZ9");
    assert_eq!(post_gate(&app, &changed, None).await.0, 409);
    assert_eq!(post_gate(&app, &original, None).await, (200, first));
    assert_eq!(
        app.get_json("/api/lots/a").await["occupied"],
        0,
        "one entry, one exit"
    );
    app.stop().await;
}

/// How many gate answers the database holds, read from it directly.
async fn stored_answers(app: &TestApp) -> i64 {
    use sqlx::Connection;
    let url = &app.settings.database_url;
    let sql = "SELECT count(*) FROM gate_answers";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

const KEPT: &str = "parkstream_idempotency_answers";

#[tokio::test]
async fn gate_answers_stay_within_idempotency_max_and_the_oldest_are_forgotten() {
    let app = spawn_app_with(|s| s.idempotency_max = 20).await;
    app.put_lot("a", 1000).await;
    let mut answers = Vec::new();
    // 50 ids one request each, then 50 in two batches (forgetting within one commit).
    for n in 0..50 {
        let (status, answer) =
            post_gate(&app, &entry(&format!("e{n}"), "a", &format!("P{n}")), None).await;
        assert_eq!(status, 200);
        answers.push(answer);
    }
    for first in [50, 75] {
        let batch: Vec<Value> = (first..first + 25)
            .map(|n| entry(&format!("e{n}"), "a", &format!("P{n}")))
            .collect();
        let (status, answer) = post_gate(&app, &Value::Array(batch), None).await;
        assert_eq!(status, 200);
        answers.extend(answer.as_array().unwrap().iter().cloned());
    }
    assert_eq!(stored_answers(&app).await, 20, "the database keeps the cap");
    assert_eq!(app.metric(KEPT).await, 20.0, "memory keeps the cap");

    // The newest 20 are remembered: a replay answers the same and changes nothing.
    for (n, answer) in answers.iter().enumerate().skip(80) {
        let replay = entry(&format!("e{n}"), "a", &format!("P{n}"));
        assert_eq!(post_gate(&app, &replay, None).await, (200, answer.clone()));
    }
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 100);
    // The oldest was forgotten: the same id is a new event (a second entry of P0).
    let (status, again) = post_gate(&app, &entry("e0", "a", "P0"), None).await;
    assert_eq!(status, 200);
    assert_eq!(again["occupied"], 101);
    assert_eq!(stored_answers(&app).await, 20);

    // A restart keeps them; with a lower cap it loads (and keeps) only the newest.
    let app = app.restart().await;
    assert_eq!(app.metric(KEPT).await, 20.0);
    assert_eq!(
        post_gate(&app, &entry("e99", "a", "P99"), None).await,
        (200, answers[99].clone())
    );
    let app = app.restart_with(|s| s.idempotency_max = 5).await;
    // (Over HTTP first: the server answers once it has loaded.)
    assert_eq!(app.metric(KEPT).await, 5.0);
    assert_eq!(stored_answers(&app).await, 5);
    assert_eq!(
        post_gate(&app, &entry("e0", "a", "P0"), None).await,
        (200, again),
        "the newest answer is among the five"
    );
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 101);
    app.stop().await;
}

#[tokio::test]
async fn an_answer_older_than_idempotency_window_is_forgotten_and_its_id_is_new_again() {
    let app = spawn_app_with(|s| s.idempotency_window = Duration::from_secs(1)).await;
    app.put_lot("a", 10).await;
    let body = entry("e1", "a", "AB1");
    let (_, first) = post_gate(&app, &body, None).await;
    assert_eq!(post_gate(&app, &body, None).await, (200, first));
    // The clock's tick forgets it, in memory and in the database, with no gate event coming.
    let deadline = tokio::time::Instant::now() + crate::helpers::PATIENCE;
    while stored_answers(&app).await > 0 || app.metric(KEPT).await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answer is never forgotten"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, again) = post_gate(&app, &body, None).await;
    assert_eq!(status, 200);
    assert_eq!(again["occupied"], 2, "a new event");
    app.stop().await;
}

/// Runs `parkstream ARGS`, which should exit at once (a server that starts is killed).
async fn refused(args: &[&str], env: Option<(&str, &str)>) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"));
    command.args(args).kill_on_drop(true);
    if let Some((key, value)) = env {
        command.env(key, value);
    }
    tokio::time::timeout(crate::helpers::PATIENCE, command.output())
        .await
        .unwrap_or_else(|_| panic!("{args:?} {env:?} started a server"))
        .unwrap()
}

#[tokio::test]
async fn bad_idempotency_flags_are_refused_with_exit_status_2() {
    let bad: [(&str, &str); 6] = [
        ("--idempotency-max", "0"),
        ("--idempotency-max", "-5"),
        ("--idempotency-max", "10000001"),
        ("--idempotency-window", "0s"),
        ("--idempotency-window", "721h"),
        ("--idempotency-window", "a day"),
    ];
    for (flag, value) in bad {
        // `--flag=value`, so that `-5` is taken as the value.
        let arg = format!("{flag}={value}");
        let output = refused(&["serve", "--database-url", "sqlite::memory:", &arg], None).await;
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
    let output = refused(
        &["serve", "--database-url", "sqlite::memory:"],
        Some(("PARKSTREAM_IDEMPOTENCY_MAX", "0")),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "the environment twin");
}

#[tokio::test]
async fn the_openapi_document_lists_409_idempotency_conflict_for_gate_events() {
    let app = spawn_app_with(|_| {}).await;
    let doc = app.get_json("/api/openapi.json").await;
    let conflict = &doc["paths"]["/api/monitor/gate"]["post"]["responses"]["409"];
    assert!(
        conflict["description"]
            .as_str()
            .is_some_and(|d| d.contains("idempotency_conflict")),
        "{conflict}"
    );
    app.stop().await;
}
