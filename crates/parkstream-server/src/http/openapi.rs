//! `GET /api/openapi.json`: the OpenAPI document, generated from the handlers' annotations
//! and the wire types, so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::{CapacityReport, GateReport, LotMonitorReport};
use parkstream_protocol::events::CapacityUpdate;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;

/// The body of an ingest request: one report, or an array of them (a batch, all or nothing).
/// These types only describe the document; the handlers parse with `OneOrMany`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only a schema
pub enum CapacityBody {
    One(CapacityReport),
    Many(Vec<CapacityReport>),
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only a schema
pub enum LotMonitorBody {
    One(LotMonitorReport),
    Many(Vec<LotMonitorReport>),
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only a schema
pub enum GateBody {
    One(GateReport),
    Many(Vec<GateReport>),
}

/// The answer to an ingest request: the `capacity_update` data, an array for a batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only a schema
pub enum CapacityAnswer {
    One(CapacityUpdate),
    Many(Vec<CapacityUpdate>),
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "parkstream",
        description = "Live parking-lot state, alerts and violations, pushed to dashboards over Server-Sent Events. Every error answer is {\"error\": {\"code\", \"message\", \"field\"?}}."
    ),
    paths(
        super::lots::list,
        super::lots::show,
        super::lots::put,
        super::history::occupancy,
        super::capacity::update,
        super::monitor::lot,
        super::monitor::gate,
        super::contractors::list,
        super::contractors::show,
        super::contractors::put,
        super::alerts::list,
        super::alerts::acknowledge,
        super::alerts::resolve,
        super::violations::list,
        super::violations::acknowledge,
        super::violations::resolve,
        super::sse::dashboard,
        super::health::healthz,
        super::health::readyz,
        super::metrics::metrics,
        document,
    ),
    components(schemas(
        parkstream_protocol::events::Alert,
        parkstream_protocol::events::Violation,
        parkstream_protocol::events::CapacityUpdate,
        parkstream_protocol::events::Connected,
        parkstream_protocol::events::Reset,
        parkstream_protocol::events::Ping,
        parkstream_protocol::events::EventType,
    ))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(document))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document", body = serde_json::Value))
)]
async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
