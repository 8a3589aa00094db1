//! The HTTP API: one module per resource, each with its own `router()`, merged here.

mod alerts;
mod assets;
mod audit;
mod contractor_vehicles;
mod contractors;
mod forecast;
pub mod gzip;
mod health;
mod history;
mod history_range;
mod ingest;
mod json;
mod lots;
mod metrics;
mod observe;
mod open_data;
pub mod openapi;
mod operated;
mod params;
mod path;
mod responses;
mod session;
mod sse;
mod statements;
mod vehicles;
mod violations;
mod webhooks;

/// The body parsing the MQTT ingest shares with the HTTP endpoints.
pub use ingest::parse_items;
pub use json::{parse as parse_json, OneOrMany};

use std::sync::Arc;

use axum::extract::MatchedPath;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

use crate::auth::{Authenticator, Principal};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::limits::PerIpLimits;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::proxy::Cidr;
use crate::read_model::ReadModel;
use crate::store::Store;
use crate::writer::Writer;

/// Cheap handles to everything a handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    pub writer: Writer,
    pub hub: Hub,
    pub read_model: ReadModel,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// The authenticator, CORS and the body and filter limits, which a reload may replace.
    pub live: Live,
    pub limits: Arc<PerIpLimits>,
    /// `--trusted-proxies`: peers whose forwarded client address is taken.
    pub trusted_proxies: Arc<[Cidr]>,
    /// How signing in stores the token.
    pub token_cookie: TokenCookie,
    /// How long a request's whole body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Cancelled when the server starts shutting down: every stream ends.
    pub shutdown: CancellationToken,
    /// The window over which streams close on shutdown.
    pub shutdown_drain: std::time::Duration,
    /// Compressed stream slots, when `--stream-gzip` is on.
    pub gzip: Option<Arc<crate::http::gzip::GzipSlots>>,
    /// How long occupancy rollups are kept: the longest range a history query may span.
    pub rollup_retention: crate::store::RollupRetention,
    /// Whether Redis answers, in a cluster (`--redis-url`).
    pub redis_health: Option<crate::health::Health>,
    /// Whether the MQTT broker is connected, with `--mqtt-url`.
    pub mqtt_health: Option<crate::health::Health>,
    /// How webhooks are sent (`--webhook-…`): saving an endpoint checks its address.
    pub webhooks: crate::webhooks::WebhookOptions,
    /// `--currency`: what penalties are counted in, told to clients by `GET /api/session`.
    pub currency: Option<crate::config::Currency>,
    /// The open occupancy feed, with `--open-data`.
    pub open_data: Option<Arc<crate::open_data::OpenData>>,
}

/// What the authentication extractors take from the state.
impl axum::extract::FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.live.get().auth.clone()
    }
}

/// The attributes of the token cookie that signing in (`/?token=`) sets.
#[derive(Debug, Clone)]
pub struct TokenCookie {
    /// `/`, or the path of `--public-url`.
    pub path: String,
    /// Whether browsers reach the dashboard over HTTPS (`Secure`).
    pub secure: bool,
}

/// The address a request is counted (per-address limits) and logged under: the peer's, or
/// the one a trusted proxy forwarded ([`crate::proxy::client_address`]). Present on every
/// request that came through the server's connections.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub std::net::IpAddr);

/// Per-connection context the server attaches to each request.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    /// Cancelling it closes the connection at once (a stream that fell behind).
    pub kill: CancellationToken,
    /// The TCP peer's address (a proxy's, behind one; see [`ClientAddress`]).
    pub peer: std::net::SocketAddr,
}

/// The whole API. `/metrics` is included unless it is served on its own address; browsers
/// from the live settings' CORS origins may call it.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let mut app = Router::new()
        .merge(lots::router())
        .merge(forecast::router())
        .merge(ingest::router())
        .merge(contractors::router())
        .merge(alerts::router())
        .merge(violations::router())
        .merge(audit::router())
        .merge(vehicles::router())
        .merge(statements::router())
        .merge(contractor_vehicles::router())
        .merge(webhooks::router())
        .merge(health::router())
        .merge(openapi::router())
        .merge(history::router())
        .merge(session::router())
        .merge(assets::router());
    if with_metrics {
        app = app.merge(metrics::router());
    }
    if state.open_data.is_some() {
        app = app.merge(open_data::router());
    }
    // The span names the matched route, never the raw path or query (which can carry plates
    // and tokens). The stream stays outside it: a span entered on every chunk of every
    // long-lived stream cost more than the rest of a delivery's user-space work.
    let traced = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<_>| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            let client = req
                .extensions()
                .get::<ClientAddress>()
                .map(|ClientAddress(ip)| ip.to_string());
            let client = client.as_deref();
            tracing::info_span!("request", method = %req.method(), route, client)
        })
        .on_response(
            DefaultOnResponse::new()
                .level(tracing::Level::INFO)
                .latency_unit(LatencyUnit::Micros),
        );
    app.layer(traced)
        .merge(sse::router())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        // Outermost but CORS: everything inside knows the client.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            resolve_client,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .with_state(state)
}

/// Answers CORS preflights and adds CORS headers, as the live settings say at the moment
/// the request arrives (nothing without origins).
async fn cors(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use tower::{Layer, ServiceExt};
    let Some(cors) = app.live.get().cors.clone() else {
        return next.run(request).await;
    };
    match cors.layer(next).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Attaches the request's [`ClientAddress`], from its connection's peer and, behind a trusted
/// proxy, its forwarding headers. Both connection paths (hyper's and the lean stream path)
/// route every request through here.
async fn resolve_client(
    State(app): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(connection) = request.extensions().get::<ConnectionContext>() {
        let client = crate::proxy::client_address(
            connection.peer.ip(),
            request.headers(),
            &app.trusted_proxies,
        );
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// Answers 429 when a client address sends writes faster than `--write-rate-per-ip`.
async fn limit_writes(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
    if !reads.contains(request.method()) {
        if let Some(ClientAddress(client)) = request.extensions().get::<ClientAddress>() {
            app.limits
                .write(*client)
                .map_err(|secs| ApiError::TooManyRequests {
                    message: "too many writes from this address; batch them or slow down".into(),
                    retry_after_secs: secs,
                })?;
        }
    }
    Ok(next.run(request).await)
}

/// CORS for the configured origins (`None` without any): the API's methods and headers,
/// credentials, and the `Last-Event-ID` answer header readable by scripts.
/// `*` among the origins allows any origin, without credentials (a wildcard with credentials
/// would let any site act with a signed-in operator's cookie).
pub fn cors_layer(origins: &[HeaderValue]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE, LAST_EVENT_ID])
        .expose_headers([LAST_EVENT_ID])
        .max_age(std::time::Duration::from_secs(600));
    Some(if origins.iter().any(|origin| origin == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_credentials(true)
    })
}

/// The router that serves `/metrics` alone, for `--metrics-bind`.
pub fn metrics_router(state: AppState) -> Router {
    metrics::open_router()
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

/// The answer to a PUT: the resource's view, 201 if it was created and 200 if it was updated.
fn created_or_updated<T: serde::Serialize>((view, created): (T, bool)) -> Response {
    let status = if created {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    (status, axum::Json(view)).into_response()
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
