//! The lot fields the open data feed publishes (`latitude`, `longitude`, `timeZone`,
//! `openingStatus`, `public`): checked, stored, replaced with the lot, and documented.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

async fn put_lot(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.http
        .put(app.url(&format!("/api/lots/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn new_lot_fields_round_trip_replace_with_the_lot_and_survive_a_restart() {
    let app = spawn_app().await;
    let body = json!({"name": "North", "totalSlots": 10, "latitude": -33.8688,
        "longitude": 151.2093, "timeZone": "Australia/Sydney",
        "openingStatus": "temporarilyClosed", "public": true});
    let created: Value = put_lot(&app, "north", body).await.json().await.unwrap();
    let plain: Value = put_lot(&app, "plain", json!({"name": "Plain", "totalSlots": 3}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        plain["public"], false,
        "an existing client's lot is private"
    );
    assert!(plain["latitude"].is_null() && plain["timeZone"].is_null());
    let app = app.restart().await;
    let shown = app.get_json("/api/lots/north").await;
    for (field, value) in [
        ("latitude", json!(-33.8688)),
        ("longitude", json!(151.2093)),
        ("timeZone", json!("Australia/Sydney")),
        ("openingStatus", json!("temporarilyClosed")),
        ("public", json!(true)),
    ] {
        assert_eq!(created[field], value, "{field} answered");
        assert_eq!(shown[field], value, "{field} after a restart");
    }
    assert_eq!(app.get_json("/api/lots/plain").await, plain);
    // PUT replaces the lot: fields left out are cleared.
    let replaced: Value = put_lot(&app, "north", json!({"name": "North", "totalSlots": 10}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["public"], false);
    assert!(replaced["latitude"].is_null() && replaced["openingStatus"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn bad_lot_fields_are_422_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let good = json!({"name": "A", "totalSlots": 4, "latitude": 10.0, "longitude": 20.0,
        "timeZone": "UTC", "openingStatus": "open", "public": true});
    assert_eq!(put_lot(&app, "a", good).await.status(), 201);
    let before = app.get_json("/api/lots/a").await;
    for (extra, field) in [
        (json!({"latitude": 90.5, "longitude": 0}), "latitude"),
        (json!({"latitude": 0, "longitude": -180.01}), "longitude"),
        (json!({"latitude": 5}), "longitude"),
        (json!({"longitude": 5}), "latitude"),
        (json!({"latitude": "north", "longitude": 5}), "latitude"),
        (json!({"timeZone": "Mars/Olympus_Mons"}), "timeZone"),
        (json!({"timeZone": ""}), "timeZone"),
        (json!({"openingStatus": "unknown"}), "openingStatus"),
        (json!({"openingStatus": "OPEN"}), "openingStatus"),
        (json!({"public": "yes"}), "public"),
    ] {
        let mut body = json!({"name": "B", "totalSlots": 9});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let response = put_lot(&app, "a", body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_value", "{body}");
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert_eq!(app.get_json("/api/lots/a").await, before);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_lot_fields_and_the_open_endpoints() {
    let app = spawn_app().await;
    let doc = app.get_json("/api/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    for schema in ["LotSpec", "LotView"] {
        let properties = &schemas[schema]["properties"];
        for field in [
            "latitude",
            "longitude",
            "timeZone",
            "openingStatus",
            "public",
        ] {
            assert!(properties.get(field).is_some(), "{schema}.{field}");
        }
    }
    let statuses = serde_json::to_string(&schemas["OpeningStatus"]).unwrap();
    for status in ["open", "closed", "statusUnknown", "temporarilyClosed"] {
        assert!(statuses.contains(&format!("\"{status}\"")), "{status}");
    }
    for path in [
        "/api/open/datex2/parking-table",
        "/api/open/datex2/parking-status",
        "/api/open/apds/places",
        "/api/open/apds/places/{id}",
    ] {
        let get = &doc["paths"][path]["get"];
        assert!(get["security"].as_array().unwrap().is_empty(), "{path}");
        assert!(get["responses"].get("304").is_some(), "{path}");
        assert!(get["responses"].get("429").is_some(), "{path}");
    }
    app.stop().await;
}
