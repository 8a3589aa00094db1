//! The open feed carries each public lot's forecast: APDS `expected` demand rows and DATEX II
//! place statuses with a period of validity, one per horizon, within the lot's slots.

use serde_json::Value;

use crate::open_data::{
    child, child_text, get, lots_with_secrets, open_app, text, COM, FAC, PRK, STATUS, XSI,
};

const HORIZONS: [u64; 3] = [15, 30, 60];

/// Milliseconds of an RFC 3339 UTC time as the server writes it.
fn millis(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .timestamp_millis()
}

#[tokio::test]
async fn apds_demand_tables_carry_an_expected_row_per_horizon_within_the_slots() {
    let app = open_app().await;
    lots_with_secrets(&app).await;
    let list: Value = get(&app, "/api/open/apds/places?expand=occupancy")
        .await
        .json()
        .await
        .unwrap();
    let places = list["data"].as_array().unwrap();
    assert_eq!(places.len(), 2);
    for place in places {
        let reference = &place["hierarchyElementReference"];
        let slots = reference["supply"][0]["supplyQuantity"].as_u64().unwrap();
        let table = &reference["demandTable"][0];
        let rows = table["demandType"].as_array().unwrap();
        assert_eq!(rows[0]["occupancyCalculation"], "counted");
        let expected = &rows[1..];
        assert_eq!(expected.len(), HORIZONS.len(), "{place}");
        let published = millis(table["timestamp"].as_str().unwrap());
        let mut times = Vec::new();
        for row in expected {
            assert_eq!(row["occupancyCalculation"], "expected");
            let count = row["count"].as_u64().unwrap();
            assert!(count <= slots, "{row}");
            let percentage = row["percentage"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&percentage), "{row}");
            times.push(millis(row["recordDateTime"].as_str().unwrap()));
        }
        // Each row is at its horizon after the forecast's time (itself no earlier than the
        // document's publication time).
        let start = times[0] - 15 * 60_000;
        assert!(start >= published, "{place}");
        for (at, minutes) in times.iter().zip(HORIZONS) {
            assert_eq!(*at - start, minutes as i64 * 60_000, "{place}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn datex_status_gives_each_public_lot_an_expected_status_per_horizon_with_its_validity() {
    let app = open_app().await;
    lots_with_secrets(&app).await;
    let xml = text(&app, STATUS).await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    for (id, slots) in [("pub", 10), ("full", 5)] {
        let expected: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name((PRK, "parkingStatusInformation")))
            .filter(|n| child(*n, FAC, "reference").attribute("id") == Some(id))
            .filter(|n| {
                n.children()
                    .any(|c| c.has_tag_name((PRK, "statusValidity")))
            })
            .collect();
        assert_eq!(expected.len(), HORIZONS.len(), "{id}");
        let mut previous_end = None;
        for (status, minutes) in expected.iter().zip(HORIZONS) {
            assert_eq!(status.attribute((XSI, "type")), Some("prk:PlaceStatus"));
            let occupancy = child(*status, PRK, "occupancy");
            let occupied: u32 = child_text(occupancy, PRK, "numberOfOccupiedSpaces")
                .parse()
                .unwrap();
            let vacant: u32 = child_text(occupancy, PRK, "numberOfVacantSpaces")
                .parse()
                .unwrap();
            assert!(occupied <= slots, "{id}");
            assert_eq!(occupied + vacant, slots, "{id}");
            let validity = child(*status, PRK, "statusValidity");
            assert_eq!(
                validity.attribute((XSI, "type")),
                Some("prk:ValidityByPeriod")
            );
            let period = child(validity, PRK, "validityTimeSpecification");
            let from = millis(&child_text(period, COM, "overallStartTime"));
            let to = millis(&child_text(period, COM, "overallEndTime"));
            // Periods chain: now → +15 → +30 → +60 minutes.
            let start = previous_end.unwrap_or(to - 15 * 60_000);
            assert_eq!(from, start, "{id} +{minutes}");
            previous_end = Some(to);
            if minutes == 60 {
                assert_eq!(to - (from - 30 * 60_000), 60 * 60_000);
            }
            let demand = child(child(*status, PRK, "demandTable"), PRK, "demandType");
            assert_eq!(child_text(demand, PRK, "occupancyCalculation"), "expected");
            assert_eq!(child_text(demand, PRK, "count"), occupied.to_string());
        }
    }
    app.stop().await;
}
