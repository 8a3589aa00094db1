//! The ingest endpoints: `POST /api/capacity/update` (lots' counts), and the integration
//! points of the camera and gate backends, `POST /api/monitor/lot` (counts per camera) and
//! `POST /api/monitor/gate` (entries and exits). Each takes one item or an array (a batch),
//! checked whole before anything is applied.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parkstream_protocol::api::{CapacityReport, ErrorBody, GateReport, LotMonitorReport};
use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::Timestamp;

use super::json::{ApiJson, Batchable, OneOrMany};
use super::responses::{BodyErrors, NotStored};
use super::AppState;
use crate::auth::{need, Allowed};
use crate::domain::camera::CameraReport;
use crate::domain::gate::GateEvent;
use crate::domain::{CountReport, DomainError};
use crate::error::ApiError;
use crate::store::WriteError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/capacity/update", post(update))
        .route("/api/monitor/lot", post(lot))
        .route("/api/monitor/gate", post(gate))
}

// The document's names for the bodies and answers, one `OneOrMany` schema underneath.
type CapacityBody = OneOrMany<CapacityReport>;
type LotMonitorBody = OneOrMany<LotMonitorReport>;
type GateBody = OneOrMany<GateReport>;
type CapacityAnswer = OneOrMany<CapacityUpdate>;

impl Batchable for CapacityReport {
    const ONE_OR_MANY: &'static str = "CapacityBody";
    const DESCRIPTION: Option<&'static str> = Some("The body of an ingest request: one report, or an array of them (a batch, all or nothing).\nThese types only describe the document; the handlers parse with `OneOrMany`.");
}

impl Batchable for LotMonitorReport {
    const ONE_OR_MANY: &'static str = "LotMonitorBody";
}

impl Batchable for GateReport {
    const ONE_OR_MANY: &'static str = "GateBody";
}

impl Batchable for CapacityUpdate {
    const ONE_OR_MANY: &'static str = "CapacityAnswer";
    const DESCRIPTION: Option<&'static str> =
        Some("The answer to an ingest request: the `capacity_update` data, an array for a batch.");
}

#[utoipa::path(
    post,
    path = "/api/capacity/update",
    operation_id = "updateCapacity",
    tag = "ingest",
    summary = "Set lots' counts (one report or a batch)",
    request_body(content = CapacityBody, description = "One report, or an array of them (applied all or nothing)", example = json!({"parkingLotId": "north", "occupied": 42, "totalSlots": 120, "timestamp": "2026-11-26T10:00:00.000Z"})),
    responses(
        (status = 200, description = "The resulting capacity_update (an array for a batch)", body = CapacityAnswer),
        (status = 404, description = "Unknown lot", body = ErrorBody),
        BodyErrors,
        NotStored
    )
)]
/// Answers the resulting `capacity_update` (an array of them for a batch), once stored.
async fn update(
    _allowed: Allowed<need::Ingest>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<CapacityBody>,
) -> Result<Response, ApiError> {
    ingest(body, CountReport::parse, |items, batch| {
        app.writer.report_counts(items, batch)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/monitor/lot",
    operation_id = "reportLotCount",
    tag = "ingest",
    summary = "A camera's count of a lot; marks the camera alive",
    request_body(content = LotMonitorBody, description = "One camera report, or an array of them (applied all or nothing)", example = json!({"parkingLotId": "north", "cameraId": "cam-1", "occupied": 42})),
    responses(
        (status = 200, description = "The resulting capacity_update (an array for a batch)", body = CapacityAnswer),
        (status = 404, description = "Unknown lot", body = ErrorBody),
        BodyErrors,
        NotStored
    )
)]
/// Sets the count and marks the camera alive; answers the `capacity_update`(s).
async fn lot(
    _allowed: Allowed<need::Ingest>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<LotMonitorBody>,
) -> Result<Response, ApiError> {
    ingest(body, CameraReport::parse, |items, batch| {
        app.writer.report_cameras(items, batch)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/monitor/gate",
    operation_id = "reportGateEvent",
    tag = "ingest",
    summary = "A vehicle entered or left (idempotent per lot with eventId)",
    request_body(content = GateBody, description = "One gate event, or an array of them (applied all or nothing)", example = json!({"eventId": "g1-000123", "parkingLotId": "north", "gateId": "g1", "event": "vehicle_entry", "plateNumber": "AB-123-CD", "timestamp": "2026-11-26T10:00:00.000Z"})),
    responses(
        (status = 200, description = "The resulting capacity_update (an array for a batch)", body = CapacityAnswer),
        (status = 404, description = "Unknown lot", body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the eventId was already used in this lot for a different event (event, plate, gate or timestamp); `field` is `eventId` (`[3].eventId` in a batch). Nothing is applied", body = ErrorBody),
        BodyErrors,
        NotStored
    )
)]
/// Counts an entry (+1) or exit (-1, never below 0); answers the `capacity_update`(s).
async fn gate(
    _allowed: Allowed<need::Ingest>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<GateBody>,
) -> Result<Response, ApiError> {
    ingest(body, GateEvent::parse, |items, batch| {
        app.writer.gate_events(items, batch)
    })
    .await
}

/// An ingest request from parsed body to answer: checks every item with `parse` (the first
/// failure refuses the whole body, naming the item's index in a batch), hands them to `apply`
/// as one command, and answers its `capacity_update`s: one, or an array for a batch (`[]` for
/// an empty batch, which changes nothing).
///
/// # Errors
/// The first item's error, or `apply`'s.
async fn ingest<T, U, F>(
    body: OneOrMany<T>,
    mut parse: impl FnMut(T, Timestamp) -> Result<U, DomainError>,
    apply: impl FnOnce(Vec<U>, bool) -> F,
) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = Result<Vec<CapacityUpdate>, WriteError>>,
{
    let (items, batch) = body.into_vec();
    let items = parse_items(items, batch, &mut parse)?;
    if items.is_empty() {
        return Ok(answer(Vec::new(), true));
    }
    Ok(answer(apply(items, batch).await?, batch))
}

/// Checks every item of an ingest body with `parse`, at one moment; the first failure is the
/// answer, naming the item's index in a batch. The MQTT ingest shares it.
///
/// # Errors
/// The first item's error.
pub fn parse_items<T, U>(
    items: Vec<T>,
    batch: bool,
    mut parse: impl FnMut(T, Timestamp) -> Result<U, DomainError>,
) -> Result<Vec<U>, DomainError> {
    let now = Timestamp::now();
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            parse(item, now).map_err(|e| if batch { e.at_index(index) } else { e })
        })
        .collect()
}

/// The answer to an ingest request: the one result, or the array of them for a batch.
fn answer(mut results: Vec<CapacityUpdate>, batch: bool) -> Response {
    if batch || results.len() != 1 {
        Json(results).into_response()
    } else {
        Json(results.remove(0)).into_response()
    }
}
