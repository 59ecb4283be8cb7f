//! The delivery queue: events go in without waiting on Gamooga, a background worker delivers
//! them over a pool of concurrent keep-alive requests with retries, and every accepted event
//! ends up delivered or reported (counted, logged and handed to the dead-letter hook).
//!
//! ```no_run
//! # async fn demo(client: gamooga_core::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use gamooga_core::{CustomEvent, Properties};
//! use gamooga_core::queue::{Overflow, QueueConfig};
//!
//! let queue = client.queue(QueueConfig::default().overflow(Overflow::DropOldest))?;
//! let event = CustomEvent::new("purchase", Properties::new().number("amount", 12.5)?);
//! queue.try_track("user-42", &event)?; // never waits for room (with a spool: for its commit)
//! queue.track("user-42", &event).await?; // waits for room when full
//! let report = queue.shutdown(Duration::from_secs(10)).await;
//! println!("{} delivered, {} dead-lettered", report.delivered, report.dead_lettered);
//! # Ok(()) }
//! ```
//!
//! The queue stores built [`Request`]s: `tm` is stamped when the event is enqueued (unless
//! the event carries its own time), so a late or retried delivery keeps the event's real time.

mod client;
mod config;
mod dead_letter;
mod stats;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use config::{Overflow, QueueConfig};
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use stats::{Latency, QueueStats, ShutdownReport};

use crate::call::{Calls, Request};
use crate::error::{Error, InvalidInput};
use crate::event::{Event, VisitorProperties};
use worker::{Entry, Shared, Wakes};

/// Sends one request once: the queue's view of a transport. The queue does the retrying.
///
/// [`Client`](crate::Client) implements it (one attempt, no retry); implement it yourself to
/// test code that uses a queue without a server.
pub trait Deliver: Send + Sync + 'static {
    /// Sends `request` once. `Ok` means Gamooga answered 200; an error that
    /// [is retryable](Error::is_retryable) is tried again later, any other is final.
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;
}

/// Why an event was not accepted by the queue. Where the event was built, it comes back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The event was refused at the call site (see [`InvalidInput`]); nothing was queued.
    #[error("the event was not queued: {0}")]
    Invalid(#[from] InvalidInput),
    /// The queue is full: `try_enqueue` under [`Overflow::Wait`], or any enqueue under
    /// [`Overflow::Refuse`]. The request is returned.
    #[error("the queue is full ({capacity} events); the event was not queued")]
    Full {
        /// The request that was not queued.
        request: Box<Request>,
        /// The queue's capacity.
        capacity: usize,
    },
    /// The queue is shut down and takes no more events. The request is returned.
    #[error("the queue is shut down; the event was not queued")]
    Closed {
        /// The request that was not queued.
        request: Box<Request>,
    },
    /// The spool could not store the event, so it was not accepted. The request is returned.
    #[error("the spool could not store the event, so it was not queued: {message}")]
    Spool {
        /// The request that was not queued.
        request: Box<Request>,
        /// What went wrong.
        message: String,
    },
}

impl EnqueueError {
    /// The request that was not queued, if it was built.
    pub fn into_request(self) -> Option<Request> {
        match self {
            EnqueueError::Invalid(_) => None,
            EnqueueError::Full { request, .. }
            | EnqueueError::Closed { request }
            | EnqueueError::Spool { request, .. } => Some(*request),
        }
    }
}

/// A handle on a delivery queue. Cheap to clone (`Arc` inside), `Send + Sync`.
///
/// Create one with [`Client::queue`](crate::Client::queue) (or [`Queue::new`] with your own
/// [`Deliver`]). Dropping the last handle without [`shutdown`](Self::shutdown) stops the
/// worker and logs a warning with the number of events left behind.
#[derive(Clone)]
pub struct Queue {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let left = {
            let mut st = self.shared.lock();
            st.stopped = true;
            st.held()
        };
        self.shared.signal();
        if left > 0 {
            #[cfg(feature = "spool")]
            if self.shared.spool.is_some() {
                tracing::warn!(
                    left,
                    "gamooga queue dropped without shutdown(): {left} event(s) not delivered stay in the spool"
                );
                return;
            }
            tracing::warn!(
                left,
                "gamooga queue dropped without shutdown(): {left} event(s) left behind undelivered"
            );
        }
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("config", &self.handle.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

enum Admit {
    /// Accepted in memory.
    Done,
    /// A slot is reserved under this id: write the spool, then commit.
    #[cfg_attr(not(feature = "spool"), allow(dead_code))]
    Reserved(u64, Request),
    /// Full under [`Overflow::Wait`]: wait for room and try again.
    Full(Request),
}

impl Queue {
    /// Starts a queue delivering through `deliverer`, building typed events with `calls`.
    /// The worker is spawned on the current tokio runtime.
    ///
    /// Errors: [`Error::Config`] outside a tokio runtime; with a spool, [`Error::Config`]
    /// naming the file when it cannot be opened, is not a spool, or is corrupt.
    pub fn new<D: Deliver>(
        deliverer: D,
        calls: Calls,
        config: QueueConfig,
    ) -> Result<Queue, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "a queue needs a tokio runtime: create it inside one, or use gamooga::blocking"
                    .into(),
            )
        })?;
        #[allow(unused_mut)]
        let mut shared = Shared::new(calls, config, Arc::new(deliverer));
        #[cfg(feature = "spool")]
        if let Some(path) = shared.config.spool.clone() {
            let (writer, rows) = crate::spool::SpoolWriter::open(&path)?;
            shared.spool = Some(writer);
            let mut st = shared.lock();
            let now = Instant::now();
            for row in rows {
                let id = st.next_id;
                st.next_id += 1;
                st.outstanding.insert(id);
                st.stats.enqueued += 1;
                st.ready.push_back(Entry {
                    id,
                    request: Arc::new(row.request),
                    accepted: now,
                    enqueued_at: row.enqueued_at,
                    first_attempt: None,
                    attempts: 0,
                    spool_id: row.id,
                });
            }
            if !st.ready.is_empty() {
                tracing::info!(
                    events = st.ready.len(),
                    "gamooga queue: replaying the spool"
                );
            }
        }
        let shared = Arc::new(shared);
        let worker = runtime.spawn(worker::run(shared.clone()));
        *shared.worker.lock().unwrap_or_else(|e| e.into_inner()) = Some(worker);
        Ok(Queue {
            handle: Arc::new(Handle { shared }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// The call builders the typed forms use.
    pub fn calls(&self) -> &Calls {
        &self.shared().calls
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.shared().config
    }

    fn spooled(&self) -> bool {
        #[cfg(feature = "spool")]
        {
            self.shared().spool.is_some()
        }
        #[cfg(not(feature = "spool"))]
        false
    }

    /// Admits `request` if there is room. `waiting`: the caller waits on `Shared::room` when
    /// full (it registered its `Notified` before calling).
    fn admit(&self, request: Request, waiting: bool) -> Result<Admit, EnqueueError> {
        let shared = self.shared();
        let config = &shared.config;
        let mut evicted = None;
        let mut wakes = Wakes::default();
        let admitted = {
            let mut st = shared.lock();
            if st.closed {
                return Err(EnqueueError::Closed {
                    request: Box::new(request),
                });
            }
            if st.held() >= config.capacity {
                match config.overflow {
                    Overflow::Wait => {
                        if waiting {
                            st.wait_for_room();
                        }
                        return Ok(Admit::Full(request));
                    }
                    Overflow::Refuse => {
                        st.stats.refused += 1;
                        return Err(EnqueueError::Full {
                            request: Box::new(request),
                            capacity: config.capacity,
                        });
                    }
                    Overflow::DropNewest => {
                        st.stats.dropped += 1;
                        drop(st);
                        shared.dead_letter(new_entry(0, request), DeadLetterReason::Overflow, None);
                        return Ok(Admit::Done);
                    }
                    Overflow::DropOldest => {
                        let oldest = match st.ready.pop_front() {
                            Some(e) => Some(e),
                            None => st.waiting.pop_first().map(|(_, e)| e),
                        };
                        st.stats.dropped += 1;
                        match oldest {
                            Some(e) => evicted = Some(e),
                            None => {
                                // Everything held is in flight: the new event goes instead.
                                drop(st);
                                shared.dead_letter(
                                    new_entry(0, request),
                                    DeadLetterReason::Overflow,
                                    None,
                                );
                                return Ok(Admit::Done);
                            }
                        }
                    }
                }
            }
            let id = st.next_id;
            st.next_id += 1;
            st.outstanding.insert(id);
            if self.spooled() {
                st.reserved += 1;
                Admit::Reserved(id, request)
            } else {
                st.stats.enqueued += 1;
                if st.push_ready(new_entry(id, request)) {
                    wakes.work = 1;
                }
                Admit::Done
            }
        };
        if let Some(e) = evicted {
            let id = e.id;
            shared.dead_letter(e, DeadLetterReason::Overflow, None);
            wakes.flush = shared.lock().settle(id);
        }
        shared.wake(wakes);
        Ok(admitted)
    }

    /// Finishes an enqueue whose slot was reserved while the spool was written.
    #[cfg(feature = "spool")]
    fn commit(
        &self,
        id: u64,
        request: Request,
        enqueued_at: SystemTime,
        written: Result<i64, String>,
    ) -> Result<(), EnqueueError> {
        let shared = self.shared();
        let mut wakes = Wakes::default();
        let result = {
            let mut st = shared.lock();
            st.reserved -= 1;
            match written {
                Ok(row) => {
                    st.stats.enqueued += 1;
                    let mut e = new_entry(id, request);
                    e.enqueued_at = enqueued_at;
                    e.spool_id = row;
                    if st.push_ready(e) {
                        wakes.work = 1;
                    }
                    Ok(())
                }
                Err(message) => {
                    wakes.flush = st.settle(id);
                    wakes.room = st.take_room_waiters();
                    Err(EnqueueError::Spool {
                        request: Box::new(request),
                        message,
                    })
                }
            }
        };
        shared.wake(wakes);
        result
    }

    /// Queues a built request without ever waiting for room.
    ///
    /// When the queue is full: under [`Overflow::Wait`] and [`Overflow::Refuse`] it returns
    /// [`EnqueueError::Full`] with the request; under the drop policies it drops an event (see
    /// [`Overflow`]) and returns `Ok`. After [`shutdown`](Self::shutdown):
    /// [`EnqueueError::Closed`].
    ///
    /// With a spool, the event is durable when this returns, so this call waits for the
    /// spool's commit (group commit with other enqueues; typically a millisecond or two).
    pub fn try_enqueue(&self, request: Request) -> Result<(), EnqueueError> {
        match self.admit(request, false)? {
            Admit::Done => Ok(()),
            Admit::Full(request) => {
                self.shared().lock().stats.refused += 1;
                Err(EnqueueError::Full {
                    request: Box::new(request),
                    capacity: self.shared().config.capacity,
                })
            }
            #[cfg(feature = "spool")]
            Admit::Reserved(id, request) => {
                let now = SystemTime::now();
                let spool = self
                    .shared()
                    .spool
                    .as_ref()
                    .expect("reserved only with a spool");
                let written = spool.insert_blocking(&request, now);
                self.commit(id, request, now, written)
            }
            #[cfg(not(feature = "spool"))]
            Admit::Reserved(..) => unreachable!("slots are reserved only with a spool"),
        }
    }

    /// Queues a built request, waiting for room under [`Overflow::Wait`]; the other policies
    /// behave as in [`try_enqueue`](Self::try_enqueue). With a spool, the event is durable
    /// when this returns.
    ///
    /// While deliveries succeed, a waiting enqueue is woken once room for a batch of events
    /// is free (up to 32, or a quarter of the capacity), not at the first free slot, which
    /// saves a task switch per event when the queue stays full; it is woken as soon as any
    /// room is free when an attempt fails or nothing is left in flight, or, when an attempt
    /// settles, if it has already waited 1 ms. (So a waiter can wait for the next settlement,
    /// at most the request timeout, while a few slots are free.)
    pub async fn enqueue(&self, request: Request) -> Result<(), EnqueueError> {
        let mut request = request;
        loop {
            let notified = self.shared().room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.admit(request, true)? {
                Admit::Done => return Ok(()),
                Admit::Full(back) => {
                    request = back;
                    notified.await;
                }
                #[cfg(feature = "spool")]
                Admit::Reserved(id, request) => {
                    // The write and its commit run in a task of their own: if this future
                    // is dropped (a timeout, a client gone) while the spool is written, the
                    // reserved slot is still settled and the event stays accepted.
                    let queue = self.clone();
                    let closed = request.clone();
                    let task = tokio::spawn(async move {
                        let now = SystemTime::now();
                        let spool = queue
                            .shared()
                            .spool
                            .as_ref()
                            .expect("reserved only with a spool");
                        let written = spool.insert(&request, now).await;
                        queue.commit(id, request, now, written)
                    });
                    return match task.await {
                        Ok(result) => result,
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        // The runtime is shutting down.
                        Err(_) => Err(EnqueueError::Closed {
                            request: Box::new(closed),
                        }),
                    };
                }
                #[cfg(not(feature = "spool"))]
                Admit::Reserved(..) => unreachable!("slots are reserved only with a spool"),
            }
        }
    }

    /// Builds an event by user id ([`Calls::track`]) and queues it without waiting.
    pub fn try_track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue(self.calls().track(user_id, event)?)
    }

    /// Builds an event by visitor id ([`Calls::track_visitor`]) and queues it without waiting.
    pub fn try_track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue(self.calls().track_visitor(visitor_id, event)?)
    }

    /// Builds an event with visitor properties by user id ([`Calls::track_with`]) and queues
    /// it without waiting.
    pub fn try_track_with<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue(self.calls().track_with(user_id, event, visitor)?)
    }

    /// Builds a visitor property push ([`Calls::push_visitor`]) and queues it without waiting.
    pub fn try_push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue(self.calls().push_visitor(visitor_id, properties)?)
    }

    /// Builds an event by user id ([`Calls::track`]) and queues it, waiting for room.
    /// The input is checked (and `tm` stamped) before the first await.
    pub fn track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().track(user_id, event);
        async move { self.enqueue(built?).await }
    }

    /// Builds an event by visitor id ([`Calls::track_visitor`]) and queues it, waiting for room.
    pub fn track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().track_visitor(visitor_id, event);
        async move { self.enqueue(built?).await }
    }

    /// Builds an event with visitor properties ([`Calls::track_with`]) and queues it,
    /// waiting for room.
    pub fn track_with<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().track_with(user_id, event, visitor);
        async move { self.enqueue(built?).await }
    }

    /// Builds a visitor property push ([`Calls::push_visitor`]) and queues it, waiting for room.
    pub fn push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().push_visitor(visitor_id, properties);
        async move { self.enqueue(built?).await }
    }

    /// Waits until every event accepted before this call is delivered or dead-lettered,
    /// including requests in flight and events waiting for a retry. Events enqueued
    /// meanwhile are not waited for. Returns at once if the queue was stopped.
    pub async fn flush(&self) {
        let mark = self.shared().lock().next_id;
        self.wait_settled(mark).await;
    }

    async fn wait_settled(&self, below: u64) {
        let shared = self.shared();
        loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = shared.lock();
                let done = st.outstanding.first().is_none_or(|&min| min >= below);
                if done || (st.stopped && st.in_flight_count == 0) {
                    return;
                }
                // Settlements wake flush waiters only once the lowest mark is reached.
                st.flush_mark = Some(st.flush_mark.map_or(below, |m| m.min(below)));
            }
            notified.await;
        }
    }

    /// Stops intake, delivers what is held until `deadline` has passed, stops the worker and
    /// reports. Events not delivered by the deadline stay in the spool (`still_spooled`), or
    /// without a spool are dead-lettered with [`DeadLetterReason::ShutdownDeadline`]
    /// (`abandoned`). Calls after the first report the same counters with nothing left.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let shared = self.shared();
        shared.lock().closed = true;
        shared.signal();
        let completed = tokio::time::timeout(deadline, self.wait_settled(u64::MAX))
            .await
            .is_ok();
        let (left, abandoned_in_flight) = {
            let mut st = shared.lock();
            st.stopped = true;
            let mut left: Vec<Entry> = st.ready.drain(..).collect();
            left.extend(std::mem::take(&mut st.waiting).into_values());
            let before = left.len();
            left.extend(st.in_flight.iter_mut().filter_map(Option::take));
            let in_flight = (left.len() - before) as u64;
            st.in_flight_count = 0;
            (left, in_flight)
        };
        // Everything left is settled and counted before the first await below, so a
        // shutdown future dropped part-way loses nothing unreported.
        let mut still_spooled = 0u64;
        let mut abandoned = 0u64;
        for e in left {
            let id = e.id;
            if e.spool_id != 0 {
                still_spooled += 1;
            } else {
                abandoned += 1;
                shared.dead_letter(e, DeadLetterReason::ShutdownDeadline, None);
            }
            shared.lock().settle(id);
        }
        {
            let mut st = shared.lock();
            st.stats.abandoned += abandoned;
            // An attempt abandoned in flight may have reached Gamooga: its outcome is unknown.
            st.stats.ambiguous += abandoned_in_flight;
        }
        shared.signal();
        let worker = shared
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        #[cfg(feature = "spool")]
        if let Some(spool) = &shared.spool {
            spool.sync().await;
            // Nothing writes to the spool after this: another queue may take it over.
            spool.release_lock();
        }
        let st = shared.lock();
        shared.changed.notify_waiters();
        let s = &st.stats;
        ShutdownReport {
            delivered: s.delivered,
            retried: s.retried,
            dead_lettered: s.failed + s.dropped + s.abandoned,
            dropped: s.dropped,
            abandoned: s.abandoned,
            ambiguous: s.ambiguous,
            still_spooled,
            completed,
        }
    }

    /// A snapshot of the live counters.
    pub fn stats(&self) -> QueueStats {
        let st = self.shared().lock();
        let mut s = st.stats.clone();
        s.in_flight = st.in_flight_count as u64;
        s.waiting_retry = st.waiting.len() as u64;
        s.depth = st.held() as u64;
        s.latency = st.latency.latency();
        s
    }
}

fn new_entry(id: u64, request: Request) -> Entry {
    Entry {
        id,
        request: Arc::new(request),
        accepted: Instant::now(),
        enqueued_at: SystemTime::now(),
        first_attempt: None,
        attempts: 0,
        spool_id: 0,
    }
}

/// Queued forms of the one-line calls, for every [`Event`]:
/// `Purchase { .. }.enqueue(&queue, "user-42").await?`.
///
/// The event is checked and built (with `tm` stamped) before anything is awaited.
pub trait EnqueueEvent: Event {
    /// Queues this event by user id, waiting for room ([`Queue::track`]).
    fn enqueue<'q>(
        &self,
        queue: &'q Queue,
        user_id: &str,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + 'q {
        queue.track(user_id, self)
    }

    /// Queues this event by user id without waiting ([`Queue::try_track`]).
    fn try_enqueue(&self, queue: &Queue, user_id: &str) -> Result<(), EnqueueError> {
        queue.try_track(user_id, self)
    }

    /// Queues this event by visitor id, waiting for room ([`Queue::track_visitor`]).
    fn enqueue_visitor<'q>(
        &self,
        queue: &'q Queue,
        visitor_id: &str,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + 'q {
        queue.track_visitor(visitor_id, self)
    }

    /// Queues this event by visitor id without waiting ([`Queue::try_track_visitor`]).
    fn try_enqueue_visitor(&self, queue: &Queue, visitor_id: &str) -> Result<(), EnqueueError> {
        queue.try_track_visitor(visitor_id, self)
    }
}

impl<E: Event + ?Sized> EnqueueEvent for E {}
