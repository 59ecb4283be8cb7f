//! The delivery queue: events go in without waiting on Gamooga, a background worker delivers
//! them over a pool of concurrent keep-alive requests with retries, and every accepted event
//! ends up delivered or reported (counted, logged and handed to the dead-letter hook).
//!
//! ```no_run
//! # async fn demo(client: gamooga::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use gamooga::{CustomEvent, Properties};
//! use gamooga::queue::{Overflow, QueueConfig};
//!
//! let queue = client.queue(QueueConfig::default().overflow(Overflow::DropOldest))?;
//! let event = CustomEvent::new("purchase", Properties::new().number("amount", 12.5)?);
//! queue.try_track("user-42", &event)?; // never waits for room (with a spool: for its commit)
//! queue.track("user-42", &event).await?; // waits for room when full
//! // At the end: bounded, whatever Gamooga does.
//! let report = queue.shutdown(Duration::from_secs(10)).await;
//! println!("{} delivered, {} dead-lettered", report.delivered, report.dead_lettered);
//! # Ok(()) }
//! ```
//!
//! The queue stores built [`Request`]s: `tm` is stamped when the event is enqueued (unless
//! the event carries its own time), so a late or retried delivery keeps the event's real time.
//!
//! # Under faults
//!
//! Every attempt's outcome is settled by [`DeliveryRules`] (a pure function, shared with
//! any other delivery loop):
//!
//! - **Retryable failures** (connection errors, timeouts, 408, 429, 5xx but 501/505) are
//!   retried with the retry policy's backoff; other answers dead-letter the event
//!   ([`DeadLetterReason::Rejected`]). An attempt that may have reached Gamooga
//!   ([`Error::may_have_been_sent`]) is counted `ambiguous`: the bound on duplicates.
//! - **Backpressure is shared.** A `429` or `503` with `Retry-After` pauses *every* delivery
//!   of the queue that long (capped by the policy's `max_retry_after`); a `429` without it
//!   (or with `0`) pauses for [`QueueConfig::pause_floor`] (1 s). Attempts already in flight
//!   finish; no new one starts until the pause ends.
//! - **A backend that cannot be resolved** (the company information fails or names an
//!   invalid backend: [`Error::is_resolution_failure`]) dead-letters nothing: the event waits
//!   without using up an attempt, and every delivery pauses until the resolver's next try
//!   ([`Error::retry_after`], or the pause floor), so the resolver is not stormed. It ages out
//!   only by the policy's `max_elapsed`, as [`DeadLetterReason::Unresolved`].
//! - **A panic** in the transport, a [`Deliver`], the dead-letter hook or a `tracing` layer
//!   fails that attempt only ([`DeadLetterReason::Panicked`]); the delivery task goes on, and
//!   `flush` and `shutdown` return.
//! - **Outages are visible.** When deliveries start failing, one `WARN` names where they go
//!   and the error (at most one a minute while they keep failing); one `INFO` says when they
//!   recover. The limit is per queue, not per outage: an outage that starts within a minute of
//!   the last warning gets neither (a flapping backend logs once a minute, not twice per flap).
//!   [`QueueStats`] shows `failing_since` and `last_error` for every outage. Single retries are logged
//!   at `DEBUG`. No user id or property value is logged above `DEBUG`.
//! - **Concurrency adapts** ([`Concurrency`]): the number of requests in flight grows while
//!   round trips stay near the fastest seen, and shrinks when latency rises and on each
//!   episode of `429`, `503` or timeouts (a pause is not a sample: nothing is sent during
//!   it). Connection errors and rejections say nothing about load and leave it alone.
//! - **No setting panics**: durations saturate, `Duration::MAX` means "forever".
//!
//! # Ending a queue
//!
//! [`Queue::shutdown`] stops intake, delivers until its deadline, and reports; what is left
//! is dead-lettered ([`DeadLetterReason::ShutdownDeadline`]) or, with a spool, stays spooled.
//! It is bounded, so it is the call for a service's graceful shutdown;
//! [`Queue::flush_timeout`] is the bounded form of [`Queue::flush`] (which waits as long as
//! delivery takes: during an outage, up to the policy's `max_elapsed`).
//!
//! Dropping the last handle without `shutdown`, or the end of the runtime the queue runs on
//! (a queue in a `static` outlives `main`'s runtime), stops the queue at once: a memory
//! queue hands every event it holds to the dead-letter hook
//! ([`DeadLetterReason::QueueDropped`], counted); a spool keeps them for the next start.
//!
//! # Inside
//!
//! `state.rs` owns every event and counter behind private fields and named transitions
//! (admit, commit, replayed, start, finish, tick, drain), so each invariant (an accepted
//! event ends in exactly one bucket; flush marks; room wake-ups) lives in one file.
//! `settle.rs` holds the [`DeliveryRules`]; `store.rs` the one `Store` type behind
//! which the spool lives (a no-op without the `spool` feature); `deliver.rs` the scheduler
//! and the delivery tasks, which consult one value for how many requests may be in flight
//! now (the pool is sized by the concurrency's maximum); `limit.rs` the limiters that move
//! that value (fixed, or adaptive: fed every settled attempt by the state); `shared.rs`
//! what runs outside the lock (wake-ups, hooks, logs).

mod client;
mod config;
mod deliver;
mod limit;
pub mod metrics;
mod settle;
mod shared;
mod state;
mod stats;
mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use crate::dead_letter::{DeadLetter, DeadLetterReason};
pub use crate::tag::Tag;
#[doc(hidden)]
pub use config::AdaptiveAlgorithm;
pub use config::{Concurrency, Overflow, QueueConfig};
pub use settle::{Decision, DeliveryRules, Outcome, Pause, PauseCause, Verdict};
pub use stats::{DeadLetterCounts, Latency, QueueStats, ShutdownReport};

use crate::call::{Calls, Request};
pub use crate::error::EnqueueError;
use crate::error::{Error, InvalidInput};
use crate::event::{Event, VisitorProperties};
use shared::Shared;
use state::{Admission, Stamp, State};
use store::{Intake, Store, Write, WriteError};

/// Sends one request once: the queue's view of a transport. The queue does the retrying.
///
/// [`Client`](crate::Client) implements it (one attempt, no retry); implement it yourself to
/// test code that uses a queue without a server. A panic in `deliver` (or in the future it
/// returns) fails that attempt: the event is dead-lettered as
/// [`DeadLetterReason::Panicked`] and delivery goes on.
pub trait Deliver: Send + Sync + 'static {
    /// Sends `request` once. `Ok` means Gamooga answered 200; an error that
    /// [is retryable](Error::is_retryable) is tried again later, any other is final, and one
    /// that [is a resolution failure](Error::is_resolution_failure) waits for the resolver
    /// without counting as an attempt.
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

    /// Where deliveries go, for the queue's outage warnings (no personal data). Default:
    /// `"Gamooga"`.
    fn destination(&self) -> String {
        "Gamooga".to_owned()
    }
}

fn unwrap_request(request: Arc<Request>) -> Box<Request> {
    Box::new(Arc::try_unwrap(request).unwrap_or_else(|arc| (*arc).clone()))
}

/// A handle on a delivery queue. Cheap to clone (`Arc` inside), `Send + Sync`.
///
/// Create one with [`Client::queue`](crate::Client::queue) (or [`Queue::new`] with your own
/// [`Deliver`]). End it with [`shutdown`](Self::shutdown). Dropping the last handle without
/// it stops the queue at once: a memory queue hands every event it still holds to the
/// dead-letter hook ([`DeadLetterReason::QueueDropped`], counted, one warning); a spool keeps
/// them for the next start. The same happens when the runtime the queue runs on shuts down
/// first (a queue kept in a `static` lives past `main`'s runtime): call `shutdown` before
/// `main` returns.
#[derive(Clone)]
pub struct Queue {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.abandon("dropped");
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

impl Queue {
    /// Starts a queue delivering through `deliverer`, building typed events with `calls`.
    /// The worker is spawned on the current tokio runtime.
    ///
    /// Errors: [`Error::Config`] outside a tokio runtime; with a spool, [`Error::Spool`]
    /// naming the file and its [`SpoolErrorKind`](crate::error::SpoolErrorKind) when it cannot
    /// be opened, is in use by another queue, is not a spool, is corrupt or is newer.
    pub fn new<D: Deliver>(
        deliverer: D,
        calls: Calls,
        config: QueueConfig,
    ) -> Result<Queue, Error> {
        Self::start(deliverer, calls, config, false)
    }

    /// [`new`](Self::new), or for a disabled client a queue that checks and drops.
    pub(crate) fn start<D: Deliver>(
        deliverer: D,
        calls: Calls,
        config: QueueConfig,
        disabled: bool,
    ) -> Result<Queue, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "a queue needs a tokio runtime: create it inside one, or use gamooga::blocking"
                    .into(),
            )
        })?;
        let opened = Store::open(&config)?;
        let mut state = State::new(&config, opened.store.is_durable(), opened.backlog.as_ref());
        if let Some(first) = opened.first {
            let _ = state.replayed(Ok(first));
        }
        let metrics = Arc::new(metrics::QueueMetrics::new(calls.company_id()));
        let deliverer = metrics::timed(Arc::new(deliverer), &metrics);
        let shared = Arc::new(Shared::new(
            calls,
            config,
            deliverer,
            opened.store,
            state,
            disabled,
            metrics,
        ));
        let intake: Weak<dyn Intake> = Arc::downgrade(&shared) as Weak<dyn Intake>;
        shared.store.set_intake(intake);
        let worker = runtime.spawn(deliver::run(shared.clone()));
        *shared.worker.lock().unwrap_or_else(|e| e.into_inner()) = Some(worker);
        metrics::spawn_exporter(&runtime, Arc::downgrade(&shared));
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

    /// Offers `request` to the state machine and does what it says, but waiting for room.
    /// Returns `Ok(None)` once accepted (or dropped by the policy), `Ok(Some(request))`
    /// when full under [`Overflow::Wait`] with `waiting` (the caller waits on `room`).
    fn offer(
        &self,
        request: Arc<Request>,
        tag: Option<&Arc<Tag>>,
        waiting: bool,
        spool: Spool<'_>,
    ) -> Result<Offered, EnqueueError> {
        let shared = self.shared();
        let stamp = Stamp::now();
        let admission = shared.lock().admit_tagged(request, tag, waiting, stamp);
        match admission {
            Admission::Accepted(effects) => {
                shared.apply(effects);
                Ok(Offered::Done)
            }
            Admission::Dropped(job) => {
                shared.dead_letter(job);
                Ok(Offered::Done)
            }
            Admission::Full(request) => Ok(Offered::Full(request)),
            Admission::Refused(request) => Err(EnqueueError::Full {
                request: unwrap_request(request),
                capacity: shared.config.capacity,
            }),
            Admission::Closed(request) => Err(EnqueueError::Closed {
                request: unwrap_request(request),
            }),
            Admission::Reserved {
                token,
                request,
                effects,
            } => {
                shared.apply(effects);
                match spool {
                    Spool::Blocking => {
                        let written = shared.store.insert_blocking(
                            token,
                            request.clone(),
                            stamp.enqueued_at,
                            tag.cloned(),
                        );
                        self.written(token, request, written)
                            .map(|()| Offered::Done)
                    }
                    Spool::Async(slot) => {
                        *slot = Some(shared.store.insert(
                            token,
                            request.clone(),
                            stamp.enqueued_at,
                            tag.cloned(),
                        ));
                        Ok(Offered::Writing(token, request))
                    }
                }
            }
        }
    }

    /// The outcome of a spool write: accepted by the intake when it committed.
    fn written(
        &self,
        token: u64,
        request: Arc<Request>,
        written: Result<(), WriteError>,
    ) -> Result<(), EnqueueError> {
        match written {
            Ok(()) => Ok(()),
            Err(WriteError::Failed(message)) => Err(EnqueueError::Spool {
                request: unwrap_request(request),
                message,
            }),
            Err(WriteError::Unconfirmed(message)) => {
                let effects = self.shared().lock().abort(token);
                self.shared().apply(effects);
                Err(EnqueueError::Unconfirmed {
                    request: unwrap_request(request),
                    message,
                })
            }
        }
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
        self.try_enqueue_with(request, None)
    }

    fn try_enqueue_with(
        &self,
        request: Request,
        tag: Option<Arc<Tag>>,
    ) -> Result<(), EnqueueError> {
        if self.dropped_disabled() {
            return Ok(());
        }
        match self.offer(Arc::new(request), tag.as_ref(), false, Spool::Blocking)? {
            Offered::Full(request) => Err(EnqueueError::Full {
                request: unwrap_request(request),
                capacity: self.shared().config.capacity,
            }),
            Offered::Done | Offered::Writing(..) => Ok(()),
        }
    }

    /// Queues a built request, waiting for room under [`Overflow::Wait`]; the other policies
    /// behave as in [`try_enqueue`](Self::try_enqueue). With a spool, the event is durable
    /// when this returns; the spool write is under way once the first poll found room, and
    /// dropping the future then does not undo it (the event is accepted when it commits).
    ///
    /// While deliveries succeed, a waiting enqueue is woken once room for a batch of events
    /// is free (up to 32, or a quarter of the capacity), not at the first free slot, which
    /// saves a task switch per event when the queue stays full; it is woken as soon as any
    /// room is free when an attempt fails or nothing is left in flight, or, when an attempt
    /// settles, if it has already waited 1 ms. (So a waiter can wait for the next settlement,
    /// at most the request timeout, while a few slots are free.)
    pub async fn enqueue(&self, request: Request) -> Result<(), EnqueueError> {
        self.enqueue_with(request, None).await
    }

    async fn enqueue_with(
        &self,
        request: Request,
        tag: Option<Arc<Tag>>,
    ) -> Result<(), EnqueueError> {
        if self.dropped_disabled() {
            return Ok(());
        }
        let mut request = Arc::new(request);
        loop {
            let notified = self.shared().room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut write = None;
            match self.offer(request, tag.as_ref(), true, Spool::Async(&mut write))? {
                Offered::Done => return Ok(()),
                Offered::Full(back) => {
                    request = back;
                    notified.await;
                }
                Offered::Writing(token, request) => {
                    let written = match write {
                        Some(write) => write.await,
                        None => Err(WriteError::Failed("no spool write".into())),
                    };
                    return self.written(token, request, written);
                }
            }
        }
    }

    /// [`enqueue`](Self::enqueue) with the caller's [`Tag`]: given back in the event's
    /// [`DeadLetter`] ([`DeadLetter::tag`]) and, with a spool, stored in its row, where it
    /// moves the source's cursor ([`Spool::cursor`](crate::spool::Spool::cursor)) in the
    /// transaction that writes the row.
    ///
    /// **Order.** Spool writes commit in the order they start: at the first poll that finds
    /// room (at once when the queue is not full). So when every enqueue of a source is first
    /// polled in position order, with room, the cursor is a position before which every
    /// event is in the spool: an importer can start again after it, after a crash too. (The
    /// `gamooga import` command polls each enqueue once as it creates it, and never enqueues
    /// more than the queue has room for.)
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use gamooga::{Client, CustomEvent, Properties, transport::DryRunTransport};
    /// # use gamooga::queue::{QueueConfig, Tag};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let queue = client.queue(QueueConfig::default().dead_letter(|dl| {
    ///     if let Some(tag) = dl.tag() {
    ///         eprintln!("row at line {} of {} failed: {}", tag.extra(), tag.source(), dl.reason());
    ///     }
    /// }))?;
    /// let request = queue.calls().track("user-42", &CustomEvent::new("login", Properties::new()))?;
    /// queue.enqueue_tagged(request, Tag::new("logins.csv", 1_024).with_extra(17)).await?;
    /// # queue.flush().await;
    /// # Ok(()) }
    /// ```
    pub async fn enqueue_tagged(&self, request: Request, tag: Tag) -> Result<(), EnqueueError> {
        self.enqueue_with(request, Some(Arc::new(tag))).await
    }

    /// [`try_enqueue`](Self::try_enqueue) with the caller's [`Tag`] (see
    /// [`enqueue_tagged`](Self::enqueue_tagged)).
    pub fn try_enqueue_tagged(&self, request: Request, tag: Tag) -> Result<(), EnqueueError> {
        self.try_enqueue_with(request, Some(Arc::new(tag)))
    }

    /// Records that `tag`'s position was handled with nothing to send (a row refused before
    /// it was built, say): with a spool, the source's cursor moves to it if it is greater, in
    /// order with the writes started before this call, and counts it as
    /// [`marked`](crate::spool::Cursor::marked). Without a spool it does nothing. It does not
    /// wait for the commit.
    pub fn mark_position(&self, tag: Tag) {
        self.shared().store.mark(tag);
    }

    /// Builds an event by user id ([`Calls::track`]) and queues it without waiting.
    pub fn try_track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue_built(self.calls().track(user_id, event))
    }

    /// Builds an event by visitor id ([`Calls::track_visitor`]) and queues it without waiting.
    pub fn try_track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue_built(self.calls().track_visitor(visitor_id, event))
    }

    /// Builds an event with visitor properties by user id ([`Calls::track_with`]) and queues
    /// it without waiting.
    pub fn try_track_with<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue_built(self.calls().track_with(user_id, event, visitor))
    }

    /// Builds a visitor property push ([`Calls::push_visitor`]) and queues it without waiting.
    pub fn try_push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue_built(self.calls().push_visitor(visitor_id, properties))
    }

    /// Builds an event by user id ([`Calls::track`]) and queues it, waiting for room.
    /// The input is checked (and `tm` stamped) before the first await.
    pub fn track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().track(user_id, event);
        self.enqueue_built(built)
    }

    /// Builds an event by visitor id ([`Calls::track_visitor`]) and queues it, waiting for room.
    pub fn track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().track_visitor(visitor_id, event);
        self.enqueue_built(built)
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
        self.enqueue_built(built)
    }

    /// Builds a visitor property push ([`Calls::push_visitor`]) and queues it, waiting for room.
    pub fn push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().push_visitor(visitor_id, properties);
        self.enqueue_built(built)
    }

    /// Queues visitor properties for a *user* id, waiting for room: the handler does not
    /// wait for Gamooga, not even for the visitor id. The push is stored as a `vpr` by user
    /// id ([`Calls::push_visitor_for_user`]); at delivery the client finds the visitor id with
    /// `id` (cached per user id, one lookup per user at a time) and sends the `vpr`. A failed
    /// `id` fails that attempt, which is retried by the queue's rules like any other; with a
    /// spool the push survives a restart. Lookups and cache hits are counted in
    /// [`QueueStats`] (`identify_lookups`, `identify_cache_hits`).
    ///
    /// This needs a queue started with [`Client::queue`](crate::Client::queue) (or a
    /// [`Deliver`] that handles [`Request::needs_visitor_id`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use gamooga::{transport::DryRunTransport, Client, Properties};
    /// use gamooga::queue::QueueConfig;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// let queue = client.queue(QueueConfig::default().concurrency(1))?;
    /// queue.push_visitor_for_user("user-42", &Properties::new().string("city", "Tokyo")).await?;
    /// queue.push_visitor_for_user("user-42", &Properties::new().boolean("vip", true)).await?;
    /// let report = queue.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!(report.delivered, 2);
    /// assert_eq!((report.stats.identify_lookups, report.stats.identify_cache_hits), (1, 1));
    /// let vpr = dry.requests().into_iter().filter(|r| r.path() == "/vpr/").count();
    /// assert_eq!(vpr, 2);
    /// # Ok(()) }
    /// ```
    pub fn push_visitor_for_user<P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> impl Future<Output = Result<(), EnqueueError>> + Send + '_ {
        let built = self.calls().push_visitor_for_user(user_id, properties);
        self.enqueue_built(built)
    }

    /// Queues visitor properties for a user id without waiting
    /// ([`push_visitor_for_user`](Self::push_visitor_for_user)).
    pub fn try_push_visitor_for_user<P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> Result<(), EnqueueError> {
        self.try_enqueue_built(self.calls().push_visitor_for_user(user_id, properties))
    }

    /// Queues what a builder of [`Calls`] returned without waiting: a request, a call the
    /// before-send hook dropped (`Ok`: it was counted), or refused input
    /// ([`EnqueueError::Invalid`]).
    pub fn try_enqueue_built(
        &self,
        built: Result<Request, InvalidInput>,
    ) -> Result<(), EnqueueError> {
        match built {
            Ok(request) => self.try_enqueue(request),
            Err(e) if e.is_dropped_by_hook() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues what a builder of [`Calls`] returned, waiting for room (see
    /// [`try_enqueue_built`](Self::try_enqueue_built)).
    pub async fn enqueue_built(
        &self,
        built: Result<Request, InvalidInput>,
    ) -> Result<(), EnqueueError> {
        match built {
            Ok(request) => self.enqueue(request).await,
            Err(e) if e.is_dropped_by_hook() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// For a queue of a disabled client: counts the event as checked and dropped.
    fn dropped_disabled(&self) -> bool {
        let shared = self.shared();
        if shared.disabled {
            shared.calls.counters().disabled_dropped();
        }
        shared.disabled
    }

    /// Waits until every event accepted before this call is delivered or dead-lettered,
    /// including requests in flight, events waiting for a retry, and spool rows an earlier
    /// run left. Events enqueued meanwhile are not waited for. Returns at once if the queue
    /// was stopped. With a spool, it returns once the deletes of the rows delivered are
    /// committed too (the spool holds them back for a while to commit them with other writes).
    ///
    /// This waits as long as delivery takes: during an outage, up to the retry policy's
    /// `max_elapsed` (an hour by default). Where a bound matters (a service's graceful
    /// shutdown), use [`flush_timeout`](Self::flush_timeout) or
    /// [`shutdown`](Self::shutdown) with a deadline.
    pub async fn flush(&self) {
        let mark = self.shared().lock().flush_mark_now();
        self.wait_settled(mark).await;
        self.shared().store.sync().await;
    }

    /// [`flush`](Self::flush) for at most `timeout`: true when everything accepted before
    /// the call was settled in time, false when the time ran out (nothing is lost either
    /// way: what is left stays queued). `Duration::MAX` waits as long as `flush`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use gamooga::{Client, CustomEvent, Properties, transport::DryRunTransport};
    /// # use gamooga::queue::QueueConfig;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let queue = client.queue(QueueConfig::default())?;
    /// queue.try_track("user-42", &CustomEvent::new("login", Properties::new()))?;
    /// assert!(queue.flush_timeout(Duration::from_secs(5)).await);
    /// # Ok(()) }
    /// ```
    pub async fn flush_timeout(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.flush()).await.is_ok()
    }

    async fn wait_settled(&self, below: u64) {
        let shared = self.shared();
        loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.lock().settled_below(below) {
                return;
            }
            notified.await;
        }
    }

    /// Stops intake, delivers what is held until `deadline` has passed, stops the worker and
    /// reports. Events not delivered by the deadline stay in the spool (`still_spooled`), or
    /// without a spool are dead-lettered with [`DeadLetterReason::ShutdownDeadline`]
    /// (`abandoned`). An attempt still in flight at the deadline is abandoned and counted
    /// `ambiguous`. Bounded: it returns shortly after `deadline` (once the dead-letter hooks
    /// have run and the spool has synced), whatever Gamooga does. Calls after the first
    /// report the same counters with nothing left.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let shared = self.shared();
        shared.lock().close();
        shared.signal();
        let completed = tokio::time::timeout(deadline, self.wait_settled(u64::MAX))
            .await
            .is_ok();
        // Everything left is settled and counted before the first await below, so a
        // shutdown future dropped part-way loses nothing unreported.
        let (dead, _, effects) = shared.lock().drain(DeadLetterReason::ShutdownDeadline);
        shared.signal();
        shared.apply(effects);
        shared.dead_letters(dead, "reached its shutdown deadline");
        let worker = shared
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        shared.store.sync().await;
        // Nothing writes to the spool after this: another queue may take it over.
        shared.store.release();
        shared.changed.notify_waiters();
        shared.stop_metrics();
        let s = shared.stats();
        ShutdownReport {
            delivered: s.delivered,
            retried: s.retried,
            dead_lettered: s.dead_lettered,
            dropped: s.dropped,
            abandoned: s.dead_letters.shutdown_deadline,
            ambiguous: s.ambiguous,
            still_spooled: s.still_spooled,
            completed,
            stats: s,
        }
    }

    /// How many events could be enqueued now without waiting for room (the capacity less
    /// what is held: ready, waiting for a retry, in flight, being written to the spool,
    /// reserved for a replay page). It only grows until the next enqueue or replay page, so a
    /// single enqueuer that sees room here is taken in at its first poll, in its order.
    pub fn room(&self) -> usize {
        self.shared().lock().room()
    }

    /// A snapshot of the live counters (see [`QueueStats`] for the identity they keep).
    pub fn stats(&self) -> QueueStats {
        self.shared().stats()
    }

    /// Exports the counters and gauges through the `metrics` facade now, rather than at the
    /// next second (see [`metrics`] for the names). Does nothing once the queue
    /// stopped (its last export was made then).
    #[cfg(feature = "metrics")]
    pub fn export_metrics(&self) {
        self.shared().export_metrics();
    }
}

/// What [`Queue::offer`] came to.
enum Offered {
    /// Accepted (or dropped by the policy).
    Done,
    /// Full under [`Overflow::Wait`]: wait for room.
    Full(Arc<Request>),
    /// A spool write is under way (in the slot passed in).
    Writing(u64, Arc<Request>),
}

/// How [`Queue::offer`] writes to a spool.
enum Spool<'a> {
    /// Block the calling thread until the commit.
    Blocking,
    /// Start the write and leave its future here.
    Async(&'a mut Option<Write>),
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
