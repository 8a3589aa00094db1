//! `GET /api/history/occupancy`: occupancy over time. Recent samples per lot come from memory
//! (the dashboard's sparklines); with `from`, one lot's stored per-minute or per-hour rollups.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::{ErrorBody, OccupancyAnswer, OccupancyBucket, OccupancyRollups};
use parkstream_protocol::Timestamp;

use super::history_range::{wants_stored, RangeQuery};
use super::params::Params;
use super::{visible_lots, with_last_event_id, AppState};
use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::read_model::HISTORY_MINUTES;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/history/occupancy", get(occupancy))
}

/// Without `from`, `to` or `step`: the last count of every 15 seconds, for the last
/// `minutes` (1 to 60, default 60), with the point just before the window; kept in memory,
/// rebuilt from the stored events after a restart. With them: one lot's stored buckets.
#[utoipa::path(
    get,
    path = "/api/history/occupancy",
    operation_id = "getOccupancyHistory",
    tag = "lots",
    summary = "Occupancy per lot over time",
    params(
        ("minutes" = Option<u32>, Query, minimum = 1, maximum = 60, description = "Recent history: how far back (default 60)"),
        ("lot" = Option<String>, Query, description = "Only this lot (required with from)"),
        ("from" = Option<String>, Query, format = DateTime, description = "Stored history from this time (RFC 3339)"),
        ("to" = Option<String>, Query, format = DateTime, description = "Stored history up to this time (default now)"),
        ("step" = Option<String>, Query, description = "1m or 1h (default: 1m for ranges up to a day, else 1h)")
    ),
    responses(
        (status = 200, body = OccupancyAnswer, headers(("Last-Event-ID" = String, description = "The newest event id this state reflects"))),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 404, description = "No such lot (stored history)", body = ErrorBody),
        (status = 422, description = "A stored-history parameter is missing, malformed or out of range; `field` names it", body = ErrorBody)
    )
)]
async fn occupancy(
    principal: Principal,
    State(app): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    principal.require(Need::Read)?;
    if wants_stored(&params) {
        return stored(&principal, &app, &params).await;
    }
    let minutes = match params.get("minutes").filter(|m| !m.is_empty()) {
        None => HISTORY_MINUTES,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=HISTORY_MINUTES).contains(m))
            .ok_or_else(|| {
                ApiError::bad_query("minutes", format!("minutes must be 1 to {HISTORY_MINUTES}"))
            })?,
    };
    let lot = params.text("lot");
    let (mut history, last_event_id) = app.read_model.occupancy(minutes, lot.as_deref());
    if let Some(visible) = visible_lots(&principal, &app) {
        history.lots.retain(|lot, _| visible.contains(lot));
    }
    Ok(with_last_event_id(last_event_id, Json(history)))
}

/// One lot's stored buckets starting in `from .. to`, oldest first.
async fn stored(
    principal: &Principal,
    app: &AppState,
    params: &Params,
) -> Result<Response, ApiError> {
    let query = RangeQuery::parse(params, Timestamp::now(), app.rollup_retention)?;
    // Read before the rows: they reflect at least this id. A lot the token may not see is
    // answered like one that does not exist.
    let (lot, last_event_id) = app.read_model.lot(&query.lot);
    let visible = visible_lots(principal, app).is_none_or(|lots| lots.contains(&query.lot));
    if lot.is_none() || !visible {
        return Err(ApiError::NotFound {
            message: format!("lot {:?} does not exist", query.lot),
            field: Some("lot".into()),
        });
    }
    let rows = app
        .store
        .rollups(
            query.step,
            &query.lot,
            query.step.bucket_of(query.from.unix_millis()),
            query.to.unix_millis(),
        )
        .await?;
    let buckets = rows
        .into_iter()
        .filter_map(|row| {
            Some(OccupancyBucket {
                t: Timestamp::from_unix_millis(row.bucket)?,
                min: row.min,
                max: row.max,
                last: row.last,
                mean: row.mean,
                samples: row.samples,
                total_slots: row.total_slots,
            })
        })
        .collect();
    let answer = OccupancyRollups {
        parking_lot_id: query.lot,
        step: query.step.as_str().to_owned(),
        from: query.from,
        to: query.to,
        buckets,
    };
    Ok(with_last_event_id(last_event_id, Json(answer)))
}
