//! `GET /api/sse/dashboard`: the stream (docs/protocol.md, "The stream").

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use bytes::BytesMut;
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::{Connected, Reset};
use parkstream_protocol::{sse, EventType, Timestamp};
use rand::Rng;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

use super::params::Params;
use super::{AppState, ClientAddress, ConnectionContext, LAST_EVENT_ID};
use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::http::gzip::{accepts_gzip, GzipSlots, Gzipped};
use crate::hub::{ContractorScope, Filter, HubFull, Start};
use crate::limits::StreamPermit;
use crate::metrics::KindLabel;
use prometheus_client::metrics::gauge::Gauge;

/// The reconnection delay suggested to clients, in milliseconds.
const RETRY_MILLIS: u64 = 2_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/sse/dashboard", get(dashboard))
}

#[utoipa::path(
    get,
    path = "/api/sse/dashboard",
    operation_id = "streamDashboard",
    tag = "stream",
    summary = "The event stream (Server-Sent Events)",
    params(("lots" = Option<String>, Query, description = "Comma-separated lot ids"), ("types" = Option<String>, Query, description = "Comma-separated event types: capacity_update, alert, violation"), ("lastEventId" = Option<String>, Query, description = "Resume after this event id"), ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (wins over the query)")),
    responses(
        (status = 200, description = "Server-Sent Events: a `retry:` line, `connected`, then replayed and live events. Each event's `event:` line names it and its `data:` line is one JSON object of the schema of that name: `connected` Connected, `capacity_update` CapacityUpdate, `alert` Alert, `violation` Violation, `reset` Reset, `ping` Ping. Replayable events carry an `id:` to resume from", content_type = "text/event-stream", body = StreamEvent),
        (status = 400, description = "Unknown event type, malformed lot id, or more lots than --max-filter-lots", body = ErrorBody),
        (status = 429, description = "Too many streams open from this address (Retry-After)", body = ErrorBody),
        (status = 503, description = "Too many open streams (Retry-After)", body = ErrorBody)
    )
)]
async fn dashboard(
    principal: Principal,
    State(app): State<AppState>,
    headers: HeaderMap,
    version: Version,
    params: Params,
    connection: Option<Extension<ConnectionContext>>,
    client: Option<Extension<ClientAddress>>,
) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    let mut filter = Filter::parse(
        params.get("lots"),
        params.get("types"),
        app.live.get().max_filter_lots,
    )
    .map_err(|e| ApiError::bad_query(e.field, e.message))?
    .within(principal.lots.as_deref());
    if let Some(contractor) = &principal.contractor {
        filter = filter.for_contractor(ContractorScope {
            id: contractor.clone(),
            lots: app.read_model.live_contractor_lots(contractor),
        });
    }
    // A header that is not text cannot be placed: it gets `reset`, like any unknown id.
    let last_id = match headers.get(LAST_EVENT_ID) {
        Some(value) => Some(value.to_str().unwrap_or("\u{0}")),
        None => params.get("lastEventId"),
    }
    .filter(|id| !id.is_empty());
    if let Some(id) = last_id {
        app.hub.settle(id).await;
    }
    let permit = match client {
        Some(Extension(ClientAddress(ip))) => Some(app.limits.open_stream(ip).ok_or_else(
            || ApiError::TooManyRequests {
                message: "too many streams open from this address".into(),
                retry_after_secs: rand::rng().random_range(1..=10),
            },
        )?),
        None => None,
    };
    let kill = connection.map(|Extension(c)| c.kill).unwrap_or_default();

    let subscription = app
        .hub
        .subscribe(filter, last_id, kill)
        .map_err(|HubFull| {
            // Jitter spreads the retries of a crowd refused at once.
            ApiError::Unavailable {
                message: "too many open streams; try again later".into(),
                retry_after_secs: Some(rand::rng().random_range(1..=10)),
            }
        })?;

    let mut head = BytesMut::with_capacity(256);
    let mut scratch = Vec::with_capacity(256);
    sse::write_retry(&mut scratch, RETRY_MILLIS);
    let connected = Connected {
        client_id: format!("client_{}", uuid::Uuid::new_v4().simple()),
        server_time: Timestamp::now(),
        resumed: subscription.start() == Start::Resumed,
    };
    let data = serde_json::to_string(&connected).expect("connected serializes");
    sse::write_frame(&mut scratch, None, EventType::Connected.as_str(), &data);
    if subscription.start() == Start::Reset {
        let reset = Reset {
            reason: Reset::HISTORY_UNAVAILABLE.into(),
        };
        let data = serde_json::to_string(&reset).expect("reset serializes");
        sse::write_frame(&mut scratch, None, EventType::Reset.as_str(), &data);
    }
    head.extend_from_slice(&scratch);

    // The stream ends when its token expires; the client reconnects with a fresh one.
    let deadline = principal.expires_at.map(|at| {
        let left = at.unix_millis() - Timestamp::now().unix_millis();
        tokio::time::Instant::now() + std::time::Duration::from_millis(left.max(0) as u64)
    });
    let stream = subscription
        .into_stream(head, deadline)
        .closing_over(app.shutdown_drain);
    tracing::debug!(resumed = connected.resumed, "stream opened");
    let gzip_slot = app
        .gzip
        .as_ref()
        .filter(|_| {
            headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|value| value.to_str().ok())
                .is_some_and(accepts_gzip)
        })
        .and_then(GzipSlots::take);
    let compressed = gzip_slot.is_some();
    let kind = match (compressed, version) {
        (true, _) => "gzip",
        (false, Version::HTTP_2) => "http2",
        (false, _) => "plain",
    };
    let permitted = PermittedStream {
        stream,
        _permit: permit,
        _counted: Counted::new(
            app.metrics
                .streams
                .get_or_create(&KindLabel { kind })
                .clone(),
        ),
    };
    let body = match gzip_slot {
        Some(slot) => Body::from_stream(Gzipped::new(permitted, slot)),
        None => Body::from_stream(permitted),
    };
    let mut response = Response::new(body);
    if compressed {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if app.gzip.is_some() {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// A stream that holds its per-address place, and its place in the streams gauge, until it
/// ends.
struct PermittedStream {
    stream: crate::hub::SseStream,
    _permit: Option<StreamPermit>,
    _counted: Counted,
}

/// One in a gauge for as long as it lives.
struct Counted(Gauge);

impl Counted {
    fn new(gauge: Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl futures_util::Stream for PermittedStream {
    type Item = <crate::hub::SseStream as futures_util::Stream>::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.stream).poll_next(cx)
    }
}

/// What the `data:` line of a stream event holds; the `event:` line says which. A schema
/// only (`sse::dashboard` writes the stream). `anyOf` rather than `oneOf`: the payloads are
/// open objects that can overlap (`ping` is `{timestamp}`), the event name tells them apart.
#[derive(Debug)]
pub struct StreamEvent;

/// Each event name of the stream and the schema of its data.
pub const STREAM_EVENTS: [(&str, &str); 6] = [
    ("connected", "Connected"),
    ("capacity_update", "CapacityUpdate"),
    ("alert", "Alert"),
    ("violation", "Violation"),
    ("reset", "Reset"),
    ("ping", "Ping"),
];

impl utoipa::PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        let names = STREAM_EVENTS
            .iter()
            .map(|(event, schema)| (event.to_string(), serde_json::Value::from(*schema)))
            .collect::<serde_json::Map<_, _>>();
        STREAM_EVENTS
            .iter()
            .fold(AnyOfBuilder::new(), |any, (_, schema)| {
                any.item(Ref::from_schema_name(*schema))
            })
            .description(Some(
                "The JSON in a stream event's `data:` line; `x-event-schemas` maps the event's name (its `event:` line) to its schema",
            ))
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add("x-event-schemas", serde_json::Value::Object(names))
                    .build(),
            ))
            .into()
    }
}

impl ToSchema for StreamEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        "StreamEvent".into()
    }
}
