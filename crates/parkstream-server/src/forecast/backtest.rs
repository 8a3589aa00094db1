//! `parkstream forecast backtest`: replays a lot's stored rollups, forecasting every 5 minutes
//! from what was stored before that moment, with the model of the endpoint, and scores it and
//! the persistence baseline (the count stays as it is) against the counts that followed.

use std::fmt;

use crate::store::{RollupRow, Step, Store, StoreError};

use super::history::{count_at, model_at, profile_before, PROFILE_DAYS};
use super::model::HORIZONS;
use super::zone::Zone;

const MINUTE: i64 = 60_000;
/// How often a forecast is made.
pub const EVERY_MINUTES: i64 = 5;

/// One horizon's scores: mean absolute errors in % of capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizonScore {
    pub minutes: u32,
    pub points: u64,
    pub forecast_mae: f64,
    pub persistence_mae: f64,
}

/// The scores of every horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub lot: String,
    pub horizons: Vec<HorizonScore>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "lot {}: mean absolute error, % of capacity", self.lot)?;
        writeln!(f, "horizon  points  forecast  persistence")?;
        for h in &self.horizons {
            writeln!(
                f,
                "{:>4} min {:>7} {:>8.2}% {:>11.2}%",
                h.minutes, h.points, h.forecast_mae, h.persistence_mae
            )?;
        }
        Ok(())
    }
}

/// Scores forecasts made every [`EVERY_MINUTES`] from `from` to `to` (Unix milliseconds) on
/// the stored `minutes` and `hours` of one lot (oldest first). A forecast needs a count before
/// its time and is scored at a horizon only if that horizon ends by `to`.
pub fn replay(
    lot: &str,
    minutes: &[RollupRow],
    hours: &[RollupRow],
    from: i64,
    to: i64,
    zone: Zone,
) -> Report {
    let mut sums = vec![(0u64, 0.0f64, 0.0f64); HORIZONS.len()];
    let step = EVERY_MINUTES * MINUTE;
    let mut at = from.div_euclid(step) * step + step;
    while at < to {
        if let Some((occupied, total)) = count_at(minutes, at).filter(|(_, total)| *total > 0) {
            let profile = profile_before(hours, at, zone);
            let model = model_at(minutes, &profile, at, occupied, total);
            for (i, &h) in HORIZONS.iter().enumerate() {
                let then = at + i64::from(h) * MINUTE;
                if then > to {
                    continue;
                }
                let Some((actual, _)) = count_at(minutes, then) else {
                    continue;
                };
                let capacity = f64::from(total) / 100.0;
                let actual = f64::from(actual);
                let sum = &mut sums[i];
                sum.0 += 1;
                sum.1 += (model.expected(f64::from(h)) - actual).abs() / capacity;
                sum.2 += (f64::from(occupied) - actual).abs() / capacity;
            }
        }
        at += step;
    }
    Report {
        lot: lot.to_owned(),
        horizons: HORIZONS
            .iter()
            .zip(sums)
            .map(|(&minutes, (points, forecast, persistence))| {
                let n = points.max(1) as f64;
                HorizonScore {
                    minutes,
                    points,
                    forecast_mae: forecast / n,
                    persistence_mae: persistence / n,
                }
            })
            .collect(),
    }
}

/// Replays the last `days` of `lot` in `store`, up to `now` (Unix milliseconds).
///
/// # Errors
/// When the rollups cannot be read.
pub async fn run(store: &Store, lot: &str, days: u32, now: i64) -> Result<Report, StoreError> {
    let from = now - i64::from(days) * 86_400_000;
    let minutes = store.rollups(Step::Minute, lot, from, now).await?;
    let hours = store
        .rollups(Step::Hour, lot, from - PROFILE_DAYS * 86_400_000, now)
        .await?;
    // The same local hours as the server's forecasts of this lot.
    let zone = Zone::named(store.lot_time_zone(lot).await?.as_deref());
    Ok(replay(lot, &minutes, &hours, from, now, zone))
}

#[cfg(test)]
mod tests {
    use super::super::synthetic;
    use super::*;
    use crate::store::LotCounts;

    fn rows(counts: &[(i64, LotCounts)]) -> Vec<RollupRow> {
        counts
            .iter()
            .map(|(bucket, c)| RollupRow {
                bucket: *bucket,
                min: c.min,
                max: c.max,
                last: c.last,
                total_slots: c.total_slots,
                samples: c.samples,
                mean: c.sum as f64 / c.samples as f64,
            })
            .collect()
    }

    #[test]
    fn on_a_generated_week_the_forecast_beats_persistence_at_30_and_60_minutes() {
        // Monday 2026-11-30 00:00 UTC.
        let end = 1_795_996_800_000;
        let minutes = synthetic::minutes(200, 7, end, 3);
        let hours = synthetic::hours(&minutes);
        let report = replay(
            "a",
            &rows(&minutes),
            &rows(&hours),
            end - 7 * 86_400_000,
            end,
            Zone::Utc,
        );
        println!("{report}");
        assert_eq!(report.horizons.len(), 3);
        for h in &report.horizons[1..] {
            assert!(h.points > 1000, "{report}");
            assert!(h.forecast_mae < h.persistence_mae, "{report}");
        }
    }
}
