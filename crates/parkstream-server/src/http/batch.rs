//! Ingest bodies: one item or an array (a batch), checked whole before anything is applied.

use axum::response::{IntoResponse, Response};
use axum::Json;
use parkstream_protocol::events::CapacityUpdate;
use serde::Serialize;

use super::json::OneOrMany;
use crate::domain::DomainError;
use crate::error::ApiError;
use crate::store::WriteError;

/// Checks every item with `parse`; the first failure refuses the whole body, naming the
/// item's index in a batch. Answers the items and whether they came as a batch.
///
/// # Errors
/// The first item's error.
fn parse_items<T, U>(
    body: OneOrMany<T>,
    mut parse: impl FnMut(T) -> Result<U, DomainError>,
) -> Result<(Vec<U>, bool), ApiError> {
    let (items, batch) = body.into_vec();
    let parsed = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| parse(item).map_err(|e| if batch { e.at_index(index) } else { e }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((parsed, batch))
}

/// An ingest request from parsed body to answer: checks every item with `parse` (the first
/// failure refuses the whole body), hands them to `apply` as one command, and answers its
/// `capacity_update`s: one, or an array for a batch (`[]` for an empty batch, which changes
/// nothing).
///
/// # Errors
/// The first item's error, or `apply`'s.
pub async fn ingest<T, U, F>(
    body: OneOrMany<T>,
    parse: impl FnMut(T) -> Result<U, DomainError>,
    apply: impl FnOnce(Vec<U>, bool) -> F,
) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = Result<Vec<CapacityUpdate>, WriteError>>,
{
    let (items, batch) = parse_items(body, parse)?;
    if items.is_empty() {
        return Ok(answer(Vec::<CapacityUpdate>::new(), true));
    }
    Ok(answer(apply(items, batch).await?, batch))
}

/// The answer to an ingest request: the one result, or the array of them for a batch.
fn answer<T: Serialize>(mut results: Vec<T>, batch: bool) -> Response {
    if batch || results.len() != 1 {
        Json(results).into_response()
    } else {
        Json(results.remove(0)).into_response()
    }
}
