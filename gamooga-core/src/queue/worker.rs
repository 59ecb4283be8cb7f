//! The queue's shared state and its tasks: a fixed pool of `concurrency` delivery tasks that
//! each take the next ready event, deliver it and settle it (delivered, retried later or
//! dead-lettered), and a scheduler task that moves due retries back to the ready queue.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

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
    /// One slot per delivery task: the event it is delivering. A slot emptied by `shutdown`
    /// (abandoned at the deadline) tells its task to drop the attempt's outcome.
    pub(crate) in_flight: Vec<Option<Entry>>,
    /// Occupied slots of `in_flight`.
    pub(crate) in_flight_count: usize,
    /// Slots taken by enqueues that are writing to the spool.
    pub(crate) reserved: usize,
    /// Ids of events accepted and not yet settled (for `flush`).
    pub(crate) outstanding: BTreeSet<u64>,
    /// Intake stopped (`shutdown` called).
    pub(crate) closed: bool,
    /// The tasks must stop.
    pub(crate) stopped: bool,
    /// Delivery tasks parked on `Shared::work` that nobody has woken yet.
    pub(crate) idle: usize,
    /// Enqueues waiting for room registered since the last `Shared::room` notification.
    pub(crate) room_waiters: usize,
    /// When the first of them registered.
    pub(crate) room_since: Option<Instant>,
    /// The lowest mark a `flush` waits for (every id below it settled), if one waits; reset
    /// when the waiters are woken (they register again if not done).
    pub(crate) flush_mark: Option<u64>,
    pub(crate) stats: QueueStats,
    pub(crate) latency: Histogram,
}

impl State {
    pub(crate) fn held(&self) -> usize {
        self.ready.len() + self.waiting.len() + self.in_flight_count + self.reserved
    }

    /// Queues a ready event; true when an idle delivery task must be woken for it.
    pub(crate) fn push_ready(&mut self, entry: Entry) -> bool {
        self.ready.push_back(entry);
        self.claim_idle()
    }

    /// Claims one parked delivery task to wake (call `Shared::work.notify_one()` after).
    fn claim_idle(&mut self) -> bool {
        if self.idle > 0 {
            self.idle -= 1;
            true
        } else {
            false
        }
    }

    /// Marks `id` settled. Returns true when a `flush` waiter can now be done.
    pub(crate) fn settle(&mut self, id: u64) -> bool {
        if !self.outstanding.remove(&id) {
            return false;
        }
        let Some(mark) = self.flush_mark else {
            return false;
        };
        if self.outstanding.first().is_none_or(|&min| min >= mark) {
            self.flush_mark = None;
            true
        } else {
            false
        }
    }

    /// Registers an enqueue that waits on `Shared::room` (its `Notified` is enabled).
    pub(crate) fn wait_for_room(&mut self) {
        if self.room_waiters == 0 {
            self.room_since = Some(Instant::now());
        }
        self.room_waiters += 1;
    }

    /// Wakes the enqueues waiting for room (true: notify `Shared::room`) whatever the room.
    pub(crate) fn take_room_waiters(&mut self) -> bool {
        self.room_since = None;
        std::mem::take(&mut self.room_waiters) > 0
    }

    /// After an attempt settled: whether to wake the enqueues waiting for room now.
    ///
    /// Waking a waiter per freed slot costs a task switch (a thread wake-up when it waits
    /// outside the runtime's workers) per event while the queue is full, so waiters are
    /// woken once room for a batch (`ROOM_BATCH`, at most a quarter of the capacity) is
    /// free, or as soon as there is any room and no more is sure to follow soon: nothing in
    /// flight, an attempt failed (`freed` false: a retry or a dead letter), or the first
    /// waiter has waited `ROOM_WAIT` already.
    fn room_for_waiters(&mut self, capacity: usize, freed: bool) -> bool {
        if self.room_waiters == 0 {
            return false;
        }
        let room = capacity.saturating_sub(self.held());
        if room == 0 {
            return false;
        }
        let batch = ROOM_BATCH.min(capacity / 4).max(1);
        let wake = room >= batch
            || !freed
            || self.in_flight_count == 0
            || self.room_since.is_none_or(|t| t.elapsed() >= ROOM_WAIT);
        wake && self.take_room_waiters()
    }
}

/// Free slots that wake enqueues waiting for room (see `State::room_for_waiters`).
const ROOM_BATCH: usize = 32;
/// The longest a waiting enqueue is kept waiting while room is free and attempts settle.
const ROOM_WAIT: Duration = Duration::from_millis(1);

/// What the handles and the tasks share.
pub(crate) struct Shared {
    pub(crate) calls: Calls,
    pub(crate) config: QueueConfig,
    pub(crate) deliverer: Arc<dyn Deliver>,
    pub(crate) state: Mutex<State>,
    /// Wakes the scheduler (a retry was scheduled, stop, close).
    pub(crate) wake_worker: Notify,
    /// Wakes parked delivery tasks (an event is ready, stop).
    pub(crate) work: Notify,
    /// Wakes enqueues waiting for room.
    pub(crate) room: Notify,
    /// Wakes `flush` (and `shutdown`) waiters.
    pub(crate) changed: Notify,
    pub(crate) worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    #[cfg(feature = "spool")]
    pub(crate) spool: Option<crate::spool::SpoolWriter>,
}

impl Shared {
    pub(crate) fn new(calls: Calls, config: QueueConfig, deliverer: Arc<dyn Deliver>) -> Self {
        let concurrency = config.concurrency;
        Shared {
            calls,
            config,
            deliverer,
            state: Mutex::new(State {
                next_id: 1,
                ready: VecDeque::new(),
                waiting: BTreeMap::new(),
                in_flight: (0..concurrency).map(|_| None).collect(),
                in_flight_count: 0,
                reserved: 0,
                outstanding: BTreeSet::new(),
                closed: false,
                stopped: false,
                idle: 0,
                room_waiters: 0,
                room_since: None,
                flush_mark: None,
                stats: QueueStats::default(),
                latency: Histogram::new(),
            }),
            wake_worker: Notify::new(),
            work: Notify::new(),
            room: Notify::new(),
            changed: Notify::new(),
            worker: Mutex::new(None),
            #[cfg(feature = "spool")]
            spool: None,
        }
    }

    /// Locks the state, recovering it if a thread panicked while holding the lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every task and waiter (stop, close, shutdown): rare, so no bookkeeping.
    pub(crate) fn signal(&self) {
        self.wake_worker.notify_one();
        self.work.notify_waiters();
        self.room.notify_waiters();
        self.changed.notify_waiters();
    }

    /// Sends the wake-ups a state change asked for (after the lock is released).
    pub(crate) fn wake(&self, wakes: Wakes) {
        for _ in 0..wakes.work {
            self.work.notify_one();
        }
        if wakes.room {
            self.room.notify_waiters();
        }
        if wakes.flush {
            self.changed.notify_waiters();
        }
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
            let dead_letter = DeadLetter {
                request,
                reason,
                attempts: entry.attempts,
                error,
                enqueued_at: entry.enqueued_at,
            };
            // A panicking hook must not take a delivery task (or an enqueue) down with the
            // event still unsettled: that would stall flush and delivery for good.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(dead_letter)));
            if ran.is_err() {
                tracing::error!(
                    reason = reason.as_str(),
                    "gamooga queue: the dead-letter hook panicked; the event was dead-lettered"
                );
            }
        }
    }
}

/// Wake-ups decided under the lock, sent after it is released.
#[derive(Default)]
pub(crate) struct Wakes {
    /// Parked delivery tasks to wake.
    pub(crate) work: usize,
    /// Enqueues waiting for room.
    pub(crate) room: bool,
    /// `flush` waiters.
    pub(crate) flush: bool,
}

/// The scheduler: starts the pool of `concurrency` delivery tasks, moves due retries back to
/// the ready queue (sleeping until the next due time), and when stopped (or closed with
/// nothing left) ends the pool, abandoning any attempt still running.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut tasks = JoinSet::new();
    for slot in 0..shared.config.concurrency {
        tasks.spawn(deliver_loop(shared.clone(), slot));
    }
    loop {
        let notified = shared.wake_worker.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let mut wakes = Wakes::default();
        let next_due = {
            let mut st = shared.lock();
            if st.stopped || (st.closed && st.held() == 0) {
                break;
            }
            let now = Instant::now();
            while let Some(entry) = st.waiting.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let e = entry.remove();
                st.ready.push_front(e);
                if st.claim_idle() {
                    wakes.work += 1;
                }
            }
            st.waiting.first_key_value().map(|(k, _)| k.0)
        };
        shared.wake(wakes);
        match next_due {
            Some(due) => {
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
            }
            None => notified.await,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Takes the next ready event into `slot`, waiting for one; `None` when stopped.
async fn take(shared: &Shared, slot: usize) -> Option<Arc<Request>> {
    loop {
        let notified = shared.work.notified();
        tokio::pin!(notified);
        {
            let mut st = shared.lock();
            if let Some(request) = start(&mut st, slot)? {
                return Some(request);
            }
            // Registered before the lock is released, so the enqueue that claims this task
            // (`idle -= 1`, then `notify_one`) finds it waiting.
            notified.as_mut().enable();
            st.idle += 1;
        }
        notified.await;
    }
}

/// Moves the next ready event into `slot` (under the lock): `None` when stopped,
/// `Some(None)` when nothing is ready.
fn start(st: &mut State, slot: usize) -> Option<Option<Arc<Request>>> {
    if st.stopped {
        return None;
    }
    let Some(mut e) = st.ready.pop_front() else {
        return Some(None);
    };
    e.attempts += 1;
    if e.first_attempt.is_none() {
        e.first_attempt = Some(Instant::now());
    }
    let request = e.request.clone();
    st.in_flight[slot] = Some(e);
    st.in_flight_count += 1;
    Some(Some(request))
}

/// One delivery task: deliver, settle, take the next (settling and taking under one lock).
async fn deliver_loop(shared: Arc<Shared>, slot: usize) {
    let Some(mut request) = take(&shared, slot).await else {
        return;
    };
    loop {
        let result = shared.deliverer.deliver(&request).await;
        let mut wakes = Wakes::default();
        let mut dead = None;
        let next = {
            let mut st = shared.lock();
            // Empty when shutdown abandoned it at the deadline.
            if let Some(e) = st.in_flight[slot].take() {
                st.in_flight_count -= 1;
                settle_attempt(&shared, &mut st, e, result, &mut wakes, &mut dead);
            }
            if dead.is_some() {
                // The dead letter's hook runs first, without the lock; take later.
                Some(None)
            } else {
                start(&mut st, slot)
            }
        };
        // The request's last reference goes here, outside the lock: settling a delivered
        // entry under the lock no longer frees the request's strings there.
        drop(request);
        shared.wake(wakes);
        if let Some((e, reason, err)) = dead {
            let id = e.id;
            // Settled only once the hook has run, so `flush` returns after the hook.
            shared.dead_letter(e, reason, Some(err));
            let flush = shared.lock().settle(id);
            shared.wake(Wakes {
                flush,
                ..Wakes::default()
            });
        }
        request = match next {
            None => return,
            Some(Some(request)) => request,
            Some(None) => match take(&shared, slot).await {
                Some(request) => request,
                None => return,
            },
        };
    }
}

/// Settles one attempt's outcome (under the lock): delivered, scheduled for a retry, or
/// handed back in `dead` for the dead-letter hook.
fn settle_attempt(
    shared: &Shared,
    st: &mut State,
    e: Entry,
    result: Result<(), Error>,
    wakes: &mut Wakes,
    dead: &mut Option<(Entry, DeadLetterReason, Error)>,
) {
    match result {
        Ok(()) => {
            st.stats.delivered += 1;
            st.latency.record(e.accepted.elapsed());
            wakes.flush = st.settle(e.id);
            wakes.room = st.room_for_waiters(shared.config.capacity, true);
            #[cfg(feature = "spool")]
            if let Some(spool) = &shared.spool {
                if e.spool_id != 0 {
                    spool.delete(e.spool_id);
                }
            }
        }
        Err(err) => {
            if err.may_have_been_sent() {
                st.stats.ambiguous += 1;
            }
            let policy = &shared.config.retry;
            let elapsed = e.first_attempt.map(|t| t.elapsed()).unwrap_or_default();
            if let Some(wait) = policy.retry_delay(&err, e.attempts, elapsed) {
                let due = Instant::now() + wait;
                tracing::debug!(attempt = e.attempts, error = %err, "gamooga queue: retrying");
                st.stats.retried += 1;
                st.waiting.insert((due, e.id), e);
                wakes.room = st.room_for_waiters(shared.config.capacity, false);
                // The scheduler may be sleeping until a later due time.
                shared.wake_worker.notify_one();
            } else {
                st.stats.failed += 1;
                let reason = if err.is_retryable() {
                    DeadLetterReason::RetriesExhausted
                } else {
                    DeadLetterReason::Rejected
                };
                wakes.room = st.room_for_waiters(shared.config.capacity, false);
                *dead = Some((e, reason, err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CustomEvent, Properties};

    struct Never;
    impl Deliver for Never {
        fn deliver<'a>(
            &'a self,
            _request: &'a Request,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>>
        {
            Box::pin(std::future::pending())
        }
    }

    fn shared(capacity: usize, concurrency: usize) -> Shared {
        let config = QueueConfig::default()
            .capacity(capacity)
            .concurrency(concurrency);
        Shared::new(Calls::new("acme").unwrap(), config, Arc::new(Never))
    }

    fn entry(shared: &Shared, id: u64) -> Entry {
        let event = CustomEvent::new("e", Properties::new());
        Entry {
            id,
            request: Arc::new(shared.calls.track("u", &event).unwrap()),
            accepted: Instant::now(),
            enqueued_at: SystemTime::now(),
            first_attempt: None,
            attempts: 0,
            spool_id: 0,
        }
    }

    /// A full queue of `capacity` ready events with `in_flight` of them in flight.
    fn full(shared: &Shared, capacity: usize, in_flight: usize) -> MutexGuard<'_, State> {
        let mut st = shared.lock();
        for id in 1..=capacity as u64 {
            let e = entry(shared, id);
            st.outstanding.insert(id);
            st.push_ready(e);
        }
        for slot in 0..in_flight {
            assert!(start(&mut st, slot).unwrap().is_some());
        }
        st
    }

    /// Settles the event in `slot` as delivered; true when room waiters are woken.
    fn deliver(st: &mut State, slot: usize, capacity: usize) -> bool {
        let e = st.in_flight[slot].take().unwrap();
        st.in_flight_count -= 1;
        st.settle(e.id);
        st.room_for_waiters(capacity, true)
    }

    #[test]
    fn room_waiters_are_woken_per_batch_while_deliveries_succeed() {
        let shared = shared(200, 40);
        let mut st = full(&shared, 200, 40);
        st.wait_for_room();
        // However slow this thread is, the waiter has not waited `ROOM_WAIT` yet.
        st.room_since = Some(Instant::now() + Duration::from_secs(3600));
        let batch = ROOM_BATCH;
        for slot in 0..batch - 1 {
            assert!(!deliver(&mut st, slot, 200), "woken with room {}", slot + 1);
        }
        assert!(deliver(&mut st, batch - 1, 200));
        assert_eq!(st.room_waiters, 0, "woken once");
        assert!(!deliver(&mut st, batch, 200), "nobody waits any more");
    }

    #[test]
    fn room_waiters_are_woken_at_once_when_no_more_room_is_sure_to_follow() {
        // A failed attempt frees no room: wake on any room already free.
        let shared = shared(200, 40);
        let mut st = full(&shared, 200, 40);
        assert!(!deliver(&mut st, 0, 200), "nobody waits yet");
        st.wait_for_room();
        st.room_since = Some(Instant::now() + Duration::from_secs(3600));
        let e = st.in_flight[1].take().unwrap();
        st.in_flight_count -= 1;
        st.waiting.insert((Instant::now(), e.id), e);
        assert!(st.room_for_waiters(200, false));

        // The last attempt in flight settled (room 6 of 200, fewer than a batch).
        let shared = self::shared(200, 40);
        let mut st = full(&shared, 200, 1);
        st.ready.truncate(194);
        st.wait_for_room();
        st.room_since = Some(Instant::now() + Duration::from_secs(3600));
        assert!(deliver(&mut st, 0, 200));

        // A small capacity wakes per slot.
        let shared = self::shared(2, 2);
        let mut st = full(&shared, 2, 2);
        st.wait_for_room();
        assert!(deliver(&mut st, 0, 2));

        // The first waiter has waited ROOM_WAIT already.
        let shared = self::shared(200, 40);
        let mut st = full(&shared, 200, 40);
        st.wait_for_room();
        st.room_since = Some(Instant::now() - ROOM_WAIT);
        assert!(deliver(&mut st, 0, 200));
    }

    #[test]
    fn flush_waiters_are_woken_once_every_id_below_the_mark_is_settled() {
        let shared = shared(10, 1);
        let mut st = shared.lock();
        st.outstanding.extend([1, 2, 3, 4]);
        assert!(!st.settle(1), "nobody waits");
        st.flush_mark = Some(4);
        assert!(!st.settle(3), "2 is not settled");
        assert!(!st.settle(3), "settled twice counts once");
        assert!(st.settle(2), "every id below 4 is settled");
        assert_eq!(st.flush_mark, None);
        assert!(!st.settle(4));
    }
}
