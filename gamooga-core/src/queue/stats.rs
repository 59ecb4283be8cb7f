//! Live [`QueueStats`], the [`ShutdownReport`], and the latency histogram behind them.

use std::time::Duration;

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

/// A snapshot of the queue's counters, from [`Queue::stats`](crate::queue::Queue::stats).
///
/// Counters count events, not attempts, except `retried` and `ambiguous`, which count
/// attempts. Every accepted event ends up in exactly one of `delivered`, `failed`, `dropped`
/// (drop-oldest evictions) or `abandoned`, or is still held (`depth`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// Events accepted (replayed spool rows included).
    pub enqueued: u64,
    /// Events Gamooga answered 200 for.
    pub delivered: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Events given up on after delivery attempts (rejected or retries exhausted), all
    /// dead-lettered.
    pub failed: u64,
    /// Events dropped by the overflow policy, all dead-lettered (a dropped newest event was
    /// never accepted, so it is not in `enqueued`).
    pub dropped: u64,
    /// Events refused with [`EnqueueError::Full`](crate::queue::EnqueueError::Full) (returned
    /// to the caller, so not lost).
    pub refused: u64,
    /// Events abandoned at the shutdown deadline without a spool (dead-lettered).
    pub abandoned: u64,
    /// Attempts whose outcome is unknown (a timeout or a connection lost after the request
    /// may have been sent): the event is retried, and Gamooga may hold it twice.
    pub ambiguous: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Events waiting for a retry now.
    pub waiting_retry: u64,
    /// Events held now: queued, waiting for a retry, or in flight.
    pub depth: u64,
    /// Delivery latency, `None` before the first delivery.
    pub latency: Option<Latency>,
}

/// What [`Queue::shutdown`](crate::queue::Queue::shutdown) did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Events delivered over the queue's life.
    pub delivered: u64,
    /// Attempts retried over the queue's life.
    pub retried: u64,
    /// Events dead-lettered over the queue's life: failed, dropped by the overflow policy
    /// and abandoned at the deadline.
    pub dead_lettered: u64,
    /// Of `dead_lettered`, those dropped by the overflow policy.
    pub dropped: u64,
    /// Of `dead_lettered`, those abandoned at the deadline (memory queue only).
    pub abandoned: u64,
    /// Attempts with an unknown outcome (possible duplicates at Gamooga).
    pub ambiguous: u64,
    /// Events left in the spool for the next start (0 without a spool).
    pub still_spooled: u64,
    /// Whether everything was delivered or dead-lettered before the deadline.
    pub completed: bool,
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
