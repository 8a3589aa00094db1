//! `GET /api/lots/{id}/forecast`: a lot's expected occupancy over the next hour (see
//! `crate::forecast` for the method).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::forecast::LotForecast;
use parkstream_protocol::Timestamp;

use super::lots::visible_lot;
use super::path::PathId;
use super::{with_last_event_id, AppState};
use crate::auth::{need, Allowed};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/lots/{id}/forecast", get(show))
}

#[utoipa::path(
    get,
    path = "/api/lots/{id}/forecast",
    operation_id = "getLotForecast",
    tag = "lots",
    summary = "A lot's expected occupancy at +15, +30 and +60 minutes",
    description = "From the stored rollups: the current count, plus the change the lot's hour-of-week profile expects, plus the recent inflow beyond it, damped. `fullInSeconds` is null when the lot is not expected to fill within the hour.",
    responses(
        (status = 200, body = LotForecast, headers(("Last-Event-ID" = String, description = "The newest event id the count reflects"))),
        (status = 404, description = "Unknown lot", body = ErrorBody)
    )
)]
async fn show(
    allowed: Allowed<need::Read>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let (lot, last_event_id) = visible_lot(&app, &allowed.0, &id)?;
    let forecast: LotForecast =
        crate::forecast::for_lot(&app.store, &lot, Timestamp::now()).await?;
    Ok(with_last_event_id(last_event_id, Json(forecast)))
}
