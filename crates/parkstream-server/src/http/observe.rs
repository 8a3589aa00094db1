//! Counts and times every answered request by route, method and status, and refusals by their
//! error code (`parkstream_http_*`). The route is the pattern matched, never the raw path,
//! which can carry plates.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::error::ErrorCode;
use crate::metrics::{HttpLabels, ReasonLabel, RouteLabels};

/// Requests that matched no route share one label value, so probes of random paths cannot
/// grow the series without bound.
const UNMATCHED: &str = "unmatched";

pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let metrics = &app.metrics;
    metrics
        .http_duration
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method,
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        metrics
            .http_refusals
            .get_or_create(&ReasonLabel { reason: code })
            .inc();
    }
    response
}

/// The method as a label value: the standard ones by name, any other as `other` (a client may
/// send any token as a method).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ]
    .into_iter()
    .zip(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
    .find_map(|(known, name)| (known == method).then_some(name))
    .unwrap_or("other")
}
