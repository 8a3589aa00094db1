//! Scoping: what a contractor's token and a `lots` claim let a caller see, on the stream and
//! in the lists, and how long a stream lives on a token.

use std::time::Duration;

use parkstream_server::auth::{mint, Role};
use serde_json::{json, Value};

use crate::auth::{get, post, secured, token, SECRET};

fn contractor_token(contractor: &str) -> String {
    mint(
        SECRET.as_bytes(),
        contractor,
        Role::Contractor,
        Some(contractor),
        None,
        Duration::from_secs(600),
    )
    .unwrap()
}

#[tokio::test]
async fn a_contractor_sees_only_its_lots_and_its_own_violations_without_others_plates() {
    let app = secured().await;
    let admin = token(Role::Admin);
    for lot in ["depot", "north"] {
        app.create_lot_as(&admin, lot, 50).await;
    }
    for (id, allocated, plates) in [("acme", 1, vec!["A1", "A2"]), ("zen", 5, vec!["Z1"])] {
        let body = json!({"name": id, "allocations": [{"parkingLotId": "depot", "allocatedCapacity": allocated}], "plates": plates});
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
    let (acme, zen) = (contractor_token("acme"), contractor_token("zen"));
    let mut acme_stream = app.subscribe(&format!("access_token={acme}")).await;
    let mut zen_stream = app.subscribe(&format!("access_token={zen}")).await;
    acme_stream.connected().await;
    zen_stream.connected().await;

    let gate = |lot: &str, plate: &str| json!({"parkingLotId": lot, "event": "vehicle_entry", "plateNumber": plate});
    for (lot, plate) in [
        ("north", "N1"),
        ("depot", "A1"),
        ("depot", "Z1"),
        ("depot", "A2"),
        ("depot", "X1"),
    ] {
        assert_eq!(
            post(&app, "/api/monitor/gate", &admin, gate(lot, plate)).await,
            200
        );
    }

    // Acme's stream: depot updates only, its own plates shown, others hidden; its own
    // violation and alert; nothing of the unregistered car's violation or of North.
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let (kind, data) = acme_stream.next_data().await;
        let label = match kind.as_str() {
            "capacity_update" => format!(
                "update {} {}",
                data["parkingLotId"].as_str().unwrap(),
                data["plateNumber"].as_str().unwrap_or("-")
            ),
            "violation" => format!(
                "violation {} {}",
                data["violationType"].as_str().unwrap(),
                data["contractorId"].as_str().unwrap_or("-")
            ),
            "alert" => format!(
                "alert {} {}",
                data["type"].as_str().unwrap(),
                data["contractorId"].as_str().unwrap_or("-")
            ),
            other => other.to_owned(),
        };
        seen.push(label);
    }
    assert_eq!(
        seen,
        [
            "update depot A1",
            "update depot -",
            "update depot A2",
            "violation capacity_breach acme",
            "alert violation_detected acme",
            "update depot -",
        ]
    );
    acme_stream.expect_silence(Duration::from_millis(200)).await;

    // Zen's stream: the same updates with Acme's plates hidden, and nothing of Acme's breach.
    let mut zen_seen = Vec::new();
    while zen_seen.len() < 4 {
        let (kind, data) = zen_stream.next_data().await;
        assert_eq!(
            kind, "capacity_update",
            "zen sees no one else's violations: {data}"
        );
        zen_seen.push(data["plateNumber"].as_str().unwrap_or("-").to_owned());
    }
    assert_eq!(zen_seen, ["-", "Z1", "-", "-"]);
    zen_stream.expect_silence(Duration::from_millis(200)).await;

    // REST agrees.
    let (status, lots) = get(&app, "/api/lots", Some(&acme)).await;
    assert_eq!(status, 200);
    assert_eq!(lots.as_array().unwrap().len(), 1);
    assert_eq!(lots[0]["parkingLotId"], "depot");
    assert_eq!(get(&app, "/api/lots/north", Some(&acme)).await.0, 404);
    let (_, violations) = get(&app, "/api/violations", Some(&acme)).await;
    assert_eq!(violations.as_array().unwrap().len(), 1);
    assert_eq!(violations[0]["contractorId"], "acme");
    let (_, others) = get(&app, "/api/violations?contractor=acme", Some(&zen)).await;
    assert_eq!(
        others,
        json!([]),
        "asking for another contractor gives nothing"
    );
    let (_, alerts) = get(&app, "/api/alerts", Some(&acme)).await;
    assert!(alerts
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["contractorId"] == "acme"));
    let (_, admin_view) = get(&app, "/api/violations", Some(&admin)).await;
    assert_eq!(
        admin_view.as_array().unwrap().len(),
        2,
        "the admin sees both"
    );
    assert_eq!(
        post(
            &app,
            &format!(
                "/api/violations/{}/resolve",
                violations[0]["_id"].as_str().unwrap()
            ),
            &acme,
            json!({})
        )
        .await,
        403
    );
    app.stop().await;
}

#[tokio::test]
async fn a_lots_claim_narrows_the_stream_and_the_lists() {
    let app = secured().await;
    let admin = token(Role::Admin);
    for lot in ["a", "b"] {
        app.create_lot_as(&admin, lot, 10).await;
    }
    let only_b = mint(
        SECRET.as_bytes(),
        "kiosk",
        Role::Viewer,
        None,
        Some(vec!["b".into()]),
        Duration::from_secs(600),
    )
    .unwrap();
    let mut stream = app.subscribe(&format!("access_token={only_b}")).await;
    stream.connected().await;
    for (lot, n) in [("a", 1), ("b", 2), ("a", 9), ("b", 3)] {
        let body = json!({"parkingLotId": lot, "occupied": n});
        assert_eq!(post(&app, "/api/capacity/update", &admin, body).await, 200);
    }
    assert_eq!(stream.next_counts(2).await, vec![2, 3]);
    stream.expect_silence(Duration::from_millis(200)).await;
    let (_, lots) = get(&app, "/api/lots", Some(&only_b)).await;
    assert_eq!(lots.as_array().unwrap().len(), 1);
    let (_, alerts) = get(&app, "/api/alerts", Some(&only_b)).await;
    assert_eq!(alerts, json!([]), "lot a's 90 % warning is not visible");
    let (_, history) = get(&app, "/api/history/occupancy", Some(&only_b)).await;
    assert_eq!(
        history["lots"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["b"]
    );
    let since = parkstream_protocol::Timestamp::from_unix_millis(
        parkstream_protocol::Timestamp::now().unix_millis() - 3_600_000,
    )
    .unwrap();
    let (status, _) = get(
        &app,
        &format!("/api/history/occupancy?lot=a&from={since}&step=1h"),
        Some(&only_b),
    )
    .await;
    assert_eq!(status, 404, "stored history of a lot outside the claim");
    let (status, stored) = get(
        &app,
        &format!("/api/history/occupancy?lot=b&from={since}&step=1h"),
        Some(&only_b),
    )
    .await;
    assert_eq!(
        (status, stored["buckets"][0]["last"].clone()),
        (200, json!(3))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = secured().await;
    let short = mint(
        SECRET.as_bytes(),
        "tab",
        Role::Viewer,
        None,
        None,
        Duration::from_secs(2),
    )
    .unwrap();
    let started = tokio::time::Instant::now();
    let mut stream = app.subscribe(&format!("access_token={short}")).await;
    stream.connected().await;
    stream.expect_end().await;
    let lasted = started.elapsed();
    // exp has one-second resolution: the stream ends between 1 and 2 s after the mint.
    assert!(
        lasted <= Duration::from_millis(2500),
        "the stream outlived its token: {lasted:?}"
    );
    assert!(
        lasted >= Duration::from_millis(900),
        "it ended early: {lasted:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_open_contractor_stream_loses_a_lot_the_moment_its_allocation_is_removed() {
    let app = secured().await;
    let admin = token(Role::Admin);
    let put = |path: String, body: Value| {
        app.http
            .put(app.url(&path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    for lot in ["depot", "north"] {
        let response = put(
            format!("/api/lots/{lot}"),
            json!({"name": lot, "totalSlots": 50}),
        );
        assert_eq!(response.await.unwrap().status(), 201);
    }
    let allocations = |lots: &[&str]| {
        let allocations: Vec<Value> = lots
            .iter()
            .map(|lot| json!({"parkingLotId": lot, "allocatedCapacity": 5}))
            .collect();
        json!({"name": "Acme", "allocations": allocations, "plates": ["A1"]})
    };
    let created = put("/api/contractors/acme".into(), allocations(&["depot"]));
    assert_eq!(created.await.unwrap().status(), 201);
    let acme = contractor_token("acme");
    let mut stream = app.subscribe(&format!("access_token={acme}")).await;
    stream.connected().await;
    let count = |lot: &str, occupied: u32| {
        post(
            &app,
            "/api/capacity/update",
            &admin,
            json!({"parkingLotId": lot, "occupied": occupied}),
        )
    };
    assert_eq!(count("depot", 1).await, 200);
    assert_eq!(stream.next_data().await.1["parkingLotId"], "depot");

    // Depot taken away, north given: the open stream follows at once.
    let moved = put("/api/contractors/acme".into(), allocations(&["north"]));
    assert_eq!(moved.await.unwrap().status(), 200);
    assert_eq!(count("depot", 2).await, 200);
    assert_eq!(count("north", 3).await, 200);
    let (kind, data) = stream.next_data().await;
    assert_eq!(
        (kind.as_str(), data["parkingLotId"].as_str()),
        ("capacity_update", Some("north")),
        "the depot update after the change is not sent"
    );
    let (status, lots) = get(&app, "/api/lots", Some(&acme)).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = lots
        .as_array()
        .unwrap()
        .iter()
        .map(|lot| lot["parkingLotId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["north"], "REST follows too");
    app.stop().await;
}
