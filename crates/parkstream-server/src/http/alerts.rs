//! `GET /api/alerts`, `POST /api/alerts/{id}/acknowledge`, `POST /api/alerts/{id}/resolve`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::Alert;
use parkstream_protocol::events::AlertStatus;

use super::lots::path_error;
use super::params::Params;
use super::{list_query, resolved_is_conflict, with_last_event_id, AppState};
use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::store::Table;
use crate::writer::Action;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/alerts", get(list))
        .route("/api/alerts/{id}/acknowledge", post(acknowledge))
        .route("/api/alerts/{id}/resolve", post(resolve))
}

#[utoipa::path(
    get,
    path = "/api/alerts",
    operation_id = "listAlerts",
    tag = "alerts",
    summary = "Alerts, newest first",
    params(("status" = Option<AlertStatus>, Query, description = "Only this status"), ("lot" = Option<String>, Query, description = "Only this lot"), ("contractor" = Option<String>, Query, description = "Only this contractor"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100)")),
    responses(
        (status = 200, body = Vec<Alert>, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects: subscribe from it"))),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody)
    )
)]
/// Alerts, newest first: `status=active|acknowledged|resolved`, `lot=`, `contractor=`,
/// `limit=` (1 to 1,000, default 100).
async fn list(
    principal: Principal,
    State(app): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    let query = list_query::<AlertStatus>(&principal, &params, "active, acknowledged, resolved")?;
    let page = app.store.alerts(&query).await?;
    Ok(with_last_event_id(page.last_event_id, Json(page.items)))
}

#[utoipa::path(
    post,
    path = "/api/alerts/{id}/acknowledge",
    operation_id = "acknowledgeAlert",
    tag = "alerts",
    summary = "Acknowledge an alert",
    params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.:-]{1,128}$", description = "The alert's id")),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Alert),
        (status = 404, description = "Unknown alert", body = ErrorBody),
        (status = 409, description = "Not in a state that can be acknowledged", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
async fn acknowledge(
    principal: Principal,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Alert>, ApiError> {
    principal.require(Need::Operate)?;
    act(app, id, Action::Acknowledge).await
}

#[utoipa::path(
    post,
    path = "/api/alerts/{id}/resolve",
    operation_id = "resolveAlert",
    tag = "alerts",
    summary = "Resolve an alert",
    params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.:-]{1,128}$", description = "The alert's id")),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Alert),
        (status = 404, description = "Unknown alert", body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        (status = 503, description = "Not stored (database unavailable); retry", body = ErrorBody)
    )
)]
async fn resolve(
    principal: Principal,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Alert>, ApiError> {
    principal.require(Need::Operate)?;
    act(app, id, Action::Resolve).await
}

async fn act(
    app: AppState,
    id: Result<Path<String>, PathRejection>,
    action: Action,
) -> Result<Json<Alert>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let result = app.writer.alert(id.clone(), action).await;
    resolved_is_conflict(&app, Table::Alerts, &id, result).await
}
