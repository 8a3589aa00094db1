//! Occupancy forecasting: a lot's expected count over the next hour from its stored rollups.
//!
//! - `profile`: the lot's usual occupancy by hour of the week (pure).
//! - `model`: the forecast from the current count, the recent trend and the profile (pure).
//! - `history`: which stored rows a forecast at an instant uses (pure).
//! - `zone`: the local time profiles are kept in.
//! - `backtest`: replays stored history through the same code (`parkstream forecast backtest`).
//! - `synthetic`: a generated history to try it on (`parkstream forecast generate`).
//!
//! [`for_lot`] is the entry point for anything that wants a lot's forecast.

pub mod backtest;
pub mod history;
pub mod model;
pub mod profile;
pub mod synthetic;
pub mod zone;

use parkstream_protocol::api::LotView;
use parkstream_protocol::forecast::{HorizonForecast, LotForecast};
use parkstream_protocol::Timestamp;

use crate::store::{Step, Store, StoreError};
use history::{model_at, profile_before, PROFILE_DAYS, READ_BACK_MINUTES};
use model::Outcome;
use zone::Zone;

/// `method` with and without the profile.
pub const METHOD_TREND: &str = "trend";
pub const METHOD_TREND_PROFILE: &str = "trend+profile";

/// The forecast of `lot` (as the read model shows it) at `now`, from its stored rollups.
///
/// # Errors
/// When the rollups cannot be read.
pub async fn for_lot(
    store: &Store,
    lot: &LotView,
    now: Timestamp,
) -> Result<LotForecast, StoreError> {
    let at = now.unix_millis();
    let id = &lot.parking_lot_id;
    let minutes = store
        .rollups(Step::Minute, id, at - READ_BACK_MINUTES * 60_000, at + 1)
        .await?;
    let hours = store
        .rollups(Step::Hour, id, at - PROFILE_DAYS * 86_400_000, at)
        .await?;
    let profile = profile_before(&hours, at, Zone::of(lot));
    let outcome = model_at(&minutes, &profile, at, lot.occupied, lot.total_slots).outcome();
    Ok(wire(lot, now, &outcome))
}

fn wire(lot: &LotView, now: Timestamp, outcome: &Outcome) -> LotForecast {
    let at = now.unix_millis();
    LotForecast {
        parking_lot_id: lot.parking_lot_id.clone(),
        generated_at: now,
        method: if outcome.profiled {
            METHOD_TREND_PROFILE
        } else {
            METHOD_TREND
        }
        .to_owned(),
        occupied: lot.occupied,
        total_slots: lot.total_slots,
        full_in_seconds: outcome.full_in_seconds,
        horizons: outcome
            .horizons
            .iter()
            .map(|h| HorizonForecast {
                minutes: h.minutes,
                at: Timestamp::from_unix_millis(at + i64::from(h.minutes) * 60_000).unwrap_or(now),
                expected: (h.value * 10.0).round() / 10.0,
                low: h.low.floor() as u32,
                high: h.high.ceil() as u32,
            })
            .collect(),
    }
}
