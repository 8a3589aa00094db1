//! `GET /api/contractors/{id}/vehicles`: a contractor's vehicles inside now, and its
//! allocation in each lot against them (what its own dashboard page shows).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::records::ContractorVehicles;

use super::path::PathId;
use super::AppState;
use crate::auth::Principal;
use crate::domain::contractor::ContractorId;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/contractors/{id}/vehicles", get(vehicles))
}

#[utoipa::path(
    get,
    path = "/api/contractors/{id}/vehicles",
    operation_id = "getContractorVehicles",
    tag = "contractors",
    summary = "A contractor's vehicles inside now, and its allocations against them",
    responses(
        (status = 200, body = ContractorVehicles),
        (status = 403, description = "A contractor asking for another's vehicles, or a role that reads no contractors", body = ErrorBody),
        (status = 404, description = "Unknown contractor", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody)
    )
)]
/// Admins and operators read any contractor's; a contractor its own. A `lots` claim limits
/// the answer to those lots.
async fn vehicles(
    principal: Principal,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<ContractorVehicles>, ApiError> {
    if !principal.reads_accounts_of(&id) {
        return Err(ApiError::Forbidden(
            "a contractor's vehicles are for admins, operators and the contractor itself".into(),
        ));
    }
    let not_found = || ApiError::NotFound {
        message: format!("contractor {} does not exist", crate::domain::quote(&id)),
        field: Some("id".into()),
    };
    // Not an identifier: no contractor can have it.
    let contractor = ContractorId::parse(&id).map_err(|_| not_found())?;
    let lots = principal
        .lots
        .as_ref()
        .map(|lots| lots.iter().map(ToString::to_string).collect());
    app.writer
        .contractor_vehicles(contractor, lots)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}
