//! `GET /api/alerts`, `POST /api/alerts/{id}/acknowledge`, `POST /api/alerts/{id}/resolve`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::{Alert, AlertStatus};
use parkstream_protocol::records::ActionNote;

use super::json::OptionalJson;
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
    request_body(content = Option<ActionNote>, description = "Optional: a note (at most 500 characters), kept with it and in the audit; the actor is the token's `sub`", example = json!({"note": "Towed by site security"})),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Alert),
        (status = 404, description = "Unknown alert", body = ErrorBody),
        (status = 409, description = "Not in a state that can be acknowledged", body = ErrorBody),
        (status = 422, description = "The note is longer than 500 characters", body = ErrorBody),
        NotStored
    )
)]
async fn acknowledge(
    allowed: Allowed<need::Operate>,
    State(app): State<AppState>,
    PathId(id): PathId,
    OptionalJson(body): OptionalJson<ActionNote>,
) -> Result<Json<Alert>, ApiError> {
    operated::act(&app, &allowed.0, id, Action::Acknowledge, body).await
}

#[utoipa::path(
    post,
    path = "/api/alerts/{id}/resolve",
    operation_id = "resolveAlert",
    tag = "alerts",
    summary = "Resolve an alert",
    request_body(content = Option<ActionNote>, description = "Optional: a note (at most 500 characters), kept with it and in the audit; the actor is the token's `sub`", example = json!({"note": "Towed by site security"})),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Alert),
        (status = 404, description = "Unknown alert", body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        (status = 422, description = "The note is longer than 500 characters", body = ErrorBody),
        NotStored
    )
)]
async fn resolve(
    allowed: Allowed<need::Operate>,
    State(app): State<AppState>,
    PathId(id): PathId,
    OptionalJson(body): OptionalJson<ActionNote>,
) -> Result<Json<Alert>, ApiError> {
    operated::act(&app, &allowed.0, id, Action::Resolve, body).await
}
