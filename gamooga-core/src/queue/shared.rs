//! [`Shared`]: what the queue's handles and tasks share, and the side of every transition
//! that runs outside the lock: wake-ups, dead letters (spool, log, hook), spool deletes,
//! and logging. User code (the hook, `tracing` layers) runs only here, and a panic in it
//! is contained.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::call::Calls;
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::queue::config::QueueConfig;
use crate::queue::metrics::QueueMetrics;
use crate::queue::settle::{DeliveryRules, PauseCause};
use crate::queue::state::{DeadJob, Effects, HealthLog, State};
use crate::queue::store::{Commit, Intake, Store};
use crate::queue::Deliver;

/// Runs `f` (a log line, a hook) so that a panic in it (a `tracing` layer's, the user's)
/// cannot take a delivery task, an enqueue or a shutdown down. True when it returned.
pub(super) fn contained(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_ok()
}

/// What the handles and the tasks share.
pub(super) struct Shared {
    pub(super) calls: Calls,
    pub(super) config: QueueConfig,
    pub(super) rules: DeliveryRules,
    pub(super) deliverer: Arc<dyn Deliver>,
    /// Where deliveries go, for logs ([`Deliver::destination`]).
    destination: String,
    pub(super) store: Store,
    state: Mutex<State>,
    /// Wakes the scheduler (a retry or a pause to time, a page to load, stop).
    pub(super) wake_scheduler: Notify,
    /// Wakes parked delivery tasks (an event is ready, a pause is over, stop).
    pub(super) work: Notify,
    /// Wakes enqueues waiting for room.
    pub(super) room: Notify,
    /// Wakes `flush` (and `shutdown`) waiters.
    pub(super) changed: Notify,
    pub(super) worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The queue of a disabled client: events are checked, counted and dropped.
    pub(super) disabled: bool,
    /// The `metrics` export (nothing without the feature).
    pub(super) metrics: Arc<QueueMetrics>,
}

impl Shared {
    pub(super) fn new(
        calls: Calls,
        config: QueueConfig,
        deliverer: Arc<dyn Deliver>,
        store: Store,
        state: State,
        disabled: bool,
        metrics: Arc<QueueMetrics>,
    ) -> Self {
        Shared {
            calls,
            rules: config.delivery_rules(),
            config,
            destination: deliverer.destination(),
            deliverer,
            store,
            state: Mutex::new(state),
            wake_scheduler: Notify::new(),
            work: Notify::new(),
            room: Notify::new(),
            changed: Notify::new(),
            worker: Mutex::new(None),
            disabled,
            metrics,
        }
    }

    /// Locks the state, recovering it if a thread panicked while holding the lock (nothing
    /// that can panic runs under it but the transitions themselves).
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every task and waiter (stop, close, shutdown): rare, so no bookkeeping.
    pub(super) fn signal(&self) {
        self.wake_scheduler.notify_one();
        self.work.notify_waiters();
        self.room.notify_waiters();
        self.changed.notify_waiters();
    }

    /// Does what a transition asked, after the lock is released.
    pub(super) fn apply(&self, effects: Effects) {
        let Effects {
            work,
            room,
            flush,
            scheduler,
            dead,
            delete_row,
            health,
            paused,
        } = effects;
        if delete_row != 0 {
            self.store.delete(delete_row);
        }
        for _ in 0..work {
            self.work.notify_one();
        }
        if room {
            self.room.notify_waiters();
        }
        if flush {
            self.changed.notify_waiters();
        }
        if scheduler {
            self.wake_scheduler.notify_one();
        }
        if let Some((length, cause)) = paused {
            contained(|| {
                tracing::debug!(
                    ?length,
                    cause = match cause {
                        PauseCause::Backpressure => "backpressure",
                        _ => "unresolved",
                    },
                    "gamooga queue: every delivery pauses"
                )
            });
        }
        if let Some(health) = health {
            self.log_health(health);
        }
        if let Some(job) = dead {
            self.dead_letter(job);
        }
    }

    fn log_health(&self, health: HealthLog) {
        let destination = self.destination.as_str();
        contained(|| match health {
            HealthLog::Failing {
                error, failures, ..
            } if failures <= 1 => tracing::warn!(
                destination,
                error = %error,
                "gamooga queue: deliveries to {destination} are failing: {error}; events wait and are retried"
            ),
            HealthLog::Failing {
                error,
                since,
                failures,
            } => tracing::warn!(
                destination,
                error = %error,
                failures,
                failing_for = ?since,
                "gamooga queue: deliveries to {destination} are still failing ({failures} failed attempts in {since:.0?}): {error}"
            ),
            HealthLog::Recovered { after, failures } => tracing::info!(
                destination,
                failures,
                failed_for = ?after,
                "gamooga queue: deliveries to {destination} recovered after {after:.1?} ({failures} failed attempts)"
            ),
        });
    }

    /// Hands a dead letter to the spool, the log and the hook (never under the lock); then
    /// settles its event, so `flush` returns after the hook has run.
    pub(super) fn dead_letter(&self, job: DeadJob) {
        self.hand_out(job, true);
    }

    /// Hands out the dead letters of a drain (shutdown deadline, queue dropped): one warning
    /// for all of them, not one per event.
    pub(super) fn dead_letters(&self, jobs: Vec<DeadJob>, why: &str) {
        let Some(reason) = jobs.first().map(|j| j.reason) else {
            return;
        };
        let count = jobs.len();
        contained(|| {
            tracing::warn!(
                count,
                reason = reason.as_str(),
                "gamooga queue {why}: {count} event(s) not delivered, dead-lettered ({reason})"
            )
        });
        for job in jobs {
            self.hand_out(job, false);
        }
    }

    fn hand_out(&self, job: DeadJob, log: bool) {
        let DeadJob {
            id,
            request,
            enqueued_at,
            attempts,
            row,
            reason,
            error,
            tag,
        } = job;
        let note = match (&error, reason) {
            (Some(e), _) => Some(e.to_string()),
            (None, DeadLetterReason::Panicked) => Some("the delivery attempt panicked".into()),
            (None, _) => None,
        };
        self.store.dead(
            row,
            &request,
            enqueued_at,
            tag.as_ref(),
            reason,
            attempts,
            note,
        );
        let endpoint = request.endpoint().name();
        contained(|| match &error {
            _ if !log => {}
            Some(e) => tracing::warn!(
                endpoint,
                reason = reason.as_str(),
                attempts,
                error = %e,
                "gamooga queue: event dead-lettered"
            ),
            None => tracing::warn!(
                endpoint,
                reason = reason.as_str(),
                attempts,
                "gamooga queue: event dead-lettered"
            ),
        });
        if let Some(hook) = &self.config.dead_letter {
            let request = Arc::try_unwrap(request).unwrap_or_else(|arc| (*arc).clone());
            let dead_letter = DeadLetter {
                request,
                reason,
                attempts,
                error,
                enqueued_at,
                tag,
            };
            // A panicking hook must not take a delivery task (or an enqueue) down with the
            // event still unsettled: that would stall flush and delivery for good.
            if !contained(|| hook(dead_letter)) {
                contained(|| {
                    tracing::error!(
                        reason = reason.as_str(),
                        "gamooga queue: the dead-letter hook panicked; the event was dead-lettered"
                    )
                });
            }
        }
        if let Some(id) = id {
            let effects = self.lock().finish_dead(id);
            self.apply(effects);
        }
    }

    /// Stops the queue without a shutdown (the last handle dropped, the runtime ended):
    /// events of a memory queue go to the dead-letter hook, a spool's stay spooled.
    pub(super) fn abandon(&self, why: &str) {
        let (dead, spooled, effects) = self.lock().drain(DeadLetterReason::QueueDropped);
        self.signal();
        self.apply(effects);
        if spooled > 0 {
            contained(|| {
                tracing::warn!(
                    left = spooled,
                    "gamooga queue {why} without shutdown(): {spooled} event(s) not delivered stay in the spool"
                )
            });
        }
        self.dead_letters(dead, &format!("{why} without shutdown()"));
        self.stop_metrics();
    }

    /// Exports the counters through `metrics`; false once the queue stopped (or without the
    /// feature).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) fn export_metrics(&self) -> bool {
        self.metrics.export(&self.stats())
    }

    /// The last export of a stopped queue (its gauges back to zero).
    pub(super) fn stop_metrics(&self) {
        self.metrics.stop(&self.stats());
    }

    /// The counters.
    pub(super) fn stats(&self) -> crate::queue::QueueStats {
        let pruned = self.store.pruned();
        let mut stats = self.lock().stats(pruned);
        let counted = self.calls.stats();
        stats.before_send_dropped = counted.before_send_dropped;
        stats.disabled_dropped = counted.disabled_dropped;
        stats.identify_lookups = counted.identify_lookups;
        stats.identify_cache_hits = counted.identify_cache_hits;
        stats
    }
}

impl Intake for Shared {
    /// Spool rows committed (on the spool's writer thread): the events are accepted, under
    /// one lock for the batch.
    fn committed(&self, commits: &[Commit<'_>]) {
        let mut effects = Effects::default();
        {
            let mut st = self.lock();
            for c in commits {
                st.commit(
                    c.token,
                    c.request,
                    c.enqueued_at,
                    c.row,
                    c.tag,
                    &mut effects,
                );
            }
        }
        self.apply(effects);
    }
}
