//! DATEX II v3 parking publications: the static `ParkingTablePublication` (one `prk:Place`
//! per public lot) and the dynamic `ParkingStatusPublication` (one `prk:PlaceStatus` each
//! now, and one per forecast horizon with its period of validity).
//!
//! Written with quick-xml, which escapes every text and attribute value.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::expected::ExpectedDemand;
use super::{PublicLot, Snapshot};
use crate::config::Publisher;

pub const CONTENT_TYPE: &str = "application/xml; charset=utf-8";

/// The id of the one parking table, which status publications refer to.
const TABLE_ID: &str = "parkstream";
/// Lots carry no version of their own: every record is version 1.
const VERSION: &str = "1";
const LANG: &str = "en";

const NAMESPACES: [(&str, &str); 6] = [
    ("xmlns:d2", "http://datex2.eu/schema/3/d2Payload"),
    ("xmlns:com", "http://datex2.eu/schema/3/common"),
    ("xmlns:fac", "http://datex2.eu/schema/3/facilities"),
    ("xmlns:loc", "http://datex2.eu/schema/3/locationReferencing"),
    ("xmlns:prk", "http://datex2.eu/schema/3/parking"),
    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
];

/// The static description of every public lot.
pub fn parking_table(snapshot: &Snapshot, publisher: &Publisher) -> Vec<u8> {
    let mut x = Xml::payload("prk:ParkingTablePublication", snapshot, publisher);
    let published = snapshot.published.to_string();
    x.start(
        "prk:parkingTable",
        &[("id", TABLE_ID), ("version", VERSION)],
    );
    x.text_element("prk:versionTime", &published);
    for lot in &snapshot.lots {
        place(&mut x, lot);
    }
    x.end("prk:parkingTable");
    x.finish()
}

fn place(x: &mut Xml, lot: &PublicLot) {
    x.start(
        "prk:hierarchyElementGeneral",
        &[
            ("xsi:type", "prk:Place"),
            ("id", &lot.id),
            ("version", VERSION),
        ],
    );
    x.start("fac:name", &[]);
    x.start("com:values", &[]);
    x.start("com:value", &[("lang", LANG)]);
    x.text(&lot.name);
    x.end("com:value");
    x.end("com:values");
    x.end("fac:name");
    x.text_element("fac:lastUpdated", &lot.updated_at.to_string());
    if let Some((latitude, longitude)) = lot.position {
        x.start(
            "fac:locationReference",
            &[("xsi:type", "loc:PointLocation")],
        );
        x.start("loc:pointByCoordinates", &[]);
        x.start("loc:pointCoordinates", &[]);
        x.text_element("loc:latitude", &latitude.to_string());
        x.text_element("loc:longitude", &longitude.to_string());
        x.end("loc:pointCoordinates");
        x.end("loc:pointByCoordinates");
        x.end("fac:locationReference");
    }
    // A lot is a top-level place: layer 0 of its hierarchy.
    x.text_element("prk:layer", "0");
    x.text_element("prk:type", "place");
    x.start("prk:supply", &[]);
    x.text_element("prk:quantity", &lot.total_slots.to_string());
    x.text_element("prk:viewType", "spaceView");
    x.end("prk:supply");
    x.end("prk:hierarchyElementGeneral");
}

/// The live state of every public lot.
pub fn parking_status(snapshot: &Snapshot, publisher: &Publisher) -> Vec<u8> {
    let mut x = Xml::payload("prk:ParkingStatusPublication", snapshot, publisher);
    x.empty(
        "prk:parkingTableReference",
        &[
            ("targetClass", "prk:ParkingTable"),
            ("id", TABLE_ID),
            ("version", VERSION),
        ],
    );
    for lot in &snapshot.lots {
        place_status_record(&mut x, lot);
        for row in &lot.expected {
            expected_status_record(&mut x, lot, row);
        }
    }
    x.finish()
}

/// The place's status now.
fn place_status_record(x: &mut Xml, lot: &PublicLot) {
    status_start(x, lot);
    x.start("prk:occupancy", &[]);
    x.text_element("prk:numberOfVacantSpaces", &lot.vacant.to_string());
    x.text_element("prk:numberOfOccupiedSpaces", &lot.occupied.to_string());
    x.text_element("prk:occupancy", &lot.occupancy_percent().to_string());
    x.text_element("prk:occupancyTrend", lot.trend.as_str());
    x.end("prk:occupancy");
    x.text_element("prk:status", place_status(lot));
    x.end("prk:parkingStatusInformation");
}

/// The place's expected status over one horizon's period: its expected occupancy, a
/// `prk:ValidityByPeriod` from the previous horizon to this one, and the same count as an
/// `expected` row of a demand table (DATEX II's way of telling a forecast from a count).
fn expected_status_record(x: &mut Xml, lot: &PublicLot, row: &ExpectedDemand) {
    status_start(x, lot);
    let count = row.count.to_string();
    let percentage = row.percentage.to_string();
    x.start("prk:occupancy", &[]);
    x.text_element(
        "prk:numberOfVacantSpaces",
        &row.vacant(lot.total_slots).to_string(),
    );
    x.text_element("prk:numberOfOccupiedSpaces", &count);
    x.text_element("prk:occupancy", &percentage);
    x.end("prk:occupancy");
    x.start(
        "prk:statusValidity",
        &[("xsi:type", "prk:ValidityByPeriod")],
    );
    x.start("prk:validityTimeSpecification", &[]);
    x.text_element("com:overallStartTime", &row.valid_from.to_string());
    x.text_element("com:overallEndTime", &row.at.to_string());
    x.end("prk:validityTimeSpecification");
    x.end("prk:statusValidity");
    x.start("prk:demandTable", &[]);
    x.text_element("prk:timestamp", &row.valid_from.to_string());
    x.start("prk:demandType", &[]);
    x.text_element("prk:creationTime", &row.valid_from.to_string());
    x.text_element("prk:occupancyCalculation", "expected");
    x.text_element("prk:count", &count);
    x.text_element("prk:percentage", &percentage);
    x.end("prk:demandType");
    x.end("prk:demandTable");
    x.end("prk:parkingStatusInformation");
}

/// A `prk:PlaceStatus` of `lot`, up to its opening status.
fn status_start(x: &mut Xml, lot: &PublicLot) {
    x.start(
        "prk:parkingStatusInformation",
        &[("xsi:type", "prk:PlaceStatus")],
    );
    x.empty(
        "fac:reference",
        &[
            ("targetClass", "fac:FacilityObject"),
            ("id", &lot.id),
            ("version", VERSION),
        ],
    );
    x.text_element("fac:lastUpdated", &lot.updated_at.to_string());
    if let Some(status) = lot.opening_status {
        x.text_element("fac:openingStatus", status.as_str());
    }
}

/// `full` at or above its slots, `almostFull` at or above its warning threshold,
/// `spacesAvailable` below.
fn place_status(lot: &PublicLot) -> &'static str {
    if lot.occupied >= lot.total_slots {
        "full"
    } else if lot.occupancy_rate >= lot.warning_threshold {
        "almostFull"
    } else {
        "spacesAvailable"
    }
}

/// A document being written into memory.
struct Xml(Writer<Vec<u8>>);

impl Xml {
    /// The `d2:payload` root of a publication of `xsi_type`, with its publication time and
    /// creator written.
    fn payload(xsi_type: &str, snapshot: &Snapshot, publisher: &Publisher) -> Self {
        let mut x = Self(Writer::new(Vec::new()));
        x.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        let mut attributes = NAMESPACES.to_vec();
        attributes.extend([
            ("xsi:type", xsi_type),
            ("lang", LANG),
            ("modelBaseVersion", "3"),
        ]);
        x.start("d2:payload", &attributes);
        x.text_element("com:publicationTime", &snapshot.published.to_string());
        x.start("com:publicationCreator", &[]);
        x.text_element("com:country", &publisher.country);
        x.text_element("com:nationalIdentifier", &publisher.national_identifier);
        x.end("com:publicationCreator");
        x
    }

    fn finish(mut self) -> Vec<u8> {
        self.end("d2:payload");
        self.0.into_inner()
    }

    fn event(&mut self, event: Event<'_>) {
        // Writing into a Vec cannot fail.
        self.0.write_event(event).expect("in memory");
    }

    fn start(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attributes.iter().copied());
        self.event(Event::Start(start));
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attributes.iter().copied());
        self.event(Event::Empty(start));
    }

    fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    /// Escaped text, without the characters XML 1.0 cannot carry at all (most controls).
    fn text(&mut self, text: &str) {
        let allowed: String = text
            .chars()
            .filter(|&c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            .collect();
        self.event(Event::Text(BytesText::new(&allowed)));
    }

    fn text_element(&mut self, name: &str, text: &str) {
        self.start(name, &[]);
        self.text(text);
        self.end(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open_data::Trend;
    use parkstream_protocol::Timestamp;

    fn lot(occupied: u32) -> PublicLot {
        PublicLot {
            id: "a&b".into(),
            name: "<North> & \"South\"\u{1}".into(),
            total_slots: 10,
            occupied,
            vacant: 10u32.saturating_sub(occupied),
            occupancy_rate: f64::from(occupied) / 10.0,
            warning_threshold: 0.8,
            position: Some((52.5, 4.25)),
            time_zone: None,
            opening_status: None,
            trend: Trend::Stable,
            expected: Vec::new(),
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn status_follows_the_lots_own_threshold() {
        assert_eq!(place_status(&lot(7)), "spacesAvailable");
        assert_eq!(place_status(&lot(8)), "almostFull");
        assert_eq!(place_status(&lot(10)), "full");
        assert_eq!(place_status(&lot(12)), "full");
    }

    #[test]
    fn names_and_ids_are_escaped() {
        let mut x = Xml(Writer::new(Vec::new()));
        place(&mut x, &lot(1));
        let xml = String::from_utf8(x.0.into_inner()).unwrap();
        assert!(xml.contains(">&lt;North&gt; &amp; "), "{xml}");
        assert!(!xml.contains("<North>"), "{xml}");
        assert!(xml.contains("id=\"a&amp;b\""), "{xml}");
        assert!(!xml.contains('\u{1}'));
    }
}
