//! [`DeadLetter`]: an event the queue dropped or gave up on, handed to the dead-letter hook.

use std::fmt;
use std::time::SystemTime;

use crate::call::Request;
use crate::error::Error;

/// Why an event became a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// Dropped by the overflow policy ([`Overflow::DropNewest`](crate::queue::Overflow::DropNewest)
    /// or [`DropOldest`](crate::queue::Overflow::DropOldest)) because the queue was full.
    Overflow,
    /// Gamooga refused it with an answer that is not worth retrying (a 4xx other than 408/429,
    /// 501, 505).
    Rejected,
    /// Every attempt the retry policy allows failed (attempts or total age used up).
    RetriesExhausted,
    /// [`Queue::shutdown`](crate::queue::Queue::shutdown) reached its deadline before the event
    /// was delivered (without a spool; with one, it stays spooled instead).
    ShutdownDeadline,
}

impl DeadLetterReason {
    /// A short name: `overflow`, `rejected`, `retries_exhausted`, `shutdown_deadline`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Overflow => "overflow",
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::RetriesExhausted => "retries_exhausted",
            DeadLetterReason::ShutdownDeadline => "shutdown_deadline",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "overflow" => DeadLetterReason::Overflow,
            "rejected" => DeadLetterReason::Rejected,
            "retries_exhausted" => DeadLetterReason::RetriesExhausted,
            "shutdown_deadline" => DeadLetterReason::ShutdownDeadline,
            _ => return None,
        })
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
    /// How many delivery attempts were made (0 for an overflow drop).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// The error of the last attempt, if there was one.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
    /// When the event was accepted by the queue.
    pub fn enqueued_at(&self) -> SystemTime {
        self.enqueued_at
    }
}
