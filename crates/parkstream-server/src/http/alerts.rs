//! `GET /api/alerts`, `POST /api/alerts/{id}/acknowledge`, `POST /api/alerts/{id}/resolve`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::{Alert, AlertStatus};

use super::operated;
use super::params::Params;
use super::path::PathId;
use super::responses::NotStored;
use super::AppState;
use crate::auth::{need, Allowed, Principal};
use crate::error::ApiError;
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
    operated::list::<Alert>(&principal, &app, &params).await
}

#[utoipa::path(
    post,
    path = "/api/alerts/{id}/acknowledge",
    operation_id = "acknowledgeAlert",
    tag = "alerts",
    summary = "Acknowledge an alert",
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Alert),
        (status = 404, description = "Unknown alert", body = ErrorBody),
        (status = 409, description = "Not in a state that can be acknowledged", body = ErrorBody),
        NotStored
    )
)]
async fn acknowledge(
    _allowed: Allowed<need::Operate>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<Alert>, ApiError> {
    operated::act(&app, id, Action::Acknowledge).await
}

#[utoipa::path(
    post,
    path = "/api/alerts/{id}/resolve",
    operation_id = "resolveAlert",
    tag = "alerts",
    summary = "Resolve an alert",
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Alert),
        (status = 404, description = "Unknown alert", body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        NotStored
    )
)]
async fn resolve(
    _allowed: Allowed<need::Operate>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<Alert>, ApiError> {
    operated::act(&app, id, Action::Resolve).await
}
