//! `POST /api/capacity/update`: batches, and every kind of bad input refused without change.

use serde_json::{json, Value};

use crate::helpers::{count_batch, spawn_app, spawn_app_with, TestApp};

const PUBLISHED: &str = "parkstream_events_published_total{type=\"capacity_update\"}";

/// Sends `body` raw with `content_type`, checks the status and the error shape, and that
/// nothing changed: the lot's count and the number of published events.
async fn refused(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
    status: u16,
    code: &str,
) -> Value {
    let published = app.metric(PUBLISHED).await;
    let response = app
        .http
        .post(app.url("/api/capacity/update"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), status);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], code, "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    let lot = app.get_json("/api/lots/a").await;
    assert_eq!(lot["occupied"], 10, "the count is unchanged");
    assert_eq!(
        app.metric(PUBLISHED).await,
        published,
        "nothing was published"
    );
    error
}

async fn app_with_lot() -> TestApp {
    let app = spawn_app_with(|s| s.max_body_bytes = 4096).await;
    app.put_lot("a", 100).await;
    app.set_count("a", 10).await;
    app
}

const JSON: &str = "application/json";

#[tokio::test]
async fn malformed_json_is_refused_with_400() {
    let app = app_with_lot().await;
    refused(
        &app,
        JSON,
        r#"{"parkingLotId": "a", "occupied": 1"#,
        400,
        "malformed_json",
    )
    .await;
    refused(&app, JSON, "", 400, "malformed_json").await;
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_type_is_refused_with_422_naming_the_field() {
    let app = app_with_lot().await;
    let error = refused(
        &app,
        JSON,
        r#"{"parkingLotId": "a", "occupied": "ten"}"#,
        422,
        "invalid_value",
    )
    .await;
    assert_eq!(error["error"]["field"], "occupied");
    let error = refused(
        &app,
        JSON,
        r#"{"parkingLotId": 7, "occupied": 1}"#,
        422,
        "invalid_value",
    )
    .await;
    assert_eq!(error["error"]["field"], "parkingLotId");
    refused(&app, JSON, "42", 422, "invalid_value").await;
    app.stop().await;
}

#[tokio::test]
async fn a_missing_field_is_refused_with_422_naming_it() {
    let app = app_with_lot().await;
    let error = refused(&app, JSON, r#"{"parkingLotId": "a"}"#, 422, "invalid_value").await;
    assert_eq!(error["error"]["field"], "occupied");
    app.stop().await;
}

#[tokio::test]
async fn negative_and_fractional_counts_are_refused_with_422() {
    let app = app_with_lot().await;
    for body in [
        r#"{"parkingLotId": "a", "occupied": -1}"#,
        r#"{"parkingLotId": "a", "occupied": 1.5}"#,
        r#"{"parkingLotId": "a", "occupied": 1, "totalSlots": -100}"#,
        r#"{"parkingLotId": "a", "occupied": 99999999999}"#,
    ] {
        refused(&app, JSON, body, 422, "invalid_value").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_lot_is_refused_with_404() {
    let app = app_with_lot().await;
    let error = refused(
        &app,
        JSON,
        r#"{"parkingLotId": "nowhere", "occupied": 1}"#,
        404,
        "not_found",
    )
    .await;
    assert_eq!(error["error"]["field"], "parkingLotId");
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = app_with_lot().await;
    let big = count_batch("a", 0..500).to_string();
    assert!(big.len() > 4096);
    refused(&app, JSON, big.clone(), 413, "payload_too_large").await;
    // Without Content-Length (chunked), the limit holds too.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(big)];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    refused(&app, JSON, body, 413, "payload_too_large").await;
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_content_type_is_refused_with_415() {
    let app = app_with_lot().await;
    let body = r#"{"parkingLotId": "a", "occupied": 1}"#;
    refused(&app, "text/plain", body, 415, "unsupported_media_type").await;
    refused(
        &app,
        "application/x-www-form-urlencoded",
        body,
        415,
        "unsupported_media_type",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_timestamp_far_in_the_future_or_not_rfc3339_is_refused_with_422() {
    let app = app_with_lot().await;
    let future = (chrono::Utc::now() + chrono::Duration::minutes(6)).to_rfc3339();
    let body = json!({"parkingLotId": "a", "occupied": 1, "timestamp": future}).to_string();
    let error = refused(&app, JSON, body, 422, "invalid_value").await;
    assert_eq!(error["error"]["field"], "timestamp");
    for bad in ["yesterday", "2026-11-26 10:00:00", "1700000000"] {
        let body = json!({"parkingLotId": "a", "occupied": 1, "timestamp": bad}).to_string();
        let error = refused(&app, JSON, body, 422, "invalid_value").await;
        assert_eq!(error["error"]["field"], "timestamp");
    }
    // A little ahead (clock skew) is fine.
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(4)).to_rfc3339();
    let response = app
        .post_capacity(&json!({"parkingLotId": "a", "occupied": 11, "timestamp": soon}))
        .await;
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_batch_is_applied_in_order_and_answered_with_an_array() {
    let app = app_with_lot().await;
    app.put_lot("b", 50).await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    let response = app
        .post_capacity(&json!([
            {"parkingLotId": "a", "occupied": 20},
            {"parkingLotId": "b", "occupied": 5},
            {"parkingLotId": "a", "occupied": 21},
        ]))
        .await;
    assert_eq!(response.status(), 200);
    let answers: Vec<Value> = response.json().await.unwrap();
    let counts: Vec<_> = answers
        .iter()
        .map(|a| a["occupied"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![20, 5, 21]);
    assert_eq!(stream.next_counts(3).await, vec![20, 5, 21]);
    app.stop().await;
}

#[tokio::test]
async fn one_invalid_item_refuses_the_whole_batch_naming_its_index() {
    let app = app_with_lot().await;
    let body = json!([
        {"parkingLotId": "a", "occupied": 20},
        {"parkingLotId": "a", "occupied": -2},
    ]);
    let error = refused(&app, JSON, body.to_string(), 422, "invalid_value").await;
    assert_eq!(error["error"]["field"], "[1].occupied");
    let body = json!([
        {"parkingLotId": "a", "occupied": 20},
        {"parkingLotId": "a", "occupied": 21},
        {"parkingLotId": "ghost", "occupied": 1},
    ]);
    let error = refused(&app, JSON, body.to_string(), 404, "not_found").await;
    assert_eq!(error["error"]["field"], "[2].parkingLotId");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("item 2"));
    app.stop().await;
}

#[tokio::test]
async fn an_empty_batch_changes_nothing() {
    let app = spawn_app().await;
    let response = app.post_capacity(&json!([])).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(app.metric(PUBLISHED).await, 0.0);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_never_stops_the_server() {
    let app = app_with_lot().await;
    for body in [
        "\u{0}",
        "[[[[[[[[",
        "{\"parkingLotId\": \"\u{1F697}\", \"occupied\": 1}",
        "null",
    ] {
        let response = app
            .http
            .post(app.url("/api/capacity/update"))
            .header("content-type", JSON)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{body:?}: {}",
            response.status()
        );
    }
    assert_eq!(app.set_count("a", 12).await["occupied"], 12);
    app.stop().await;
}

#[tokio::test]
async fn a_900_kb_plate_is_refused_quoting_only_a_short_prefix_of_it() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let plate = "X".repeat(900_000);
    let response = app
        .http
        .post(app.url("/api/monitor/gate"))
        .json(&json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": plate}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.len() < 1_000, "the answer is {} bytes", body.len());
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["field"], "plateNumber");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"XXXXXXXX"),
        "{error}"
    );
    // A long unknown value in a parser's own message is bounded too.
    let event = "y".repeat(100_000);
    let response = app
        .http
        .post(app.url("/api/monitor/gate"))
        .json(&json!({"parkingLotId": "a", "event": event, "plateNumber": "A1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().len() < 1_000);
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_timestamp_before_2000_is_refused_with_422() {
    let app = app_with_lot().await;
    for bad in ["0000-01-01T00:00:00Z", "1999-12-31T23:59:59Z"] {
        let body = json!({"parkingLotId": "a", "occupied": 1, "timestamp": bad}).to_string();
        let error = refused(&app, JSON, body, 422, "invalid_value").await;
        assert_eq!(error["error"]["field"], "timestamp");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_leap_second_is_read_as_the_last_millisecond_of_its_minute() {
    let app = app_with_lot().await;
    let response = app
        .post_capacity(
            &json!({"parkingLotId": "a", "occupied": 12, "timestamp": "2016-12-31T23:59:60Z"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let update: Value = response.json().await.unwrap();
    assert_eq!(update["occupied"], 12);
    // Printed as JavaScript's Date reads it (`23:59:60` is not).
    assert_eq!(update["timestamp"], "2016-12-31T23:59:59.999Z");
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 12);
    app.stop().await;
}
