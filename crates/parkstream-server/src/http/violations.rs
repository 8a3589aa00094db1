//! `GET /api/violations`, `POST /api/violations/{id}/acknowledge`, `POST /api/violations/{id}/resolve`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::Violation;
use parkstream_protocol::events::ViolationStatus;

use super::lots::path_error;
use super::params::Params;
use super::{list_query, resolved_is_conflict, with_last_event_id, AppState};
use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::store::Table;
use crate::writer::Action;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/violations", get(list))
        .route("/api/violations/{id}/acknowledge", post(acknowledge))
        .route("/api/violations/{id}/resolve", post(resolve))
}

#[utoipa::path(
    get,
    path = "/api/violations",
    operation_id = "listViolations",
    tag = "violations",
    summary = "Violations, newest first",
    params(("status" = Option<ViolationStatus>, Query, description = "Only this status"), ("lot" = Option<String>, Query, description = "Only this lot"), ("contractor" = Option<String>, Query, description = "Only this contractor"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100)")),
    responses(
        (status = 200, body = Vec<Violation>, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects: subscribe from it"))),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody)
    )
)]
/// Violations, newest first: `status=pending|acknowledged|resolved`, `lot=`, `contractor=`,
/// `limit=` (1 to 1,000, default 100).
async fn list(
    principal: Principal,
    State(app): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    let query =
        list_query::<ViolationStatus>(&principal, &params, "pending, acknowledged, resolved")?;
    let page = app.store.violations(&query).await?;
    Ok(with_last_event_id(page.last_event_id, Json(page.items)))
}

#[utoipa::path(
    post,
    path = "/api/violations/{id}/acknowledge",
    operation_id = "acknowledgeViolation",
    tag = "violations",
    summary = "Acknowledge a violation",
    params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.:-]{1,128}$", description = "The violation's id")),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Violation),
        (status = 404, description = "Unknown violation", body = ErrorBody),
        (status = 409, description = "Not in a state that can be acknowledged", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
async fn acknowledge(
    principal: Principal,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Violation>, ApiError> {
    principal.require(Need::Operate)?;
    act(app, id, Action::Acknowledge).await
}

#[utoipa::path(
    post,
    path = "/api/violations/{id}/resolve",
    operation_id = "resolveViolation",
    tag = "violations",
    summary = "Resolve a violation",
    params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.:-]{1,128}$", description = "The violation's id")),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Violation),
        (status = 404, description = "Unknown violation", body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
async fn resolve(
    principal: Principal,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Violation>, ApiError> {
    principal.require(Need::Operate)?;
    act(app, id, Action::Resolve).await
}

async fn act(
    app: AppState,
    id: Result<Path<String>, PathRejection>,
    action: Action,
) -> Result<Json<Violation>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let result = app.writer.violation(id.clone(), action).await;
    resolved_is_conflict(&app, Table::Violations, &id, result).await
}
