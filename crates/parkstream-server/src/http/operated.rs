//! What alerts and violations share: operators list them, acknowledge and resolve them. One
//! generic implementation; `alerts.rs` and `violations.rs` route and document it.

use std::future::Future;

use axum::response::Response;
use axum::Json;
use parkstream_protocol::events::{Alert, AlertStatus, Violation, ViolationStatus};
use parkstream_protocol::records::ActionNote;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::params::Params;
use super::{with_last_event_id, AppState};
use crate::auth::{Need, Principal};
use crate::domain::audit::Actor;
use crate::domain::DomainError;
use crate::error::ApiError;
use crate::store::{ListQuery, Table, WriteError};
use crate::writer::{Action, Writer};

/// An alert or a violation.
pub trait Operated: Serialize + DeserializeOwned + Send + 'static {
    /// Where the store keeps them.
    const TABLE: Table;
    /// Its statuses' names, for the error of a bad `status=`.
    const STATUSES: &'static str;
    type Status: DeserializeOwned;

    /// Has the writer acknowledge or resolve the unresolved one with this id.
    fn act(
        writer: &Writer,
        id: String,
        action: Action,
        by: Actor,
    ) -> impl Future<Output = Result<Self, WriteError>> + Send;
}

impl Operated for Alert {
    const TABLE: Table = Table::Alerts;
    const STATUSES: &'static str = "active, acknowledged, resolved";
    type Status = AlertStatus;

    fn act(
        writer: &Writer,
        id: String,
        action: Action,
        by: Actor,
    ) -> impl Future<Output = Result<Self, WriteError>> + Send {
        writer.alert(id, action, by)
    }
}

impl Operated for Violation {
    const TABLE: Table = Table::Violations;
    const STATUSES: &'static str = "pending, acknowledged, resolved";
    type Status = ViolationStatus;

    fn act(
        writer: &Writer,
        id: String,
        action: Action,
        by: Actor,
    ) -> impl Future<Output = Result<Self, WriteError>> + Send {
        writer.violation(id, action, by)
    }
}

/// `GET /api/alerts` or `GET /api/violations`: newest first, with the newest event id they
/// reflect.
pub async fn list<T: Operated>(
    principal: &Principal,
    app: &AppState,
    params: &Params,
) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    let query = list_query::<T::Status>(principal, params, T::STATUSES)?;
    let page = app.store.list::<T>(T::TABLE, &query).await?;
    Ok(with_last_event_id(page.last_event_id, Json(page.items)))
}

/// Acknowledges or resolves one, as `principal` with the body's note (recorded in it and in
/// the audit). Only unresolved ones are in the writer's memory, so "not found" there means
/// resolved (409) if the id was ever stored, and unknown (404) otherwise.
pub async fn act<T: Operated>(
    app: &AppState,
    principal: &Principal,
    id: String,
    action: Action,
    body: Option<ActionNote>,
) -> Result<Json<T>, ApiError> {
    let by = principal.actor(body.and_then(|b| b.note))?;
    match T::act(&app.writer, id.clone(), action, by).await {
        Ok(value) => Ok(Json(value)),
        Err(WriteError::Refused(DomainError::NotFound { .. }))
            if app.store.exists(T::TABLE, &id).await? =>
        {
            Err(ApiError::Conflict(format!("{id} is already resolved")))
        }
        Err(err) => Err(err.into()),
    }
}

/// The query of a list: `status` (one of `S`'s names, listed in `statuses` for the error),
/// `lot`, `contractor`, `limit`. A contractor sees only its own; a `lots` claim narrows every
/// list.
///
/// # Errors
/// 400 for an unknown status or a bad limit.
fn list_query<S: DeserializeOwned>(
    principal: &Principal,
    params: &Params,
    statuses: &str,
) -> Result<ListQuery, ApiError> {
    Ok(ListQuery {
        status: params.wire_name::<S>("status", statuses)?,
        lot: params.text("lot"),
        contractor: match &principal.contractor {
            Some(own) => Some(own.to_string()),
            None => params.text("contractor"),
        },
        lots: principal
            .lots
            .as_ref()
            .map(|lots| lots.iter().map(ToString::to_string).collect()),
        limit: params.limit()?,
    })
}
