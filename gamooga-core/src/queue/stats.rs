//! Live [`QueueStats`], the [`ShutdownReport`], and the latency histogram behind them.

use std::time::{Duration, SystemTime};

use crate::dead_letter::DeadLetterReason;

/// Delivery latency percentiles: from the moment an event was accepted to Gamooga's 200,
/// retries included. Values are accurate to about 6% (a log-linear histogram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// The median.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
}

/// Dead letters of accepted events, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DeadLetterCounts {
    /// Evicted by [`Overflow::DropOldest`](crate::queue::Overflow::DropOldest).
    pub overflow: u64,
    /// Refused by Gamooga with an answer not worth retrying.
    pub rejected: u64,
    /// Every attempt allowed failed.
    pub retries_exhausted: u64,
    /// The backend could not be resolved within the retry policy's `max_elapsed`.
    pub unresolved: u64,
    /// The attempt panicked.
    pub panicked: u64,
    /// Left at the shutdown deadline (memory queue).
    pub shutdown_deadline: u64,
    /// Left when the last handle was dropped without `shutdown`, or the runtime ended
    /// (memory queue).
    pub queue_dropped: u64,
}

impl DeadLetterCounts {
    /// The count for `reason`.
    pub fn get(&self, reason: DeadLetterReason) -> u64 {
        match reason {
            DeadLetterReason::Overflow => self.overflow,
            DeadLetterReason::Rejected => self.rejected,
            DeadLetterReason::RetriesExhausted => self.retries_exhausted,
            DeadLetterReason::Unresolved => self.unresolved,
            DeadLetterReason::Panicked => self.panicked,
            DeadLetterReason::ShutdownDeadline => self.shutdown_deadline,
            DeadLetterReason::QueueDropped => self.queue_dropped,
        }
    }

    /// Every reason together.
    pub fn total(&self) -> u64 {
        DeadLetterReason::ALL.iter().map(|&r| self.get(r)).sum()
    }

    pub(crate) fn add(&mut self, reason: DeadLetterReason) {
        let n = match reason {
            DeadLetterReason::Overflow => &mut self.overflow,
            DeadLetterReason::Rejected => &mut self.rejected,
            DeadLetterReason::RetriesExhausted => &mut self.retries_exhausted,
            DeadLetterReason::Unresolved => &mut self.unresolved,
            DeadLetterReason::Panicked => &mut self.panicked,
            DeadLetterReason::ShutdownDeadline => &mut self.shutdown_deadline,
            DeadLetterReason::QueueDropped => &mut self.queue_dropped,
        };
        *n += 1;
    }
}

/// A snapshot of the queue's counters, from [`Queue::stats`](crate::queue::Queue::stats).
///
/// Counters count events, not attempts, except `retried`, `ambiguous` and the pauses.
///
/// **The identity.** Every accepted event (`enqueued`) is, at every snapshot, in exactly one
/// of these: `delivered`, `dead_lettered` (by reason in `dead_letters`), `still_spooled`,
/// or still held (`depth`):
///
/// ```text
/// enqueued == delivered + dead_lettered + still_spooled + depth
/// ```
///
/// Events offered but never accepted are counted apart: `refused` (returned to the caller)
/// and `dropped` (a new event dropped by the overflow policy, handed to the dead-letter hook
/// but not in `dead_lettered`). [`QueueStats::accounted`] gives the right-hand side.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use gamooga::{Client, CustomEvent, Properties, transport::DryRunTransport};
/// # use gamooga::queue::QueueConfig;
/// # let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
/// let queue = client.queue(QueueConfig::default())?;
/// queue.try_track("user-42", &CustomEvent::new("login", Properties::new()))?;
/// let stats = queue.stats();
/// assert_eq!(stats.enqueued, stats.accounted());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// Events accepted (spool rows of an earlier run included, once read back).
    pub enqueued: u64,
    /// Of `enqueued`, spool rows of an earlier run read back.
    pub replayed: u64,
    /// Events Gamooga answered 200 for.
    pub delivered: u64,
    /// Accepted events dead-lettered, every reason (see `dead_letters`).
    pub dead_lettered: u64,
    /// `dead_lettered` by reason.
    pub dead_letters: DeadLetterCounts,
    /// Accepted events left in the spool when the queue stopped (the next queue on the
    /// spool delivers them).
    pub still_spooled: u64,
    /// Events held now: queued, waiting for a retry, or in flight.
    pub depth: u64,
    /// Events returned to the caller, never accepted: [`EnqueueError::Full`](crate::queue::EnqueueError::Full),
    /// or [`EnqueueError::Spool`](crate::queue::EnqueueError::Spool).
    pub refused: u64,
    /// New events dropped by the overflow policy, never accepted (dead-lettered with
    /// [`Overflow`](DeadLetterReason::Overflow), not in `dead_lettered`).
    pub dropped: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Attempts whose outcome is unknown (a timeout or a connection lost after the request
    /// may have been sent, or an attempt abandoned in flight at shutdown): Gamooga may hold
    /// the event twice. Decided by [`Error::may_have_been_sent`](crate::Error::may_have_been_sent).
    pub ambiguous: u64,
    /// Times every delivery paused because the server asked (`429`/`503` with
    /// `Retry-After`, or `429`).
    pub backpressure_pauses: u64,
    /// Times every delivery paused because the backend could not be resolved.
    pub resolution_pauses: u64,
    /// How long the current pause still lasts, if one does.
    pub paused_for: Option<Duration>,
    /// Since when deliveries fail without a success in between, if they do (transient
    /// failures: unreachable, timeouts, 408/429/5xx, resolution).
    pub failing_since: Option<SystemTime>,
    /// The last transient failure (its message: the call and host, never values), kept after
    /// recovery.
    pub last_error: Option<String>,
    /// Requests in flight now.
    pub in_flight: u64,
    /// How many requests may be in flight now: the adaptive limit (see
    /// [`Concurrency`](crate::queue::Concurrency)), or the fixed concurrency.
    pub in_flight_limit: u64,
    /// The most requests that were in flight at once so far: over HTTP/1.1 with keep-alive,
    /// about the number of connections the queue opened.
    pub in_flight_peak: u64,
    /// Events waiting for a retry now.
    pub waiting_retry: u64,
    /// Spool rows of an earlier run not read back yet (they are read as room frees up).
    pub spool_backlog: u64,
    /// Dead letters the spool deleted past its bound.
    pub dead_letters_pruned: u64,
    /// Delivery latency, `None` before the first delivery.
    pub latency: Option<Latency>,
    /// Events the before-send hook dropped as they were built for this queue (never
    /// accepted, not in `enqueued`).
    pub before_send_dropped: u64,
    /// Events checked and dropped because the queue's client is disabled (never accepted).
    pub disabled_dropped: u64,
    /// `id` calls made to find the visitor id of pushes by user id.
    pub identify_lookups: u64,
    /// Pushes by user id whose visitor id came from the client's cache.
    pub identify_cache_hits: u64,
}

impl QueueStats {
    /// `delivered + dead_lettered + still_spooled + depth`: equal to `enqueued` at every
    /// snapshot.
    pub fn accounted(&self) -> u64 {
        self.delivered + self.dead_lettered + self.still_spooled + self.depth
    }
}

/// What [`Queue::shutdown`](crate::queue::Queue::shutdown) did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Events delivered over the queue's life.
    pub delivered: u64,
    /// Attempts retried over the queue's life.
    pub retried: u64,
    /// Accepted events dead-lettered over the queue's life, every reason (the abandoned
    /// ones included).
    pub dead_lettered: u64,
    /// New events dropped by the overflow policy (never accepted; dead-lettered too).
    pub dropped: u64,
    /// Of `dead_lettered`, those abandoned at the deadline (memory queue only).
    pub abandoned: u64,
    /// Attempts with an unknown outcome (possible duplicates at Gamooga).
    pub ambiguous: u64,
    /// Events left in the spool for the next start (0 without a spool).
    pub still_spooled: u64,
    /// Whether everything was delivered or dead-lettered before the deadline.
    pub completed: bool,
    /// Every counter, as [`Queue::stats`](crate::queue::Queue::stats) gives them after the
    /// shutdown.
    pub stats: QueueStats,
}

const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = SUB + (64 - SUB_BITS as usize) * SUB;

/// A log-linear histogram of microseconds: 16 linear sub-buckets per power of two.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < SUB as u64 {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros();
        let sub = (v >> (exp - SUB_BITS)) as usize & (SUB - 1);
        SUB + (exp - SUB_BITS) as usize * SUB + sub
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let exp = (i - SUB) / SUB + SUB_BITS as usize;
        let sub = ((i - SUB) % SUB) as u64;
        let width = 1u64 << (exp - SUB_BITS as usize);
        let low = (1u64 << exp) + sub * width;
        low + width / 2
    }

    pub(crate) fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.counts[Self::index(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    fn percentile(&self, p: f64) -> u64 {
        let rank = ((self.total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i).min(self.max);
            }
        }
        self.max
    }

    pub(crate) fn latency(&self) -> Option<Latency> {
        if self.total == 0 {
            return None;
        }
        let us = Duration::from_micros;
        Some(Latency {
            p50: us(self.percentile(0.50)),
            p90: us(self.percentile(0.90)),
            p99: us(self.percentile(0.99)),
            max: us(self.max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_the_bucket_error() {
        let mut h = Histogram::new();
        assert_eq!(h.latency(), None);
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let l = h.latency().unwrap();
        let close = |got: Duration, want_ms: u64| {
            let got = got.as_secs_f64() * 1000.0;
            (got - want_ms as f64).abs() / (want_ms as f64) < 0.07
        };
        assert!(close(l.p50, 500), "{l:?}");
        assert!(close(l.p90, 900), "{l:?}");
        assert!(close(l.p99, 990), "{l:?}");
        assert_eq!(l.max, Duration::from_millis(1000));
    }

    #[test]
    fn every_value_maps_into_its_own_bucket() {
        for v in [0u64, 1, 15, 16, 17, 31, 32, 1000, 123_456, u64::MAX] {
            let i = Histogram::index(v);
            assert!(i < BUCKETS);
            let mid = Histogram::value(i);
            if v >= 16 {
                assert_eq!(Histogram::index(mid), i, "v={v}");
            } else {
                assert_eq!(mid, v);
            }
        }
    }
}
