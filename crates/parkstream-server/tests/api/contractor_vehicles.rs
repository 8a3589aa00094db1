//! `GET /api/contractors/{id}/vehicles`: a contractor's vehicles inside now against its
//! allocations, and who may read it.

use std::time::Duration;

use parkstream_server::auth::{mint, Role};
use serde_json::{json, Value};

use crate::auth::{get, post, secured, token, SECRET};
use crate::helpers::spawn_app;
use crate::rules::{contractor, gate};

#[tokio::test]
async fn a_contractors_vehicles_inside_are_listed_by_lot_against_its_allocations() {
    let app = spawn_app().await;
    for lot in ["a", "b", "c"] {
        app.put_lot(lot, 10).await;
    }
    let allocations = json!([{"parkingLotId": "a", "allocatedCapacity": 2}, {"parkingLotId": "b", "allocatedCapacity": 5}]);
    let created = contractor(
        &app,
        "acme",
        json!({"name": "Acme", "allocations": allocations, "plates": ["A1", "A2", "A3"]}),
    )
    .await;
    assert_eq!(created.status(), 201);
    contractor(&app, "zen", json!({"name": "Zen", "plates": ["Z1"]})).await;
    gate(&app, "a", "vehicle_entry", "a-1", None).await;
    gate(&app, "a", "vehicle_entry", "A2", None).await;
    gate(&app, "c", "vehicle_entry", "A3", None).await;
    gate(&app, "a", "vehicle_entry", "Z1", None).await;
    gate(&app, "a", "vehicle_entry", "U1", None).await;
    // One that left is no longer listed.
    gate(&app, "a", "vehicle_exit", "A2", None).await;

    let body = app.get_json("/api/contractors/acme/vehicles").await;
    assert_eq!(body["contractorId"], "acme");
    assert_eq!(body["name"], "Acme");
    assert_eq!(
        body["lots"],
        json!([
            {"parkingLotId": "a", "allocatedCapacity": 2, "vehiclesInside": 1},
            {"parkingLotId": "b", "allocatedCapacity": 5, "vehiclesInside": 0},
            // No allocation there, but a vehicle inside: shown, with 0.
            {"parkingLotId": "c", "allocatedCapacity": 0, "vehiclesInside": 1},
        ])
    );
    let vehicles = body["vehicles"].as_array().unwrap();
    let plates: Vec<(&str, &str)> = vehicles
        .iter()
        .map(|v| (v["plate"].as_str().unwrap(), v["lot"].as_str().unwrap()))
        .collect();
    assert_eq!(plates, [("A1", "a"), ("A3", "c")]);
    assert_eq!(vehicles[0]["gate"], "north");
    assert!(vehicles[0]["since"].is_string());

    // The list follows restarts: stays are stored.
    let app = app.restart().await;
    let reloaded = app.get_json("/api/contractors/acme/vehicles").await;
    assert_eq!(reloaded["vehicles"], body["vehicles"]);

    let unknown = app
        .http
        .get(app.url("/api/contractors/nobody/vehicles"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let error: Value = unknown.json().await.unwrap();
    assert_eq!(
        (
            error["error"]["code"].clone(),
            error["error"]["field"].clone()
        ),
        (json!("not_found"), json!("id"))
    );
}

#[tokio::test]
async fn admins_operators_and_the_contractor_itself_read_it_and_nobody_else() {
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
            .json(&json!({"name": id, "allocations": [{"parkingLotId": "a", "allocatedCapacity": 5}, {"parkingLotId": "b", "allocatedCapacity": 5}], "plates": [plate]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    for (lot, plate) in [("a", "A1"), ("a", "Z1")] {
        let body = json!({"parkingLotId": lot, "event": "vehicle_entry", "plateNumber": plate});
        assert_eq!(post(&app, "/api/monitor/gate", &admin, body).await, 200);
    }
    let contractor_token = |id: &str, lots: Option<Vec<String>>| {
        mint(
            SECRET.as_bytes(),
            &format!("{id}-app"),
            Role::Contractor,
            Some(id),
            lots,
            Duration::from_secs(600),
        )
        .unwrap()
    };
    let acme = contractor_token("acme", None);
    let (status, own) = get(&app, "/api/contractors/acme/vehicles", Some(&acme)).await;
    assert_eq!(status, 200, "{own}");
    let own_plates: Vec<&str> = own["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["plate"].as_str().unwrap())
        .collect();
    assert_eq!(own_plates, ["A1"], "never another contractor's vehicle");
    let (status, body) = get(&app, "/api/contractors/zen/vehicles", Some(&acme)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );
    for role in [Role::Admin, Role::Operator] {
        let (status, body) = get(&app, "/api/contractors/zen/vehicles", Some(&token(role))).await;
        assert_eq!(status, 200, "{role:?}");
        assert_eq!(body["vehicles"][0]["plate"], "Z1");
    }
    for role in [Role::Viewer, Role::Monitor] {
        let (status, _) = get(&app, "/api/contractors/acme/vehicles", Some(&token(role))).await;
        assert_eq!(status, 403, "{role:?}");
    }
    assert_eq!(
        get(&app, "/api/contractors/acme/vehicles", None).await.0,
        401
    );

    // A `lots` claim: only those lots, allocations and vehicles alike.
    let only_b = contractor_token("acme", Some(vec!["b".into()]));
    let (status, scoped) = get(&app, "/api/contractors/acme/vehicles", Some(&only_b)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (scoped["lots"].clone(), scoped["vehicles"].clone()),
        (
            json!([{"parkingLotId": "b", "allocatedCapacity": 5, "vehiclesInside": 0}]),
            json!([])
        )
    );
}
