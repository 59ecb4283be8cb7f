//! [`ClientStats`]: what a client (or a queue) did without sending: calls dropped by the
//! before-send hook or by the disabled mode, and the visitor-id lookups of pushes by user id.
//!
//! The counters live in one `Arc` shared by a [`Calls`](crate::Calls) and its clones; a queue
//! started with [`Client::queue`](crate::Client::queue) gets counters of its own, so the
//! client's count its direct calls and the queue's its events.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of calls a client built but did not send, and of visitor-id lookups, from
/// [`Client::stats`](crate::Client::stats). A queue reports the same counts for its own
/// events in [`QueueStats`](crate::queue::QueueStats).
///
/// ```
/// use std::sync::Arc;
/// use gamooga::{hook::Action, transport::DryRunTransport, Client, CustomEvent, Properties};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
/// let client = Client::builder("acme")
///     .transport(Arc::new(DryRunTransport::new()))
///     .before_send(|out| if out.event_name() == Some("debug") { Action::Drop } else { Action::Keep })
///     .build()?;
/// client.track("user-42", &CustomEvent::new("debug", Properties::new())).await?; // dropped: Ok
/// assert_eq!(client.stats().before_send_dropped, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Calls the before-send hook dropped (nothing was sent or queued).
    pub before_send_dropped: u64,
    /// Calls checked and then dropped because the client is
    /// [disabled](crate::ClientBuilder::disabled): nothing was sent.
    pub disabled_dropped: u64,
    /// `id` calls made to find the visitor id of a push by user id (not found in the cache).
    pub identify_lookups: u64,
    /// Pushes by user id whose visitor id came from the cache, without an `id` call.
    pub identify_cache_hits: u64,
}

/// The live counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    before_send_dropped: AtomicU64,
    disabled_dropped: AtomicU64,
    identify_lookups: AtomicU64,
    identify_cache_hits: AtomicU64,
}

impl Counters {
    pub(crate) fn before_send_dropped(&self) {
        self.before_send_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn disabled_dropped(&self) {
        self.disabled_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn identify_lookup(&self) {
        self.identify_lookups.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn identify_cache_hit(&self) {
        self.identify_cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        ClientStats {
            before_send_dropped: self.before_send_dropped.load(Ordering::Relaxed),
            disabled_dropped: self.disabled_dropped.load(Ordering::Relaxed),
            identify_lookups: self.identify_lookups.load(Ordering::Relaxed),
            identify_cache_hits: self.identify_cache_hits.load(Ordering::Relaxed),
        }
    }
}
