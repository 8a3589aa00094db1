//! The reconnection schedule.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: attempt `n` waits `base × 2^(n-1)`, times a random factor in
/// `[1 - jitter, 1 + jitter]` so a crowd of clients does not return at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The first delay; `None` follows the server's `retry:` (2 s from parkstream).
    pub base: Option<Duration>,
    /// Failed attempts in a row before giving up (a good connection resets the count).
    pub max_attempts: u32,
    /// Relative jitter, 0 to 1.
    pub jitter: f64,
}

/// The delay when neither the caller nor the server chose one.
pub const DEFAULT_BASE: Duration = Duration::from_secs(2);

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: None,
            max_attempts: 5,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// A fixed first delay (ignores the server's `retry:`).
    #[must_use]
    pub fn base(mut self, base: Duration) -> Self {
        self.base = Some(base);
        self
    }

    #[must_use]
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    #[must_use]
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// The delay before attempt `attempt` (1-based), given the server's suggestion.
    pub fn delay(&self, attempt: u32, server_retry: Option<Duration>) -> Duration {
        let base = self.base.or(server_retry).unwrap_or(DEFAULT_BASE);
        let exponential = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        if self.jitter == 0.0 {
            return exponential;
        }
        let factor = rand::rng().random_range(1.0 - self.jitter..=1.0 + self.jitter);
        exponential.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_2_4_8_16_32_seconds() {
        let backoff = Backoff::default().jitter(0.0);
        let delays: Vec<u64> = (1..=5).map(|n| backoff.delay(n, None).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32]);
        assert_eq!(backoff.max_attempts, 5);
    }

    #[test]
    fn the_server_retry_is_the_base_unless_one_is_configured() {
        let server = Some(Duration::from_millis(500));
        assert_eq!(
            Backoff::default().jitter(0.0).delay(2, server),
            Duration::from_secs(1)
        );
        let fixed = Backoff::default()
            .jitter(0.0)
            .base(Duration::from_millis(10));
        assert_eq!(fixed.delay(3, server), Duration::from_millis(40));
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let backoff = Backoff::default().base(Duration::from_secs(10)).jitter(0.2);
        for _ in 0..200 {
            let d = backoff.delay(1, None).as_secs_f64();
            assert!((8.0..=12.0).contains(&d), "{d}");
        }
    }
}
