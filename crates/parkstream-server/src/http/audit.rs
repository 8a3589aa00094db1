//! `GET /api/audit`: who changed what through the API (admins only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::records::AuditEntry;

use super::params::Params;
use super::AppState;
use crate::auth::{need, Allowed};
use crate::error::ApiError;
use crate::store::AuditQuery;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/audit", get(list))
}

#[utoipa::path(
    get,
    path = "/api/audit",
    operation_id = "listAudit",
    tag = "audit",
    summary = "Changes made through the API, newest first",
    params(
        ("from" = Option<String>, Query, format = DateTime, description = "Only entries at or after this time (RFC 3339)"),
        ("to" = Option<String>, Query, format = DateTime, description = "Only entries at or before this time (RFC 3339)"),
        ("actor" = Option<String>, Query, description = "Only this actor's (a token's `sub`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100)")
    ),
    responses(
        (status = 200, body = Vec<AuditEntry>),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 422, description = "A time is invalid, or `from` is after `to`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody)
    )
)]
/// Every change made through the API (lots, contractors, acknowledging and resolving),
/// newest first: `from=`, `to=`, `actor=`, `limit=` (1 to 1,000, default 100).
async fn list(
    _allowed: Allowed<need::Administer>,
    State(app): State<AppState>,
    params: Params,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let (from, to) = params.period()?;
    let query = AuditQuery {
        from,
        to,
        actor: params.text("actor"),
        limit: params.limit()?,
    };
    Ok(Json(app.store.audit(&query).await?))
}
