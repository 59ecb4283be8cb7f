//! What the queue did with the rows: deliveries (seen by a [`Deliver`] wrapper that sends
//! through the SDK's client exactly as the queue would) and dead letters (seen by the
//! queue's hook), counted for the progress bar. (The summary takes the queue's own counts:
//! a 200 that comes after a shutdown deadline abandoned its attempt is not a delivery.)
//!
//! Which row a dead letter came from is its [`Tag`](gamooga::queue::Tag): the queue carries
//! it from the enqueue to the dead letter, through the spool too, so nothing here maps
//! requests to rows.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gamooga::queue::Deliver;
use gamooga::{Client, Error, Request};

use super::journal::Journal;

/// Deliveries and dead letters so far (of replayed rows and of this run's).
#[derive(Default)]
pub struct Counts {
    pub delivered: AtomicU64,
    pub dead: AtomicU64,
}

impl Counts {
    /// A dead letter was handed out.
    pub fn dead_letter(&self) {
        self.dead.fetch_add(1, Ordering::Relaxed);
    }
}

/// Delivers through the client (one attempt, as the queue's own `Deliver for Client`),
/// noting each attempt in the journal before it is sent, and each delivery after.
pub struct Tracker {
    pub client: Client,
    pub counts: Arc<Counts>,
    pub journal: Option<Journal>,
}

impl Deliver for Tracker {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        if let Some(journal) = &self.journal {
            journal.note(request);
        }
        Box::pin(async move {
            let result = Deliver::deliver(&self.client, request).await;
            if result.is_ok() {
                self.counts.delivered.fetch_add(1, Ordering::Relaxed);
            }
            result
        })
    }

    fn destination(&self) -> String {
        Deliver::destination(&self.client)
    }
}
