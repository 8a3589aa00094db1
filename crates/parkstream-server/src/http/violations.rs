//! `GET /api/violations`, `POST /api/violations/{id}/acknowledge`, `POST /api/violations/{id}/resolve`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::{Violation, ViolationStatus};
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
    operated::list::<Violation>(&principal, &app, &params).await
}

#[utoipa::path(
    post,
    path = "/api/violations/{id}/acknowledge",
    operation_id = "acknowledgeViolation",
    tag = "violations",
    summary = "Acknowledge a violation",
    request_body(content = Option<ActionNote>, description = "Optional: a note (at most 500 characters), kept with it and in the audit; the actor is the token's `sub`", example = json!({"note": "Towed by site security"})),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Violation),
        (status = 404, description = "Unknown violation", body = ErrorBody),
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
) -> Result<Json<Violation>, ApiError> {
    operated::act(&app, &allowed.0, id, Action::Acknowledge, body).await
}

#[utoipa::path(
    post,
    path = "/api/violations/{id}/resolve",
    operation_id = "resolveViolation",
    tag = "violations",
    summary = "Resolve a violation",
    request_body(content = Option<ActionNote>, description = "Optional: a note (at most 500 characters), kept with it and in the audit; the actor is the token's `sub`", example = json!({"note": "Towed by site security"})),
    responses(
        (status = 200, description = "Its new state (also broadcast)", body = Violation),
        (status = 404, description = "Unknown violation", body = ErrorBody),
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
) -> Result<Json<Violation>, ApiError> {
    operated::act(&app, &allowed.0, id, Action::Resolve, body).await
}
