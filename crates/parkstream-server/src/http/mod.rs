//! The HTTP API: one module per resource, each with its own `router()`, merged here.

mod alerts;
mod assets;
mod batch;
mod capacity;
mod contractors;
mod health;
mod history;
mod json;
mod lots;
mod metrics;
mod monitor;
pub mod openapi;
mod params;
mod sse;
mod violations;

use std::sync::Arc;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::auth::{Authenticator, Principal};
use crate::domain::DomainError;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::store::{Store, Table};
use crate::writer::Writer;

/// Cheap handles to everything a handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    pub writer: Writer,
    pub hub: Hub,
    pub read_model: ReadModel,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub auth: Authenticator,
    pub max_body_bytes: usize,
    /// Cancelled when the server starts shutting down: every stream ends.
    pub shutdown: CancellationToken,
}

/// Per-connection context the server attaches to each request.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    /// Cancelling it closes the connection at once (a stream that fell behind).
    pub kill: CancellationToken,
}

/// The whole API. `/metrics` is included unless it is served on its own address.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let mut app = Router::new()
        .merge(lots::router())
        .merge(capacity::router())
        .merge(monitor::router())
        .merge(contractors::router())
        .merge(alerts::router())
        .merge(violations::router())
        .merge(sse::router())
        .merge(health::router())
        .merge(openapi::router())
        .merge(history::router())
        .merge(assets::router());
    if with_metrics {
        app = app.merge(metrics::router());
    }
    app.fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(
            // The span names the matched route, never the raw path or query (which can carry
            // plates and tokens).
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("request", method = %req.method(), route)
            }),
        )
        .with_state(state)
}

/// The router that serves `/metrics` alone, for `--metrics-bind`.
pub fn metrics_router(state: AppState) -> Router {
    metrics::router()
        .fallback(|| async { ApiError::RouteNotFound })
        .with_state(state)
}

const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Adds the `Last-Event-ID` header: the newest event id the answered state reflects.
fn with_last_event_id(last_event_id: u64, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(LAST_EVENT_ID, HeaderValue::from(last_event_id));
    response
}

/// The answer to acknowledging or resolving an alert or violation. Only unresolved ones are
/// in the writer's memory, so "not found" there means resolved (409) if the id was ever
/// stored, and unknown (404) otherwise.
async fn resolved_is_conflict<T>(
    app: &AppState,
    table: Table,
    id: &str,
    result: Result<T, DomainError>,
) -> Result<Json<T>, ApiError> {
    match result {
        Ok(value) => Ok(Json(value)),
        Err(DomainError::NotFound { .. }) if app.store.exists(table, id).await? => {
            Err(ApiError::Conflict(format!("{id} is already resolved")))
        }
        Err(err) => Err(err.into()),
    }
}

/// The lots whose state `principal` may see (`None`: every lot): its `lots` claim, and for
/// a contractor only the lots it has allocations in.
fn visible_lots(principal: &Principal, app: &AppState) -> Option<Vec<String>> {
    let claim: Option<Vec<String>> = principal
        .lots
        .as_ref()
        .map(|lots| lots.iter().map(ToString::to_string).collect());
    match &principal.contractor {
        None => claim,
        Some(contractor) => {
            let mut lots = app.read_model.contractor_lots(contractor);
            if let Some(claim) = claim {
                lots.retain(|lot| claim.contains(lot));
            }
            Some(lots)
        }
    }
}
