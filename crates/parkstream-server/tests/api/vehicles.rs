//! `GET /api/vehicles/{plate}`: inside or not (from the live stays), its visits with their
//! stays (from gate reports), and who may see which vehicle.

use std::time::Duration;

use parkstream_server::auth::{mint, Role};
use serde_json::{json, Value};

use crate::auth::{get, post, secured, token, SECRET};
use crate::helpers::spawn_app;
use crate::rules::{contractor, gate};

fn ago(seconds: i64) -> String {
    let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_vehicle_inside_then_outside_shows_its_visits_newest_first_with_their_stays() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    app.put_lot("b", 10).await;
    let (entry, exit, again) = (ago(3600), ago(1800), ago(60));
    gate(&app, "a", "vehicle_entry", "KA01AB1234", Some(&entry)).await;
    gate(&app, "a", "vehicle_exit", "KA01AB1234", Some(&exit)).await;
    gate(&app, "b", "vehicle_entry", "KA01AB1234", Some(&again)).await;

    // Any spelling of the plate names the same vehicle.
    let inside = app.get_json("/api/vehicles/ka-01ab1234").await;
    assert_eq!(inside["plate"], "KA01AB1234");
    assert_eq!(inside["inside"], true);
    assert_eq!(inside["lot"], "b");
    assert_eq!(inside["since"], again.as_str());
    assert_eq!(inside["gate"], "north");
    assert_eq!(
        inside["visits"],
        json!([
            {"lot": "b", "gate": "north", "entry": again},
            {"lot": "a", "gate": "north", "entry": entry, "exit": exit, "staySeconds": 1800},
        ])
    );
    let limited = app.get_json("/api/vehicles/KA01AB1234?limit=1").await;
    assert_eq!(limited["visits"].as_array().unwrap().len(), 1);

    gate(&app, "b", "vehicle_exit", "KA01AB1234", None).await;
    let outside = app.get_json("/api/vehicles/KA01AB1234").await;
    assert_eq!(outside["inside"], false);
    assert!(outside.get("lot").is_none() && outside.get("since").is_none());
    let newest = &outside["visits"][0];
    assert_eq!(newest["lot"], "b");
    assert!(newest["exit"].is_string());
    let stay = newest["staySeconds"].as_u64().unwrap();
    assert!((59..=70).contains(&stay), "{stay}");

    // Visits survive a restart (they are stored), the stay is reloaded.
    gate(&app, "a", "vehicle_entry", "KA01AB1234", None).await;
    let app = app.restart().await;
    let reloaded = app.get_json("/api/vehicles/KA01AB1234").await;
    assert_eq!(
        (reloaded["inside"].clone(), reloaded["lot"].clone()),
        (json!(true), json!("a"))
    );
    assert_eq!(reloaded["visits"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn an_unknown_plate_is_404_and_a_malformed_plate_is_refused() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    contractor(&app, "acme", json!({"name": "Acme", "plates": ["REG1"]})).await;
    for never_seen in ["NEVER1", "REG1"] {
        let response = app
            .http
            .get(app.url(&format!("/api/vehicles/{never_seen}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{never_seen}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["field"], "plate");
    }
    for (malformed, status) in [
        ("A.B", 422),
        ("X".repeat(17).as_str(), 422),
        ("A%20B%2F", 422),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/api/vehicles/{malformed}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{malformed}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "plate", "{malformed}");
    }
    let bad_limit = app
        .http
        .get(app.url("/api/vehicles/NEVER1?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_limit.status(), 400);
}

#[tokio::test]
async fn a_contractor_sees_only_its_own_plates_and_a_lots_claim_only_its_lots() {
    let app = secured().await;
    let admin = token(Role::Admin);
    for lot in ["a", "b"] {
        app.create_lot_as(&admin, lot, 10).await;
    }
    for (id, plate) in [("acme", "A1"), ("zen", "Z1")] {
        let response = app
            .http
            .put(app.url(&format!("/api/contractors/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"name": id, "allocations": [{"parkingLotId": "a", "allocatedCapacity": 5}], "plates": [plate]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    for (lot, plate) in [("a", "A1"), ("a", "Z1"), ("b", "U1")] {
        let body = json!({"parkingLotId": lot, "event": "vehicle_entry", "plateNumber": plate});
        assert_eq!(post(&app, "/api/monitor/gate", &admin, body).await, 200);
    }
    let acme = mint(
        SECRET.as_bytes(),
        "acme-app",
        Role::Contractor,
        Some("acme"),
        None,
        Duration::from_secs(600),
    )
    .unwrap();
    let (status, own) = get(&app, "/api/vehicles/A1", Some(&acme)).await;
    assert_eq!((status, own["inside"].clone()), (200, json!(true)));
    for others in ["Z1", "U1"] {
        let (status, body) = get(&app, &format!("/api/vehicles/{others}"), Some(&acme)).await;
        assert_eq!(status, 404, "{others}: {body}");
    }
    let viewer = token(Role::Viewer);
    for plate in ["A1", "Z1", "U1"] {
        assert_eq!(
            get(&app, &format!("/api/vehicles/{plate}"), Some(&viewer))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        get(&app, "/api/vehicles/A1", Some(&token(Role::Monitor)))
            .await
            .0,
        403
    );

    let only_b = mint(
        SECRET.as_bytes(),
        "b-desk",
        Role::Viewer,
        None,
        Some(vec!["b".into()]),
        Duration::from_secs(600),
    )
    .unwrap();
    assert_eq!(get(&app, "/api/vehicles/U1", Some(&only_b)).await.0, 200);
    let (status, _) = get(&app, "/api/vehicles/A1", Some(&only_b)).await;
    assert_eq!(
        status, 404,
        "a vehicle only in lots outside the claim is not shown"
    );
}
