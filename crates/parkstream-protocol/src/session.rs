//! `GET /api/session`: who the request's token is and what it may do, so a client (the
//! dashboard) can shape itself without decoding the token.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The token's identity and what it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// The token's `sub` (`anonymous` when the server checks no tokens).
    pub subject: String,
    /// `admin`, `operator`, `viewer`, `monitor` or `contractor`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(admin|operator|viewer|monitor|contractor)$")
    )]
    pub role: String,
    /// For a contractor's token: the contractor it speaks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractor_id: Option<String>,
    /// The token's `lots` claim: only these lots are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lots: Option<Vec<String>>,
    /// When the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    pub permissions: Permissions,
    /// The ISO 4217 code penalties are counted in (`--currency`), when the server has one.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Z]{3}$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// What the token's role may do beyond reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Permissions {
    /// Acknowledge and resolve alerts and violations.
    pub operate: bool,
    /// Create and change lots and contractors.
    pub administer: bool,
    /// Report counts and gate events.
    pub ingest: bool,
}
