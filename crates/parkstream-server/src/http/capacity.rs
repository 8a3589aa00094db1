//! `POST /api/capacity/update`: set lots' counts (one report or a batch).

use super::openapi::{CapacityAnswer, CapacityBody};
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use parkstream_protocol::api::CapacityReport;
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::Timestamp;

use super::batch::ingest;
use super::json::{ApiJson, OneOrMany};
use super::AppState;
use crate::auth::{need, Allowed};
use crate::domain::CountReport;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/capacity/update", post(update))
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
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A value is missing, of the wrong type or out of range; `field` names it", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
/// Answers the resulting `capacity_update` (an array of them for a batch), once stored.
async fn update(
    _allowed: Allowed<need::Ingest>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<OneOrMany<CapacityReport>>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now();
    ingest(
        body,
        |item| CountReport::parse(item, now),
        |items, batch| app.writer.report_counts(items, batch),
    )
    .await
}
