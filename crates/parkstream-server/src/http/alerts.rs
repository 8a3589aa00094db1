//! `GET /api/alerts`, `POST /api/alerts/{id}/acknowledge`, `POST /api/alerts/{id}/resolve`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::events::Alert;

use super::lots::path_error;
use super::params::Params;
use super::{resolved_is_conflict, with_last_event_id, AppState};
use crate::error::ApiError;
use crate::store::{AlertQuery, Table};
use crate::writer::Action;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/alerts", get(list))
        .route("/api/alerts/{id}/acknowledge", post(acknowledge))
        .route("/api/alerts/{id}/resolve", post(resolve))
}

/// Alerts, newest first: `status=active|acknowledged|resolved`, `lot=`, `contractor=`,
/// `limit=` (1 to 1,000, default 100).
async fn list(State(app): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let query = AlertQuery {
        status: params.wire_enum("status", "active, acknowledged, resolved")?,
        lot: params.text("lot"),
        contractor: params.text("contractor"),
        limit: params.limit()?,
    };
    let page = app.store.alerts(&query).await?;
    Ok(with_last_event_id(page.last_event_id, Json(page.items)))
}

async fn acknowledge(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Alert>, ApiError> {
    act(app, id, Action::Acknowledge).await
}

async fn resolve(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Alert>, ApiError> {
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
