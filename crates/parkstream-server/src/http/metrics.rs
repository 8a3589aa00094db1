//! `GET /metrics`: Prometheus (OpenMetrics) text.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::auth::{need, Allowed};

/// `/metrics` on the main address, for admin and monitor tokens: the figures tell how many
/// streams and clients there are and from where, which is not for every token holder.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(guarded))
}

/// `/metrics` on its own address (`--metrics-bind`), which the operator keeps private: open.
pub fn open_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn guarded(_allowed: Allowed<need::Scrape>, app: State<AppState>) -> impl IntoResponse {
    metrics(app).await
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "operations",
    summary = "Prometheus metrics (admin or monitor token; open on --metrics-bind)",
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "No valid token", body = parkstream_protocol::api::ErrorBody),
        (status = 403, description = "A role other than admin or monitor", body = parkstream_protocol::api::ErrorBody)
    )
)]
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    // The lots' gauges are read from the read model at each scrape rather than kept up to date
    // on every count: scrapes are rare, counts are not.
    app.metrics.set_lots(&app.read_model.lots().0);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
