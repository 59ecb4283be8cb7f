//! Queue mechanics against a scripted in-process deliverer: overflow policies, flush and
//! shutdown with requests in flight and retries pending, dead letters, stats, `tm`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gamooga_core::queue::{
    DeadLetter, DeadLetterReason, Deliver, EnqueueError, EnqueueEvent, Overflow, Queue, QueueConfig,
};
use gamooga_core::retry::RetryPolicy;
use gamooga_core::{Calls, CustomEvent, Error, Properties, Request};
use tokio::sync::Semaphore;

/// What the fake answers for a request, by the value of its `u` parameter.
#[derive(Clone, Copy)]
enum Script {
    Ok,
    /// Fail this many times with this status, then succeed.
    FailFirst(u32, u16),
    /// Always this status.
    Always(u16),
    /// Time out this many times, then succeed.
    TimeoutFirst(u32),
    /// 429 with this Retry-After once, then succeed.
    RetryAfterOnce(Duration),
    /// 500 with this Retry-After every time (retried after it, no shared pause).
    SlowAlways(Duration),
}

#[derive(Default)]
struct Log {
    attempts: Vec<(String, Instant)>,
    delivered: Vec<String>,
    queries: HashMap<String, String>,
}

#[derive(Clone)]
struct Fake {
    scripts: Arc<Mutex<HashMap<String, Script>>>,
    log: Arc<Mutex<Log>>,
    /// When set, each attempt takes one permit before answering (held requests stay in flight).
    gate: Option<Arc<Semaphore>>,
}

impl Fake {
    fn new() -> Self {
        Fake {
            scripts: Arc::default(),
            log: Arc::default(),
            gate: None,
        }
    }
    fn gated() -> (Self, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        let mut f = Fake::new();
        f.gate = Some(gate.clone());
        (f, gate)
    }
    fn script(&self, user: &str, s: Script) {
        self.scripts.lock().unwrap().insert(user.into(), s);
    }
    fn delivered(&self) -> Vec<String> {
        let mut d = self.log.lock().unwrap().delivered.clone();
        d.sort();
        d
    }
    fn attempts_of(&self, user: &str) -> Vec<Instant> {
        let log = self.log.lock().unwrap();
        log.attempts
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, t)| *t)
            .collect()
    }
}

fn user_of(request: &Request) -> String {
    request
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("u="))
        .unwrap_or("")
        .to_owned()
}

fn http(status: u16, retry_after: Option<Duration>) -> Error {
    Error::Http {
        call: gamooga_core::Endpoint::Evwid,
        host: "fake".into(),
        status,
        body: String::new(),
        attempts: 1,
        retry_after,
    }
}

impl Deliver for Fake {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                gate.acquire().await.unwrap().forget();
            }
            let user = user_of(request);
            let n = {
                let mut log = self.log.lock().unwrap();
                log.attempts.push((user.clone(), Instant::now()));
                log.attempts.iter().filter(|(u, _)| *u == user).count() as u32
            };
            let script = self
                .scripts
                .lock()
                .unwrap()
                .get(&user)
                .copied()
                .unwrap_or(Script::Ok);
            let outcome = match script {
                Script::Ok => Ok(()),
                Script::FailFirst(k, status) if n <= k => Err(http(status, None)),
                Script::FailFirst(..) => Ok(()),
                Script::Always(status) => Err(http(status, None)),
                Script::TimeoutFirst(k) if n <= k => Err(Error::Timeout {
                    call: gamooga_core::Endpoint::Evwid,
                    host: "fake".into(),
                    phase: gamooga_core::transport::Phase::Unknown,
                    timeout: Duration::from_millis(5),
                    attempts: 1,
                }),
                Script::TimeoutFirst(_) => Ok(()),
                Script::RetryAfterOnce(d) if n == 1 => Err(http(429, Some(d))),
                Script::RetryAfterOnce(_) => Ok(()),
                Script::SlowAlways(d) => Err(http(500, Some(d))),
            };
            if outcome.is_ok() {
                let mut log = self.log.lock().unwrap();
                log.delivered.push(user.clone());
                log.queries.insert(user, request.query().to_owned());
            }
            outcome
        })
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::background()
        .max_attempts(4)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

type Dead = Arc<Mutex<Vec<(String, DeadLetterReason, u32)>>>;

fn config() -> (QueueConfig, Dead) {
    let dead: Dead = Arc::default();
    let sink = dead.clone();
    let config = QueueConfig::default()
        .retry(fast_retry())
        .dead_letter(move |dl: DeadLetter| {
            sink.lock()
                .unwrap()
                .push((user_of(dl.request()), dl.reason(), dl.attempts()));
        });
    (config, dead)
}

fn calls() -> Calls {
    Calls::new("acme").unwrap()
}

fn event() -> CustomEvent {
    CustomEvent::new("seq", Properties::new().string("k", "v"))
}

/// Waits (generously) until the queue's stats satisfy `f`.
async fn until(queue: &Queue, f: impl Fn(&gamooga_core::queue::QueueStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f(&queue.stats()) {
        assert!(
            Instant::now() < deadline,
            "timed out; stats {:?}",
            queue.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn wait_policy_refuses_try_enqueue_and_waits_in_enqueue() {
    let (fake, gate) = Fake::gated();
    let (config, dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config.capacity(2).concurrency(1)).unwrap();
    queue.try_track("u1", &event()).unwrap();
    queue.try_track("u2", &event()).unwrap();
    let err = queue.try_track("u3", &event()).unwrap_err();
    let EnqueueError::Full { request, capacity } = err else {
        panic!("expected Full, got {err:?}");
    };
    assert_eq!(capacity, 2);
    assert_eq!(user_of(&request), "u3");

    let q = queue.clone();
    let waiter = tokio::spawn(async move { q.track("u3", &event()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "enqueue must wait for room");
    gate.add_permits(1000);
    waiter.await.unwrap().unwrap();
    queue.flush().await;
    assert_eq!(fake.delivered(), ["u1", "u2", "u3"]);
    let stats = queue.stats();
    assert_eq!(
        (
            stats.enqueued,
            stats.delivered,
            stats.refused,
            stats.dropped
        ),
        (3, 3, 1, 0)
    );
    assert!(dead.lock().unwrap().is_empty());
}

#[tokio::test]
async fn refuse_policy_returns_the_event_from_both_forms() {
    let (fake, gate) = Fake::gated();
    let (config, dead) = config();
    let queue = Queue::new(
        fake.clone(),
        calls(),
        config.capacity(2).concurrency(1).overflow(Overflow::Refuse),
    )
    .unwrap();
    queue.try_track("u1", &event()).unwrap();
    queue.track("u2", &event()).await.unwrap();
    let a = queue.try_track("u3", &event()).unwrap_err();
    let b = queue.track("u4", &event()).await.unwrap_err();
    assert_eq!(user_of(&a.into_request().unwrap()), "u3");
    assert_eq!(user_of(&b.into_request().unwrap()), "u4");
    gate.add_permits(1000);
    queue.flush().await;
    assert_eq!(fake.delivered(), ["u1", "u2"]);
    let stats = queue.stats();
    assert_eq!((stats.refused, stats.dropped, stats.enqueued), (2, 0, 2));
    assert!(
        dead.lock().unwrap().is_empty(),
        "refused events are the caller's, not dead letters"
    );
}

#[tokio::test]
async fn drop_newest_dead_letters_the_new_event() {
    let (fake, gate) = Fake::gated();
    let (config, dead) = config();
    let queue = Queue::new(
        fake.clone(),
        calls(),
        config
            .capacity(2)
            .concurrency(1)
            .overflow(Overflow::DropNewest),
    )
    .unwrap();
    queue.try_track("u1", &event()).unwrap();
    queue.try_track("u2", &event()).unwrap();
    queue.try_track("u3", &event()).unwrap();
    queue.track("u4", &event()).await.unwrap();
    assert_eq!(
        *dead.lock().unwrap(),
        [
            ("u3".to_string(), DeadLetterReason::Overflow, 0),
            ("u4".to_string(), DeadLetterReason::Overflow, 0)
        ]
    );
    gate.add_permits(1000);
    let report = queue.shutdown(Duration::from_secs(20)).await;
    assert_eq!(fake.delivered(), ["u1", "u2"]);
    // The dropped newest events were never accepted: counted apart, not as dead letters
    // of accepted events.
    assert_eq!(
        (report.delivered, report.dropped, report.dead_lettered),
        (2, 2, 0)
    );
    assert_eq!(report.stats.enqueued, report.stats.accounted());
    assert!(report.completed);
}

#[tokio::test]
async fn drop_oldest_evicts_the_oldest_waiting_event() {
    let (fake, gate) = Fake::gated();
    let (config, dead) = config();
    let queue = Queue::new(
        fake.clone(),
        calls(),
        config
            .capacity(3)
            .concurrency(1)
            .overflow(Overflow::DropOldest),
    )
    .unwrap();
    queue.try_track("u1", &event()).unwrap();
    until(&queue, |s| s.in_flight == 1).await; // u1 is in flight, not evictable
    for u in ["u2", "u3", "u4", "u5"] {
        queue.try_track(u, &event()).unwrap();
    }
    assert_eq!(
        *dead.lock().unwrap(),
        [
            ("u2".to_string(), DeadLetterReason::Overflow, 0),
            ("u3".to_string(), DeadLetterReason::Overflow, 0)
        ]
    );
    gate.add_permits(1000);
    queue.flush().await;
    assert_eq!(fake.delivered(), ["u1", "u4", "u5"]);
    let stats = queue.stats();
    // Evicted events were accepted: dead letters (overflow), not `dropped`.
    assert_eq!(
        (
            stats.enqueued,
            stats.delivered,
            stats.dead_letters.overflow,
            stats.dropped
        ),
        (5, 3, 2, 0)
    );
    assert_eq!(stats.enqueued, stats.accounted());
}

/// Every accepted event ends in exactly one bucket, and events refused or dropped before
/// acceptance are counted apart, under every overflow policy (the issue's `DropNewest` row:
/// `dropped` used to mix never-accepted events with evicted ones).
#[tokio::test]
async fn counters_add_up_under_every_overflow_policy() {
    for policy in [
        Overflow::Wait,
        Overflow::Refuse,
        Overflow::DropNewest,
        Overflow::DropOldest,
    ] {
        let (fake, gate) = Fake::gated();
        let (config, dead) = config();
        let queue = Queue::new(
            fake.clone(),
            calls(),
            config.capacity(3).concurrency(1).overflow(policy),
        )
        .unwrap();
        let identity = |queue: &Queue, offered: u64| {
            let s = queue.stats();
            assert_eq!(s.enqueued, s.accounted(), "{policy:?}: {s:?}");
            assert_eq!(
                s.enqueued + s.refused + s.dropped,
                offered,
                "{policy:?}: {s:?}"
            );
            assert_eq!(s.dead_lettered, s.dead_letters.total(), "{policy:?}: {s:?}");
        };
        queue.try_track("u0", &event()).unwrap();
        until(&queue, |s| s.in_flight == 1).await;
        for i in 1..=6 {
            let _ = queue.try_track(&format!("u{i}"), &event());
            identity(&queue, i + 1);
        }
        gate.add_permits(1000);
        queue.flush().await;
        identity(&queue, 7);
        let s = queue.stats();
        let hooked = dead.lock().unwrap().len() as u64;
        let want = match policy {
            // (enqueued, delivered, refused, dropped, dead_lettered)
            Overflow::Wait | Overflow::Refuse => (3, 3, 4, 0, 0),
            Overflow::DropNewest => (3, 3, 0, 4, 0),
            Overflow::DropOldest => (7, 3, 0, 0, 4),
        };
        assert_eq!(
            (
                s.enqueued,
                s.delivered,
                s.refused,
                s.dropped,
                s.dead_lettered
            ),
            want,
            "{policy:?}: {s:?}"
        );
        // Every drop, accepted or not, reached the hook.
        assert_eq!(hooked, s.dropped + s.dead_lettered, "{policy:?}");
        let report = queue.shutdown(Duration::from_secs(5)).await;
        assert_eq!(report.stats.enqueued, report.stats.accounted());
    }
}

#[tokio::test]
async fn flush_waits_for_in_flight_requests_and_pending_retries() {
    let (fake, gate) = Fake::gated();
    let (config, dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config.concurrency(4)).unwrap();
    for i in 0..40 {
        let user = format!("u{i:02}");
        if i % 2 == 0 {
            fake.script(&user, Script::FailFirst(2, 503));
        }
        queue.try_track(&user, &event()).unwrap();
    }
    gate.add_permits(4);
    until(&queue, |s| s.in_flight == 4).await;
    let flushed = {
        let q = queue.clone();
        tokio::spawn(async move { q.flush().await })
    };
    // Let the flush take its mark first (single-threaded runtime).
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    // Enqueued after the flush started: not waited for (it waits 1 s before each retry).
    fake.script("late", Script::SlowAlways(Duration::from_secs(1)));
    queue.try_track("late", &event()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!flushed.is_finished(), "requests are still held in flight");
    gate.add_permits(100_000);
    tokio::time::timeout(Duration::from_secs(20), flushed)
        .await
        .expect("flush finished")
        .unwrap();
    let stats = queue.stats();
    assert!(stats.delivered >= 40, "{stats:?}");
    assert!(stats.retried >= 40, "{stats:?}");
    assert_eq!(
        stats.waiting_retry, 1,
        "flush did not wait for `late`: {stats:?}"
    );
    assert!(dead.lock().unwrap().is_empty());
    let delivered = fake.delivered();
    for i in 0..40 {
        assert!(
            delivered.contains(&format!("u{i:02}")),
            "u{i:02} delivered before flush returned"
        );
    }
    for i in (0..40).step_by(2) {
        assert_eq!(fake.attempts_of(&format!("u{i:02}")).len(), 3);
    }
    queue.flush().await;
    assert_eq!(
        *dead.lock().unwrap(),
        [("late".to_string(), DeadLetterReason::RetriesExhausted, 4)]
    );
}

#[tokio::test]
async fn final_failures_are_dead_lettered_with_their_reason() {
    let fake = Fake::new();
    let (config, dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config).unwrap();
    fake.script("bad", Script::Always(400));
    fake.script("down", Script::Always(503));
    queue.try_track("bad", &event()).unwrap();
    queue.try_track("down", &event()).unwrap();
    queue.try_track("fine", &event()).unwrap();
    queue.flush().await;
    let mut dead = dead.lock().unwrap().clone();
    dead.sort();
    assert_eq!(
        dead,
        [
            ("bad".to_string(), DeadLetterReason::Rejected, 1),
            ("down".to_string(), DeadLetterReason::RetriesExhausted, 4)
        ]
    );
    let stats = queue.stats();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.retried),
        (1, 2, 3)
    );
    assert_eq!(
        (
            stats.dead_letters.rejected,
            stats.dead_letters.retries_exhausted
        ),
        (1, 1)
    );
    assert_eq!(stats.depth, 0);
    assert!(stats.latency.is_some());
}

#[tokio::test]
async fn a_panicking_dead_letter_hook_stalls_nothing() {
    let fake = Fake::new();
    let hooked = Arc::new(Mutex::new(0));
    let seen = hooked.clone();
    let config = QueueConfig::default()
        .concurrency(1)
        .retry(fast_retry())
        .dead_letter(move |_| {
            *seen.lock().unwrap() += 1;
            panic!("a bug in the user's hook");
        });
    let queue = Queue::new(fake.clone(), calls(), config).unwrap();
    fake.script("bad", Script::Always(400));
    queue.try_track("bad", &event()).unwrap();
    queue.try_track("fine", &event()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), queue.flush())
        .await
        .expect("flush returns although the hook panicked");
    assert_eq!(*hooked.lock().unwrap(), 1);
    assert_eq!(fake.delivered(), ["fine"]);
    // The single delivery task is still alive.
    queue.try_track("later", &event()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), queue.flush())
        .await
        .unwrap();
    assert_eq!(fake.delivered(), ["fine", "later"]);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = Fake::new();
    let (config, _dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config).unwrap();
    fake.script("slow", Script::RetryAfterOnce(Duration::from_millis(300)));
    queue.try_track("slow", &event()).unwrap();
    queue.flush().await;
    let attempts = fake.attempts_of("slow");
    assert_eq!(attempts.len(), 2);
    assert!(attempts[1] - attempts[0] >= Duration::from_millis(300));
}

#[tokio::test]
async fn timeouts_are_counted_as_ambiguous() {
    let fake = Fake::new();
    let (config, _dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config).unwrap();
    fake.script("t", Script::TimeoutFirst(2));
    queue.try_track("t", &event()).unwrap();
    let report = queue.shutdown(Duration::from_secs(20)).await;
    assert_eq!(
        (report.delivered, report.retried, report.ambiguous),
        (1, 2, 2)
    );
}

#[tokio::test]
async fn shutdown_deadline_dead_letters_what_is_left_and_closes_intake() {
    let (fake, gate) = Fake::gated();
    let (config, dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config.concurrency(2)).unwrap();
    for i in 0..10 {
        queue.try_track(&format!("u{i}"), &event()).unwrap();
    }
    gate.add_permits(3);
    until(&queue, |s| s.delivered == 3).await;
    let report = queue.shutdown(Duration::from_millis(200)).await;
    assert!(!report.completed);
    assert_eq!((report.delivered, report.abandoned), (3, 7));
    assert_eq!(report.dead_lettered, 7);
    let dead = dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 7);
    assert!(dead
        .iter()
        .all(|d| d.1 == DeadLetterReason::ShutdownDeadline));
    let err = queue.try_track("after", &event()).unwrap_err();
    assert!(matches!(err, EnqueueError::Closed { .. }), "{err:?}");
    // flush on a stopped queue returns at once.
    tokio::time::timeout(Duration::from_secs(5), queue.flush())
        .await
        .unwrap();
}

#[tokio::test]
async fn invalid_input_is_refused_before_it_is_accepted() {
    let fake = Fake::new();
    let (config, _dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config).unwrap();
    let err = queue.try_track("", &event()).unwrap_err();
    assert!(matches!(err, EnqueueError::Invalid(_)), "{err:?}");
    let unnamed = CustomEvent::new("", Properties::new());
    let err = unnamed.enqueue(&queue, "u1").await.unwrap_err();
    assert!(matches!(err, EnqueueError::Invalid(_)), "{err:?}");
    assert_eq!(queue.stats().enqueued, 0);
}

#[tokio::test]
async fn tm_is_stamped_at_enqueue_not_at_delivery() {
    let (fake, gate) = Fake::gated();
    let (config, _dead) = config();
    let queue = Queue::new(fake.clone(), calls(), config).unwrap();
    let before = now_ms();
    event().try_enqueue(&queue, "u1").unwrap();
    let after = now_ms();
    tokio::time::sleep(Duration::from_millis(300)).await;
    gate.add_permits(10);
    queue.flush().await;
    let query = fake.log.lock().unwrap().queries["u1"].clone();
    let tm: u64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("tm="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (before..=after).contains(&tm),
        "tm {tm} not in {before}..={after}"
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_queue_needs_a_runtime() {
    let err = Queue::new(Fake::new(), calls(), QueueConfig::default()).unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}
