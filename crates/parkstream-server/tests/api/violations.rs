//! The contractor rules of docs/rules.md (allocation breaches, unauthorized vehicles,
//! overparking), driven only through the HTTP API and observed on REST and on the stream.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};
use crate::rules::{contractor, gate, next_of, put};

#[tokio::test]
async fn a_contractor_above_its_allocation_gets_one_violation_with_penalty_and_an_alert() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    let response = contractor(
        &app,
        "acme",
        json!({"name": "Acme", "allocations": [{"parkingLotId": "a", "allocatedCapacity": 2}],
        "plates": ["P1", "P2", "P3", "P4"], "penaltyPerVehicle": 700}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let mut stream = app.subscribe("types=alert,violation").await;
    stream.connected().await;

    gate(&app, "a", "vehicle_entry", "P1", None).await;
    gate(&app, "a", "vehicle_entry", "P2", None).await;
    gate(
        &app,
        "a",
        "vehicle_entry",
        "P3",
        Some("2026-11-26T08:00:00Z"),
    )
    .await;
    let violation = next_of(&mut stream, "violation").await;
    assert_eq!(violation["violationType"], "capacity_breach");
    assert_eq!(violation["contractorId"], "acme");
    assert_eq!(violation["status"], "pending");
    assert_eq!(
        violation["details"],
        json!({"allocatedCapacity": 2, "actualOccupancy": 3, "excessVehicles": 1, "duration": 0})
    );
    assert_eq!(violation["penalty"], 700);
    let alert = next_of(&mut stream, "alert").await;
    assert_eq!(alert["type"], "violation_detected");
    assert_eq!(alert["contractorId"], "acme");

    gate(&app, "a", "vehicle_entry", "P4", None).await; // worse: the same violation grows
    let grown = next_of(&mut stream, "violation").await;
    assert_eq!(grown["_id"], violation["_id"]);
    assert_eq!(grown["details"]["excessVehicles"], 2);
    assert_eq!(grown["penalty"], 1400);

    gate(&app, "a", "vehicle_exit", "P4", None).await; // still above: nothing new
    gate(
        &app,
        "a",
        "vehicle_exit",
        "P3",
        Some("2026-11-26T08:30:00Z"),
    )
    .await; // back within
    let ended = next_of(&mut stream, "violation").await;
    assert_eq!(ended["_id"], violation["_id"]);
    assert_eq!(ended["details"]["duration"], 1800);
    assert_eq!(
        ended["penalty"], 1400,
        "the penalty is the peak excess times the rate"
    );

    let listed = app.get_json("/api/violations?contractor=acme").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0], ended);
    let acme = app.get_json("/api/contractors/acme").await;
    assert_eq!(
        acme["occupancy"],
        json!([{"parkingLotId": "a", "vehicles": 2}])
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unregistered_plate_in_a_lot_with_contractors_is_an_unauthorized_vehicle() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    app.put_lot("free", 100).await;
    contractor(&app, "acme", json!({"name": "Acme", "allocations": [{"parkingLotId": "a", "allocatedCapacity": 5}], "plates": ["P1"]})).await;
    contractor(
        &app,
        "other",
        json!({"name": "Other", "allocations": [], "plates": ["Q1"]}),
    )
    .await;
    let mut stream = app.subscribe("types=violation").await;
    stream.connected().await;

    gate(&app, "a", "vehicle_entry", "P1", None).await; // registered for this lot: fine
    gate(&app, "free", "vehicle_entry", "X9", None).await; // lot without contractors: fine
    gate(&app, "a", "vehicle_entry", "X9", None).await;
    let violation = stream.next_data().await.1;
    assert_eq!(violation["violationType"], "unauthorized_vehicle");
    assert!(violation["contractorId"].is_null());
    assert_eq!(violation["plateNumber"], "X9");
    assert_eq!(violation["parkingLotId"], "a");

    gate(&app, "a", "vehicle_entry", "Q1", None).await; // a contractor's plate, not allocated here
    let violation = stream.next_data().await.1;
    assert_eq!(violation["violationType"], "unauthorized_vehicle");
    assert_eq!(violation["contractorId"], "other");
    assert_eq!(violation["penalty"], 500);
    stream.expect_silence(Duration::from_millis(200)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_stay_longer_than_the_lot_allows_is_overparking_once() {
    let app = spawn_app_with(|s| s.camera_timeout = Duration::from_millis(200)).await;
    put(
        &app,
        "/api/lots/a",
        json!({"name": "A", "totalSlots": 10, "maxStaySeconds": 3600}),
    )
    .await;
    let mut stream = app.subscribe("types=violation").await;
    stream.connected().await;
    let two_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    gate(&app, "a", "vehicle_entry", "LONG1", Some(&two_hours_ago)).await;
    gate(&app, "a", "vehicle_entry", "SHORT1", None).await;
    let violation = stream.next_data().await.1;
    assert_eq!(violation["violationType"], "overparking");
    assert_eq!(violation["plateNumber"], "LONG1");
    assert!(violation["details"]["duration"].as_u64().unwrap() >= 7200);
    gate(&app, "a", "vehicle_exit", "LONG1", None).await; // already flagged: no second one
    stream.expect_silence(Duration::from_millis(400)).await;
    app.stop().await;
}
