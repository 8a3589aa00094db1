//! Bodies of the REST and ingest API (SPEC sections 3 and 5).
//!
//! Request bodies ignore fields they do not know, so a camera backend that sends extra
//! metadata is not refused; every field they do know is checked.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// `PUT /api/lots/{id}`: create or update a lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LotSpec {
    pub name: String,
    pub total_slots: u32,
    /// Occupancy rate at which a `capacity_warning` is raised; default 0.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_threshold: Option<f64>,
    /// A stay longer than this raises an `overparking` violation; default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stay_seconds: Option<u64>,
}

/// `POST /api/capacity/update`: set a lot's count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReport {
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
#[serde(rename_all = "camelCase")]
pub struct LotView {
    pub parking_lot_id: String,
    pub name: String,
    pub total_slots: u32,
    pub occupied: u32,
    pub empty: u32,
    pub occupancy_rate: f64,
    pub warning_threshold: f64,
    pub max_stay_seconds: Option<u64>,
    /// When the count last changed (or the lot was created).
    pub timestamp: Timestamp,
}

/// The body of every error answer: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
