//! A day at a lot, driven through the API: what an operator sees at the end is exactly the
//! alerts and violations the day deserved, on REST and on the stream.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_day_at_a_lot_produces_exactly_the_expected_alerts_and_violations() {
    let app = spawn_app().await;
    let put = |path: &str, body: Value| {
        let request = app.http.put(app.url(path)).json(&body);
        async move { assert!(request.send().await.unwrap().status().is_success()) }
    };
    put(
        "/api/lots/north",
        json!({"name": "North", "totalSlots": 10, "maxStaySeconds": 14400}),
    )
    .await;
    put(
        "/api/contractors/acme",
        json!({"name": "Acme",
        "allocations": [{"parkingLotId": "north", "allocatedCapacity": 3}],
        "plates": ["AC1", "AC2", "AC3", "AC4", "AC5"], "penaltyPerVehicle": 1000}),
    )
    .await;
    // In a lot with contractors every vehicle must be registered: the visitors are a pool.
    put(
        "/api/contractors/visitors",
        json!({"name": "Visitor pool",
        "allocations": [{"parkingLotId": "north", "allocatedCapacity": 10}],
        "plates": ["V1", "V2", "V3", "V4", "V5", "V6"]}),
    )
    .await;
    let mut stream = app.subscribe("types=alert,violation").await;
    stream.connected().await;

    // The day is replayed with observation times relative to now, ending a minute ago, so
    // the server's clock (which also checks overstays) agrees with it.
    let gate = |event: &str, plate: &str, minutes_ago: i64| {
        let at = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339();
        let body = json!({"parkingLotId": "north", "gateId": "main", "event": event,
                          "plateNumber": plate, "timestamp": at});
        let request = app.http.post(app.url("/api/monitor/gate")).json(&body);
        async move { assert_eq!(request.send().await.unwrap().status(), 200) }
    };
    // Early: Acme's crew of three arrives for a ten-hour shift.
    for (plate, ago) in [("AC1", 660), ("AC2", 655), ("AC3", 650)] {
        gate("vehicle_entry", plate, ago).await;
    }
    // Afternoon: six visitors fill the lot to 90 %; a fourth Acme van fills it, one van above
    // Acme's allocation; it leaves an hour later; the visitors leave after about two hours.
    for (n, ago) in (1..=6).zip([180, 170, 160, 150, 140, 130]) {
        gate("vehicle_entry", &format!("V{n}"), ago).await;
    }
    gate("vehicle_entry", "AC4", 120).await;
    gate("vehicle_exit", "AC4", 60).await;
    for (n, ago) in (1..=6).zip([50, 48, 46, 44, 42, 40]) {
        gate("vehicle_exit", &format!("V{n}"), ago).await;
    }
    // A car nobody registered drops someone off.
    gate("vehicle_entry", "X1", 30).await;
    gate("vehicle_exit", "X1", 20).await;
    // Evening: the crew leaves.
    for (plate, ago) in [("AC1", 3), ("AC2", 2), ("AC3", 1)] {
        gate("vehicle_exit", plate, ago).await;
    }

    // What the stream said, folded by id to each item's last state.
    let mut last_state: BTreeMap<String, Value> = BTreeMap::new();
    let expected_changes = 11;
    for _ in 0..expected_changes {
        let (_, data) = stream.next_data().await;
        last_state.insert(data["_id"].as_str().unwrap().to_owned(), data);
    }
    stream
        .expect_silence(std::time::Duration::from_millis(300))
        .await;
    let describe = |item: &Value| match item.get("violationType") {
        Some(kind) => format!(
            "violation {} {}",
            kind.as_str().unwrap(),
            item["status"].as_str().unwrap()
        ),
        None => format!(
            "alert {} {}",
            item["type"].as_str().unwrap(),
            item["status"].as_str().unwrap()
        ),
    };
    let mut summary: Vec<String> = last_state.values().map(describe).collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            "alert capacity_breach resolved",
            "alert capacity_warning resolved",
            "alert violation_detected active",
            "violation capacity_breach pending",
            "violation overparking pending",
            "violation overparking pending",
            "violation overparking pending",
            "violation unauthorized_vehicle pending",
        ]
    );
    let of_type = |kind: &str| -> Vec<&Value> {
        last_state
            .values()
            .filter(|v| v["violationType"] == kind)
            .collect()
    };
    // The breach: 4 vans for 3 places for one hour, penalty 1 × 1000.
    let breach = of_type("capacity_breach")[0];
    assert_eq!(
        breach["details"],
        json!({"allocatedCapacity": 3, "actualOccupancy": 4, "excessVehicles": 1, "duration": 3600})
    );
    assert_eq!(breach["penalty"], 1000);
    // Only the crew overstayed the four hours the lot allows (by the exit, or earlier).
    let mut overstays: Vec<&str> = of_type("overparking")
        .iter()
        .map(|v| v["plateNumber"].as_str().unwrap())
        .collect();
    overstays.sort();
    assert_eq!(overstays, ["AC1", "AC2", "AC3"]);
    for overstay in of_type("overparking") {
        assert!(overstay["details"]["duration"].as_u64().unwrap() >= 10 * 3600 - 60);
        assert_eq!(
            overstay["penalty"], 1000,
            "the crew's contractor is billed its rate"
        );
    }

    // REST agrees with the stream.
    assert_eq!(app.get_json("/api/lots/north").await["occupied"], 0);
    let violations = app.get_json("/api/violations?lot=north").await;
    assert_eq!(violations.as_array().unwrap().len(), 5);
    assert_eq!(of_type("unauthorized_vehicle")[0]["plateNumber"], "X1");
    let open_alerts = app.get_json("/api/alerts?status=active").await;
    let types: Vec<&str> = open_alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["violation_detected"],
        "only the operator's to-do stays active"
    );
    app.stop().await;
}
