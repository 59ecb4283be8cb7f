//! The client's cache of visitor ids by user id, for visitor property pushes by user id
//! ([`Calls::push_visitor_for_user`](crate::Calls::push_visitor_for_user)).
//!
//! Bounded (least recently used out first, `hashlink`'s `LruCache`, already in the
//! dependency tree) with a time to live, and single flight: while one lookup of a user id is
//! under way, other pushes for the same user wait for it instead of calling `id` again.
//! Keys are the user ids as encoded in the query, which map one to one to the user ids.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hashlink::LruCache;
use tokio::time::Instant;

use crate::error::Result;

/// Where a visitor id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// From the cache (or a lookup another task made meanwhile).
    Cached,
    /// From an `id` call this task made.
    LookedUp,
}

/// Visitor ids by (encoded) user id.
pub(crate) struct IdentifyCache {
    entries: Mutex<LruCache<String, (Arc<str>, Instant)>>,
    ttl: Duration,
    /// One gate per user id being looked up.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl IdentifyCache {
    /// A cache of at most `capacity` user ids (0: nothing is cached, every push looks up),
    /// each kept `ttl` (saturating: `Duration::MAX` keeps them until evicted).
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        IdentifyCache {
            entries: Mutex::new(LruCache::new(capacity)),
            ttl,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, LruCache<String, (Arc<str>, Instant)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached visitor id of `user`, if it is fresh.
    fn get(&self, user: &str) -> Option<Arc<str>> {
        let mut entries = self.entries();
        let (vid, at) = entries.get(user)?;
        if at.elapsed() < self.ttl {
            return Some(vid.clone());
        }
        entries.remove(user);
        None
    }

    fn insert(&self, user: &str, vid: Arc<str>) {
        let mut entries = self.entries();
        if entries.capacity() > 0 {
            entries.insert(user.to_owned(), (vid, Instant::now()));
        }
    }

    /// The visitor id of `user`: cached, or fetched by `lookup` (one lookup per user id at a
    /// time; a failed lookup caches nothing).
    pub(crate) async fn get_or_lookup<F>(&self, user: &str, lookup: F) -> Result<(Arc<str>, Found)>
    where
        F: Future<Output = Result<String>>,
    {
        if let Some(vid) = self.get(user) {
            return Ok((vid, Found::Cached));
        }
        let gate = Gate::enter(self, user);
        let _turn = gate.gate.lock().await;
        if let Some(vid) = self.get(user) {
            return Ok((vid, Found::Cached));
        }
        let vid: Arc<str> = Arc::from(lookup.await?);
        self.insert(user, vid.clone());
        Ok((vid, Found::LookedUp))
    }

    /// How many user ids are cached (fresh or not).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

/// A task's hold on the gate of one user id; the last one out removes the gate (also when
/// the lookup's future is dropped part-way).
struct Gate<'a> {
    cache: &'a IdentifyCache,
    user: &'a str,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Gate<'a> {
    fn enter(cache: &'a IdentifyCache, user: &'a str) -> Self {
        let mut in_flight = cache
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let gate = in_flight.entry(user.to_owned()).or_default().clone();
        Gate { cache, user, gate }
    }
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .cache
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's reference and ours: nobody else waits on this gate.
        if Arc::strong_count(&self.gate) == 2 {
            in_flight.remove(self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn caches_for_the_ttl_within_the_capacity() {
        let cache = IdentifyCache::new(2, Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let lookup = |vid: &'static str| {
            let calls = &calls;
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(vid.to_owned())
            }
        };
        let (a, found) = cache.get_or_lookup("a", lookup("va")).await.unwrap();
        assert_eq!((&*a, found), ("va", Found::LookedUp));
        let (a, found) = cache.get_or_lookup("a", lookup("other")).await.unwrap();
        assert_eq!((&*a, found), ("va", Found::Cached));
        cache.get_or_lookup("b", lookup("vb")).await.unwrap();
        cache.get_or_lookup("c", lookup("vc")).await.unwrap();
        assert_eq!(cache.len(), 2, "bounded");
        // `a` was the least recently used: evicted.
        let (_, found) = cache.get_or_lookup("a", lookup("va2")).await.unwrap();
        assert_eq!(found, Found::LookedUp);
        tokio::time::advance(Duration::from_secs(61)).await;
        let (a, found) = cache.get_or_lookup("a", lookup("va3")).await.unwrap();
        assert_eq!(
            (&*a, found),
            ("va3", Found::LookedUp),
            "expired after the ttl"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        assert!(cache.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn one_lookup_per_user_at_a_time() {
        let cache = Arc::new(IdentifyCache::new(10, Duration::from_secs(60)));
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (cache, calls, mut released) = (cache.clone(), calls.clone(), released.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_lookup("a", async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        released.wait_for(|r| *r).await.unwrap();
                        Ok("va".to_owned())
                    })
                    .await
                    .unwrap()
                    .1
            }));
        }
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        let mut found = Vec::new();
        for t in tasks {
            found.push(t.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(found.iter().filter(|f| **f == Found::LookedUp).count(), 1);
        assert!(cache.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_lookup_caches_nothing_and_capacity_zero_caches_nothing() {
        let cache = IdentifyCache::new(10, Duration::from_secs(60));
        let failed = cache
            .get_or_lookup("a", async { Err(crate::Error::Config("down".into())) })
            .await;
        assert!(failed.is_err());
        assert_eq!(cache.len(), 0);
        let none = IdentifyCache::new(0, Duration::from_secs(60));
        none.get_or_lookup("a", async { Ok("va".into()) })
            .await
            .unwrap();
        let (_, found) = none
            .get_or_lookup("a", async { Ok("va".into()) })
            .await
            .unwrap();
        assert_eq!(found, Found::LookedUp);
    }
}
