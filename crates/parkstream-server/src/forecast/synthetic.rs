//! A generated occupancy history, for trying the forecast where no real one is stored yet
//! (`parkstream forecast generate`) and for testing it: weekday commute peaks (filling from
//! 7 to 9, a dip at lunch, emptying from 16 to 19), quieter weekends with a midday hump, a
//! level that differs from day to day, and noise. Written straight into the rollups, ending
//! before the hour of the lot's first stored count, so it never mixes with counts the server
//! stored.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::store::{LotCounts, Step, Store, StoreError};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// Counts reported per generated minute.
const REPORTS_PER_MINUTE: u64 = 4;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The usual occupancy rate at `local` (Unix milliseconds of wall-clock time).
pub fn usual_rate(local: i64) -> f64 {
    let hour = local.rem_euclid(DAY) as f64 / 3_600_000.0;
    let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7);
    if weekday >= 5 {
        0.06 + 0.40 * (-((hour - 13.0) / 3.0).powi(2)).exp()
    } else {
        0.08 + 0.82 * sigmoid((hour - 8.0) / 0.5)
            - 0.80 * sigmoid((hour - 17.5) / 0.8)
            - 0.10 * (-((hour - 12.5) / 0.7).powi(2)).exp()
    }
}

/// `days` of per-minute counts of a lot of `total_slots`, ending before `end` (Unix
/// milliseconds, UTC taken as local time), oldest first, the same for the same `seed`.
pub fn minutes(total_slots: u32, days: u32, end: i64, seed: u64) -> Vec<(i64, LotCounts)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let capacity = f64::from(total_slots);
    let last = end.div_euclid(MINUTE) * MINUTE - MINUTE;
    let first = last - i64::from(days) * DAY + MINUTE;
    let mut level = 1.0;
    let mut count = usual_rate(first) * capacity;
    let mut out = Vec::with_capacity(days as usize * 1440);
    let mut bucket = first;
    while bucket <= last {
        if bucket.rem_euclid(DAY) == 0 || bucket == first {
            level = rng.random_range(0.85..1.08);
        }
        let target = (usual_rate(bucket) * level * capacity).min(capacity);
        // The count moves towards the target with noise, as arrivals and departures would.
        let next = (count + 0.25 * (target - count) + rng.random_range(-0.012..0.012) * capacity)
            .clamp(0.0, capacity);
        let mut counts: Option<LotCounts> = None;
        for i in 1..=REPORTS_PER_MINUTE {
            let f = i as f64 / REPORTS_PER_MINUTE as f64;
            let n = (count + f * (next - count)).round() as u32;
            counts = Some(match counts {
                None => LotCounts {
                    lot: String::new(),
                    min: n,
                    max: n,
                    last: n,
                    total_slots,
                    samples: 1,
                    sum: u64::from(n),
                },
                Some(c) => LotCounts {
                    min: c.min.min(n),
                    max: c.max.max(n),
                    last: n,
                    samples: c.samples + 1,
                    sum: c.sum + u64::from(n),
                    ..c
                },
            });
        }
        out.extend(counts.map(|c| (bucket, c)));
        count = next;
        bucket += MINUTE;
    }
    out
}

/// The hourly rows of `minutes` (oldest first), folded as the rollups fold counts.
pub fn hours(minutes: &[(i64, LotCounts)]) -> Vec<(i64, LotCounts)> {
    let mut out: Vec<(i64, LotCounts)> = Vec::new();
    for (bucket, c) in minutes {
        let hour = Step::Hour.bucket_of(*bucket);
        match out.last_mut() {
            Some((h, acc)) if *h == hour => {
                acc.min = acc.min.min(c.min);
                acc.max = acc.max.max(c.max);
                acc.last = c.last;
                acc.total_slots = c.total_slots;
                acc.samples += c.samples;
                acc.sum += c.sum;
            }
            _ => out.push((hour, c.clone())),
        }
    }
    out
}

/// What `generate` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub minutes: usize,
    pub hours: usize,
    pub from: i64,
    pub to: i64,
}

/// Why a history cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "lot {0:?} has no stored count: create it (PUT /api/lots/{0}) on a server using this \
         database first"
    )]
    NoLot(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes `days` of generated history of `lot` ending at its first stored row, minute or
/// hour (whose capacity it takes), so that no generated count lands in a stored bucket.
///
/// # Errors
/// When the lot has no stored count, or the store fails.
pub async fn generate(
    store: &Store,
    lot: &str,
    days: u32,
    seed: u64,
    now: i64,
) -> Result<Generated, GenerateError> {
    let mut first: Option<crate::store::RollupRow> = None;
    for step in Step::ALL {
        let row = store
            .rollups(step, lot, 0, now + 1)
            .await?
            .into_iter()
            .next();
        first = match (first, row) {
            (Some(a), Some(b)) => Some(if b.bucket < a.bucket { b } else { a }),
            (a, b) => a.or(b),
        };
    }
    let first = first.ok_or_else(|| GenerateError::NoLot(lot.to_owned()))?;
    // An hour row's start may precede its first count: stop before the hour it starts.
    let end = Step::Hour.bucket_of(first.bucket);
    let mut minutes = minutes(first.total_slots, days, end, seed);
    for (_, counts) in &mut minutes {
        counts.lot = lot.to_owned();
    }
    let hours = hours(&minutes);
    store.write_rollup_rows(Step::Minute, &minutes).await?;
    store.write_rollup_rows(Step::Hour, &hours).await?;
    Ok(Generated {
        minutes: minutes.len(),
        hours: hours.len(),
        from: minutes.first().map_or(end, |(b, _)| *b),
        to: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-11-30 00:00 UTC.
    const MONDAY: i64 = 1_795_996_800_000;

    #[test]
    fn weekdays_peak_in_office_hours_and_weekends_stay_lower() {
        let at = |day: i64, hour: i64| usual_rate(MONDAY + day * DAY + hour * 3_600_000);
        assert!(at(0, 3) < 0.15 && at(0, 11) > 0.8 && at(0, 22) < 0.15);
        assert!(at(5, 13) < 0.5 && at(5, 13) > at(5, 3));
    }

    #[test]
    fn a_week_of_minutes_folds_into_hours_that_agree() {
        let rows = minutes(200, 7, MONDAY, 7);
        assert_eq!(rows.len(), 7 * 1440);
        assert_eq!(rows.last().unwrap().0, MONDAY - MINUTE);
        assert!(rows.iter().all(|(_, c)| c.max <= 200 && c.min <= c.last));
        let hours = hours(&rows);
        assert_eq!(hours.len(), 7 * 24);
        let samples: u64 = hours.iter().map(|(_, c)| c.samples).sum();
        assert_eq!(samples, 7 * 1440 * REPORTS_PER_MINUTE);
        assert_eq!(
            minutes(200, 7, MONDAY, 7),
            rows,
            "the same seed, the same history"
        );
    }
}
