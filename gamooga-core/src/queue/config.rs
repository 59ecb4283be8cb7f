//! [`QueueConfig`]: capacity, overflow policy, concurrency, retries and the dead-letter hook.

use std::fmt;
#[cfg(feature = "spool")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::dead_letter::DeadLetter;
use crate::queue::settle::DeliveryRules;
use crate::retry::RetryPolicy;
#[cfg(feature = "spool")]
use crate::spool::DeadLetterRetention;

/// What the queue does with a new event when it already holds [`capacity`](QueueConfig::capacity)
/// events.
///
/// | policy | `try_enqueue` | `enqueue(..).await` | the event |
/// |---|---|---|---|
/// | [`Wait`](Overflow::Wait) (default) | `Err(Full)` | waits for room | kept by the caller |
/// | [`Refuse`](Overflow::Refuse) | `Err(Full)` | `Err(Full)` | kept by the caller |
/// | [`DropNewest`](Overflow::DropNewest) | `Ok` | `Ok` | the new one is dropped |
/// | [`DropOldest`](Overflow::DropOldest) | `Ok` | `Ok` | the oldest waiting one is dropped |
///
/// A refused event comes back in the error, so nothing is lost. A dropped event is logged at
/// `warn` and handed to the dead-letter hook with
/// [`DeadLetterReason::Overflow`](crate::queue::DeadLetterReason::Overflow). A dropped *new*
/// event was never accepted: it is counted in [`QueueStats::dropped`](crate::queue::QueueStats::dropped),
/// beside `refused`. An *evicted* old one was accepted: it is counted among the dead letters
/// (`dead_letters.overflow`), so the identity of [`QueueStats`](crate::queue::QueueStats)
/// holds under every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// `enqueue(..).await` waits until there is room; `try_enqueue` refuses.
    #[default]
    Wait,
    /// Both refuse with [`EnqueueError::Full`](crate::queue::EnqueueError::Full), returning the event.
    Refuse,
    /// The new event is dropped (and dead-lettered); the call returns `Ok`.
    DropNewest,
    /// The event at the head of the ready line (the longest-waiting one not in flight and not
    /// waiting for a retry) is dropped (and dead-lettered) to make room; when none is ready,
    /// the event waiting for a retry that is due first; when every held event is in flight,
    /// the new one is dropped instead.
    DropOldest,
}

/// The dead-letter hook: called once for every event the queue gives up on.
pub(crate) type DeadLetterHook = Arc<dyn Fn(DeadLetter) + Send + Sync>;

/// The configuration of a [`Queue`](crate::queue::Queue).
///
/// | setting | default |
/// |---|---|
/// | [`capacity`](Self::capacity) | 10,000 events (queued, waiting for a retry or in flight) |
/// | [`overflow`](Self::overflow) | [`Overflow::Wait`] |
/// | [`concurrency`](Self::concurrency) | 32 requests in flight (at most 1,024) |
/// | [`retry`](Self::retry) | [`RetryPolicy::background`]: 10 attempts, up to 1 h |
/// | [`pause_floor`](Self::pause_floor) | 1 s: the pause after a `429` without `Retry-After`, or a failed resolution |
/// | [`dead_letter`](Self::dead_letter) | none (dead letters are still counted and logged) |
/// | `spool` (feature `spool`) | none: the queue lives in memory |
/// | `spool_dead_letters` (feature `spool`) | 10,000 rows, 30 days |
///
/// ```
/// use std::time::Duration;
/// use gamooga::queue::{Overflow, QueueConfig};
/// use gamooga::retry::RetryPolicy;
/// let config = QueueConfig::default()
///     .capacity(50_000)
///     .overflow(Overflow::DropOldest)
///     .concurrency(16)
///     .retry(RetryPolicy::background().max_attempts(5))
///     .dead_letter(|dl| eprintln!("gave up on {}: {}", dl.request().endpoint().name(), dl.reason()));
/// assert_eq!(config.get_capacity(), 50_000);
/// ```
#[derive(Clone)]
pub struct QueueConfig {
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    pub(crate) concurrency: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) pause_floor: Duration,
    pub(crate) dead_letter: Option<DeadLetterHook>,
    #[cfg(feature = "spool")]
    pub(crate) spool: Option<PathBuf>,
    #[cfg(feature = "spool")]
    pub(crate) spool_dead_letters: DeadLetterRetention,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: Self::DEFAULT_CAPACITY,
            overflow: Overflow::Wait,
            concurrency: Self::DEFAULT_CONCURRENCY,
            retry: RetryPolicy::background(),
            pause_floor: DeliveryRules::DEFAULT_PAUSE_FLOOR,
            dead_letter: None,
            #[cfg(feature = "spool")]
            spool: None,
            #[cfg(feature = "spool")]
            spool_dead_letters: DeadLetterRetention::default(),
        }
    }
}

impl fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("QueueConfig");
        d.field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("concurrency", &self.concurrency)
            .field("retry", &self.retry)
            .field("pause_floor", &self.pause_floor)
            .field(
                "dead_letter",
                &self.dead_letter.as_ref().map(|_| "Fn(DeadLetter)"),
            );
        #[cfg(feature = "spool")]
        d.field("spool", &self.spool)
            .field("spool_dead_letters", &self.spool_dead_letters);
        d.finish()
    }
}

impl QueueConfig {
    /// The default capacity: 10,000 events.
    pub const DEFAULT_CAPACITY: usize = 10_000;
    /// The default number of requests in flight. Measured with `benches/queue.rs` against the
    /// emulator: on loopback (no network latency, CPU-bound) the concurrency hardly matters
    /// (15-24k events/s from 1 to 64); with a 2 ms round trip, throughput grows with it
    /// (about 2k events/s at 8, 7k at 32, 12k at 64). 32 keeps a few thousand events per
    /// second over real networks with a modest number of connections to Gamooga.
    pub const DEFAULT_CONCURRENCY: usize = 32;
    /// The most requests in flight a queue allows (each is a delivery task and, over
    /// HTTP/1.1, a connection).
    pub const MAX_CONCURRENCY: usize = 1024;

    /// Sets how many events the queue holds at most (queued, waiting for a retry or in
    /// flight); at least 1.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// Sets what happens when the queue is full.
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }

    /// Sets how many requests are in flight at once (over keep-alive connections); at least
    /// 1, at most [`MAX_CONCURRENCY`](Self::MAX_CONCURRENCY).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.clamp(1, Self::MAX_CONCURRENCY);
        self
    }

    /// Sets the retry policy of background delivery (default [`RetryPolicy::background`]).
    /// `max_elapsed` counts from the event's first attempt; it also bounds how long an event
    /// waits for a backend that cannot be resolved (then dead-lettered as
    /// [`Unresolved`](crate::queue::DeadLetterReason::Unresolved)). `None` waits forever.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the shortest pause of every delivery after a `429` without `Retry-After` (or
    /// with `0`), and after a resolution failure that does not say when to try again
    /// (default 1 s). A `429` or `503` with `Retry-After` pauses for what the server asked,
    /// up to the retry policy's `max_retry_after`. `Duration::MAX` means "until shutdown".
    pub fn pause_floor(mut self, floor: Duration) -> Self {
        self.pause_floor = floor;
        self
    }

    /// Sets the dead-letter hook, called with every event the queue drops or gives up on. It
    /// runs on whichever task settles the event (a delivery task, an enqueue that overflowed,
    /// or `shutdown`), never under the queue's lock, so keep it short; a panic in it is
    /// caught and logged.
    pub fn dead_letter<F>(mut self, hook: F) -> Self
    where
        F: Fn(DeadLetter) + Send + Sync + 'static,
    {
        self.dead_letter = Some(Arc::new(hook));
        self
    }

    /// Keeps the queue in an on-disk SQLite outbox at `path` (created if missing, readable
    /// by its owner only): see [`crate::spool`] for what is durable when.
    #[cfg(feature = "spool")]
    pub fn spool(mut self, path: impl Into<PathBuf>) -> Self {
        self.spool = Some(path.into());
        self
    }

    /// Sets how many dead letters the spool keeps (default 10,000 rows and 30 days; the
    /// oldest go first, counted in
    /// [`QueueStats::dead_letters_pruned`](crate::queue::QueueStats::dead_letters_pruned)).
    #[cfg(feature = "spool")]
    pub fn spool_dead_letters(mut self, retention: DeadLetterRetention) -> Self {
        self.spool_dead_letters = retention;
        self
    }

    /// The capacity.
    pub fn get_capacity(&self) -> usize {
        self.capacity
    }

    /// The overflow policy.
    pub fn get_overflow(&self) -> Overflow {
        self.overflow
    }

    /// The number of requests in flight at once.
    pub fn get_concurrency(&self) -> usize {
        self.concurrency
    }

    /// The retry policy.
    pub fn get_retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The rules deliveries are settled by: the retry policy and the pause floor.
    pub fn delivery_rules(&self) -> DeliveryRules {
        DeliveryRules::new(self.retry.clone()).pause_floor(self.pause_floor)
    }
}
