//! A token bucket: Gamooga's rate limiting as a fault, `429` with `Retry-After` beyond it.
//!
//! Pure: the clock is passed in, so it is tested with made-up instants, not sleeps.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A rate limit: at most `per_second` calls a second on average, and at most `burst` at
/// once after a quiet spell.
///
/// ```
/// use gamooga_emulator::RateLimit;
/// let limit = RateLimit::per_second(100.0).burst(10);
/// assert_eq!(limit.burst, 10.0);
/// assert_eq!(RateLimit::per_second(5.0).burst, 5.0); // the burst is the rate by default
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Calls per second refilled (finite and above 0).
    pub per_second: f64,
    /// The bucket's size: calls served at once (at least 1).
    pub burst: f64,
}

impl RateLimit {
    /// `rate` calls a second, with a burst of `rate` (at least 1).
    pub fn per_second(rate: f64) -> Self {
        RateLimit {
            per_second: rate,
            burst: rate.max(1.0),
        }
    }

    /// Sets the burst (at least 1).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = f64::from(burst.max(1));
        self
    }

    /// Whether the limit can be enforced (a positive, finite rate and burst).
    pub(crate) fn is_valid(&self) -> bool {
        self.per_second.is_finite()
            && self.per_second > 0.0
            && self.burst.is_finite()
            && self.burst >= 1.0
    }
}

/// The bucket: full at the start.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Self {
        TokenBucket {
            limit,
            tokens: limit.burst,
            last: now,
        }
    }

    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token for a call arriving at `now`; when there is none, the whole seconds to
    /// wait until there is one (rounded up, at least 1), for `Retry-After`.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.limit.per_second;
        Err(retry_after_secs(Duration::from_secs_f64(wait.min(1e9))))
    }
}

/// Whole seconds, rounded up, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RateLimit::per_second(10.0).burst(3), t0);
        assert_eq!(bucket.take(t0), Ok(()));
        assert_eq!(bucket.take(t0), Ok(()));
        assert_eq!(bucket.take(t0), Ok(()));
        assert_eq!(bucket.take(t0), Err(1));
        // 100 ms later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(bucket.take(t1), Ok(()));
        assert_eq!(bucket.take(t1), Err(1));
        // After a long pause the bucket holds the burst, not more.
        let t2 = t1 + Duration::from_secs(60);
        let served = (0..10).filter(|_| bucket.take(t2).is_ok()).count();
        assert_eq!(served, 3);
    }

    #[test]
    fn over_a_second_it_serves_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RateLimit::per_second(50.0).burst(1), t0);
        // A call every millisecond for 2 s: 1 (burst) + 50/s refilled.
        let served = (0..2000)
            .filter(|ms| bucket.take(t0 + Duration::from_millis(*ms)).is_ok())
            .count();
        assert!((100..=101).contains(&served), "{served}");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let t0 = Instant::now();
        // 0.4 calls a second: the next token is 2.5 s away.
        let mut bucket = TokenBucket::new(RateLimit::per_second(0.4).burst(1), t0);
        assert_eq!(bucket.take(t0), Ok(()));
        assert_eq!(bucket.take(t0), Err(3));
        assert_eq!(bucket.take(t0 + Duration::from_millis(1500)), Err(1));
        assert_eq!(bucket.take(t0 + Duration::from_millis(2600)), Ok(()));
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    }

    #[test]
    fn an_earlier_instant_does_not_refill() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut bucket = TokenBucket::new(RateLimit::per_second(1.0), t0);
        assert_eq!(bucket.take(t0), Ok(()));
        assert_eq!(bucket.take(t0 - Duration::from_secs(3)), Err(1));
    }
}
