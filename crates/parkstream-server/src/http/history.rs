//! `GET /api/history/occupancy`: recent occupancy per lot, for the dashboard's sparklines.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::{ErrorBody, OccupancyHistory};

use super::params::Params;
use super::{visible_lots, with_last_event_id, AppState};
use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::read_model::HISTORY_MINUTES;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/history/occupancy", get(occupancy))
}

/// The last count of every 15 seconds, for the last `minutes` (1 to 60, default 60), with the
/// point just before the window. Kept in memory; after a restart it is rebuilt from the stored
/// events.
#[utoipa::path(
    get,
    path = "/api/history/occupancy",
    operation_id = "getOccupancyHistory",
    tag = "lots",
    summary = "Recent occupancy per lot",
    params(
        ("minutes" = Option<u32>, Query, minimum = 1, maximum = 60, description = "How far back (default 60)"),
        ("lot" = Option<String>, Query, description = "Only this lot")
    ),
    responses(
        (status = 200, body = OccupancyHistory, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects"))),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody)
    )
)]
async fn occupancy(
    principal: Principal,
    State(app): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    let minutes = match params.get("minutes").filter(|m| !m.is_empty()) {
        None => HISTORY_MINUTES,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=HISTORY_MINUTES).contains(m))
            .ok_or_else(|| {
                ApiError::bad_query("minutes", format!("minutes must be 1 to {HISTORY_MINUTES}"))
            })?,
    };
    let lot = params.text("lot");
    let (mut history, last_event_id) = app.read_model.occupancy(minutes, lot.as_deref());
    if let Some(visible) = visible_lots(&principal, &app) {
        history.lots.retain(|lot, _| visible.contains(lot));
    }
    Ok(with_last_event_id(last_event_id, Json(history)))
}
