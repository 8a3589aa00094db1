//! `POST /api/capacity/update`: set lots' counts (one report or a batch).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parkstream_protocol::api::CapacityReport;
use parkstream_protocol::Timestamp;

use super::json::{ApiJson, OneOrMany};
use super::AppState;
use crate::domain::{CountReport, DomainError};
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/capacity/update", post(update))
}

/// Answers the resulting `capacity_update` (an array of them for a batch), once stored.
async fn update(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<OneOrMany<CapacityReport>>,
) -> Result<Response, ApiError> {
    let (items, batch) = body.into_vec();
    let now = Timestamp::now();
    let reports = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            CountReport::parse(item, now).map_err(|e| if batch { e.at_index(index) } else { e })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    if reports.is_empty() {
        return Ok(Json(Vec::<()>::new()).into_response());
    }
    let mut updates = app.writer.report_counts(reports, batch).await?;
    Ok(if batch {
        Json(updates).into_response()
    } else {
        Json(updates.remove(0)).into_response()
    })
}
