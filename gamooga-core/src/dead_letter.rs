//! [`DeadLetter`] and [`DeadLetterReason`]: an event given up on, and why.
//!
//! A leaf module (it knows requests and errors, nothing else), so the delivery queue and the
//! spool both use it without importing each other. Re-exported from [`crate::queue`].

use std::fmt;
use std::time::SystemTime;

use std::sync::Arc;

use crate::call::Request;
use crate::error::Error;
use crate::tag::Tag;

/// Why an event became a dead letter.
///
/// Every reason but [`Overflow`](Self::Overflow) (for a dropped newest event) is for an
/// event the queue had accepted; see [`QueueStats`](crate::queue::QueueStats) for how they
/// are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// Dropped by the overflow policy because the queue was full: the new event under
    /// [`Overflow::DropNewest`](crate::queue::Overflow::DropNewest) (never accepted), or the
    /// evicted oldest one under [`DropOldest`](crate::queue::Overflow::DropOldest).
    Overflow,
    /// Gamooga refused it with an answer that is not worth retrying (a 4xx other than
    /// 408/429, 501, 505).
    Rejected,
    /// Every attempt the retry policy allows failed (attempts or total age used up).
    RetriesExhausted,
    /// The backend could not be resolved (the company information failed or named an invalid
    /// backend) for longer than the retry policy's
    /// [`max_elapsed`](crate::retry::RetryPolicy::max_elapsed). Nothing was sent; waiting for
    /// the resolver does not use up attempts.
    Unresolved,
    /// The attempt panicked: in the transport, in a [`Deliver`](crate::queue::Deliver)
    /// implementation, or in a `tracing` layer. The event is not retried (the same input
    /// would likely panic again).
    Panicked,
    /// [`Queue::shutdown`](crate::queue::Queue::shutdown) reached its deadline before the event
    /// was delivered (without a spool; with one, it stays spooled instead).
    ShutdownDeadline,
    /// The last [`Queue`](crate::queue::Queue) handle was dropped without `shutdown`, or the
    /// runtime running the queue shut down (a memory queue; with a spool, events stay spooled).
    QueueDropped,
}

impl DeadLetterReason {
    /// Every reason.
    pub const ALL: [DeadLetterReason; 7] = [
        DeadLetterReason::Overflow,
        DeadLetterReason::Rejected,
        DeadLetterReason::RetriesExhausted,
        DeadLetterReason::Unresolved,
        DeadLetterReason::Panicked,
        DeadLetterReason::ShutdownDeadline,
        DeadLetterReason::QueueDropped,
    ];

    /// A short name: `overflow`, `rejected`, `retries_exhausted`, `unresolved`, `panicked`,
    /// `shutdown_deadline`, `queue_dropped`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Overflow => "overflow",
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::RetriesExhausted => "retries_exhausted",
            DeadLetterReason::Unresolved => "unresolved",
            DeadLetterReason::Panicked => "panicked",
            DeadLetterReason::ShutdownDeadline => "shutdown_deadline",
            DeadLetterReason::QueueDropped => "queue_dropped",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    ///
    /// ```
    /// use gamooga::queue::DeadLetterReason;
    /// for reason in DeadLetterReason::ALL {
    ///     assert_eq!(DeadLetterReason::from_name(reason.as_str()), Some(reason));
    /// }
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event the queue dropped or gave up on, with why and the last error.
///
/// The request is the one that was enqueued, `tm` included, so it can be stored and sent
/// again later (`client.send(dl.request())`).
#[derive(Debug)]
pub struct DeadLetter {
    pub(crate) request: Request,
    pub(crate) reason: DeadLetterReason,
    pub(crate) attempts: u32,
    pub(crate) error: Option<Error>,
    pub(crate) enqueued_at: SystemTime,
    pub(crate) tag: Option<Arc<Tag>>,
}

impl DeadLetter {
    /// The event's request, as enqueued.
    pub fn request(&self) -> &Request {
        &self.request
    }
    /// Takes the request out.
    pub fn into_request(self) -> Request {
        self.request
    }
    /// Why the queue gave up.
    pub fn reason(&self) -> DeadLetterReason {
        self.reason
    }
    /// How many delivery attempts were made (0 for an overflow drop; waits for the resolver
    /// are not attempts). The error, if any, says the same number.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// The error of the last attempt, if there was one (none for an overflow drop, a panic,
    /// a shutdown deadline or a dropped queue).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
    /// When the event was accepted by the queue.
    pub fn enqueued_at(&self) -> SystemTime {
        self.enqueued_at
    }
    /// The tag it was enqueued with ([`Queue::enqueue_tagged`](crate::queue::Queue::enqueue_tagged)),
    /// also for an event replayed from a spool: where it came from.
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_deref()
    }
}
