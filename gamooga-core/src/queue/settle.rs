//! [`DeliveryRules`]: what an attempt's outcome means for its event, as a pure function.
//!
//! Every delivery loop applies the same rules (the memory queue and the spool here; a
//! PostgreSQL outbox's relays elsewhere): an attempt is delivered, retried after a wait, or
//! dead with a reason; a `429`/`503` with `Retry-After`, a `429` without it, or a backend
//! that cannot be resolved also pauses every delivery of that loop for a while. The rules
//! read no clock and hold no state, so a loop with its own storage can reuse them as they
//! are and get the same retry, backpressure and dead-letter behaviour.

use std::time::{Duration, Instant};

use crate::dead_letter::DeadLetterReason;
use crate::error::Error;
use crate::retry::{RetryPolicy, FOREVER};

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Gamooga answered 200.
    Delivered,
    /// The attempt failed with this error.
    Failed(&'a Error),
    /// The attempt panicked (in the transport, a [`Deliver`](crate::queue::Deliver) or a
    /// `tracing` layer) and the panic was caught.
    Panicked,
}

/// Why every delivery pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PauseCause {
    /// The server asked for it: `429` or `503` with `Retry-After`, or `429` without one.
    Backpressure,
    /// The backend could not be resolved: waiting for the resolver's next try.
    Unresolved,
}

/// Every delivery of the loop waits this long before its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// How long, from the attempt's end.
    pub length: Duration,
    /// Why.
    pub cause: PauseCause,
}

/// What becomes of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered: forget it.
    Delivered,
    /// Try it again after this wait.
    Retry(Duration),
    /// Give up: dead-letter it with this reason.
    Dead(DeadLetterReason),
}

/// The decision on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// What becomes of the event.
    pub verdict: Verdict,
    /// Whether the attempt counts against [`RetryPolicy::max_attempts`]: false when nothing
    /// could be sent because the backend could not be resolved.
    pub counts: bool,
    /// Whether the request may have reached Gamooga although the attempt failed
    /// ([`Error::may_have_been_sent`]): a possible duplicate if it is retried.
    pub ambiguous: bool,
    /// Whether every delivery pauses, and for how long.
    pub pause: Option<Pause>,
    /// Whether the failure says Gamooga (or the way to it) is failing, rather than this one
    /// event being refused: what outage tracking counts.
    pub transient: bool,
}

/// The rules every delivery loop shares: the retry policy, plus the shortest pause after a
/// `429` without `Retry-After` (or with `0`) and after a resolution failure that gives no
/// time of its own.
///
/// ```
/// use std::time::Duration;
/// use gamooga::queue::{DeliveryRules, Outcome, Verdict, PauseCause};
/// use gamooga::{Endpoint, Error, RetryPolicy};
///
/// let rules = DeliveryRules::new(RetryPolicy::background());
/// let busy = Error::Http { call: Endpoint::Evwid, host: "evbk.gamooga.com".into(), status: 429, body: String::new(), attempts: 1, retry_after: Some(Duration::from_secs(2)) };
/// let d = rules.decide(Outcome::Failed(&busy), 1, Duration::ZERO);
/// assert_eq!(d.verdict, Verdict::Retry(Duration::from_secs(2)));
/// let pause = d.pause.unwrap();
/// assert_eq!((pause.length, pause.cause), (Duration::from_secs(2), PauseCause::Backpressure));
///
/// let bad = Error::Http { call: Endpoint::Evwid, host: "evbk.gamooga.com".into(), status: 400, body: String::new(), attempts: 1, retry_after: None };
/// assert!(matches!(rules.decide(Outcome::Failed(&bad), 1, Duration::ZERO).verdict, Verdict::Dead(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRules {
    retry: RetryPolicy,
    pause_floor: Duration,
}

impl DeliveryRules {
    /// The default shortest pause: 1 s.
    pub const DEFAULT_PAUSE_FLOOR: Duration = Duration::from_secs(1);

    /// The rules of `retry`, with the default pause floor.
    pub fn new(retry: RetryPolicy) -> Self {
        DeliveryRules {
            retry,
            pause_floor: Self::DEFAULT_PAUSE_FLOOR,
        }
    }

    /// Sets the shortest pause (after a `429` without `Retry-After`, or a resolution failure
    /// that says nothing of when to try again).
    pub fn pause_floor(mut self, floor: Duration) -> Self {
        self.pause_floor = floor;
        self
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The shortest pause.
    pub fn get_pause_floor(&self) -> Duration {
        self.pause_floor
    }

    /// Decides on an attempt: `attempt` is its number among the attempts that counted (1 =
    /// the first; a resolution failure does not count, so pass the same number again next
    /// time), `elapsed` the time since the event's first attempt.
    ///
    /// - Delivered: [`Verdict::Delivered`].
    /// - Panicked: dead, [`DeadLetterReason::Panicked`].
    /// - The backend could not be resolved ([`Error::is_resolution_failure`]): retried after
    ///   [`Error::retry_after`] (or the pause floor), pausing every delivery as long; not an
    ///   attempt; dead as [`DeadLetterReason::Unresolved`] once the wait would end past the
    ///   policy's `max_elapsed`.
    /// - Any other error: retried as the policy says ([`RetryPolicy::retry_delay`]); dead as
    ///   [`RetriesExhausted`](DeadLetterReason::RetriesExhausted) or
    ///   [`Rejected`](DeadLetterReason::Rejected) otherwise. A `429` or `503` with a
    ///   `Retry-After` pauses every delivery that long (capped by `max_retry_after`), a `429`
    ///   without one (or with `0`) for the pause floor; the event's own retry waits at least
    ///   as long.
    pub fn decide(&self, outcome: Outcome<'_>, attempt: u32, elapsed: Duration) -> Decision {
        let error = match outcome {
            Outcome::Delivered => return Decision::new(Verdict::Delivered),
            Outcome::Panicked => {
                return Decision::new(Verdict::Dead(DeadLetterReason::Panicked));
            }
            Outcome::Failed(error) => error,
        };
        if error.is_resolution_failure() {
            let wait = error
                .retry_after()
                .filter(|d| !d.is_zero())
                .unwrap_or(self.pause_floor)
                .min(FOREVER);
            let within = self.retry.within_budget(elapsed, wait);
            return Decision {
                verdict: if within {
                    Verdict::Retry(wait)
                } else {
                    Verdict::Dead(DeadLetterReason::Unresolved)
                },
                counts: false,
                ambiguous: false,
                pause: Some(Pause {
                    length: wait,
                    cause: PauseCause::Unresolved,
                }),
                transient: true,
            };
        }
        let pause = self.backpressure(error).map(|length| Pause {
            length,
            cause: PauseCause::Backpressure,
        });
        let verdict = match self.retry.retry_delay(error, attempt, elapsed) {
            Some(wait) => Verdict::Retry(wait.max(pause.map_or(Duration::ZERO, |p| p.length))),
            None if error.is_retryable() => Verdict::Dead(DeadLetterReason::RetriesExhausted),
            None => Verdict::Dead(DeadLetterReason::Rejected),
        };
        Decision {
            verdict,
            counts: true,
            ambiguous: error.may_have_been_sent(),
            pause,
            transient: error.is_retryable(),
        }
    }

    /// How long every delivery pauses after `error`: a `429` or `503` with a `Retry-After`
    /// (capped), or the floor for a `429` without one.
    fn backpressure(&self, error: &Error) -> Option<Duration> {
        let Error::Http { status, .. } = error else {
            return None;
        };
        let asked = error.retry_after().filter(|d| !d.is_zero());
        match (*status, asked) {
            (429 | 503, Some(d)) => Some(d.min(self.retry.max_retry_after)),
            (429, None) => Some(self.pause_floor),
            _ => None,
        }
    }
}

impl Decision {
    fn new(verdict: Verdict) -> Self {
        Decision {
            verdict,
            counts: true,
            ambiguous: false,
            pause: None,
            transient: false,
        }
    }
}

/// `now + d`, saturating: a duration too long for the clock means "as late as it goes"
/// (about 30 years, as tokio's timers), never a panic.
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(d.min(FAR))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Http {
            call: crate::call::Endpoint::Evwid,
            host: "backend.test".into(),
            status,
            body: String::new(),
            attempts: 1,
            retry_after,
        }
    }

    fn rules() -> DeliveryRules {
        DeliveryRules::new(
            RetryPolicy::background()
                .max_attempts(3)
                .max_elapsed(Some(Duration::from_secs(60))),
        )
        .pause_floor(Duration::from_millis(700))
    }

    #[test]
    fn backpressure_pauses_everything() {
        let r = rules();
        let secs = Duration::from_secs;
        let d = r.decide(
            Outcome::Failed(&http(503, Some(secs(3)))),
            1,
            Duration::ZERO,
        );
        assert_eq!(d.pause.map(|p| p.length), Some(secs(3)));
        assert_eq!(d.verdict, Verdict::Retry(secs(3)));
        // 429 without Retry-After, or with 0: the floor; the event waits at least as long.
        for ra in [None, Some(Duration::ZERO)] {
            let d = r.decide(Outcome::Failed(&http(429, ra)), 1, Duration::ZERO);
            assert_eq!(d.pause.map(|p| p.length), Some(Duration::from_millis(700)));
            let Verdict::Retry(wait) = d.verdict else {
                panic!("{d:?}")
            };
            assert!(wait >= Duration::from_millis(700));
        }
        // 503 without Retry-After, 500 with one: no pause.
        assert_eq!(
            r.decide(Outcome::Failed(&http(503, None)), 1, Duration::ZERO)
                .pause,
            None
        );
        assert_eq!(
            r.decide(
                Outcome::Failed(&http(500, Some(secs(5)))),
                1,
                Duration::ZERO
            )
            .pause,
            None
        );
        // Capped by max_retry_after (120 s in background()), even with the attempts used up.
        let d = r.decide(
            Outcome::Failed(&http(429, Some(secs(9999)))),
            3,
            Duration::ZERO,
        );
        assert_eq!(d.pause.map(|p| p.length), Some(secs(120)));
        assert_eq!(d.verdict, Verdict::Dead(DeadLetterReason::RetriesExhausted));
    }

    #[test]
    fn resolution_failures_wait_without_counting_until_the_budget_ends() {
        let r = rules();
        // The resolver says when it fetches again: here, nothing (zero), so the floor.
        let html = Error::Resolve {
            cause: Box::new(Error::Decode {
                call: crate::call::Endpoint::CompanyInfo,
                reason: "not JSON".into(),
                body: "<html>".into(),
            }),
            host: "config.test".into(),
            retry_in: Duration::ZERO,
            attempts: 1,
        };
        // However many attempts were made, it waits: it is not an attempt.
        let d = r.decide(Outcome::Failed(&html), 3, Duration::from_secs(10));
        assert_eq!(d.verdict, Verdict::Retry(Duration::from_millis(700)));
        assert!(!d.counts && !d.ambiguous && d.transient);
        assert_eq!(d.pause.map(|p| p.cause), Some(PauseCause::Unresolved));
        let d = r.decide(Outcome::Failed(&html), 1, Duration::from_secs(60));
        assert_eq!(d.verdict, Verdict::Dead(DeadLetterReason::Unresolved));
    }

    #[test]
    fn a_forever_budget_never_ends_a_resolution_wait() {
        // max_elapsed(Some(Duration::MAX)) means "retry forever": a resolver asking for a
        // wait of Duration::MAX used to dead-letter the event (elapsed + MAX saturated to MAX,
        // which is not below MAX).
        let r = DeliveryRules::new(RetryPolicy::background().max_elapsed(Some(Duration::MAX)));
        let unresolved = Error::Resolve {
            cause: Box::new(Error::Decode {
                call: crate::call::Endpoint::CompanyInfo,
                reason: "not JSON".into(),
                body: "<html>".into(),
            }),
            host: "config.test".into(),
            retry_in: Duration::MAX,
            attempts: 1,
        };
        let d = r.decide(
            Outcome::Failed(&unresolved),
            1,
            Duration::from_secs(1 << 40),
        );
        assert_eq!(d.verdict, Verdict::Retry(FOREVER));
        assert!(later(Instant::now(), FOREVER) > Instant::now());
    }

    #[test]
    fn panics_and_rejections_are_final() {
        let r = rules();
        let d = r.decide(Outcome::Panicked, 1, Duration::ZERO);
        assert_eq!(d.verdict, Verdict::Dead(DeadLetterReason::Panicked));
        let d = r.decide(Outcome::Failed(&http(400, None)), 1, Duration::ZERO);
        assert_eq!(d.verdict, Verdict::Dead(DeadLetterReason::Rejected));
        assert!(!d.transient);
        let timeout = Error::Timeout {
            call: crate::call::Endpoint::Evwid,
            host: "backend.test".into(),
            phase: crate::error::Phase::Unknown,
            timeout: Duration::from_secs(1),
            attempts: 1,
        };
        let d = r.decide(Outcome::Failed(&timeout), 1, Duration::ZERO);
        assert!(d.ambiguous && d.transient && d.counts);
    }

    #[test]
    fn no_duration_overflows() {
        let r = DeliveryRules::new(
            RetryPolicy::background()
                .max_retry_after(Duration::MAX)
                .max_backoff(Duration::MAX)
                .initial_backoff(Duration::MAX)
                .max_elapsed(Some(Duration::MAX)),
        )
        .pause_floor(Duration::MAX);
        let d = r.decide(
            Outcome::Failed(&http(429, Some(Duration::MAX))),
            1,
            Duration::MAX,
        );
        assert_eq!(d.pause.map(|p| p.length), Some(Duration::MAX));
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
