//! From stored rollups to a [`Model`]: which rows a forecast at an instant may use, the same
//! for the endpoint (now) and the backtest (each past instant), so both run the same code on
//! what was known at the time.

use crate::store::RollupRow;

use super::model::{trend, Model, Point};
use super::profile::{HourRate, Profile};
use super::zone::Zone;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
/// The recent counts the trend is fitted to.
pub const RECENT_MINUTES: i64 = 15;
/// How far back minute rows are read: the window, and the hour before it to know the count
/// at its start when nothing was reported since.
pub const READ_BACK_MINUTES: i64 = RECENT_MINUTES + 60;
/// How many days of hourly rows make the profile.
pub const PROFILE_DAYS: i64 = 56;

/// The rows of `rows` (oldest first) that start before `at`: the ones known then.
fn known_before(rows: &[RollupRow], at: i64) -> &[RollupRow] {
    &rows[..rows.partition_point(|row| row.bucket < at)]
}

/// The count at `at` as the minute rows tell it: the last of the latest row started before
/// it, with its capacity; `None` before the first.
pub fn count_at(minutes: &[RollupRow], at: i64) -> Option<(u32, u32)> {
    known_before(minutes, at)
        .last()
        .map(|row| (row.last, row.total_slots))
}

/// The recent counts before `at`: each minute of the last 15 as its mean at the middle of the
/// time it covers (a minute without reports holds the previous minute's last count), then
/// `current` at `at`. Minutes before the first known count are left out.
pub fn recent(minutes: &[RollupRow], at: i64, current: f64) -> Vec<Point> {
    let known = known_before(minutes, at);
    let start = (at - RECENT_MINUTES * MINUTE).div_euclid(MINUTE) * MINUTE;
    let first = known.partition_point(|row| row.bucket < start);
    let mut carried = first.checked_sub(1).map(|i| f64::from(known[i].last));
    let mut rows = known[first..].iter().peekable();
    let mut points = Vec::new();
    let mut bucket = start;
    while bucket < at {
        let end = (bucket + MINUTE).min(at);
        let middle = ((bucket + end) / 2 - at) as f64 / MINUTE as f64;
        let value = match rows.next_if(|row| row.bucket == bucket) {
            Some(row) => {
                carried = Some(f64::from(row.last));
                Some(row.mean)
            }
            None => carried,
        };
        if let Some(value) = value {
            points.push(Point {
                minutes: middle,
                value,
            });
        }
        bucket += MINUTE;
    }
    points.push(Point {
        minutes: 0.0,
        value: current,
    });
    points
}

/// The profile from the hourly rows complete before `at` (within `PROFILE_DAYS`).
pub fn profile_before(hours: &[RollupRow], at: i64, zone: Zone) -> Profile {
    let rates: Vec<HourRate> = hours
        .iter()
        .filter(|row| row.bucket + HOUR <= at && row.bucket >= at - PROFILE_DAYS * 24 * HOUR)
        .filter(|row| row.total_slots > 0)
        .map(|row| HourRate {
            bucket: row.bucket,
            rate: row.mean / f64::from(row.total_slots),
        })
        .collect();
    Profile::build(&rates, zone)
}

/// The model at `at` from the minute rows and the profile, starting from `occupied` of
/// `total_slots`.
pub fn model_at<'a>(
    minutes: &[RollupRow],
    profile: &'a Profile,
    at: i64,
    occupied: u32,
    total_slots: u32,
) -> Model<'a> {
    let current = f64::from(occupied);
    Model {
        at,
        current,
        total_slots,
        trend: trend(&recent(minutes, at, current)),
        profile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(bucket: i64, mean: f64, last: u32) -> RollupRow {
        RollupRow {
            bucket,
            min: last,
            max: last,
            last,
            total_slots: 100,
            samples: 1,
            mean,
        }
    }

    #[test]
    fn quiet_minutes_carry_the_last_count_and_future_rows_are_ignored() {
        let at = 100 * MINUTE;
        let rows = [
            row(80 * MINUTE, 10.0, 12),
            row(90 * MINUTE, 20.0, 22),
            row(100 * MINUTE, 99.0, 99), // starts at `at`: not known yet
        ];
        let points = recent(&rows, at, 22.0);
        assert_eq!(points.len(), 16);
        assert_eq!(points[0].value, 12.0, "carried from before the window");
        assert_eq!(points[0].minutes, -14.5);
        assert_eq!(points[5].value, 20.0);
        assert_eq!(points[6].value, 22.0);
        assert_eq!(
            points[15],
            Point {
                minutes: 0.0,
                value: 22.0
            }
        );
        assert_eq!(count_at(&rows, at), Some((22, 100)));
        assert_eq!(count_at(&rows, 10 * MINUTE), None);
    }

    #[test]
    fn the_minute_in_progress_counts_at_the_middle_of_its_elapsed_part() {
        let at = 100 * MINUTE + 20_000;
        let points = recent(&[row(100 * MINUTE, 40.0, 80)], at, 80.0);
        assert_eq!(points.len(), 2);
        assert!((points[0].minutes - (-10.0 / 60.0)).abs() < 1e-9);
        assert!(trend(&points).slope > 100.0);
    }

    #[test]
    fn the_profile_uses_complete_hours_only() {
        let at = 10 * HOUR + 30 * MINUTE;
        let hours = [row(9 * HOUR, 50.0, 50), row(10 * HOUR, 90.0, 90)];
        assert!(!profile_before(&hours, at, Zone::Utc).is_empty());
        assert!(profile_before(&hours[1..], at, Zone::Utc).is_empty());
    }
}
