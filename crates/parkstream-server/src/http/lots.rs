//! `GET /api/lots`, `GET /api/lots/{id}`, `PUT /api/lots/{id}`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::LotSpec;
use parkstream_protocol::api::{ErrorBody, LotView};

use super::json::ApiJson;
use super::path::PathId;
use super::responses::{BodyErrors, NotStored};
use super::{created_or_updated, visible_lots, with_last_event_id, AppState};
use crate::auth::{need, Allowed, Need, Principal};
use crate::domain::{LotId, LotSettings};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/lots", get(list))
        .route("/api/lots/{id}", get(show).put(put))
}

#[utoipa::path(
    get,
    path = "/api/lots",
    operation_id = "listLots",
    tag = "lots",
    summary = "Every lot's current state",
    responses(
        (status = 200, body = Vec<LotView>, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects: subscribe from it")))
    )
)]
/// Every lot's current state, by id.
async fn list(principal: Principal, State(app): State<AppState>) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    let (mut lots, last_event_id) = app.read_model.lots();
    if let Some(visible) = visible_lots(&principal, &app) {
        lots.retain(|lot| visible.contains(&lot.parking_lot_id));
    }
    Ok(with_last_event_id(last_event_id, Json(lots)))
}

#[utoipa::path(
    get,
    path = "/api/lots/{id}",
    operation_id = "getLot",
    tag = "lots",
    summary = "One lot's current state",
    responses(
        (status = 200, body = LotView, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects: subscribe from it"))),
        (status = 404, description = "Unknown lot", body = ErrorBody)
    )
)]
async fn show(
    allowed: Allowed<need::Read>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let (lot, last_event_id) = visible_lot(&app, &allowed.0, &id)?;
    Ok(with_last_event_id(last_event_id, Json(lot)))
}

/// The lot `id` as the principal may see it, with the newest event id it reflects. A lot the
/// token may not see is answered like one that does not exist.
pub(super) fn visible_lot(
    app: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(LotView, u64), ApiError> {
    match app.read_model.lot(id) {
        (Some(lot), last_event_id)
            if visible_lots(principal, app)
                .is_none_or(|visible| visible.iter().any(|lot| lot == id)) =>
        {
            Ok((lot, last_event_id))
        }
        _ => Err(lot_not_found(id)),
    }
}

#[utoipa::path(
    put,
    path = "/api/lots/{id}",
    operation_id = "putLot",
    tag = "lots",
    summary = "Create or replace a lot (fields left out are cleared)",
    request_body(content = LotSpec, description = "The lot", example = json!({"name": "North garage", "totalSlots": 120, "warningThreshold": 0.9, "maxStaySeconds": 14400, "latitude": 52.0907, "longitude": 5.1214, "timeZone": "Europe/Amsterdam", "openingStatus": "open", "public": true})),
    responses(
        (status = 200, description = "Updated", body = LotView),
        (status = 201, description = "Created", body = LotView),
        BodyErrors,
        NotStored
    )
)]
/// Creates (201) or updates (200) a lot. Its count is kept on update.
async fn put(
    allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
    ApiJson(spec): ApiJson<LotSpec>,
) -> Result<Response, ApiError> {
    let id = LotId::parse(&id).map_err(|message| ApiError::invalid("id", message))?;
    let settings = LotSettings::parse(spec)?;
    Ok(created_or_updated(
        app.writer
            .put_lot(id, settings, allowed.0.actor(None)?)
            .await?,
    ))
}

pub(super) fn lot_not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        message: format!("lot {id:?} does not exist"),
        field: Some("id".into()),
    }
}
