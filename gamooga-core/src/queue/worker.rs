//! The queue's shared state and its worker: dispatches events to a pool of concurrent
//! deliveries, schedules retries, and settles every event as delivered or dead-lettered.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::call::{Calls, Request};
use crate::error::Error;
use crate::queue::config::QueueConfig;
use crate::queue::dead_letter::{DeadLetter, DeadLetterReason};
use crate::queue::stats::{Histogram, QueueStats};
use crate::queue::Deliver;

/// One accepted event.
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) request: Arc<Request>,
    pub(crate) accepted: Instant,
    pub(crate) enqueued_at: SystemTime,
    pub(crate) first_attempt: Option<Instant>,
    pub(crate) attempts: u32,
    /// The spool row (0: not spooled).
    pub(crate) spool_id: i64,
}

/// Everything behind the queue's lock.
pub(crate) struct State {
    pub(crate) next_id: u64,
    pub(crate) ready: VecDeque<Entry>,
    pub(crate) waiting: BTreeMap<(Instant, u64), Entry>,
    pub(crate) in_flight: HashMap<u64, Entry>,
    /// Slots taken by enqueues that are writing to the spool.
    pub(crate) reserved: usize,
    /// Ids of events accepted and not yet settled (for `flush`).
    pub(crate) outstanding: BTreeSet<u64>,
    /// Intake stopped (`shutdown` called).
    pub(crate) closed: bool,
    /// The worker must stop.
    pub(crate) stopped: bool,
    pub(crate) stats: QueueStats,
    pub(crate) latency: Histogram,
}

impl State {
    pub(crate) fn held(&self) -> usize {
        self.ready.len() + self.waiting.len() + self.in_flight.len() + self.reserved
    }
}

/// What the handles and the worker share.
pub(crate) struct Shared {
    pub(crate) calls: Calls,
    pub(crate) config: QueueConfig,
    pub(crate) deliverer: Arc<dyn Deliver>,
    pub(crate) state: Mutex<State>,
    /// Wakes the worker (new event, a slot freed, stop).
    pub(crate) wake_worker: Notify,
    /// Signals progress to `flush` and to enqueues waiting for room.
    pub(crate) changed: Notify,
    pub(crate) worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    #[cfg(feature = "spool")]
    pub(crate) spool: Option<crate::spool::SpoolWriter>,
}

impl Shared {
    pub(crate) fn new(calls: Calls, config: QueueConfig, deliverer: Arc<dyn Deliver>) -> Self {
        Shared {
            calls,
            config,
            deliverer,
            state: Mutex::new(State {
                next_id: 1,
                ready: VecDeque::new(),
                waiting: BTreeMap::new(),
                in_flight: HashMap::new(),
                reserved: 0,
                outstanding: BTreeSet::new(),
                closed: false,
                stopped: false,
                stats: QueueStats::default(),
                latency: Histogram::new(),
            }),
            wake_worker: Notify::new(),
            changed: Notify::new(),
            worker: Mutex::new(None),
            #[cfg(feature = "spool")]
            spool: None,
        }
    }

    /// Locks the state; a panic in a dead-letter hook cannot poison it for good.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the worker and everyone waiting for progress.
    pub(crate) fn signal(&self) {
        self.wake_worker.notify_one();
        self.changed.notify_waiters();
    }

    /// Hands a dead letter to the spool, the log and the hook (never under the lock).
    pub(crate) fn dead_letter(&self, entry: Entry, reason: DeadLetterReason, error: Option<Error>) {
        #[cfg(feature = "spool")]
        if let Some(spool) = &self.spool {
            let message = error.as_ref().map(|e| e.to_string());
            if entry.spool_id != 0 {
                spool.mark_dead(entry.spool_id, reason, entry.attempts, message);
            } else {
                spool.insert_dead(&entry.request, entry.enqueued_at, reason, message);
            }
        }
        match &error {
            Some(e) => tracing::warn!(
                endpoint = entry.request.endpoint().name(),
                reason = reason.as_str(),
                attempts = entry.attempts,
                error = %e,
                "gamooga queue: event dead-lettered"
            ),
            None => tracing::warn!(
                endpoint = entry.request.endpoint().name(),
                reason = reason.as_str(),
                "gamooga queue: event dead-lettered"
            ),
        }
        if let Some(hook) = &self.config.dead_letter {
            let request = Arc::try_unwrap(entry.request).unwrap_or_else(|arc| (*arc).clone());
            hook(DeadLetter {
                request,
                reason,
                attempts: entry.attempts,
                error,
                enqueued_at: entry.enqueued_at,
            });
        }
    }
}

/// Whether a failed attempt may have reached Gamooga: a timeout, or a connection lost after
/// it was made. A refused connection is not ambiguous: nothing was sent.
pub(crate) fn is_ambiguous(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } => true,
        Error::Connection { message, .. } => {
            let m = message.to_ascii_lowercase();
            !(m.contains("refused")
                || m.contains("connect error")
                || m.contains("(connect)")
                || m.contains("dns"))
        }
        _ => false,
    }
}

/// The worker: keeps up to `concurrency` deliveries in flight, moves due retries back to the
/// queue, and exits when stopped or when intake is closed and nothing is left.
pub(crate) async fn run(shared: Arc<Shared>) {
    let concurrency = shared.config.concurrency;
    let mut tasks = JoinSet::new();
    loop {
        let next_due = {
            let mut st = shared.lock();
            if st.stopped {
                break;
            }
            let now = Instant::now();
            while let Some(entry) = st.waiting.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let e = entry.remove();
                st.ready.push_front(e);
            }
            while st.in_flight.len() < concurrency {
                let Some(mut e) = st.ready.pop_front() else {
                    break;
                };
                e.attempts += 1;
                e.first_attempt.get_or_insert(now);
                let (id, request) = (e.id, e.request.clone());
                st.in_flight.insert(id, e);
                tasks.spawn(deliver_one(shared.clone(), id, request));
            }
            st.stats.in_flight = st.in_flight.len() as u64;
            if st.closed && st.held() == 0 {
                break;
            }
            st.waiting.first_key_value().map(|(k, _)| k.0)
        };
        while tasks.try_join_next().is_some() {}
        match next_due {
            Some(due) => {
                tokio::select! {
                    _ = shared.wake_worker.notified() => {}
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
            }
            None => shared.wake_worker.notified().await,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// One attempt of one event, and its settlement.
async fn deliver_one(shared: Arc<Shared>, id: u64, request: Arc<Request>) {
    let result = shared.deliverer.deliver(&request).await;
    drop(request);
    let mut dead = None;
    {
        let mut st = shared.lock();
        // Absent when shutdown abandoned it at the deadline.
        let Some(mut e) = st.in_flight.remove(&id) else {
            return;
        };
        match result {
            Ok(()) => {
                st.stats.delivered += 1;
                st.latency.record(e.accepted.elapsed());
                st.outstanding.remove(&id);
                #[cfg(feature = "spool")]
                if let Some(spool) = &shared.spool {
                    if e.spool_id != 0 {
                        spool.delete(e.spool_id);
                    }
                }
            }
            Err(err) => {
                if is_ambiguous(&err) {
                    st.stats.ambiguous += 1;
                }
                let policy = &shared.config.retry;
                let elapsed = e.first_attempt.map(|t| t.elapsed()).unwrap_or_default();
                if policy.should_retry(&err, e.attempts, elapsed) {
                    let retry_after = match &err {
                        Error::Http { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    let due = Instant::now() + policy.backoff(e.attempts, retry_after);
                    tracing::debug!(attempt = e.attempts, error = %err, "gamooga queue: retrying");
                    st.stats.retried += 1;
                    e.first_attempt.get_or_insert_with(Instant::now);
                    st.waiting.insert((due, id), e);
                } else {
                    st.stats.failed += 1;
                    let reason = if err.is_retryable() {
                        DeadLetterReason::RetriesExhausted
                    } else {
                        DeadLetterReason::Rejected
                    };
                    dead = Some((e, reason, err));
                }
            }
        }
        st.stats.in_flight = st.in_flight.len() as u64;
    }
    if let Some((e, reason, err)) = dead {
        // Settled only once the hook has run, so `flush` returns after the hook.
        shared.dead_letter(e, reason, Some(err));
        shared.lock().outstanding.remove(&id);
    }
    shared.signal();
}
