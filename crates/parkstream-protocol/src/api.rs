//! Bodies of the REST and ingest API (docs/protocol.md, "Ingest" and "REST").
//!
//! Request bodies ignore fields they do not know, so a camera backend that sends extra
//! metadata is not refused; every field they do know is checked.

use serde::{Deserialize, Serialize};

use crate::events::GateEventKind;
use crate::Timestamp;

/// `PUT /api/lots/{id}`: create or update a lot. A full replacement: an optional field left
/// out is cleared (`public` becomes false).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LotSpec {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    pub total_slots: u32,
    /// Occupancy rate at which a `capacity_warning` is raised; default 0.9.
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0, maximum = 1.0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_threshold: Option<f64>,
    /// A stay longer than this raises an `overparking` violation; default none.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 315_360_000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stay_seconds: Option<u64>,
    /// Where the lot is (WGS 84 degrees), for the open data feed; with `longitude`.
    #[cfg_attr(feature = "openapi", schema(minimum = -90.0, maximum = 90.0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(minimum = -180.0, maximum = 180.0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// The lot's IANA time zone (`Europe/Amsterdam`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_status: Option<OpeningStatus>,
    /// Whether the lot is published by the open data feed (`--open-data`); default false.
    #[serde(default)]
    pub public: bool,
}

/// Whether a lot is open, as DATEX II names it (`OpeningStatusEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum OpeningStatus {
    Open,
    OpenWithServiceLimitation,
    Closed,
    ClosedOnHoliday,
    ClosedOnMaintenance,
    TemporarilyClosed,
    StatusUnknown,
    Other,
}

impl OpeningStatus {
    pub const ALL: [OpeningStatus; 8] = [
        OpeningStatus::Open,
        OpeningStatus::OpenWithServiceLimitation,
        OpeningStatus::Closed,
        OpeningStatus::ClosedOnHoliday,
        OpeningStatus::ClosedOnMaintenance,
        OpeningStatus::TemporarilyClosed,
        OpeningStatus::StatusUnknown,
        OpeningStatus::Other,
    ];

    /// The name in JSON and in DATEX II.
    pub fn as_str(self) -> &'static str {
        match self {
            OpeningStatus::Open => "open",
            OpeningStatus::OpenWithServiceLimitation => "openWithServiceLimitation",
            OpeningStatus::Closed => "closed",
            OpeningStatus::ClosedOnHoliday => "closedOnHoliday",
            OpeningStatus::ClosedOnMaintenance => "closedOnMaintenance",
            OpeningStatus::TemporarilyClosed => "temporarilyClosed",
            OpeningStatus::StatusUnknown => "statusUnknown",
            OpeningStatus::Other => "other",
        }
    }

    /// The status named `name` ([`Self::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

/// `POST /api/capacity/update`: set a lot's count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CapacityReport {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub parking_lot_id: String,
    pub occupied: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_slots: Option<u32>,
    /// When the count was observed; absent, the server's receive time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// A lot's current state: the `capacity_update` shape plus its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LotView {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub parking_lot_id: String,
    pub name: String,
    pub total_slots: u32,
    pub occupied: u32,
    pub empty: u32,
    pub occupancy_rate: f64,
    pub warning_threshold: f64,
    pub max_stay_seconds: Option<u64>,
    // Defaults: a client still reads a server from before these fields.
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub opening_status: Option<OpeningStatus>,
    /// Whether the open data feed publishes the lot.
    #[serde(default)]
    pub public: bool,
    /// When the count last changed (or the lot was created).
    pub timestamp: Timestamp,
}

/// The body of every error answer: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `not_found` or `invalid_value`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The offending field, as a path into the body (`occupied`, `[3].parkingLotId`), or the
    /// query parameter or header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `POST /api/monitor/lot`: a camera's count of a lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LotMonitorReport {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub parking_lot_id: String,
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub camera_id: String,
    pub occupied: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// `POST /api/monitor/gate`: a plate reader saw a vehicle enter or leave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    /// Makes the report idempotent within its lot: the same id again with the same report
    /// changes nothing and gets the same answer (for the server's idempotency window); with a
    /// different report it is refused (409 `idempotency_conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub parking_lot_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub gate_id: Option<String>,
    pub event: GateEventKind,
    pub plate_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// One lot a contractor may use, and how many vehicles it may park there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub parking_lot_id: String,
    pub allocated_capacity: u32,
}

/// `PUT /api/contractors/{id}`: create or replace a contractor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractorSpec {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    #[serde(default)]
    pub allocations: Vec<Allocation>,
    #[serde(default)]
    pub plates: Vec<String>,
    /// Penalty per vehicle above the allocation; default 500, at most 1,000,000,000.
    #[cfg_attr(feature = "openapi", schema(maximum = 1_000_000_000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_per_vehicle: Option<u64>,
}

/// A contractor's vehicles inside one lot now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LotOccupancy {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_.:-]{1,128}$"))]
    pub parking_lot_id: String,
    pub vehicles: u32,
}

/// A contractor as `GET /api/contractors` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractorView {
    pub contractor_id: String,
    pub name: String,
    pub allocations: Vec<Allocation>,
    /// Registered plates, normalized (upper case, no spaces or dashes).
    pub plates: Vec<String>,
    pub penalty_per_vehicle: u64,
    /// Its vehicles inside each lot where it has any.
    pub occupancy: Vec<LotOccupancy>,
}

/// One point of a lot's occupancy over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OccupancySample {
    /// When the count was known (the end of a 15-second bucket's last change).
    pub t: Timestamp,
    pub occupied: u32,
    pub total_slots: u32,
}

/// `GET /api/history/occupancy`: recent occupancy per lot, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OccupancyHistory {
    pub lots: std::collections::BTreeMap<String, Vec<OccupancySample>>,
}

/// One stored bucket (a minute or an hour) of a lot's occupancy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OccupancyBucket {
    /// The bucket's start.
    pub t: Timestamp,
    /// The lowest, highest and last count reported in the bucket.
    pub min: u32,
    pub max: u32,
    pub last: u32,
    /// The mean of the counts reported in the bucket (each report weighs the same, however
    /// long its count lasted).
    pub mean: f64,
    /// How many counts were reported in the bucket.
    pub samples: u64,
    /// The lot's slots at its last report in the bucket.
    pub total_slots: u32,
}

/// `GET /api/history/occupancy?lot=&from=&to=&step=`: a lot's stored occupancy, oldest
/// first. A bucket in which no count was reported is absent: the count stayed at the
/// previous bucket's `last`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OccupancyRollups {
    pub parking_lot_id: String,
    /// `1m` or `1h`.
    pub step: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub buckets: Vec<OccupancyBucket>,
}

/// `GET /api/history/occupancy`: the recent samples kept in memory, or, with `from`, a lot's
/// stored buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum OccupancyAnswer {
    Rollups(OccupancyRollups),
    Recent(OccupancyHistory),
}
