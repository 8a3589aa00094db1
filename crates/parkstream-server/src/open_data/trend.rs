//! Whether a lot is filling or emptying, from its recent counts.

use parkstream_protocol::api::OccupancySample;
use parkstream_protocol::Timestamp;

/// How far back the trend looks.
pub const WINDOW_MINUTES: i64 = 5;

/// The direction of a lot's count over the last `WINDOW_MINUTES` minutes (DATEX II
/// `ParkingOccupancyTrendEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Increasing,
    Decreasing,
    Stable,
}

impl Trend {
    /// From a lot's samples, oldest first, with the last one before the window (as
    /// [`crate::read_model::ReadModel::occupancy`] gives them): the count now against the
    /// count at the window's start. Fewer than two samples: nothing moved.
    pub fn of(samples: &[OccupancySample], now: Timestamp) -> Self {
        let start = now.unix_millis() - WINDOW_MINUTES * 60_000;
        let before = samples
            .iter()
            .rposition(|s| s.t.unix_millis() <= start)
            .unwrap_or(0);
        match (samples.get(before), samples.last()) {
            (Some(first), Some(last)) if last.occupied > first.occupied => Trend::Increasing,
            (Some(first), Some(last)) if last.occupied < first.occupied => Trend::Decreasing,
            _ => Trend::Stable,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Increasing => "increasing",
            Trend::Decreasing => "decreasing",
            Trend::Stable => "stable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: Timestamp, seconds_ago: i64, occupied: u32) -> OccupancySample {
        OccupancySample {
            t: Timestamp::from_unix_millis(now.unix_millis() - seconds_ago * 1000).unwrap(),
            occupied,
            total_slots: 100,
        }
    }

    #[test]
    fn compares_now_with_the_start_of_the_window() {
        let now = Timestamp::now();
        let trend = |points: &[(i64, u32)]| {
            let samples: Vec<_> = points.iter().map(|&(ago, n)| at(now, ago, n)).collect();
            Trend::of(&samples, now)
        };
        assert_eq!(trend(&[]), Trend::Stable);
        assert_eq!(trend(&[(10, 40)]), Trend::Stable);
        assert_eq!(trend(&[(400, 40), (200, 50), (10, 45)]), Trend::Increasing);
        assert_eq!(trend(&[(200, 50), (10, 45)]), Trend::Decreasing);
        // Older points than the one just before the window do not count.
        assert_eq!(trend(&[(900, 10), (400, 45), (10, 45)]), Trend::Stable);
    }
}
