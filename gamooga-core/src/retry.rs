//! [`RetryPolicy`]: which failures are retried, how often, and how long to wait between tries.
//!
//! Every duration setting of the SDK saturates: `Duration::MAX` means "forever", and no
//! setting can make an `Instant + Duration` overflow. A wait the SDK computes is at most
//! [`FOREVER`], and a timeout of `FOREVER` or longer means no timeout.

use std::time::Duration;

use crate::error::Error;

/// The longest wait the SDK computes, and the threshold past which a timeout means "none":
/// 100 years. Longer durations (`Duration::MAX` included) are cut to it, so that adding one
/// to an `Instant` cannot overflow.
///
/// ```
/// use std::time::{Duration, Instant};
/// use gamooga::retry::{RetryPolicy, FOREVER};
/// let policy = RetryPolicy::default().max_retry_after(Duration::MAX);
/// let wait = policy.backoff(1, Some(Duration::MAX));
/// assert_eq!(wait, FOREVER);
/// assert!(Instant::now().checked_add(wait).is_some());
/// ```
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `Some(d)` for a real limit, `None` for [`FOREVER`] or longer (no limit).
pub(crate) fn finite(d: Duration) -> Option<Duration> {
    (d < FOREVER).then_some(d)
}

/// How failed calls are retried: exponential backoff with full jitter, honouring the server's
/// `Retry-After` up to a cap. Only [retryable](Error::is_retryable) errors are retried
/// (408, 429, 5xx but 501/505, connection errors, timeouts); other 4xx never are.
///
/// Retries are at-least-once: Gamooga has no idempotency key, so a call that timed out may
/// have been stored and is then stored twice.
///
/// Every duration may be `Duration::MAX` ("forever"): the waits it computes are cut to
/// [`FOREVER`], so nothing overflows.
///
/// ```
/// use std::time::Duration;
/// use gamooga::retry::RetryPolicy;
/// let policy = RetryPolicy::default().max_attempts(5).initial_backoff(Duration::from_millis(50));
/// assert!(policy.backoff(1, None) <= Duration::from_millis(50));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// Give up once this much time has passed since the first attempt (`None`: no limit).
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    /// For calls awaited in a request handler: 3 attempts, 100 ms doubling to at most 2 s,
    /// `Retry-After` honoured up to 10 s, at most 30 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
            max_elapsed: Some(Duration::from_secs(30)),
        }
    }
}

impl RetryPolicy {
    /// For background delivery (the queue): 10 attempts, 500 ms doubling to at most 60 s,
    /// `Retry-After` honoured up to 120 s, at most 1 h since the event was first tried.
    pub fn background() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(120),
            max_elapsed: Some(Duration::from_secs(3600)),
        }
    }

    /// No retry at all: one attempt.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets [`max_attempts`](Self::max_attempts) (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Sets [`max_elapsed`](Self::max_elapsed).
    pub fn max_elapsed(mut self, d: Option<Duration>) -> Self {
        self.max_elapsed = d;
        self
    }

    /// The wait before retry number `retry` (1 = the first retry): the server's
    /// `Retry-After` (capped at [`max_retry_after`](Self::max_retry_after)) when given, else
    /// a uniformly random duration up to `min(max_backoff, initial_backoff * 2^(retry-1))`
    /// (full jitter). Never more than [`FOREVER`].
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_retry_after).min(FOREVER);
        }
        let exp = retry.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .min(FOREVER);
        // FOREVER is far below u64::MAX nanoseconds (584 years).
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// Whether to try again after `error` on attempt number `attempt` (1 = the first), with
    /// `elapsed` since the first attempt, not counting the wait: see
    /// [`retry_delay`](Self::retry_delay), which also keeps the wait within the budget.
    pub fn should_retry(&self, error: &Error, attempt: u32, elapsed: Duration) -> bool {
        error.is_retryable()
            && attempt < self.max_attempts
            && self.within_budget(elapsed, Duration::ZERO)
    }

    /// Whether a wait of `wait`, `elapsed` after the first attempt, ends within
    /// [`max_elapsed`](Self::max_elapsed). A budget of [`FOREVER`] or longer (`Duration::MAX`
    /// included) is no limit: it is never used up, whatever the wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gamooga::retry::RetryPolicy;
    /// let forever = RetryPolicy::default().max_elapsed(Some(Duration::MAX));
    /// assert!(forever.within_budget(Duration::from_secs(3600), Duration::MAX));
    /// let minute = RetryPolicy::default().max_elapsed(Some(Duration::from_secs(60)));
    /// assert!(!minute.within_budget(Duration::from_secs(50), Duration::from_secs(10)));
    /// ```
    pub fn within_budget(&self, elapsed: Duration, wait: Duration) -> bool {
        self.max_elapsed
            .and_then(finite)
            .is_none_or(|max| elapsed.saturating_add(wait) < max)
    }

    /// How long to wait before retrying after `error` on attempt number `attempt`, `elapsed`
    /// after the first attempt; `None` when not to retry: the error is not retryable, the
    /// attempts are used up, or the wait (the server's `Retry-After`, capped, or the jittered
    /// backoff) would end past [`max_elapsed`](Self::max_elapsed). The client and the queue
    /// both decide with this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gamooga::{retry::RetryPolicy, Error};
    /// let policy = RetryPolicy::default().max_elapsed(Some(Duration::from_secs(30)));
    /// let busy = |secs| Error::Http {
    ///     call: gamooga::Endpoint::Evwid,
    ///     host: "evbk.gamooga.com".into(),
    ///     status: 429,
    ///     body: String::new(),
    ///     attempts: 1,
    ///     retry_after: Some(Duration::from_secs(secs)),
    /// };
    /// assert_eq!(policy.retry_delay(&busy(5), 1, Duration::ZERO), Some(Duration::from_secs(5)));
    /// // Waiting 5 s more would end past the 30 s budget.
    /// assert_eq!(policy.retry_delay(&busy(5), 1, Duration::from_secs(26)), None);
    /// ```
    pub fn retry_delay(&self, error: &Error, attempt: u32, elapsed: Duration) -> Option<Duration> {
        if !self.should_retry(error, attempt, elapsed) {
            return None;
        }
        let wait = self.backoff(attempt, error.retry_after());
        self.within_budget(elapsed, wait).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_honours_retry_after() {
        let p = RetryPolicy::default();
        for retry in 1..40 {
            assert!(p.backoff(retry, None) <= p.max_backoff);
        }
        assert!(p.backoff(1, None) <= p.initial_backoff);
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(300))),
            p.max_retry_after
        );
    }

    #[test]
    fn every_duration_may_be_forever() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX)
            .max_retry_after(Duration::MAX)
            .max_elapsed(Some(Duration::MAX));
        let now = std::time::Instant::now();
        for retry in [1, 2, 31, 32, u32::MAX] {
            let wait = p.backoff(retry, None);
            assert!(wait <= FOREVER, "{wait:?}");
            assert!(now.checked_add(wait).is_some());
        }
        assert_eq!(p.backoff(1, Some(Duration::MAX)), FOREVER);
        let busy = Error::Http {
            call: crate::Endpoint::Evwid,
            host: "h".into(),
            status: 429,
            body: String::new(),
            attempts: 1,
            retry_after: Some(Duration::from_secs(u64::MAX)),
        };
        // A forever budget is not used up by a long run, and the wait is cut to FOREVER.
        assert_eq!(
            p.retry_delay(&busy, 1, Duration::from_secs(1 << 40)),
            Some(FOREVER)
        );
        assert_eq!(p.retry_delay(&busy, 1, Duration::ZERO), Some(FOREVER));
        // A budget of exactly FOREVER is no limit either (it used to be used up by any wait).
        let forever = p.clone().max_elapsed(Some(FOREVER));
        assert_eq!(forever.retry_delay(&busy, 1, Duration::ZERO), Some(FOREVER));
        assert!(forever.within_budget(Duration::MAX, Duration::MAX));
        let bounded = p.clone().max_elapsed(Some(Duration::from_secs(1)));
        assert_eq!(bounded.retry_delay(&busy, 1, Duration::ZERO), None);
        assert_eq!(finite(Duration::MAX), None);
        assert_eq!(finite(FOREVER), None);
        assert_eq!(finite(Duration::from_secs(5)), Some(Duration::from_secs(5)));
    }

    #[test]
    fn only_retryable_errors_within_budget() {
        let p = RetryPolicy::default();
        let http = |status| Error::Http {
            call: crate::Endpoint::Evwid,
            host: "h".into(),
            status,
            body: String::new(),
            attempts: 1,
            retry_after: None,
        };
        assert!(p.should_retry(&http(503), 1, Duration::ZERO));
        assert!(p.should_retry(&http(429), 2, Duration::ZERO));
        assert!(!p.should_retry(&http(503), 3, Duration::ZERO));
        assert!(!p.should_retry(&http(400), 1, Duration::ZERO));
        assert!(!p.should_retry(&http(501), 1, Duration::ZERO));
        assert!(!p.should_retry(&http(503), 1, Duration::from_secs(31)));
    }
}
