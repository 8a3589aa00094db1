//! Stored occupancy history (`GET /api/history/occupancy?lot=&from=&to=&step=`): per-minute
//! and per-hour rollups written with the counts, kept across restarts, pruned by age.

use std::time::Duration;

use parkstream_protocol::Timestamp;
use serde_json::{json, Value};

use crate::helpers::{count_batch, spawn_app_with, TestApp};

/// `now` moved by `seconds` (negative: the past), as a query value.
fn ago(seconds: i64) -> String {
    Timestamp::from_unix_millis(Timestamp::now().unix_millis() - seconds * 1000)
        .unwrap()
        .to_string()
}

/// The buckets of lot `lot` at `step` over the last two hours.
pub(crate) async fn buckets(app: &TestApp, lot: &str, step: &str) -> Vec<Value> {
    buckets_since(app, lot, step, 7200).await
}

/// The buckets of lot `lot` at `step` from `seconds` ago (from the start of that bucket) to
/// half a second ahead.
async fn buckets_since(app: &TestApp, lot: &str, step: &str, seconds: i64) -> Vec<Value> {
    let now = Timestamp::now().unix_millis();
    let at = |millis| Timestamp::from_unix_millis(millis).unwrap();
    let answer = app
        .get_json(&format!(
            "/api/history/occupancy?lot={lot}&from={}&to={}&step={step}",
            at(now - seconds * 1000),
            at(now + 500)
        ))
        .await;
    assert_eq!(answer["parkingLotId"], lot);
    assert_eq!(answer["step"], step);
    answer["buckets"].as_array().expect("buckets").clone()
}

/// Lowest, highest and last count, number of reports and their sum, over `buckets`.
pub(crate) fn summary(buckets: &[Value]) -> (u64, u64, u64, u64, f64) {
    let field = |b: &Value, f: &str| b[f].as_u64().unwrap();
    let min = buckets.iter().map(|b| field(b, "min")).min().unwrap();
    let max = buckets.iter().map(|b| field(b, "max")).max().unwrap();
    let last = field(buckets.last().unwrap(), "last");
    let samples = buckets.iter().map(|b| field(b, "samples")).sum();
    let sum = buckets
        .iter()
        .map(|b| b["mean"].as_f64().unwrap() * b["samples"].as_f64().unwrap())
        .sum::<f64>()
        .round();
    (min, max, last, samples, sum)
}

async fn gate(app: &TestApp, event: &str, plate: &str) {
    let response = app
        .http
        .post(app.url("/api/monitor/gate"))
        .json(
            &json!({"parkingLotId": "a", "gateId": "north", "event": event, "plateNumber": plate}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{event} {plate}");
}

#[tokio::test]
async fn minute_rollups_hold_the_reported_counts_agree_with_hours_and_survive_a_restart() {
    let app = spawn_app_with(|_| {}).await;
    app.put_lot("a", 10).await; // its creation reports 0
    app.put_lot("b", 10).await;
    for n in [3, 7, 1, 5] {
        app.set_count("a", n).await;
    }
    // A batch is one command: each of its counts still counts.
    assert_eq!(
        app.post_capacity(&count_batch("a", [6, 2, 9, 4]))
            .await
            .status(),
        200
    );
    gate(&app, "vehicle_entry", "KA01AB0001").await; // 5
    gate(&app, "vehicle_exit", "KA01AB0001").await; // 4
    app.set_count("b", 8).await;
    let reported: [u64; 11] = [0, 3, 7, 1, 5, 6, 2, 9, 4, 5, 4];
    let expected = (0, 9, 4, 11, reported.iter().sum::<u64>() as f64);

    let minutes = buckets(&app, "a", "1m").await;
    assert!(!minutes.is_empty() && minutes.len() <= 2, "{minutes:?}");
    assert_eq!(summary(&minutes), expected, "{minutes:?}");
    assert_eq!(minutes.last().unwrap()["totalSlots"], 10);
    let hours = buckets(&app, "a", "1h").await;
    assert_eq!(
        summary(&hours),
        expected,
        "hours agree with minutes: {hours:?}"
    );
    assert_eq!(summary(&buckets(&app, "b", "1m").await), (0, 8, 8, 2, 8.0));

    let app = app.restart().await;
    assert_eq!(
        buckets(&app, "a", "1m").await,
        minutes,
        "stored, not in memory"
    );
    assert_eq!(buckets(&app, "a", "1h").await, hours);
    // After the restart new counts add to the same rows.
    app.set_count("a", 10).await;
    let (min, max, last, samples, _) = summary(&buckets(&app, "a", "1h").await);
    assert_eq!((min, max, last, samples), (0, 10, 10, 12));
    app.stop().await;
}

#[tokio::test]
async fn without_a_step_short_ranges_get_minutes_and_long_ones_hours() {
    let app = spawn_app_with(|_| {}).await;
    app.put_lot("a", 10).await;
    app.set_count("a", 2).await;
    let day = app
        .get_json(&format!(
            "/api/history/occupancy?lot=a&from={}",
            ago(86_000)
        ))
        .await;
    assert_eq!(day["step"], "1m");
    let week = app
        .get_json(&format!(
            "/api/history/occupancy?lot=a&from={}&to={}",
            ago(7 * 86_400),
            ago(-60)
        ))
        .await;
    assert_eq!(week["step"], "1h");
    assert_eq!(week["buckets"][0]["last"], 2);
    // The recent history kept in memory answers as before.
    let recent = app.get_json("/api/history/occupancy?lot=a&minutes=5").await;
    assert!(recent["lots"]["a"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn bad_stored_history_queries_are_refused_naming_the_parameter() {
    let app = spawn_app_with(|_| {}).await;
    app.put_lot("a", 10).await;
    let (hour_ago, now) = (ago(3600), ago(0));
    let cases = [
        (
            "from_after_to",
            format!("lot=a&from={now}&to={hour_ago}"),
            422,
            "from",
        ),
        (
            "range_too_long_for_minutes",
            format!("lot=a&from={}&step=1m", ago(8 * 86_400)),
            422,
            "to",
        ),
        (
            "range_too_long_for_hours",
            format!("lot=a&from={}&step=1h", ago(401 * 86_400)),
            422,
            "to",
        ),
        (
            "bad_step",
            format!("lot=a&from={hour_ago}&step=5m"),
            422,
            "step",
        ),
        ("bad_from", "lot=a&from=yesterday".to_owned(), 422, "from"),
        (
            "bad_to",
            format!("lot=a&from={hour_ago}&to=2026-13-01T00:00:00Z"),
            422,
            "to",
        ),
        ("missing_from", format!("lot=a&to={now}"), 422, "from"),
        ("missing_lot", format!("from={hour_ago}"), 422, "lot"),
        (
            "minutes_with_from",
            format!("lot=a&from={hour_ago}&minutes=5"),
            422,
            "minutes",
        ),
        (
            "unknown_lot",
            format!("lot=nowhere&from={hour_ago}"),
            404,
            "lot",
        ),
    ];
    for (name, query, status, field) in cases {
        let response = app
            .http
            .get(app.url(&format!("/api/history/occupancy?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{name}: {body}");
        let code = if status == 404 {
            "not_found"
        } else {
            "invalid_value"
        };
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn rows_older_than_the_retention_are_deleted() {
    let app = spawn_app_with(|s| {
        s.history_minutes_retention = Duration::from_secs(1);
        s.history_hours_retention = Duration::from_secs(1);
    })
    .await;
    app.put_lot("a", 10).await;
    app.set_count("a", 5).await;
    // Ranges are limited to what is kept: a second back, which starts at its bucket's start.
    assert_eq!(summary(&buckets_since(&app, "a", "1m", 0).await).3, 2);
    // The bucket started more than a second ago: the next commit deletes it (at most once a
    // second) before it writes the new count.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    app.set_count("a", 7).await;
    for step in ["1m", "1h"] {
        let rows = buckets_since(&app, "a", step, 0).await;
        assert_eq!(summary(&rows), (7, 7, 7, 1, 7.0), "{step}: {rows:?}");
    }
    app.stop().await;
}
