//! `GET /api/contractors/{id}/statement`: a contractor's violations in a period, their
//! penalties and totals, as JSON and CSV; who may read which; bad periods.

use std::time::Duration;

use parkstream_server::auth::{mint, Role};
use serde_json::{json, Value};

use parkstream_server::auth::Secret;
use parkstream_server::config::AuthMode;

use crate::auth::{get, post, token, SECRET};
use crate::helpers::{spawn_app_with, TestApp};

fn at(offset_seconds: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::seconds(offset_seconds);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn contractor_token(id: &str) -> String {
    mint(
        SECRET.as_bytes(),
        id,
        Role::Contractor,
        Some(id),
        None,
        Duration::from_secs(600),
    )
    .unwrap()
}

/// Acme (allocated 1 in `a`, 100 per vehicle) with a capacity breach of 2 in `a` and an
/// unauthorized vehicle in `b` (Zen's lot); Zen with none. Penalties are in euros.
async fn with_violations() -> TestApp {
    let app = spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new(SECRET));
        s.currency = Some("EUR".parse().expect("a currency"));
    })
    .await;
    let admin = token(Role::Admin);
    for lot in ["a", "b"] {
        app.create_lot_as(&admin, lot, 50).await;
    }
    for (id, body) in [
        (
            "acme",
            json!({"name": "Acme, Inc.", "allocations": [{"parkingLotId": "a", "allocatedCapacity": 1}], "plates": ["A1", "A2", "A3", "A4"], "penaltyPerVehicle": 100}),
        ),
        (
            "zen",
            json!({"name": "Zen", "allocations": [{"parkingLotId": "b", "allocatedCapacity": 5}], "plates": ["Z1"]}),
        ),
    ] {
        let response = app
            .http
            .put(app.url(&format!("/api/contractors/{id}")))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    for (lot, plate) in [("a", "A1"), ("a", "A2"), ("a", "A3"), ("b", "A4")] {
        let body = json!({"parkingLotId": lot, "event": "vehicle_entry", "plateNumber": plate});
        assert_eq!(post(&app, "/api/monitor/gate", &admin, body).await, 200);
    }
    app
}

fn period() -> String {
    format!("from={}&to={}", at(-3600), at(60))
}

#[tokio::test]
async fn statement_totals_equal_the_sum_of_its_violations_penalties() {
    let app = with_violations().await;
    let path = format!("/api/contractors/acme/statement?{}", period());
    for reader in [
        token(Role::Admin),
        token(Role::Operator),
        contractor_token("acme"),
    ] {
        let (status, statement) = get(&app, &path, Some(&reader)).await;
        assert_eq!(status, 200, "{statement}");
        assert_eq!(statement["contractorId"], "acme");
        assert_eq!(statement["currency"], "EUR", "--currency");
        let lines = statement["violations"].as_array().unwrap();
        let kinds: Vec<(&str, &str, u64)> = lines
            .iter()
            .map(|l| {
                (
                    l["type"].as_str().unwrap(),
                    l["lot"].as_str().unwrap(),
                    l["penalty"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("capacity_breach", "a", 200),
                ("unauthorized_vehicle", "b", 100)
            ]
        );
        let sum: u64 = kinds.iter().map(|k| k.2).sum();
        assert_eq!(statement["totals"]["penalty"], sum);
        assert_eq!(
            statement["totals"]["byType"],
            json!({"capacity_breach": 200, "unauthorized_vehicle": 100})
        );
        assert_eq!(statement["totals"]["byLot"], json!({"a": 200, "b": 100}));
    }
    // The same violations, and penalties, as the list shows.
    let (_, listed) = get(
        &app,
        "/api/violations?contractor=acme",
        Some(&token(Role::Admin)),
    )
    .await;
    let listed: u64 = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["penalty"].as_u64().unwrap())
        .sum();
    assert_eq!(listed, 300);
    // A period before everything: nothing, and zero.
    let (_, empty) = get(
        &app,
        "/api/contractors/zen/statement?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
        Some(&token(Role::Admin)),
    )
    .await;
    assert_eq!(empty["violations"], json!([]));
    assert_eq!(
        empty["totals"],
        json!({"penalty": 0, "byType": {}, "byLot": {}})
    );
}

/// Parses RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn the_csv_statement_parses_back_to_the_same_rows() {
    let app = with_violations().await;
    let admin = token(Role::Admin);
    let path = format!("/api/contractors/acme/statement?{}", period());
    let (_, json) = get(&app, &path, Some(&admin)).await;
    let response = app
        .http
        .get(app.url(&path))
        .bearer_auth(&admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"statement-acme-"),
        "{disposition}"
    );
    assert!(disposition.ends_with(".csv\""), "{disposition}");
    let text = response.text().await.unwrap();
    assert!(text.contains("\r\n"), "CRLF line ends");
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        [
            "violationId",
            "type",
            "lot",
            "timestamp",
            "plateNumber",
            "status",
            "penalty"
        ]
    );
    let expected: Vec<Vec<String>> = json["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l: &Value| {
            [
                "violationId",
                "type",
                "lot",
                "timestamp",
                "plateNumber",
                "status",
            ]
            .iter()
            .map(|k| l[*k].as_str().unwrap_or("").to_owned())
            .chain([l["penalty"].to_string()])
            .collect()
        })
        .collect();
    assert_eq!(rows[1..], expected[..]);
    assert_eq!(
        parse_csv("a,\"b,\"\"c\"\"\r\nd\"\r\n"),
        [vec!["a".to_owned(), "b,\"c\"\r\nd".to_owned()]]
    );
}

#[tokio::test]
async fn a_contractor_reads_only_its_own_statement() {
    let app = with_violations().await;
    let path = format!("/api/contractors/acme/statement?{}", period());
    let (status, body) = get(&app, &path, Some(&contractor_token("zen"))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    for role in [Role::Viewer, Role::Monitor] {
        assert_eq!(
            get(&app, &path, Some(&token(role))).await.0,
            403,
            "{role:?}"
        );
    }
    let own = format!("/api/contractors/zen/statement?{}", period());
    assert_eq!(get(&app, &own, Some(&contractor_token("zen"))).await.0, 200);
}

#[tokio::test]
async fn statements_refuse_from_after_to_a_range_too_long_and_unknown_contractors() {
    let app = with_violations().await;
    let admin = token(Role::Admin);
    for (query, field) in [
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", "to"),
        ("to=2026-01-03T00:00:00Z", "from"),
        ("from=2026-01-01T00:00:00Z", "to"),
        ("from=monday&to=2026-01-03T00:00:00Z", "from"),
    ] {
        let (status, body) = get(
            &app,
            &format!("/api/contractors/acme/statement?{query}"),
            Some(&admin),
        )
        .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_value", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
    let year = "from=2024-01-01T00:00:00Z&to=2024-12-31T23:59:59Z";
    assert_eq!(
        get(
            &app,
            &format!("/api/contractors/acme/statement?{year}"),
            Some(&admin)
        )
        .await
        .0,
        200,
        "366 days of a leap year"
    );
    let (status, body) = get(
        &app,
        &format!("/api/contractors/nobody/statement?{}", period()),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}
