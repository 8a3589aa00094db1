//! `GET /api/contractors`, `GET /api/contractors/{id}`, `PUT /api/contractors/{id}`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ContractorSpec;
use parkstream_protocol::api::{ContractorView, ErrorBody};

use super::json::ApiJson;
use super::path::PathId;
use super::responses::{BodyErrors, NotStored};
use super::{created_or_updated, with_last_event_id, AppState};
use crate::auth::{need, Allowed, Need, Principal};
use crate::domain::contractor::{ContractorId, ContractorSettings};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/contractors", get(list))
        .route("/api/contractors/{id}", get(show).put(put))
}

#[utoipa::path(
    get,
    path = "/api/contractors",
    operation_id = "listContractors",
    tag = "contractors",
    summary = "Every contractor",
    responses(
        (status = 200, body = Vec<ContractorView>, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects: subscribe from it"))),
        NotStored
    )
)]
async fn list(principal: Principal, State(app): State<AppState>) -> Result<Response, ApiError> {
    principal.require(Need::Administer)?;
    let (contractors, last_event_id) = app.writer.contractors().await?;
    Ok(with_last_event_id(last_event_id, Json(contractors)))
}

#[utoipa::path(
    get,
    path = "/api/contractors/{id}",
    operation_id = "getContractor",
    tag = "contractors",
    summary = "One contractor",
    responses(
        (status = 200, body = ContractorView, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects: subscribe from it"))),
        (status = 404, description = "Unknown contractor", body = ErrorBody),
        NotStored
    )
)]
async fn show(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let (contractors, last_event_id) = app.writer.contractors().await?;
    let contractor = contractors
        .into_iter()
        .find(|c| c.contractor_id == id)
        .ok_or_else(|| ApiError::NotFound {
            message: format!("contractor {id:?} does not exist"),
            field: Some("id".into()),
        })?;
    Ok(with_last_event_id(last_event_id, Json(contractor)))
}

#[utoipa::path(
    put,
    path = "/api/contractors/{id}",
    operation_id = "putContractor",
    tag = "contractors",
    summary = "Create or replace a contractor",
    request_body(content = ContractorSpec, description = "The contractor", example = json!({"name": "Acme", "allocations": [{"parkingLotId": "north", "allocatedCapacity": 10}], "plates": ["AB-123-CD"], "penaltyPerVehicle": 50})),
    responses(
        (status = 200, description = "Replaced", body = ContractorView),
        (status = 201, description = "Created", body = ContractorView),
        (status = 404, description = "An allocation names an unknown lot", body = ErrorBody),
        (status = 409, description = "A plate is registered to another contractor", body = ErrorBody),
        BodyErrors,
        NotStored
    )
)]
/// Creates (201) or replaces (200) a contractor.
async fn put(
    allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
    ApiJson(spec): ApiJson<ContractorSpec>,
) -> Result<Response, ApiError> {
    let id = ContractorId::parse(&id).map_err(|message| ApiError::invalid("id", message))?;
    let settings = ContractorSettings::parse(spec)?;
    Ok(created_or_updated(
        app.writer
            .put_contractor(id, settings, allowed.0.actor(None)?)
            .await?,
    ))
}
