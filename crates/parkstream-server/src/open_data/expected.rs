//! The expected occupancy the feed publishes beside the counted one: a lot's forecast
//! (`crate::forecast`), one row per horizon, computed when the snapshot is rebuilt.

use parkstream_protocol::forecast::LotForecast;
use parkstream_protocol::Timestamp;

/// A forecast row: how many spaces are expected to be occupied at `at`, the end of the
/// period it stands for (from the previous horizon, or the forecast's time, to `at`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedDemand {
    /// Minutes ahead of the forecast's time.
    pub minutes: u32,
    pub valid_from: Timestamp,
    pub at: Timestamp,
    /// Expected occupied spaces, 0 to the lot's slots.
    pub count: u32,
    /// Percent of the spaces, 0 to 100, to one decimal.
    pub percentage: f64,
}

impl ExpectedDemand {
    /// Spaces expected to be free.
    pub fn vacant(&self, total_slots: u32) -> u32 {
        total_slots.saturating_sub(self.count)
    }
}

/// The rows of `forecast`, nearest first. A forecast may exceed the slots of an overfull lot;
/// published demand stays within them.
pub fn rows(forecast: &LotForecast) -> Vec<ExpectedDemand> {
    let slots = forecast.total_slots;
    let mut from = forecast.generated_at;
    forecast
        .horizons
        .iter()
        .map(|h| {
            let count = (h.expected.round().max(0.0) as u32).min(slots);
            let percentage = if slots == 0 {
                0.0
            } else {
                (f64::from(count) * 1000.0 / f64::from(slots)).round() / 10.0
            };
            let row = ExpectedDemand {
                minutes: h.minutes,
                valid_from: from,
                at: h.at,
                count,
                percentage,
            };
            from = h.at;
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parkstream_protocol::forecast::HorizonForecast;

    #[test]
    fn rows_chain_their_periods_and_stay_within_the_slots() {
        let t = |min: i64| Timestamp::from_unix_millis(1_795_996_800_000 + min * 60_000).unwrap();
        let horizon = |minutes: u32, expected: f64| HorizonForecast {
            minutes,
            at: t(i64::from(minutes)),
            expected,
            low: 0,
            high: 0,
        };
        let forecast = LotForecast {
            parking_lot_id: "a".into(),
            generated_at: t(0),
            method: "trend".into(),
            occupied: 11,
            total_slots: 10,
            full_in_seconds: Some(0),
            horizons: vec![horizon(15, 3.6), horizon(30, 10.4), horizon(60, 12.0)],
        };
        let rows = rows(&forecast);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].valid_from, rows[0].at), (t(0), t(15)));
        assert_eq!((rows[1].valid_from, rows[1].at), (t(15), t(30)));
        assert_eq!((rows[0].count, rows[0].percentage), (4, 40.0));
        assert_eq!((rows[2].count, rows[2].percentage), (10, 100.0));
        assert_eq!(rows[2].vacant(10), 0);
    }
}
