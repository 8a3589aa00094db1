//! The forecast itself, a pure function of the current count, the recent counts and the
//! lot's profile:
//!
//! ```text
//! expected(h) = current
//!             + N · (profile(t+h) − profile(t))                 the usual change at this time
//!             + (slope − N · profile′(t)) · τ · (1 − e^(−h/τ))  today's unusual inflow, damped
//! ```
//!
//! clamped to `[0, max(N, current)]`, where `N` is the capacity, `slope` the least-squares
//! slope (counts per minute) of the last 15 minutes and `τ` 15 minutes. Without a profile
//! around `t` and `t+h` the profile terms are 0: a damped trend. The band is a heuristic
//! 80 % interval: the recent counts' scatter around their line, growing with `h`, and the
//! profile's day-to-day spread.

use super::profile::Profile;

/// How long today's unusual inflow is expected to last, in minutes.
pub const TAU_MINUTES: f64 = 15.0;
/// The horizons answered, in minutes.
pub const HORIZONS: [u32; 3] = [15, 30, 60];
/// How far ahead `full_in_seconds` looks, in minutes.
pub const FULL_WITHIN_MINUTES: u32 = 60;
/// z of a two-sided 80 % normal interval.
const Z80: f64 = 1.28;

/// One recent count: minutes relative to the forecast time (≤ 0) and the count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub minutes: f64,
    pub value: f64,
}

/// The line through the recent counts: counts per minute and the scatter around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    pub slope: f64,
    pub scatter: f64,
}

/// Least squares; flat with no scatter from fewer than two distinct times.
pub fn trend(points: &[Point]) -> Trend {
    let n = points.len() as f64;
    let flat = Trend {
        slope: 0.0,
        scatter: 0.0,
    };
    if points.len() < 2 {
        return flat;
    }
    let mx = points.iter().map(|p| p.minutes).sum::<f64>() / n;
    let my = points.iter().map(|p| p.value).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.minutes - mx).powi(2)).sum();
    if sxx < 1e-9 {
        return flat;
    }
    let sxy: f64 = points
        .iter()
        .map(|p| (p.minutes - mx) * (p.value - my))
        .sum();
    let slope = sxy / sxx;
    let residuals: f64 = points
        .iter()
        .map(|p| (p.value - (my + slope * (p.minutes - mx))).powi(2))
        .sum();
    Trend {
        slope,
        scatter: (residuals / n).sqrt(),
    }
}

/// Everything a forecast at one instant is made of.
#[derive(Debug, Clone)]
pub struct Model<'a> {
    /// The forecast time, Unix milliseconds.
    pub at: i64,
    pub current: f64,
    pub total_slots: u32,
    pub trend: Trend,
    pub profile: &'a Profile,
}

/// The expected count at one horizon and its band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    pub minutes: u32,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// A whole forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whether the profile contributed.
    pub profiled: bool,
    pub horizons: Vec<Expected>,
    pub full_in_seconds: Option<u64>,
}

impl Model<'_> {
    fn ceiling(&self) -> f64 {
        f64::from(self.total_slots).max(self.current)
    }

    /// The profile's change from now to `minutes` ahead, in counts, and its slope now in
    /// counts per minute and spread then; `None` without a profile at both ends.
    fn profile_terms(&self, minutes: f64) -> Option<(f64, f64, f64)> {
        let capacity = f64::from(self.total_slots);
        let now = self.profile.at(self.at)?;
        let then = self
            .profile
            .at(self.at + (minutes * 60_000.0).round() as i64)?;
        Some((
            capacity * (then.rate - now.rate),
            capacity * now.slope,
            capacity * then.spread,
        ))
    }

    /// The expected count `minutes` ahead.
    pub fn expected(&self, minutes: f64) -> f64 {
        let (change, usual_slope) = self
            .profile_terms(minutes)
            .map_or((0.0, 0.0), |(change, slope, _)| (change, slope));
        let damped = TAU_MINUTES * (1.0 - (-minutes / TAU_MINUTES).exp());
        let value = self.current + change + (self.trend.slope - usual_slope) * damped;
        value.clamp(0.0, self.ceiling())
    }

    /// The expected count `minutes` ahead with its band.
    pub fn expected_with_band(&self, minutes: u32) -> Expected {
        let h = f64::from(minutes);
        let value = self.expected(h);
        let spread = self.profile_terms(h).map_or(0.0, |(_, _, spread)| spread);
        let half = Z80
            * (self.trend.scatter.powi(2) * (1.0 + h / TAU_MINUTES)
                + spread.powi(2) * (h / 60.0).min(1.0))
            .sqrt()
            + 0.5;
        Expected {
            minutes,
            value,
            low: (value - half).max(0.0),
            high: (value + half).min(self.ceiling()),
        }
    }

    /// Seconds until the expected count reaches capacity, 0 when it has; `None` when it does
    /// not within the hour. Found minute by minute, interpolated within the minute.
    pub fn full_in_seconds(&self) -> Option<u64> {
        let full = f64::from(self.total_slots);
        if self.total_slots == 0 || self.current >= full {
            return Some(0);
        }
        // Within half a slot of capacity counts as full: the expectation only nears it.
        let threshold = full - 0.5;
        let mut before = self.current;
        for minute in 1..=FULL_WITHIN_MINUTES {
            let value = self.expected(f64::from(minute));
            if value >= threshold {
                let within = ((threshold - before) / (value - before)).clamp(0.0, 1.0);
                return Some(((f64::from(minute) - 1.0 + within) * 60.0).round() as u64);
            }
            before = value;
        }
        None
    }

    /// The forecast at every horizon and when the lot fills.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            profiled: self.profile_terms(0.0).is_some()
                && HORIZONS
                    .iter()
                    .all(|&h| self.profile_terms(f64::from(h)).is_some()),
            horizons: HORIZONS
                .iter()
                .map(|&h| self.expected_with_band(h))
                .collect(),
            full_in_seconds: self.full_in_seconds(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::HourRate;
    use super::super::zone::Zone;
    use super::*;

    /// Monday 2026-11-30 00:00 UTC.
    const MONDAY: i64 = 1_795_996_800_000;
    const HOUR: i64 = 3_600_000;

    fn series(f: impl Fn(f64) -> f64) -> Vec<Point> {
        (0..=15)
            .map(|i| {
                let minutes = f64::from(i) - 15.0;
                Point {
                    minutes,
                    value: f(minutes),
                }
            })
            .collect()
    }

    fn model<'a>(points: &[Point], total: u32, profile: &'a Profile) -> Model<'a> {
        Model {
            at: MONDAY + 9 * HOUR,
            current: points.last().unwrap().value,
            total_slots: total,
            trend: trend(points),
            profile,
        }
    }

    #[test]
    fn a_line_is_fitted_exactly() {
        let t = trend(&series(|m| 50.0 + 2.0 * m));
        assert!((t.slope - 2.0).abs() < 1e-9 && t.scatter < 1e-9);
        assert_eq!(trend(&series(|_| 3.0)).slope, 0.0);
        assert_eq!(trend(&[]).slope, 0.0);
    }

    #[test]
    fn a_rising_series_predicts_full_in_about_the_damped_time() {
        // 60 of 100 and 3 more a minute: the damped trend adds 3·15·(1 − e^(−h/15)), which
        // reaches 39.5 (full within half a slot) at h = 15·ln(45/5.5) ≈ 31.5 minutes. At 2 a
        // minute it levels off at 30 more: never full.
        let empty = Profile::build(&[], Zone::Utc);
        let fast = series(|m| 60.0 + 3.0 * m);
        let full = model(&fast, 100, &empty).full_in_seconds().unwrap();
        let expected = 15.0 * (45.0f64 / 5.5).ln() * 60.0;
        assert!(
            (full as f64 - expected).abs() < 60.0,
            "{full} vs {expected}"
        );
        let slow = series(|m| 60.0 + 2.0 * m);
        assert_eq!(model(&slow, 100, &empty).full_in_seconds(), None);
        let outcome = model(&fast, 100, &empty).outcome();
        assert!(!outcome.profiled);
        let values: Vec<f64> = outcome.horizons.iter().map(|h| h.value).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]) && values[2] <= 100.0);
    }

    #[test]
    fn a_flat_series_stays_put_and_never_fills() {
        let empty = Profile::build(&[], Zone::Utc);
        let flat = series(|_| 40.0);
        let m = model(&flat, 100, &empty);
        assert_eq!(m.full_in_seconds(), None);
        for h in m.outcome().horizons {
            assert!((h.value - 40.0).abs() < 1e-9);
            assert!(h.low <= h.value && h.value <= h.high);
        }
        let full = series(|_| 100.0);
        assert_eq!(model(&full, 100, &empty).full_in_seconds(), Some(0));
    }

    #[test]
    fn the_profile_adds_the_usual_change_and_only_the_unusual_inflow_is_damped() {
        // Every weekday 08:00–09:00 at 0.3, 09:00–10:00 at 0.7 (plus the day before).
        let mut hours = Vec::new();
        for day in 0..5 {
            let start = MONDAY - 7 * 24 * HOUR + day * 24 * HOUR;
            for hour in 0..24 {
                let rate = match hour {
                    8 => 0.3,
                    9 => 0.7,
                    10.. => 0.7,
                    _ => 0.1,
                };
                hours.push(HourRate {
                    bucket: start + hour * HOUR,
                    rate,
                });
            }
        }
        let profile = Profile::build(&hours, Zone::Utc);
        // At 09:00 the profile is 0.5 and rising 0.4 an hour; by 09:30 it holds 0.7.
        // Counts rising as usual (0.4·100/60 a minute) add nothing beyond the profile.
        let usual = series(|m| 50.0 + 40.0 / 60.0 * m);
        let m = model(&usual, 100, &profile);
        let outcome = m.outcome();
        assert!(outcome.profiled);
        assert!((outcome.horizons[1].value - 70.0).abs() < 1e-6);
        assert!((outcome.horizons[2].value - 70.0).abs() < 1e-6);
        assert_eq!(m.full_in_seconds(), None);
        // The same level flat today: the profile still expects the rise, less today's lull.
        let flat = series(|_| 50.0);
        let at30 = model(&flat, 100, &profile).expected(30.0);
        assert!(at30 < 70.0 && at30 > 55.0, "{at30}");
    }
}
