//! Which local time a lot's profile is kept in: the lot's `timeZone` when it has one (so
//! "Monday 08:00" is 08:00 on the lot's clocks, summer time included), else UTC. The profile
//! and the model take local time only through `Zone::local_millis`.

use chrono::{DateTime, Offset, TimeZone};
use parkstream_protocol::api::LotView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The zone a lot's profile is kept in.
    pub fn of(lot: &LotView) -> Self {
        Self::named(lot.time_zone.as_deref())
    }

    /// The zone of a time-zone name; UTC without one. Lots' names are checked when stored, so
    /// a name the database does not know (a newer server wrote it) also falls back to UTC.
    pub fn named(name: Option<&str>) -> Self {
        name.and_then(|name| name.parse().ok())
            .map_or(Zone::Utc, Zone::Named)
    }

    /// `utc` (Unix milliseconds) as milliseconds of local wall-clock time since the epoch.
    pub fn local_millis(self, utc: i64) -> i64 {
        match self {
            Zone::Utc => utc,
            Zone::Named(tz) => {
                let Some(instant) = DateTime::from_timestamp_millis(utc) else {
                    return utc;
                };
                let offset = tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
                utc + i64::from(offset.local_minus_utc()) * 1000
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    /// Monday 2026-11-30 00:00 UTC (winter: Berlin is UTC+1).
    const WINTER_MONDAY: i64 = 1_795_996_800_000;
    /// Monday 2026-06-29 00:00 UTC (summer: Berlin is UTC+2).
    const SUMMER_MONDAY: i64 = 1_782_691_200_000;

    #[test]
    fn a_named_zone_shifts_by_its_offset_of_the_day_summer_time_included() {
        let berlin = Zone::named(Some("Europe/Berlin"));
        assert_eq!(berlin, Zone::Named(chrono_tz::Europe::Berlin));
        assert_eq!(berlin.local_millis(WINTER_MONDAY), WINTER_MONDAY + HOUR);
        assert_eq!(berlin.local_millis(SUMMER_MONDAY), SUMMER_MONDAY + 2 * HOUR);
        assert_eq!(Zone::named(None).local_millis(WINTER_MONDAY), WINTER_MONDAY);
        assert_eq!(Zone::named(Some("Mars/Olympus")), Zone::Utc);
    }
}
