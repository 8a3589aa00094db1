//! `POST /api/capacity/update`: set lots' counts (one report or a batch).

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use parkstream_protocol::api::CapacityReport;
use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::Timestamp;

use super::batch::{answer, parse_items};
use super::json::{ApiJson, OneOrMany};
use super::AppState;
use crate::domain::CountReport;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/capacity/update", post(update))
}

/// Answers the resulting `capacity_update` (an array of them for a batch), once stored.
async fn update(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<OneOrMany<CapacityReport>>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now();
    let (reports, batch) = parse_items(body, |item| CountReport::parse(item, now))?;
    if reports.is_empty() {
        return Ok(answer(Vec::<CapacityUpdate>::new(), true));
    }
    let updates = app.writer.report_counts(reports, batch).await?;
    Ok(answer(updates, batch))
}
