//! Bodies of the record-keeping endpoints (docs/protocol.md, "REST"): who did what
//! (`/api/audit`), a vehicle's whereabouts (`/api/vehicles/{plate}`) and a contractor's
//! statement (`/api/contractors/{id}/statement`) and vehicles inside
//! (`/api/contractors/{id}/vehicles`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::events::ViolationType;
use crate::Timestamp;

/// The most characters a note on an acknowledgement or resolution may have.
pub const MAX_NOTE_CHARS: usize = 500;

/// The optional body of `POST /api/alerts/{id}/acknowledge` and its siblings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionNote {
    /// Why, for whoever reads the alert or the audit later; at most 500 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What an audited change was made to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditTarget {
    /// `lot`, `contractor`, `alert` or `violation`.
    pub kind: String,
    pub id: String,
}

/// One change made through the API, as `GET /api/audit` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: String,
    /// The token's `sub` (`anonymous` when the server runs with `--auth none`).
    pub actor: String,
    /// When the change was stored.
    pub at: Timestamp,
    /// `lot.create`, `lot.update`, `contractor.create`, `contractor.update`,
    /// `alert.acknowledge`, `alert.resolve`, `violation.acknowledge`, `violation.resolve`.
    pub action: String,
    pub target: AuditTarget,
    /// A short summary of the change, for a person.
    pub summary: String,
}

/// One stay of a vehicle in a lot: over when `exit` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Visit {
    pub lot: String,
    /// The gate it entered by, when the reader named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    pub entry: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stay_seconds: Option<u64>,
}

/// `GET /api/vehicles/{plate}`: whether a vehicle is inside now, and its recent visits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VehicleView {
    /// Normalized: upper case, no spaces or dashes.
    pub plate: String,
    pub inside: bool,
    /// Where it is, while inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// Since when, while inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The gate it entered by, while inside and when the reader named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// Newest first.
    pub visits: Vec<Visit>,
}

/// One violation on a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatementLine {
    pub violation_id: String,
    #[serde(rename = "type")]
    pub violation_type: ViolationType,
    pub lot: String,
    pub timestamp: Timestamp,
    pub penalty: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_number: Option<String>,
    /// `pending`, `acknowledged` or `resolved`.
    pub status: String,
}

/// A statement's sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatementTotals {
    pub penalty: u64,
    /// By violation type (`capacity_breach`, ...).
    pub by_type: BTreeMap<String, u64>,
    /// By lot id.
    pub by_lot: BTreeMap<String, u64>,
}

/// `GET /api/contractors/{id}/statement`: a contractor's violations in a period and their
/// penalties, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub contractor_id: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub violations: Vec<StatementLine>,
    pub totals: StatementTotals,
    /// The ISO 4217 code the penalties are counted in (the server's `--currency`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// One of a contractor's lots on `GET /api/contractors/{id}/vehicles`: its allocation there
/// against its vehicles inside now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractorLot {
    pub parking_lot_id: String,
    /// 0 in a lot it has vehicles in but no allocation (an allocation removed while they
    /// were inside).
    pub allocated_capacity: u32,
    pub vehicles_inside: u32,
}

/// One of a contractor's vehicles inside now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VehicleInside {
    pub plate: String,
    pub lot: String,
    pub since: Timestamp,
    /// The gate it entered by, when the reader named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
}

/// `GET /api/contractors/{id}/vehicles`: a contractor's vehicles inside now, and its
/// allocation in each of its lots against them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractorVehicles {
    pub contractor_id: String,
    pub name: String,
    /// By lot id.
    pub lots: Vec<ContractorLot>,
    /// By lot, then the longest inside first.
    pub vehicles: Vec<VehicleInside>,
}
