//! `GET /api/contractors`, `GET /api/contractors/{id}`, `PUT /api/contractors/{id}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ContractorSpec;

use super::json::ApiJson;
use super::lots::path_error;
use super::{with_last_event_id, AppState};
use crate::domain::contractor::{ContractorId, ContractorSettings};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/contractors", get(list))
        .route("/api/contractors/{id}", get(show).put(put))
}

async fn list(State(app): State<AppState>) -> Result<Response, ApiError> {
    let (contractors, last_event_id) = app.writer.contractors().await?;
    Ok(with_last_event_id(last_event_id, Json(contractors)))
}

async fn show(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(path_error)?;
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

/// Creates (201) or replaces (200) a contractor.
async fn put(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    ApiJson(spec): ApiJson<ContractorSpec>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let id = ContractorId::parse(&id).map_err(|message| ApiError::invalid("id", message))?;
    let settings = ContractorSettings::parse(spec)?;
    let (view, created) = app.writer.put_contractor(id, settings).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}
