//! The integration points of the camera and gate backends: `POST /api/monitor/lot` (counts
//! per camera) and `POST /api/monitor/gate` (entries and exits).

use super::openapi::{CapacityAnswer, GateBody, LotMonitorBody};
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::api::{GateReport, LotMonitorReport};
use parkstream_protocol::Timestamp;

use super::batch::ingest;
use super::json::{ApiJson, OneOrMany};
use super::AppState;
use crate::auth::{need, Allowed};
use crate::domain::camera::CameraReport;
use crate::domain::gate::GateEvent;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/monitor/lot", post(lot))
        .route("/api/monitor/gate", post(gate))
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
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A value is missing, of the wrong type or out of range; `field` names it", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
/// Sets the count and marks the camera alive; answers the `capacity_update`(s).
async fn lot(
    _allowed: Allowed<need::Ingest>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<OneOrMany<LotMonitorReport>>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now();
    ingest(
        body,
        |item| CameraReport::parse(item, now),
        |items, batch| app.writer.report_cameras(items, batch),
    )
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
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the eventId was already used in this lot for a different event (event, plate, gate or timestamp); `field` is `eventId` (`[3].eventId` in a batch). Nothing is applied", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A value is missing, of the wrong type or out of range; `field` names it", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
/// Counts an entry (+1) or exit (-1, never below 0); answers the `capacity_update`(s).
async fn gate(
    _allowed: Allowed<need::Ingest>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<OneOrMany<GateReport>>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now();
    ingest(
        body,
        |item| GateEvent::parse(item, now),
        |items, batch| app.writer.gate_events(items, batch),
    )
    .await
}
