//! Which row each queued request came from, so a dead letter is reported with its line.
//!
//! The queue's dead-letter hook gets the request back, not the row. So the import keeps a
//! map from each held request (a 64-bit hash of its path, query and body) to its row's
//! position: added before the request is enqueued, removed when it is delivered (seen by
//! the [`Deliver`] wrapper below, which sends through the SDK's client exactly as the queue
//! would) or dead-lettered. It holds only the rows the queue holds, so it stays within the
//! queue's capacity. Two rows that build the very same request are interchangeable: either
//! line may be named.
//!
//! TODO(queue API): a tag carried by the queue from enqueue to `DeadLetter` (and stored in the
//! spool row) would make this map unnecessary, and would name the line of a dead letter
//! replayed from an earlier run's spool too.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gamooga::queue::Deliver;
use gamooga::{Client, Error, Request};
use tokio::sync::Notify;

use super::source::RowPos;

/// The key of a request: a hash of what goes on the wire (`tm` included).
pub fn key(request: &Request) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    request.path().hash(&mut h);
    request.query().hash(&mut h);
    request.body().hash(&mut h);
    h.finish()
}

/// The rows held by the queue, and what became of them.
#[derive(Default)]
pub struct Held {
    rows: Mutex<HashMap<u64, Vec<RowPos>>>,
    held: AtomicU64,
    /// Rows of this run delivered.
    pub delivered: AtomicU64,
    /// Requests settled that were not rows of this run (replayed from the spool).
    pub other_settled: AtomicU64,
    /// Woken when a held request settles.
    pub settled: Notify,
}

impl Held {
    /// Notes that the row at `start` is about to be enqueued as a request with `key`.
    pub fn hold(&self, key: u64, start: RowPos) {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .push(start);
        self.held.fetch_add(1, Ordering::Relaxed);
    }

    /// The row of a request that settled (or whose enqueue failed), if it is one of ours.
    pub fn release(&self, key: u64) -> Option<RowPos> {
        let start = {
            let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
            let list = rows.get_mut(&key)?;
            let start = list.pop();
            if list.is_empty() {
                rows.remove(&key);
            }
            start
        };
        if start.is_some() {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
        start
    }

    /// Rows of this run in the queue (or about to be).
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    fn settle(&self, key: u64, delivered: bool) -> Option<RowPos> {
        let start = self.release(key);
        match (start.is_some(), delivered) {
            (true, true) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            (false, _) => {
                self.other_settled.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {}
        }
        self.settled.notify_one();
        start
    }

    /// A dead letter settled: its row, if it is one of ours.
    pub fn dead(&self, key: u64) -> Option<RowPos> {
        self.settle(key, false)
    }
}

/// Delivers through the client (one attempt, as the queue's own `Deliver for Client`) and
/// notes each delivery.
pub struct Tracker {
    pub client: Client,
    pub held: Arc<Held>,
}

impl Deliver for Tracker {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            let result = Deliver::deliver(&self.client, request).await;
            if result.is_ok() {
                self.held.settle(key(request), true);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn identical_requests_are_counted_apart() {
        let held = Held::default();
        let a = RowPos {
            offset: 10,
            line: 2,
        };
        let b = RowPos {
            offset: 20,
            line: 3,
        };
        held.hold(7, a);
        held.hold(7, b);
        held.hold(9, a);
        assert_eq!(held.held(), 3);
        let first = held.dead(7).expect("a row with key 7");
        let second = held.settle(7, true).expect("the other row with key 7");
        assert_eq!(BTreeSet::from([first, second]), BTreeSet::from([a, b]));
        assert_eq!(held.dead(7), None, "both rows with key 7 are settled");
        assert_eq!(held.other_settled.load(Ordering::Relaxed), 1);
        assert_eq!(held.delivered.load(Ordering::Relaxed), 1);
        assert_eq!(held.held(), 1);
        assert_eq!(held.release(9), Some(a));
        assert_eq!(held.held(), 0);
    }
}
