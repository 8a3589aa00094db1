//! `/api/webhooks`: the endpoints events are also sent to, signed (administrators only).
//! Secrets are shown once, in the answer that creates or rotates them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::ApiJson;
use super::params::Params;
use super::path::PathId;
use super::responses::{BodyErrors, NotStored};
use super::AppState;
use crate::auth::{need, Allowed};
use crate::domain::check_identifier;
use crate::error::ApiError;
use crate::store::{AttemptRow, WebhookRow, WebhookSettings};
use crate::webhooks::{sign, target, ROTATION_OVERLAP};

/// The event types an endpoint may ask for.
const TYPES: [&str; 3] = ["alert", "violation", "capacity_update"];
/// Most values in one filter.
const MAX_FILTER: usize = 1_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list))
        .route("/api/webhooks/{id}", get(show).put(put).delete(remove))
        .route("/api/webhooks/{id}/rotate-secret", post(rotate))
        .route("/api/webhooks/{id}/deliveries", get(deliveries))
}

/// `PUT /api/webhooks/{id}`: where to send events, and which.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    /// An `http` or `https` URL; its host must not resolve to a private or local address
    /// unless the server runs with `--webhook-allow-private`.
    #[schema(max_length = 2048, example = "https://hooks.example.com/parking")]
    pub url: String,
    /// Only these event types (`alert`, `violation`, `capacity_update`); default every one.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Only events of these lots; default every lot (and events of no lot).
    #[serde(default)]
    pub lots: Option<Vec<String>>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// An endpoint. `secret` is present only in the answer that created it or rotated its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lots: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `enabled`, or `disabled` once deliveries failed past the retry horizon (a PUT enables
    /// it again).
    #[schema(example = "enabled")]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    pub created_at: String,
    /// Until when the secret before the last rotation still signs deliveries too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    /// The signing secret (`whsec_…`), shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// The event's id on the stream (the `webhook-id` header).
    pub event_id: u64,
    /// 1 for the first attempt at this event.
    pub attempt: u64,
    pub at: String,
    /// The endpoint's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why the attempt failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
}

fn view(row: WebhookRow, secret: Option<String>) -> WebhookView {
    let now = Timestamp::now().unix_millis();
    WebhookView {
        status: if row.disabled_at.is_some() {
            "disabled"
        } else {
            "enabled"
        },
        id: row.id,
        url: row.settings.url,
        types: row.settings.types,
        lots: row.settings.lots,
        description: row.settings.description,
        disabled_at: row.disabled_at,
        created_at: row.created_at,
        previous_secret_expires_at: row
            .previous_until
            .filter(|until| *until > now)
            .and_then(Timestamp::from_unix_millis)
            .map(|t| t.to_string()),
        secret,
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        message: format!("webhook {id:?} does not exist"),
        field: Some("id".into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    summary = "Every webhook endpoint (secrets never shown)",
    responses((status = 200, body = Vec<WebhookView>), NotStored)
)]
async fn list(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    let rows = app.store.webhooks().await?;
    Ok(Json(rows.into_iter().map(|row| view(row, None)).collect()))
}

#[utoipa::path(
    get,
    path = "/api/webhooks/{id}",
    operation_id = "getWebhook",
    tag = "webhooks",
    summary = "One webhook endpoint (its secret never shown)",
    responses(
        (status = 200, body = WebhookView),
        (status = 404, description = "Unknown endpoint", body = ErrorBody),
        NotStored
    )
)]
async fn show(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<WebhookView>, ApiError> {
    let row = app
        .store
        .webhook(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(view(row, None)))
}

#[utoipa::path(
    put,
    path = "/api/webhooks/{id}",
    operation_id = "putWebhook",
    tag = "webhooks",
    summary = "Create or update a webhook endpoint",
    request_body(content = WebhookSpec, description = "The endpoint", example = json!({"url": "https://hooks.example.com/parking", "types": ["alert", "violation"], "lots": ["north"], "description": "Operations on-call"})),
    responses(
        (status = 200, description = "Updated (the secret is not shown; a disabled endpoint is enabled again)", body = WebhookView),
        (status = 201, description = "Created, with its signing secret, shown this once", body = WebhookView),
        BodyErrors,
        NotStored
    )
)]
/// Creates (201, with the secret) or updates (200) an endpoint.
async fn put(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
    ApiJson(spec): ApiJson<WebhookSpec>,
) -> Result<Response, ApiError> {
    check_identifier(&id, "webhook id").map_err(|message| ApiError::invalid("id", message))?;
    let settings = settings_of(spec)?;
    let url = target::parse_url(&settings.url).map_err(|m| ApiError::invalid("url", m))?;
    target::check(&url, app.webhooks.allow_private)
        .await
        .map_err(|m| ApiError::invalid("url", m))?;
    let secret = sign::new_secret();
    let now = Timestamp::now().to_string();
    let created = app.store.put_webhook(&id, &settings, &secret, &now).await?;
    let row = app
        .store
        .webhook(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(if created {
        (StatusCode::CREATED, Json(view(row, Some(secret)))).into_response()
    } else {
        (StatusCode::OK, Json(view(row, None))).into_response()
    })
}

/// Checks a spec's values (422 naming the field).
fn settings_of(spec: WebhookSpec) -> Result<WebhookSettings, ApiError> {
    if let Some(types) = &spec.types {
        if types.is_empty() || types.len() > TYPES.len() {
            return Err(ApiError::invalid(
                "types",
                "list 1 to 3 event types, or leave it out",
            ));
        }
        if let Some(unknown) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
            return Err(ApiError::invalid(
                "types",
                format!("unknown event type {unknown:?}: use alert, violation or capacity_update"),
            ));
        }
    }
    if let Some(lots) = &spec.lots {
        if lots.is_empty() || lots.len() > MAX_FILTER {
            return Err(ApiError::invalid(
                "lots",
                format!("list 1 to {MAX_FILTER} lot ids, or leave it out"),
            ));
        }
        for lot in lots {
            check_identifier(lot, "lot id").map_err(|m| ApiError::invalid("lots", m))?;
        }
    }
    if spec
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500 || d.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "description",
            "at most 500 characters, without control characters",
        ));
    }
    Ok(WebhookSettings {
        url: spec.url,
        description: spec.description,
        types: spec.types,
        lots: spec.lots,
    })
}

#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    summary = "Delete a webhook endpoint, its queue and its delivery log",
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "Unknown endpoint", body = ErrorBody),
        NotStored
    )
)]
async fn remove(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if app.store.delete_webhook(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/rotate-secret",
    operation_id = "rotateWebhookSecret",
    tag = "webhooks",
    summary = "Give an endpoint a new signing secret; the old one keeps signing for 24 hours",
    responses(
        (status = 200, description = "The endpoint with its new secret, shown this once", body = WebhookView),
        (status = 404, description = "Unknown endpoint", body = ErrorBody),
        NotStored
    )
)]
async fn rotate(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<WebhookView>, ApiError> {
    let secret = sign::new_secret();
    let until = Timestamp::now().unix_millis() + ROTATION_OVERLAP.as_millis() as i64;
    if !app.store.rotate_webhook_secret(&id, &secret, until).await? {
        return Err(not_found(&id));
    }
    let row = app
        .store
        .webhook(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(view(row, Some(secret))))
}

#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    summary = "An endpoint's latest delivery attempts, newest first (the last 1,000 are kept)",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100)")),
    responses(
        (status = 200, body = Vec<DeliveryView>),
        (status = 400, description = "Bad limit", body = ErrorBody),
        (status = 404, description = "Unknown endpoint", body = ErrorBody),
        NotStored
    )
)]
async fn deliveries(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    PathId(id): PathId,
    params: Params,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let limit = params.limit()?;
    if app.store.webhook(&id).await?.is_none() {
        return Err(not_found(&id));
    }
    let rows = app.store.webhook_attempts(&id, i64::from(limit)).await?;
    Ok(Json(rows.into_iter().map(delivery_view).collect()))
}

fn delivery_view(row: AttemptRow) -> DeliveryView {
    DeliveryView {
        event_id: row.event_id as u64,
        attempt: row.attempt as u64,
        at: row.at,
        status_code: row.status.and_then(|s| u16::try_from(s).ok()),
        error: row.error,
        latency_ms: row.latency_ms as u64,
    }
}
