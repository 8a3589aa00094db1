//! `GET /api/violations`, `POST /api/violations/{id}/acknowledge`, `POST /api/violations/{id}/resolve`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::events::Violation;

use super::lots::path_error;
use super::params::Params;
use super::{resolved_is_conflict, with_last_event_id, AppState};
use crate::error::ApiError;
use crate::store::{Table, ViolationQuery};
use crate::writer::Action;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/violations", get(list))
        .route("/api/violations/{id}/acknowledge", post(acknowledge))
        .route("/api/violations/{id}/resolve", post(resolve))
}

/// Violations, newest first: `status=pending|acknowledged|resolved`, `lot=`, `contractor=`,
/// `limit=` (1 to 1,000, default 100).
async fn list(State(app): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let query = ViolationQuery {
        status: params.wire_enum("status", "pending, acknowledged, resolved")?,
        lot: params.text("lot"),
        contractor: params.text("contractor"),
        limit: params.limit()?,
    };
    let page = app.store.violations(&query).await?;
    Ok(with_last_event_id(page.last_event_id, Json(page.items)))
}

async fn acknowledge(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Violation>, ApiError> {
    act(app, id, Action::Acknowledge).await
}

async fn resolve(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Violation>, ApiError> {
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
