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

/// How many requests the queue keeps in flight at once.
///
/// The default adapts ([`Concurrency::default`]): the limit starts at
/// [`QueueConfig::DEFAULT_CONCURRENCY`], grows while round trips stay close to the fastest
/// seen and nothing is refused, and shrinks when latency rises, on `429` and `503` answers
/// and on timeouts (once per episode). Over a network, where every call pays a round trip,
/// that finds how many requests Gamooga takes at once instead of guessing: a fixed 32 at
/// 50 ms is at most 640 events/s. [`QueueStats::in_flight_limit`](crate::queue::QueueStats::in_flight_limit)
/// shows the limit now.
///
/// ```
/// use gamooga::queue::{Concurrency, QueueConfig};
/// assert_eq!(QueueConfig::default().get_concurrency_policy(), Concurrency::default());
/// let fixed = QueueConfig::default().concurrency(8); // exactly 8 at most, no adapting
/// assert_eq!(fixed.get_concurrency_policy(), Concurrency::Fixed(8));
/// let bounded = QueueConfig::default().adaptive_concurrency(4, 64);
/// assert_eq!(bounded.get_concurrency(), 64); // the most ever in flight
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Concurrency {
    /// At most this many requests in flight, whatever the latency and the answers (the
    /// shared backpressure pause still applies).
    Fixed(usize),
    /// A limit that adapts between `min` and `max`, starting at
    /// [`DEFAULT_CONCURRENCY`](QueueConfig::DEFAULT_CONCURRENCY) (or the nearest bound).
    Adaptive {
        /// The limit never goes below it.
        min: usize,
        /// Nor above it: the most requests ever in flight, and the number of delivery tasks.
        max: usize,
    },
}

impl Default for Concurrency {
    /// Adaptive, from 1 to [`QueueConfig::MAX_CONCURRENCY`].
    fn default() -> Self {
        Concurrency::Adaptive {
            min: 1,
            max: QueueConfig::MAX_CONCURRENCY,
        }
    }
}

impl Concurrency {
    /// The most requests this lets be in flight at once.
    pub fn max_in_flight(&self) -> usize {
        match *self {
            Concurrency::Fixed(n) => n,
            Concurrency::Adaptive { max, .. } => max,
        }
    }
}

/// Which adaptive limiter runs (the default was chosen by measurement; the other stays for
/// the benchmark that compares them, `benches/network.rs`). Not a stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdaptiveAlgorithm {
    /// The gradient limiter (latency against its minimum, CUBIC after an overload).
    #[default]
    Gradient,
    /// AIMD (TCP Reno with slow start).
    Aimd,
}

/// The dead-letter hook: called once for every event the queue gives up on.
pub(crate) type DeadLetterHook = Arc<dyn Fn(DeadLetter) + Send + Sync>;

/// The configuration of a [`Queue`](crate::queue::Queue).
///
/// | setting | default |
/// |---|---|
/// | [`capacity`](Self::capacity) | 10,000 events (queued, waiting for a retry or in flight) |
/// | [`overflow`](Self::overflow) | [`Overflow::Wait`] |
/// | [`adaptive_concurrency`](Self::adaptive_concurrency) / [`concurrency`](Self::concurrency) | adaptive, from 1 to 1,024 requests in flight, starting at 32 ([`Concurrency`]) |
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
    pub(crate) concurrency: Concurrency,
    pub(crate) algorithm: AdaptiveAlgorithm,
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
            concurrency: Concurrency::default(),
            algorithm: AdaptiveAlgorithm::default(),
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
            .field("algorithm", &self.algorithm)
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
    /// Where the adaptive limit starts (the fixed default before it adapted): from there it
    /// grows by about √limit a round trip while latency stays low.
    pub const DEFAULT_CONCURRENCY: usize = 32;
    /// The most requests in flight a queue allows, and the adaptive limit's default maximum
    /// (each is a delivery task and, over HTTP/1.1, a connection).
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

    /// Sets a fixed number of requests in flight at once (over keep-alive connections), at
    /// least 1, at most [`MAX_CONCURRENCY`](Self::MAX_CONCURRENCY): the limit no longer
    /// adapts ([`Concurrency::Fixed`]). For tests that need an order, or a server whose
    /// capacity you know.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = Concurrency::Fixed(requests.clamp(1, Self::MAX_CONCURRENCY));
        self
    }

    /// Lets the number of requests in flight adapt between `min` and `max` (the default,
    /// with 1 and [`MAX_CONCURRENCY`](Self::MAX_CONCURRENCY)): see [`Concurrency`]. Both
    /// are clamped to `1..=MAX_CONCURRENCY`, and `max` to at least `min`.
    pub fn adaptive_concurrency(mut self, min: usize, max: usize) -> Self {
        let min = min.clamp(1, Self::MAX_CONCURRENCY);
        let max = max.clamp(min, Self::MAX_CONCURRENCY);
        self.concurrency = Concurrency::Adaptive { min, max };
        self
    }

    /// Chooses the adaptive limiter (for `benches/network.rs`). Not a stable API.
    #[doc(hidden)]
    pub fn adaptive_algorithm(mut self, algorithm: AdaptiveAlgorithm) -> Self {
        self.algorithm = algorithm;
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

    /// The most requests ever in flight at once: the fixed number, or the adaptive maximum.
    pub fn get_concurrency(&self) -> usize {
        self.concurrency.max_in_flight()
    }

    /// Whether the concurrency is fixed or adaptive, and its bounds.
    pub fn get_concurrency_policy(&self) -> Concurrency {
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
