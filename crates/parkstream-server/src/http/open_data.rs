//! The open occupancy feed (`--open-data`), for anyone, without a token:
//! `GET /api/open/datex2/parking-table`, `GET /api/open/datex2/parking-status`,
//! `GET /api/open/apds/places`, `GET /api/open/apds/places/{id}`.
//!
//! Built for pollers: each answer carries `ETag`, `Last-Modified` and a short public
//! `Cache-Control`; a conditional request for what the poller has is 304; gzip when asked;
//! and each client address has a budget (`--open-data-rate`, 429 with `Retry-After`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::Timestamp;

use super::gzip::accepts_gzip;
use super::params::Params;
use super::path::PathId;
use super::{AppState, ClientAddress};
use crate::error::ApiError;
use crate::open_data::{Document, OpenData, Rendered};

/// The routes, mounted only with `--open-data` (404 otherwise, like any unknown URL).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/open/datex2/parking-table", get(parking_table))
        .route("/api/open/datex2/parking-status", get(parking_status))
        .route("/api/open/apds/places", get(places))
        .route("/api/open/apds/places/{id}", get(place))
}

#[utoipa::path(
    get,
    path = "/api/open/datex2/parking-table",
    operation_id = "getOpenParkingTable",
    tag = "open data",
    summary = "DATEX II v3 ParkingTablePublication of the public lots (--open-data)",
    responses(
        (status = 200, description = "A `d2:payload` of type `prk:ParkingTablePublication`: one `prk:Place` per public lot (name, point location, supply)", content_type = "application/xml", body = String),
        (status = 304, description = "Unchanged since If-None-Match / If-Modified-Since"),
        (status = 404, description = "--open-data is off", body = ErrorBody),
        (status = 429, description = "Too many requests from this address (--open-data-rate)", body = ErrorBody)
    )
)]
async fn parking_table(
    State(app): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&app, client, &headers, &Document::DatexParkingTable).await
}

#[utoipa::path(
    get,
    path = "/api/open/datex2/parking-status",
    operation_id = "getOpenParkingStatus",
    tag = "open data",
    summary = "DATEX II v3 ParkingStatusPublication of the public lots (--open-data)",
    responses(
        (status = 200, description = "A `d2:payload` of type `prk:ParkingStatusPublication`: per public lot, opening status, vacant and occupied spaces, occupancy %, trend and full / almostFull / spacesAvailable; then per horizon (+15, +30, +60 min) an expected status with its `prk:ValidityByPeriod`", content_type = "application/xml", body = String),
        (status = 304, description = "Unchanged since If-None-Match / If-Modified-Since"),
        (status = 404, description = "--open-data is off", body = ErrorBody),
        (status = 429, description = "Too many requests from this address (--open-data-rate)", body = ErrorBody)
    )
)]
async fn parking_status(
    State(app): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&app, client, &headers, &Document::DatexParkingStatus).await
}

#[utoipa::path(
    get,
    path = "/api/open/apds/places",
    operation_id = "listOpenPlaces",
    tag = "open data",
    summary = "APDS places: the public lots (--open-data)",
    params(("expand" = Option<String>, Query, description = "`occupancy` (or `all`): each place's demand table of counted occupancy and the expected one at +15, +30 and +60 minutes")),
    responses(
        (status = 200, description = "An APDS paginated list (`meta`, `data`) of `Place`s with their supply", body = serde_json::Value),
        (status = 304, description = "Unchanged since If-None-Match / If-Modified-Since"),
        (status = 400, description = "An `expand` value APDS does not define", body = ErrorBody),
        (status = 404, description = "--open-data is off", body = ErrorBody),
        (status = 429, description = "Too many requests from this address (--open-data-rate)", body = ErrorBody)
    )
)]
async fn places(
    State(app): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let occupancy = expand_occupancy(&params)?;
    serve(&app, client, &headers, &Document::ApdsPlaces { occupancy }).await
}

#[utoipa::path(
    get,
    path = "/api/open/apds/places/{id}",
    operation_id = "getOpenPlace",
    tag = "open data",
    summary = "One APDS place: a public lot (--open-data)",
    params(("expand" = Option<String>, Query, description = "`occupancy` (or `all`): the place's demand table of counted occupancy and the expected one at +15, +30 and +60 minutes")),
    responses(
        (status = 200, description = "An APDS `Place` with its supply", body = serde_json::Value),
        (status = 304, description = "Unchanged since If-None-Match / If-Modified-Since"),
        (status = 400, description = "An `expand` value APDS does not define", body = ErrorBody),
        (status = 404, description = "No public lot has this id, or --open-data is off", body = ErrorBody),
        (status = 429, description = "Too many requests from this address (--open-data-rate)", body = ErrorBody)
    )
)]
async fn place(
    State(app): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    headers: HeaderMap,
    PathId(id): PathId,
    params: Params,
) -> Result<Response, ApiError> {
    let occupancy = expand_occupancy(&params)?;
    serve(
        &app,
        client,
        &headers,
        &Document::ApdsPlace { id, occupancy },
    )
    .await
}

/// The `expand` values of APDS's places operations.
const EXPAND: [&str; 12] = [
    "all",
    "none",
    "rightSpecifications",
    "occupancy",
    "areaLocation",
    "pointLocation",
    "contacts",
    "operatingRestrictions",
    "characteristics",
    "paymentMethods",
    "openingTimes",
    "streetAddress",
];

/// Whether `expand` asks for occupancy; the other values APDS defines are accepted (the
/// point location is always given, the rest is not kept).
fn expand_occupancy(params: &Params) -> Result<bool, ApiError> {
    let mut occupancy = false;
    for value in params.get("expand").unwrap_or("").split(',') {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if !EXPAND.contains(&value) {
            return Err(ApiError::bad_query(
                "expand",
                format!("expand takes {}", EXPAND.join(", ")),
            ));
        }
        occupancy |= matches!(value, "occupancy" | "all");
    }
    Ok(occupancy)
}

async fn serve(
    app: &AppState,
    client: Option<Extension<ClientAddress>>,
    headers: &HeaderMap,
    document: &Document,
) -> Result<Response, ApiError> {
    // Mounted only with --open-data.
    let Some(open_data) = app.open_data.as_ref() else {
        return Err(ApiError::RouteNotFound);
    };
    if let Some(Extension(ClientAddress(ip))) = client {
        open_data
            .admit(ip)
            .map_err(|secs| ApiError::TooManyRequests {
                message: "too many open data requests from this address; poll less often".into(),
                retry_after_secs: secs,
            })?;
    }
    let snapshot = open_data.snapshot(&app.read_model, &app.store).await;
    let Some(rendered) = open_data.render(&snapshot, document) else {
        return Err(ApiError::NotFound {
            message: "no public lot has this id".into(),
            field: Some("id".into()),
        });
    };
    Ok(answer(open_data, &rendered, snapshot.published, headers))
}

/// The document, or 304 when the request's validators match it.
fn answer(
    open_data: &Arc<OpenData>,
    rendered: &Rendered,
    published: Timestamp,
    headers: &HeaderMap,
) -> Response {
    let last_modified = http_date(published);
    let mut response = if not_modified(headers, &rendered.etag, published) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip);
        let mut response = if gzip {
            rendered.gzip.clone().into_response()
        } else {
            rendered.body.clone().into_response()
        };
        if gzip {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(rendered.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    let tag = HeaderValue::from_str(&rendered.etag).expect("a hex tag is a valid header");
    headers.insert(header::ETAG, tag);
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    let cache = format!("public, max-age={}", open_data.max_age().as_secs());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache).expect("ASCII"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// RFC 9110: `If-None-Match` decides when present; otherwise `If-Modified-Since`.
fn not_modified(headers: &HeaderMap, etag: &str, published: Timestamp) -> bool {
    if let Some(none_match) = headers.get(header::IF_NONE_MATCH) {
        let none_match = none_match.to_str().unwrap_or("");
        return none_match.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| published.unix_millis() <= since.timestamp_millis())
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.unix_millis())
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_requests_match_the_tag_or_the_date() {
        let published = Timestamp::from_unix_millis(784_111_777_000).unwrap();
        assert_eq!(http_date(published), "Sun, 06 Nov 1994 08:49:37 GMT");
        let with = |name: header::HeaderName, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(value).unwrap());
            not_modified(&headers, "\"ab\"", published)
        };
        assert!(with(header::IF_NONE_MATCH, "\"x\", \"ab\""));
        assert!(with(header::IF_NONE_MATCH, "W/\"ab\""));
        assert!(!with(header::IF_NONE_MATCH, "\"x\""));
        assert!(with(
            header::IF_MODIFIED_SINCE,
            "Sun, 06 Nov 1994 08:49:37 GMT"
        ));
        assert!(!with(
            header::IF_MODIFIED_SINCE,
            "Sun, 06 Nov 1994 08:49:36 GMT"
        ));
        assert!(!with(header::IF_MODIFIED_SINCE, "yesterday"));
        assert!(!not_modified(&HeaderMap::new(), "\"ab\"", published));
    }
}
