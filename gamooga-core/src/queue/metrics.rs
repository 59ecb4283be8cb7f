//! The queue's counters and latency through the [`metrics`](https://docs.rs/metrics) facade
//! crate (feature `metrics`), so that whatever recorder the application installs (a
//! Prometheus exporter, OpenTelemetry, statsd, ...) picks them up. Without the feature,
//! the queue's metrics do nothing and cost nothing.
//!
//! # What is exported
//!
//! Every metric has the label `company` (the company id). None has a user id, a visitor id
//! or a property value: the only other labels are `endpoint` (the call's short name:
//! `evwid`, `vpr`, ...) and `reason` (a dead letter's reason, or a pause's cause).
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `gamooga_queue_enqueued_total` | counter | company | events accepted ([`QueueStats::enqueued`](crate::queue::QueueStats::enqueued)) |
//! | `gamooga_queue_replayed_total` | counter | company | of those, spool rows of an earlier run read back |
//! | `gamooga_queue_delivered_total` | counter | company | events Gamooga answered 200 for |
//! | `gamooga_queue_dead_lettered_total` | counter | company, reason | accepted events dead-lettered, by [`DeadLetterReason`](crate::queue::DeadLetterReason) (`rejected`, `retries_exhausted`, `unresolved`, `panicked`, `overflow`, `shutdown_deadline`, `queue_dropped`) |
//! | `gamooga_queue_refused_total` | counter | company | events returned to the caller (full, spool failure) |
//! | `gamooga_queue_dropped_total` | counter | company | new events dropped by the overflow policy |
//! | `gamooga_queue_before_send_dropped_total` | counter | company | events the before-send hook dropped |
//! | `gamooga_queue_disabled_dropped_total` | counter | company | events dropped because the client is disabled |
//! | `gamooga_queue_retried_total` | counter | company | attempts that failed and were scheduled again |
//! | `gamooga_queue_ambiguous_total` | counter | company | attempts that may have reached Gamooga although they failed (the bound on duplicates) |
//! | `gamooga_queue_pauses_total` | counter | company, reason | times every delivery paused: `reason` is `backpressure` or `unresolved` |
//! | `gamooga_queue_identify_lookups_total` | counter | company | `id` calls made for pushes by user id |
//! | `gamooga_queue_identify_cache_hits_total` | counter | company | pushes by user id whose visitor id was cached |
//! | `gamooga_queue_dead_letters_pruned_total` | counter | company | dead letters the spool deleted past its bound |
//! | `gamooga_queue_attempts_total` | counter | company, endpoint | delivery attempts made |
//! | `gamooga_queue_attempts_failed_total` | counter | company, endpoint | of those, the ones that failed (or panicked) |
//! | `gamooga_queue_attempt_duration_seconds` | histogram | company, endpoint | how long each attempt took |
//! | `gamooga_queue_depth` | gauge | company | events held now: queued, waiting for a retry, in flight |
//! | `gamooga_queue_in_flight` | gauge | company | requests in flight now |
//! | `gamooga_queue_in_flight_limit` | gauge | company | how many may be in flight now ([`QueueStats::in_flight_limit`](crate::queue::QueueStats::in_flight_limit)) |
//! | `gamooga_queue_waiting_retry` | gauge | company | events waiting for a retry now |
//! | `gamooga_queue_spool_backlog` | gauge | company | spool rows of an earlier run not read back yet |
//! | `gamooga_queue_failing` | gauge | company | 1 while deliveries are failing ([`QueueStats::failing_since`](crate::queue::QueueStats::failing_since)), else 0 |
//! | `gamooga_queue_delivery_latency_p50_seconds`, `_p90_`, `_p99_`, `_max_` | gauge | company | delivery latency (accepted to 200, retries included) over the queue's life |
//!
//! The counters and gauges come from the queue's own [stats](crate::queue::QueueStats), so they agree with them:
//! they are exported once a second while the queue runs, when
//! `Queue::export_metrics` (a method of the feature) is called, and a last time
//! when the queue stops (shutdown, or its last handle dropped), when its gauges are taken
//! back to zero. Counters are added as increments and gauges as changes, so several queues
//! of one company add up; the latency gauges are set (the last queue exported wins). The
//! attempts and their durations are recorded as each attempt ends.
//!
//! Metric handles are registered when the queue starts: install the recorder before.

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "metrics")]
pub(super) use enabled::QueueMetrics;

use crate::queue::Deliver;
#[cfg(not(feature = "metrics"))]
use crate::queue::QueueStats;

/// How often a running queue exports its counters and gauges.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);

#[cfg(feature = "metrics")]
mod enabled {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Instant;

    use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

    use crate::call::{Endpoint, Request};
    use crate::dead_letter::DeadLetterReason;
    use crate::error::Error;
    use crate::queue::{Deliver, QueueStats};

    /// Reads a count from the stats.
    type Read = fn(&QueueStats) -> u64;
    /// Reads a latency from the stats.
    type Latency = fn(&QueueStats) -> Option<std::time::Duration>;

    /// The handles of one queue, and what it exported last.
    pub(crate) struct QueueMetrics {
        company: String,
        counters: Vec<(Counter, Read)>,
        gauges: Vec<(Gauge, Read)>,
        latency: [(Gauge, Latency); 4],
        attempts: Vec<(Endpoint, Counter, Counter, Histogram)>,
        last: Mutex<Last>,
    }

    #[derive(Default)]
    struct Last {
        stats: QueueStats,
        stopped: bool,
    }

    macro_rules! dead {
        ($reason:ident) => {
            |s: &QueueStats| s.dead_letters.get(DeadLetterReason::$reason)
        };
    }

    impl QueueMetrics {
        pub(crate) fn new(company: &str) -> Self {
            let c = |name: &'static str| counter!(name, "company" => company.to_owned());
            let g = |name: &'static str| gauge!(name, "company" => company.to_owned());
            let dead = |reason: DeadLetterReason| {
                counter!(
                    "gamooga_queue_dead_lettered_total",
                    "company" => company.to_owned(),
                    "reason" => reason.as_str()
                )
            };
            let pauses = |reason: &'static str| counter!("gamooga_queue_pauses_total", "company" => company.to_owned(), "reason" => reason);
            let counters: Vec<(Counter, Read)> = vec![
                (c("gamooga_queue_enqueued_total"), |s| s.enqueued),
                (c("gamooga_queue_replayed_total"), |s| s.replayed),
                (c("gamooga_queue_delivered_total"), |s| s.delivered),
                (c("gamooga_queue_refused_total"), |s| s.refused),
                (c("gamooga_queue_dropped_total"), |s| s.dropped),
                (c("gamooga_queue_before_send_dropped_total"), |s| {
                    s.before_send_dropped
                }),
                (c("gamooga_queue_disabled_dropped_total"), |s| {
                    s.disabled_dropped
                }),
                (c("gamooga_queue_retried_total"), |s| s.retried),
                (c("gamooga_queue_ambiguous_total"), |s| s.ambiguous),
                (pauses("backpressure"), |s| s.backpressure_pauses),
                (pauses("unresolved"), |s| s.resolution_pauses),
                (c("gamooga_queue_identify_lookups_total"), |s| {
                    s.identify_lookups
                }),
                (c("gamooga_queue_identify_cache_hits_total"), |s| {
                    s.identify_cache_hits
                }),
                (c("gamooga_queue_dead_letters_pruned_total"), |s| {
                    s.dead_letters_pruned
                }),
                (dead(DeadLetterReason::Overflow), dead!(Overflow)),
                (dead(DeadLetterReason::Rejected), dead!(Rejected)),
                (
                    dead(DeadLetterReason::RetriesExhausted),
                    dead!(RetriesExhausted),
                ),
                (dead(DeadLetterReason::Unresolved), dead!(Unresolved)),
                (dead(DeadLetterReason::Panicked), dead!(Panicked)),
                (
                    dead(DeadLetterReason::ShutdownDeadline),
                    dead!(ShutdownDeadline),
                ),
                (dead(DeadLetterReason::QueueDropped), dead!(QueueDropped)),
            ];
            let gauges: Vec<(Gauge, Read)> = vec![
                (g("gamooga_queue_depth"), |s| s.depth),
                (g("gamooga_queue_in_flight"), |s| s.in_flight),
                (g("gamooga_queue_in_flight_limit"), |s| s.in_flight_limit),
                (g("gamooga_queue_waiting_retry"), |s| s.waiting_retry),
                (g("gamooga_queue_spool_backlog"), |s| s.spool_backlog),
                (g("gamooga_queue_failing"), |s| {
                    u64::from(s.failing_since.is_some())
                }),
            ];
            let latency: [(Gauge, Latency); 4] = [
                (g("gamooga_queue_delivery_latency_p50_seconds"), |s| {
                    s.latency.map(|l| l.p50)
                }),
                (g("gamooga_queue_delivery_latency_p90_seconds"), |s| {
                    s.latency.map(|l| l.p90)
                }),
                (g("gamooga_queue_delivery_latency_p99_seconds"), |s| {
                    s.latency.map(|l| l.p99)
                }),
                (g("gamooga_queue_delivery_latency_max_seconds"), |s| {
                    s.latency.map(|l| l.max)
                }),
            ];
            let attempts = Endpoint::ALL
                .into_iter()
                .filter(|e| e.is_backend())
                .map(|endpoint| {
                    let labels = [
                        ("company", company.to_owned()),
                        ("endpoint", endpoint.name().to_owned()),
                    ];
                    (
                        endpoint,
                        counter!("gamooga_queue_attempts_total", &labels),
                        counter!("gamooga_queue_attempts_failed_total", &labels),
                        histogram!("gamooga_queue_attempt_duration_seconds", &labels),
                    )
                })
                .collect();
            QueueMetrics {
                company: company.to_owned(),
                counters,
                gauges,
                latency,
                attempts,
                last: Mutex::new(Last::default()),
            }
        }

        /// Exports what changed since the last export; false (and nothing) once stopped.
        pub(crate) fn export(&self, stats: &QueueStats) -> bool {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if last.stopped {
                return false;
            }
            for (counter, read) in &self.counters {
                counter.increment(read(stats).saturating_sub(read(&last.stats)));
            }
            for (gauge, read) in &self.gauges {
                let (now, before) = (read(stats), read(&last.stats));
                if now > before {
                    gauge.increment((now - before) as f64);
                } else if before > now {
                    gauge.decrement((before - now) as f64);
                }
            }
            for (gauge, read) in &self.latency {
                if let Some(d) = read(stats) {
                    gauge.set(d.as_secs_f64());
                }
            }
            last.stats = stats.clone();
            true
        }

        /// The last export of a stopped queue: its counters' last increments, and its gauges
        /// taken back to zero (it holds nothing any more).
        pub(crate) fn stop(&self, stats: &QueueStats) {
            self.export(stats);
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if last.stopped {
                return;
            }
            last.stopped = true;
            for (gauge, read) in &self.gauges {
                gauge.decrement(read(&last.stats) as f64);
            }
        }

        fn attempt(&self, endpoint: Endpoint, took: std::time::Duration, failed: bool) {
            if let Some((_, attempts, failures, durations)) =
                self.attempts.iter().find(|(e, ..)| *e == endpoint)
            {
                attempts.increment(1);
                if failed {
                    failures.increment(1);
                }
                durations.record(took.as_secs_f64());
            }
        }
    }

    impl std::fmt::Debug for QueueMetrics {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("QueueMetrics")
                .field("company", &self.company)
                .finish_non_exhaustive()
        }
    }

    /// A [`Deliver`] that records each attempt's count and duration.
    pub(super) struct Timed {
        pub(super) inner: Arc<dyn Deliver>,
        pub(super) metrics: Arc<QueueMetrics>,
    }

    /// Records the attempt when dropped: also when the attempt panicked (counted failed).
    struct Attempt<'a> {
        metrics: &'a QueueMetrics,
        endpoint: Endpoint,
        start: Instant,
        failed: bool,
    }

    impl Drop for Attempt<'_> {
        fn drop(&mut self) {
            self.metrics
                .attempt(self.endpoint, self.start.elapsed(), self.failed);
        }
    }

    impl Deliver for Timed {
        fn deliver<'a>(
            &'a self,
            request: &'a Request,
        ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
            Box::pin(async move {
                let mut attempt = Attempt {
                    metrics: &self.metrics,
                    endpoint: request.endpoint(),
                    start: Instant::now(),
                    failed: true,
                };
                let result = self.inner.deliver(request).await;
                attempt.failed = result.is_err();
                result
            })
        }

        fn destination(&self) -> String {
            self.inner.destination()
        }
    }
}

/// Without the feature: nothing to hold, nothing to export.
#[cfg(not(feature = "metrics"))]
#[derive(Debug)]
pub(super) struct QueueMetrics;

#[cfg(not(feature = "metrics"))]
impl QueueMetrics {
    pub(super) fn new(_company: &str) -> Self {
        QueueMetrics
    }
    #[allow(dead_code)] // called by the exporter, which runs with the feature only
    pub(super) fn export(&self, _stats: &QueueStats) -> bool {
        false
    }
    pub(super) fn stop(&self, _stats: &QueueStats) {}
}

/// The deliverer the queue uses: `deliverer`, timed when metrics are on.
pub(super) fn timed(deliverer: Arc<dyn Deliver>, metrics: &Arc<QueueMetrics>) -> Arc<dyn Deliver> {
    #[cfg(feature = "metrics")]
    {
        Arc::new(enabled::Timed {
            inner: deliverer,
            metrics: metrics.clone(),
        })
    }
    #[cfg(not(feature = "metrics"))]
    {
        let _ = metrics;
        deliverer
    }
}

/// Exports a running queue's metrics every [`EXPORT_INTERVAL`] until it stops (its shared
/// part is gone or it is closed and settled). Spawned only with the feature.
pub(super) fn spawn_exporter(
    runtime: &tokio::runtime::Handle,
    shared: std::sync::Weak<crate::queue::shared::Shared>,
) {
    #[cfg(feature = "metrics")]
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(EXPORT_INTERVAL).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if !shared.export_metrics() {
                return;
            }
        }
    });
    #[cfg(not(feature = "metrics"))]
    let _ = (runtime, shared);
}
