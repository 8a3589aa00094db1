//! `GET /api/lots/{id}/forecast`: a lot's expected occupancy over the next hour.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A lot's expected occupancy at +15, +30 and +60 minutes, and when it is expected to be full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LotForecast {
    pub parking_lot_id: String,
    /// When the forecast was computed.
    pub generated_at: Timestamp,
    /// How it was computed: `trend` (no usable history of the time of day) or
    /// `trend+profile` (the lot's hour-of-week or hour-of-day profile as well).
    pub method: String,
    /// The count the forecast starts from.
    pub occupied: u32,
    pub total_slots: u32,
    /// Seconds until the lot is expected to be full, `0` when it is; `null` when it is not
    /// expected to fill within the hour.
    pub full_in_seconds: Option<u64>,
    /// One per horizon, nearest first: 15, 30 and 60 minutes.
    pub horizons: Vec<HorizonForecast>,
}

/// The expected count at one horizon, with a band it is likely (about 80 %) to fall in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HorizonForecast {
    pub minutes: u32,
    /// When: `generatedAt` plus `minutes`.
    pub at: Timestamp,
    /// The expected count, to one decimal.
    pub expected: f64,
    pub low: u32,
    pub high: u32,
}
