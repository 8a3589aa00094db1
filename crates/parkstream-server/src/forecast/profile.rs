//! A lot's occupancy profile: the mean occupancy rate (count over capacity) per hour of the
//! week, over its stored hourly rollups, and per hour of the day by day type (weekday or
//! weekend) for hours of the week seen fewer than twice. Read at any instant by linear
//! interpolation between hour centres (an hour's mean is its value at half past).

use super::zone::Zone;

const HOUR: i64 = 3_600_000;

/// One stored hour: its start (Unix milliseconds, UTC) and its mean count over capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourRate {
    pub bucket: i64,
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    n: u32,
    sum: f64,
    sum_sq: f64,
}

impl Slot {
    fn add(&mut self, rate: f64) {
        self.n += 1;
        self.sum += rate;
        self.sum_sq += rate * rate;
    }

    /// Mean and spread (standard deviation; 0 from one sample).
    fn read(&self) -> (f64, f64) {
        let n = f64::from(self.n);
        let mean = self.sum / n;
        let var = if self.n > 1 {
            (self.sum_sq / n - mean * mean).max(0.0)
        } else {
            0.0
        };
        (mean, var.sqrt())
    }
}

/// The profile of one lot.
#[derive(Debug, Clone)]
pub struct Profile {
    zone: Zone,
    week: [Slot; 168],
    /// `[weekday, weekend][hour of day]`.
    day: [[Slot; 24]; 2],
}

/// The profile at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfilePoint {
    /// Expected occupancy rate.
    pub rate: f64,
    /// Its change per minute.
    pub slope: f64,
    /// How much the rate varied between the days it was taken from.
    pub spread: f64,
}

/// Local hours since the epoch → (hour of week with Monday 00:00 = 0, weekend?, hour of day).
fn calendar(local_hour: i64) -> (usize, usize, usize) {
    let day = local_hour.div_euclid(24);
    let hour = local_hour.rem_euclid(24) as usize;
    // 1970-01-01 was a Thursday.
    let weekday = (day + 3).rem_euclid(7) as usize;
    (weekday * 24 + hour, usize::from(weekday >= 5), hour)
}

impl Profile {
    /// The profile of `hours`, placed in the lot's local time by `zone`.
    pub fn build(hours: &[HourRate], zone: Zone) -> Self {
        let mut profile = Profile {
            zone,
            week: [Slot::default(); 168],
            day: [[Slot::default(); 24]; 2],
        };
        for hour in hours {
            let local = zone.local_millis(hour.bucket).div_euclid(HOUR);
            let (week, weekend, hour_of_day) = calendar(local);
            profile.week[week].add(hour.rate);
            profile.day[weekend][hour_of_day].add(hour.rate);
        }
        profile
    }

    /// Whether the profile holds any hour at all.
    pub fn is_empty(&self) -> bool {
        self.day.iter().flatten().all(|slot| slot.n == 0)
    }

    /// The hour's mean and spread: its hour of the week once seen twice, else its hour of the
    /// day on the same day type, else nothing.
    fn slot(&self, local_hour: i64) -> Option<(f64, f64)> {
        let (week, weekend, hour_of_day) = calendar(local_hour);
        if self.week[week].n >= 2 {
            return Some(self.week[week].read());
        }
        let day = &self.day[weekend][hour_of_day];
        (day.n >= 1).then(|| day.read())
    }

    /// The profile at `at` (Unix milliseconds, UTC); `None` where an hour around it was never
    /// seen.
    pub fn at(&self, at: i64) -> Option<ProfilePoint> {
        let centred = self.zone.local_millis(at) - HOUR / 2;
        let hour = centred.div_euclid(HOUR);
        let frac = centred.rem_euclid(HOUR) as f64 / HOUR as f64;
        let (r0, s0) = self.slot(hour)?;
        let (r1, s1) = self.slot(hour + 1)?;
        Some(ProfilePoint {
            rate: r0 + frac * (r1 - r0),
            slope: (r1 - r0) / 60.0,
            spread: s0 + frac * (s1 - s0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-11-30 00:00 UTC.
    const MONDAY: i64 = 1_795_996_800_000;

    #[test]
    fn the_calendar_starts_weeks_on_monday() {
        assert_eq!(calendar(MONDAY / HOUR), (0, 0, 0));
        assert_eq!(calendar(MONDAY / HOUR + 5 * 24 + 7), (5 * 24 + 7, 1, 7));
    }

    #[test]
    fn an_hour_seen_once_falls_back_to_its_hour_of_day_and_is_interpolated() {
        // Tuesday: 08:00 at 0.2 and 09:00 at 0.6 → at 09:00 (between centres) 0.4.
        let tuesday = MONDAY + 24 * HOUR;
        let hours = [
            HourRate {
                bucket: tuesday + 8 * HOUR,
                rate: 0.2,
            },
            HourRate {
                bucket: tuesday + 9 * HOUR,
                rate: 0.6,
            },
        ];
        let profile = Profile::build(&hours, Zone::Utc);
        // Wednesday, same hours: the weekday hour-of-day profile answers.
        let point = profile.at(tuesday + 24 * HOUR + 9 * HOUR).unwrap();
        assert!((point.rate - 0.4).abs() < 1e-9);
        assert!((point.slope - 0.4 / 60.0).abs() < 1e-9);
        // Saturday has no weekend hours.
        assert!(profile.at(MONDAY + 5 * 24 * HOUR + 9 * HOUR).is_none());
        assert!(Profile::build(&[], Zone::Utc).is_empty());
    }

    #[test]
    fn an_hour_of_week_seen_twice_wins_over_the_day_type_with_its_spread() {
        let mut hours = Vec::new();
        for week in 0..2 {
            for hour in 0..168 {
                let rate = if hour == 10 {
                    0.5 + 0.1 * week as f64
                } else {
                    0.1
                };
                hours.push(HourRate {
                    bucket: MONDAY + (week * 168 + hour) * HOUR,
                    rate,
                });
            }
        }
        let profile = Profile::build(&hours, Zone::Utc);
        let monday_ten_thirty = MONDAY + 10 * HOUR + HOUR / 2;
        let point = profile.at(monday_ten_thirty).unwrap();
        assert!((point.rate - 0.55).abs() < 1e-9);
        assert!((point.spread - 0.05).abs() < 1e-9);
        // Tuesday at 10:30 keeps its own hour of the week.
        let tuesday = profile.at(monday_ten_thirty + 24 * HOUR).unwrap();
        assert!((tuesday.rate - 0.1).abs() < 1e-9);
    }

    #[test]
    fn a_lot_with_a_time_zone_keeps_its_profile_in_local_hours_summer_time_included() {
        let berlin = Zone::named(Some("Europe/Berlin"));
        // Tuesday 2026-12-01 (winter, UTC+1): 07:00Z is 08:00 in Berlin.
        let tuesday = MONDAY + 24 * HOUR;
        let seven_z = tuesday + 7 * HOUR;
        assert_eq!(calendar(berlin.local_millis(seven_z).div_euclid(HOUR)).2, 8);
        let hours: Vec<HourRate> = (0..24)
            .map(|hour| HourRate {
                bucket: tuesday + hour * HOUR,
                rate: if hour == 7 { 0.8 } else { 0.1 },
            })
            .collect();
        // Wednesday 2026-07-01 (summer, UTC+2) 06:30Z is 08:30 in Berlin: the busy local hour
        // 8 of winter, read at its centre.
        let summer = 1_782_864_000_000 + 6 * HOUR + HOUR / 2;
        let local = Profile::build(&hours, berlin).at(summer).unwrap();
        assert!((local.rate - 0.8).abs() < 1e-9, "{local:?}");
        // Kept in UTC, the same instant is hour 6: quiet.
        let utc = Profile::build(&hours, Zone::Utc).at(summer).unwrap();
        assert!((utc.rate - 0.1).abs() < 1e-9, "{utc:?}");
    }
}
