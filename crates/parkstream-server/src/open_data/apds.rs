//! APDS (ISO/TS 5206-1) places: one `Place` per public lot, its supply, and with
//! `expand=occupancy` a demand table of the counted occupancy and the expected one.

use serde_json::{json, Value};

use super::expected::ExpectedDemand;
use super::{PublicLot, Snapshot};

pub const CONTENT_TYPE: &str = "application/json";

/// Lots carry no version of their own: every place is version 1.
const VERSION: u32 = 1;
/// A lot without a `timeZone` is published in UTC (APDS requires one).
const DEFAULT_TIME_ZONE: &str = "UTC";

/// `GET /places`: every public lot, as an APDS paginated list of one page.
pub fn places(snapshot: &Snapshot, occupancy: bool) -> Vec<u8> {
    let data: Vec<Value> = snapshot
        .lots
        .iter()
        .map(|lot| place_json(lot, snapshot, occupancy))
        .collect();
    let body = json!({
        "meta": {
            "referenceInstant": snapshot.published.unix_millis() / 1000,
            "offset": 0,
            "pageSize": data.len(),
            "total": data.len(),
        },
        "data": data,
    });
    serde_json::to_vec(&body).expect("JSON values serialize")
}

/// `GET /places/{id}`: one public lot; `None` when it is not published.
pub fn place(snapshot: &Snapshot, id: &str, occupancy: bool) -> Option<Vec<u8>> {
    let lot = snapshot.lot(id)?;
    Some(serde_json::to_vec(&place_json(lot, snapshot, occupancy)).expect("JSON values serialize"))
}

fn place_json(lot: &PublicLot, snapshot: &Snapshot, occupancy: bool) -> Value {
    let mut reference = json!({
        "elementId": {"id": lot.id, "version": VERSION},
        "supply": [{"supplyViewType": "spaceView", "supplyQuantity": lot.total_slots}],
    });
    if occupancy {
        reference["demandTable"] = json!([demand_table(lot, snapshot, &lot.expected)]);
    }
    let mut place = json!({
        "id": lot.id,
        "version": VERSION,
        "name": [{"language": "en", "string": lot.name}],
        "layer": 0,
        "type": "parkingPlace",
        "hierarchyElementRecord": {"creationTime": lot.updated_at.to_string()},
        "hierarchyElementReference": reference,
        "timeZone": lot.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE),
    });
    if let Some((latitude, longitude)) = lot.position {
        place["indicativePlacePointLocation"] = json!([{
            "pointCoordinates": {"epsgCode": "EPSG:4326", "x": longitude, "y": latitude},
        }]);
    }
    place
}

/// The counted demand now, then the expected rows: APDS rows carry one time, so an expected
/// row's `recordDateTime` is the instant its count is expected at.
fn demand_table(lot: &PublicLot, snapshot: &Snapshot, expected: &[ExpectedDemand]) -> Value {
    let mut rows = vec![json!({
        "count": lot.occupied,
        "percentage": lot.occupancy_percent().min(100.0),
        "occupancyCalculation": "counted",
        "recordDateTime": lot.updated_at.to_string(),
    })];
    rows.extend(expected.iter().map(|row| {
        json!({
            "count": row.count,
            "percentage": row.percentage.clamp(0.0, 100.0),
            "occupancyCalculation": "expected",
            "recordDateTime": row.at.to_string(),
        })
    }));
    json!({"timestamp": snapshot.published.to_string(), "demandType": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open_data::Trend;
    use parkstream_protocol::Timestamp;

    #[test]
    fn expected_rows_follow_the_counted_one() {
        let lot = PublicLot {
            id: "a".into(),
            name: "A".into(),
            total_slots: 10,
            occupied: 12,
            vacant: 0,
            occupancy_rate: 1.2,
            warning_threshold: 0.9,
            position: None,
            time_zone: None,
            opening_status: None,
            trend: Trend::Stable,
            expected: Vec::new(),
            updated_at: Timestamp::now(),
        };
        let snapshot = Snapshot::for_tests(vec![lot.clone()]);
        let expected = ExpectedDemand {
            minutes: 15,
            valid_from: Timestamp::now(),
            at: Timestamp::now(),
            count: 5,
            percentage: 50.0,
        };
        let table = demand_table(&lot, &snapshot, &[expected]);
        let rows = table["demandType"].as_array().unwrap();
        assert_eq!(rows[0]["occupancyCalculation"], "counted");
        assert_eq!(rows[0]["percentage"], 100.0, "APDS caps percentages at 100");
        assert_eq!(rows[1]["occupancyCalculation"], "expected");
        assert_eq!(rows[1]["count"], 5);
    }
}
