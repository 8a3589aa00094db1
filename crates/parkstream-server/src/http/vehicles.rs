//! `GET /api/vehicles/{plate}`: whether a vehicle is inside now, and where it has been.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::records::VehicleView;

use super::params::Params;
use super::path::PathId;
use super::AppState;
use crate::auth::{need, Allowed};
use crate::domain::contractor::Plate;
use crate::error::ApiError;
use crate::store::VisitQuery;

/// Visits answered when the query names no `limit`.
const DEFAULT_VISITS: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/vehicles/{plate}", get(show))
}

#[utoipa::path(
    get,
    path = "/api/vehicles/{plate}",
    operation_id = "getVehicle",
    tag = "vehicles",
    summary = "A vehicle: inside now or not, and its recent visits",
    params(
        ("plate" = String, Path, description = "The plate, in any spelling (`ka-01 ab 1234`); normalized before use"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many visits (default 50)")
    ),
    responses(
        (status = 200, body = VehicleView),
        (status = 400, description = "A query or path parameter is invalid", body = ErrorBody),
        (status = 404, description = "Never seen (or not visible to this token)", body = ErrorBody),
        (status = 422, description = "Not a plate", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody)
    )
)]
/// A vehicle's whereabouts. A contractor sees only plates it registered, a `lots` claim only
/// those lots; anything else is 404, as for a plate never seen.
async fn show(
    allowed: Allowed<need::Read>,
    State(app): State<AppState>,
    PathId(raw): PathId,
    params: Params,
) -> Result<Json<VehicleView>, ApiError> {
    let principal = allowed.0;
    let plate = Plate::parse(&raw).map_err(|message| ApiError::invalid("plate", message))?;
    let limit = match params.text("limit") {
        None => DEFAULT_VISITS,
        Some(_) => params.limit()?,
    };
    let not_found = || ApiError::NotFound {
        message: format!("vehicle {} was never seen", plate.as_str()),
        field: Some("plate".into()),
    };
    let (mut stays, owner) = app.writer.whereabouts(plate.clone()).await?;
    if let Some(own) = &principal.contractor {
        if owner.as_ref().map(|c| c.as_str()) != Some(own.as_ref()) {
            return Err(not_found());
        }
    }
    let lots: Option<Vec<String>> = principal
        .lots
        .as_ref()
        .map(|lots| lots.iter().map(ToString::to_string).collect());
    if let Some(lots) = &lots {
        stays.retain(|stay| lots.iter().any(|lot| lot == stay.lot.as_str()));
    }
    let query = VisitQuery {
        plate: plate.as_str().to_owned(),
        lots,
        limit,
    };
    let visits = app.store.visits(&query).await?;
    if stays.is_empty() && visits.is_empty() {
        return Err(not_found());
    }
    let here = stays.first();
    Ok(Json(VehicleView {
        plate: plate.as_str().to_owned(),
        inside: here.is_some(),
        lot: here.map(|stay| stay.lot.to_string()),
        since: here.map(|stay| stay.entered_at),
        gate: here.and_then(|stay| stay.gate_id.clone()),
        visits,
    }))
}
