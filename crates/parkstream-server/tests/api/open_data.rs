//! The open occupancy feed (`--open-data`): the four documents' shapes,
//! that nothing of a private lot (nor any plate, contractor or camera) is published, and the
//! poller's HTTP: conditional requests, gzip, caching and the per-address rate.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, PATIENCE};

const TABLE: &str = "/api/open/datex2/parking-table";
pub(crate) const STATUS: &str = "/api/open/datex2/parking-status";
const PLACES: &str = "/api/open/apds/places";
const DOCUMENTS: [&str; 4] = [TABLE, STATUS, PLACES, "/api/open/apds/places/pub"];

const D2: &str = "http://datex2.eu/schema/3/d2Payload";
pub(crate) const COM: &str = "http://datex2.eu/schema/3/common";
pub(crate) const FAC: &str = "http://datex2.eu/schema/3/facilities";
const LOC: &str = "http://datex2.eu/schema/3/locationReferencing";
pub(crate) const PRK: &str = "http://datex2.eu/schema/3/parking";
pub(crate) const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

pub(crate) async fn open_app() -> TestApp {
    spawn_app_with(|s| s.open_data.open_data = true).await
}

async fn put_lot(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.http
        .put(app.url(&format!("/api/lots/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http.get(app.url(path)).send().await.unwrap()
}

pub(crate) async fn text(app: &TestApp, path: &str) -> String {
    let response = get(app, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.unwrap()
}

/// A public lot "pub" (whose name needs escaping) at 8 of 10 with a threshold of 0.8, a
/// public lot "full" at 5 of 5, and a private lot "priv" with a contractor, plates and a
/// camera in both.
pub(crate) async fn lots_with_secrets(app: &TestApp) {
    let public = json!({"name": "North <Garage> & \"Co\"", "totalSlots": 10,
        "warningThreshold": 0.8, "latitude": 52.0907, "longitude": 5.1214,
        "timeZone": "Europe/Amsterdam", "openingStatus": "open", "public": true});
    assert_eq!(put_lot(app, "pub", public).await.status(), 201);
    let full = json!({"name": "Station", "totalSlots": 5, "public": true});
    assert_eq!(put_lot(app, "full", full).await.status(), 201);
    let private = json!({"name": "Secret depot", "totalSlots": 50,
        "latitude": 1.5, "longitude": 2.5, "timeZone": "Asia/Tokyo"});
    assert_eq!(put_lot(app, "priv", private).await.status(), 201);
    let contractor = json!({"name": "Acme Hauling", "plates": ["KA01SECRET", "KA02HIDDEN"],
        "allocations": [{"parkingLotId": "priv", "allocatedCapacity": 1},
                        {"parkingLotId": "pub", "allocatedCapacity": 1}]});
    let response = app
        .http
        .put(app.url("/api/contractors/acme"))
        .json(&contractor)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    for (lot, plate) in [("priv", "KA01SECRET"), ("pub", "KA02HIDDEN")] {
        let gate = json!({"parkingLotId": lot, "gateId": "gate-hidden", "event": "vehicle_entry",
            "plateNumber": plate});
        let response = app
            .http
            .post(app.url("/api/monitor/gate"))
            .json(&gate)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let camera = json!({"parkingLotId": "priv", "cameraId": "cam-hidden", "occupied": 40});
    let response = app
        .http
        .post(app.url("/api/monitor/lot"))
        .json(&camera)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.set_count("pub", 8).await;
    app.set_count("full", 5).await;
}

pub(crate) fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> roxmltree::Node<'a, 'i> {
    node.children()
        .find(|n| n.has_tag_name((ns, name)))
        .unwrap_or_else(|| panic!("no {name} in {:?}", node.tag_name()))
}

pub(crate) fn child_text(node: roxmltree::Node<'_, '_>, ns: &str, name: &str) -> String {
    child(node, ns, name).text().unwrap_or("").to_owned()
}

/// The `d2:payload` root of `xml`, checked to be a DATEX II v3 publication of `xsi_type`
/// with its publication time and creator.
fn payload<'a>(doc: &'a roxmltree::Document<'a>, xsi_type: &str) -> roxmltree::Node<'a, 'a> {
    let root = doc.root_element();
    assert!(root.has_tag_name((D2, "payload")));
    assert_eq!(root.attribute((XSI, "type")), Some(xsi_type));
    assert_eq!(root.attribute("modelBaseVersion"), Some("3"));
    assert!(root.attribute("lang").is_some());
    assert_eq!(root.lookup_prefix(PRK), Some("prk"), "xsi:type names prk:");
    assert!(!child_text(root, COM, "publicationTime").is_empty());
    let creator = child(root, COM, "publicationCreator");
    assert_eq!(child_text(creator, COM, "country"), "zz");
    assert_eq!(child_text(creator, COM, "nationalIdentifier"), "parkstream");
    root
}

#[tokio::test]
async fn without_open_data_the_open_urls_are_404() {
    let app = spawn_app().await;
    put_lot(
        &app,
        "pub",
        json!({"name": "P", "totalSlots": 5, "public": true}),
    )
    .await;
    for path in DOCUMENTS {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_datex_parking_table_lists_each_public_lot_as_a_place() {
    let app = open_app().await;
    lots_with_secrets(&app).await;
    let xml = text(&app, TABLE).await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = payload(&doc, "prk:ParkingTablePublication");
    let table = child(root, PRK, "parkingTable");
    assert!(table.attribute("id").is_some() && table.attribute("version").is_some());
    assert!(!child_text(table, PRK, "versionTime").is_empty());
    let places: Vec<_> = table
        .children()
        .filter(|n| n.has_tag_name((PRK, "hierarchyElementGeneral")))
        .collect();
    let ids: Vec<_> = places.iter().map(|p| p.attribute("id").unwrap()).collect();
    assert_eq!(ids, ["full", "pub"]);
    let place = places[1];
    assert_eq!(place.attribute((XSI, "type")), Some("prk:Place"));
    assert_eq!(place.attribute("version"), Some("1"));
    let name = child(
        child(child(place, FAC, "name"), COM, "values"),
        COM,
        "value",
    );
    assert_eq!(name.text(), Some("North <Garage> & \"Co\""));
    let location = child(place, FAC, "locationReference");
    assert_eq!(location.attribute((XSI, "type")), Some("loc:PointLocation"));
    let point = child(
        child(location, LOC, "pointByCoordinates"),
        LOC,
        "pointCoordinates",
    );
    assert_eq!(child_text(point, LOC, "latitude"), "52.0907");
    assert_eq!(child_text(point, LOC, "longitude"), "5.1214");
    assert_eq!(child_text(place, PRK, "layer"), "0");
    assert_eq!(child_text(place, PRK, "type"), "place");
    let supply = child(place, PRK, "supply");
    assert_eq!(child_text(supply, PRK, "quantity"), "10");
    assert_eq!(child_text(supply, PRK, "viewType"), "spaceView");
    // A lot without a position has no location.
    assert!(!places[0]
        .children()
        .any(|n| n.has_tag_name((FAC, "locationReference"))));
    app.stop().await;
}

#[tokio::test]
async fn the_datex_parking_status_gives_each_public_lots_occupancy() {
    let app = open_app().await;
    lots_with_secrets(&app).await;
    let xml = text(&app, STATUS).await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = payload(&doc, "prk:ParkingStatusPublication");
    let reference = child(root, PRK, "parkingTableReference");
    assert_eq!(reference.attribute("targetClass"), Some("prk:ParkingTable"));
    // The status now: the records without a validity (the expected ones are in
    // open_data_expected.rs).
    let statuses: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name((PRK, "parkingStatusInformation")))
        .filter(|n| {
            !n.children()
                .any(|c| c.has_tag_name((PRK, "statusValidity")))
        })
        .collect();
    assert_eq!(statuses.len(), 2);
    let of = |id: &str| {
        *statuses
            .iter()
            .find(|s| child(**s, FAC, "reference").attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no status of {id}"))
    };
    let public = of("pub");
    assert_eq!(public.attribute((XSI, "type")), Some("prk:PlaceStatus"));
    assert_eq!(
        child(public, FAC, "reference").attribute("targetClass"),
        Some("fac:FacilityObject")
    );
    assert!(!child_text(public, FAC, "lastUpdated").is_empty());
    assert_eq!(child_text(public, FAC, "openingStatus"), "open");
    let occupancy = child(public, PRK, "occupancy");
    assert_eq!(child_text(occupancy, PRK, "numberOfVacantSpaces"), "2");
    assert_eq!(child_text(occupancy, PRK, "numberOfOccupiedSpaces"), "8");
    assert_eq!(child_text(occupancy, PRK, "occupancy"), "80");
    let trend = child_text(occupancy, PRK, "occupancyTrend");
    assert!(
        ["increasing", "decreasing", "stable"].contains(&trend.as_str()),
        "{trend}"
    );
    assert_eq!(
        child_text(public, PRK, "status"),
        "almostFull",
        "its own 0.8"
    );
    let full = of("full");
    assert_eq!(child_text(full, PRK, "status"), "full");
    assert!(!full
        .children()
        .any(|n| n.has_tag_name((FAC, "openingStatus"))));
    app.stop().await;
}

#[tokio::test]
async fn apds_places_carry_supply_and_with_expand_the_counted_demand() {
    let app = open_app().await;
    lots_with_secrets(&app).await;
    let list: Value = get(&app, PLACES).await.json().await.unwrap();
    assert_eq!(list["meta"]["total"], 2);
    assert_eq!(list["meta"]["offset"], 0);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data
        .iter()
        .all(|p| p["hierarchyElementReference"].get("demandTable").is_none()));

    let place: Value = get(&app, "/api/open/apds/places/pub?expand=occupancy")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(place["id"], "pub");
    assert_eq!(place["version"], 1);
    assert_eq!(place["type"], "parkingPlace");
    assert_eq!(place["layer"], 0);
    assert_eq!(place["name"][0]["string"], "North <Garage> & \"Co\"");
    assert!(place["hierarchyElementRecord"]["creationTime"].is_string());
    assert_eq!(place["timeZone"], "Europe/Amsterdam");
    let point = &place["indicativePlacePointLocation"][0]["pointCoordinates"];
    assert_eq!(point["epsgCode"], "EPSG:4326");
    assert_eq!(point["y"], 52.0907);
    assert_eq!(point["x"], 5.1214);
    let reference = &place["hierarchyElementReference"];
    assert_eq!(reference["elementId"]["id"], "pub");
    assert_eq!(
        reference["supply"],
        json!([{"supplyViewType": "spaceView", "supplyQuantity": 10}])
    );
    let table = &reference["demandTable"][0];
    assert!(table["timestamp"].is_string());
    let counted = &table["demandType"][0];
    assert_eq!(counted["occupancyCalculation"], "counted");
    assert_eq!(counted["count"], 8);
    assert_eq!(counted["percentage"], 80.0);
    assert!(counted["recordDateTime"].is_string());

    let listed: Value = get(&app, "/api/open/apds/places?expand=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][1], place);
    let station: Value = get(&app, "/api/open/apds/places/full")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(station["timeZone"], "UTC", "a lot without one is in UTC");

    for (path, status) in [
        ("/api/open/apds/places/priv", 404),
        ("/api/open/apds/places/nowhere", 404),
        ("/api/open/apds/places?expand=plates", 400),
    ] {
        assert_eq!(get(&app, path).await.status(), status, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn nothing_of_a_private_lot_nor_any_plate_contractor_or_camera_is_published() {
    let app = spawn_app_with(|s| {
        s.open_data.open_data = true;
        s.open_data.open_data_interval = Duration::from_secs(1);
    })
    .await;
    lots_with_secrets(&app).await;
    let paths = DOCUMENTS
        .into_iter()
        .chain(["/api/open/apds/places?expand=all"]);
    for path in paths {
        let body = text(&app, path).await;
        for secret in [
            "priv",
            "Secret depot",
            "Asia/Tokyo",
            "KA01SECRET",
            "KA02HIDDEN",
            "acme",
            "Acme",
            "gate-hidden",
            "cam-hidden",
        ] {
            assert!(!body.contains(secret), "{path} shows {secret:?}: {body}");
        }
    }
    // A lot made private again leaves the feed once it is rebuilt.
    put_lot(&app, "pub", json!({"name": "North", "totalSlots": 10})).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = get(&app, "/api/open/apds/places/pub").await.status();
        if status == 404 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn pollers_get_validators_304_gzip_and_a_short_public_cache() {
    let app = spawn_app_with(|s| {
        s.open_data.open_data = true;
        s.open_data.open_data_interval = Duration::from_secs(3600);
    })
    .await;
    lots_with_secrets(&app).await;
    for path in DOCUMENTS {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let modified = headers["last-modified"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert!(modified.ends_with(" GMT"), "{modified}");
        assert_eq!(headers["cache-control"], "public, max-age=3600");
        let content_type = headers["content-type"].to_str().unwrap();
        let expected = if path.contains("datex2") {
            "application/xml"
        } else {
            "application/json"
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        let plain = response.bytes().await.unwrap();

        let again = |name: &'static str, value: String| {
            app.http.get(app.url(path)).header(name, value).send()
        };
        let by_tag = again("if-none-match", etag.clone()).await.unwrap();
        assert_eq!(by_tag.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(by_tag.headers()["etag"].to_str().unwrap(), etag);
        assert!(by_tag.bytes().await.unwrap().is_empty());
        let by_date = again("if-modified-since", modified.clone()).await.unwrap();
        assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED, "{path}");
        let other_tag = again("if-none-match", "\"0\"".into()).await.unwrap();
        assert_eq!(other_tag.status(), 200, "{path}");
        let old_date = "Thu, 01 Jan 1970 00:00:00 GMT".to_owned();
        assert_eq!(
            again("if-modified-since", old_date).await.unwrap().status(),
            200
        );

        let zipped = again("accept-encoding", "gzip".into()).await.unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped.bytes().await.unwrap()[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain, "{path}");
    }
    // Within the interval a change does not rebuild the documents: pollers are served the
    // same snapshot.
    let tag = get(&app, STATUS).await.headers()["etag"].clone();
    app.set_count("pub", 3).await;
    assert_eq!(get(&app, STATUS).await.headers()["etag"], tag);
    app.stop().await;
}

#[tokio::test]
async fn a_change_is_published_once_the_interval_has_passed() {
    let app = spawn_app_with(|s| {
        s.open_data.open_data = true;
        s.open_data.open_data_interval = Duration::from_secs(1);
    })
    .await;
    lots_with_secrets(&app).await;
    let before = get(&app, STATUS).await.headers()["etag"].clone();
    app.set_count("pub", 3).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let xml = loop {
        let response = get(&app, STATUS).await;
        if response.headers()["etag"] != before {
            break response.text().await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "never rebuilt");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(xml.contains("<prk:numberOfOccupiedSpaces>3<"), "{xml}");
    assert!(xml.contains("<prk:status>spacesAvailable<"), "{xml}");
    app.stop().await;
}

#[tokio::test]
async fn each_address_has_an_open_data_budget_then_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.open_data.open_data = true;
        s.open_data.open_data_rate = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get(&app, PLACES).await.status(), 200);
    }
    let refused = get(&app, TABLE).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    // The rest of the API is not counted against it.
    assert_eq!(get(&app, "/api/lots").await.status(), 200);
    app.stop().await;
}
