//! The queue under the faults production brings (issue 8): panics in a transport, a
//! `Deliver` or a `tracing` layer; settings of `Duration::MAX`; a backend that cannot be
//! resolved; a `429` that must pause every delivery; a service's graceful shutdown during
//! an outage; the last handle dropped, and the runtime ending under a queue kept alive.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gamooga_core::queue::{
    DeadLetter, DeadLetterReason, Deliver, EnqueueError, Queue, QueueConfig,
};
use gamooga_core::retry::RetryPolicy;
use gamooga_core::transport::{BoxFuture, HttpRequest, HttpResponse, Transport, TransportError};
use gamooga_core::{Calls, Client, CustomEvent, Error, Properties, Request};
use gamooga_emulator::Emulator;

fn event() -> CustomEvent {
    CustomEvent::new("seq", Properties::new().string("k", "v"))
}

fn user_of(request: &Request) -> String {
    request
        .query()
        .split('&')
        .find_map(|kv| kv.strip_prefix("u="))
        .unwrap_or("")
        .to_owned()
}

fn calls() -> Calls {
    Calls::new("acme").unwrap()
}

type Dead = Arc<Mutex<Vec<(String, DeadLetterReason, u32)>>>;

fn hooked(config: QueueConfig) -> (QueueConfig, Dead) {
    let dead: Dead = Arc::default();
    let sink = dead.clone();
    let config = config.dead_letter(move |dl: DeadLetter| {
        sink.lock()
            .unwrap()
            .push((user_of(dl.request()), dl.reason(), dl.attempts()));
    });
    (config, dead)
}

/// A deliverer answering with a function of the request and the call's number (1 = first).
struct Scripted<F>(F, AtomicU64);

impl<F> Scripted<F> {
    fn new(f: F) -> Self {
        Scripted(f, AtomicU64::new(0))
    }
}

impl<F: Fn(&Request, u64) -> Result<(), Error> + Send + Sync + 'static> Deliver for Scripted<F> {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        let n = self.1.fetch_add(1, Ordering::SeqCst) + 1;
        let outcome = (self.0)(request, n);
        Box::pin(async move { outcome })
    }
}

/// A deliverer whose calls never finish: everything accepted stays held.
struct Stuck;

impl Deliver for Stuck {
    fn deliver<'a>(
        &'a self,
        _: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

async fn until(queue: &Queue, what: &str, f: impl Fn(&gamooga_core::queue::QueueStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f(&queue.stats()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; stats {:?}",
            queue.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Panics.

/// A transport that panics on every 5th call and answers 200 otherwise.
#[derive(Debug, Default)]
struct PanickyTransport {
    calls: AtomicU64,
    delivered: Mutex<Vec<String>>,
}

impl Transport for PanickyTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            tokio::task::yield_now().await;
            if n.is_multiple_of(5) {
                panic!("a bug in the user's transport (call {n})");
            }
            let url = url::Url::parse(&request.url).unwrap();
            let user = url
                .query_pairs()
                .find(|(k, _)| k == "u")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            self.delivered.lock().unwrap().push(user);
            Ok(HttpResponse::new(200, Vec::new()))
        })
    }
}

/// The panic test: a transport panicking on every 5th call. `flush` returns, the
/// panicked events are dead-lettered as `panicked` (not retried), all others delivered; at
/// concurrency 1 too, where a dead task used to stop delivery for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_panicking_on_every_fifth_call_fails_only_those_attempts() {
    for concurrency in [1, 4] {
        let transport = Arc::new(PanickyTransport::default());
        let client = Client::builder("acme")
            .backend("127.0.0.1:9") // fixed: every call of the transport is a delivery
            .transport(transport.clone())
            .build()
            .unwrap();
        let (config, dead) = hooked(QueueConfig::default().concurrency(concurrency));
        let queue = client.queue(config).unwrap();
        for i in 0..50 {
            queue.try_track(&format!("u{i:02}"), &event()).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(20), queue.flush())
            .await
            .expect("flush returns although attempts panicked");
        let stats = queue.stats();
        assert_eq!(
            transport.calls.load(Ordering::SeqCst),
            50,
            "no retry of a panic"
        );
        assert_eq!(
            (
                stats.delivered,
                stats.dead_letters.panicked,
                stats.dead_lettered
            ),
            (40, 10, 10),
            "concurrency {concurrency}: {stats:?}"
        );
        let dead = dead.lock().unwrap().clone();
        assert_eq!(dead.len(), 10);
        assert!(dead
            .iter()
            .all(|(_, reason, attempts)| *reason == DeadLetterReason::Panicked && *attempts == 1));
        let delivered: HashSet<String> = transport
            .delivered
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        let panicked: HashSet<String> = dead.into_iter().map(|d| d.0).collect();
        assert!(delivered.is_disjoint(&panicked));
        assert_eq!(
            delivered.len() + panicked.len(),
            50,
            "every event settled once"
        );
        // The delivery tasks live on.
        queue.try_track("after", &event()).unwrap();
        assert!(queue.flush_timeout(Duration::from_secs(20)).await);
        let report = queue.shutdown(Duration::from_secs(5)).await;
        assert!(report.completed);
        assert_eq!(report.stats.enqueued, report.stats.accounted());
    }
}

/// A `Deliver` that panics, while building its future or inside it, fails that attempt only.
#[tokio::test]
async fn a_panicking_deliver_fails_only_that_attempt_at_concurrency_one() {
    let deliver = Scripted::new(|request: &Request, _n| match user_of(request).as_str() {
        "sync" => panic!("panics before returning a future"),
        _ => Ok(()),
    });
    struct InFuture<D>(D);
    impl<D: Deliver> Deliver for InFuture<D> {
        fn deliver<'a>(
            &'a self,
            request: &'a Request,
        ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
            Box::pin(async move {
                if user_of(request) == "async" {
                    panic!("panics while polled");
                }
                self.0.deliver(request).await
            })
        }
    }
    let (config, dead) = hooked(QueueConfig::default().concurrency(1));
    let queue = Queue::new(InFuture(deliver), calls(), config).unwrap();
    for user in ["a", "sync", "b", "async", "c"] {
        queue.try_track(user, &event()).unwrap();
    }
    assert!(queue.flush_timeout(Duration::from_secs(10)).await);
    let stats = queue.stats();
    assert_eq!(
        (stats.delivered, stats.dead_letters.panicked),
        (3, 2),
        "{stats:?}"
    );
    let mut dead: Vec<String> = dead.lock().unwrap().iter().map(|d| d.0.clone()).collect();
    dead.sort();
    assert_eq!(dead, ["async", "sync"]);
}

/// A `tracing` layer that panics on every event: the client's attempts (which log) panic
/// and are dead-lettered as panicked; the queue's own logging is contained; `flush` returns.
#[tokio::test]
async fn a_panicking_tracing_layer_stalls_nothing() {
    struct Panicking;
    impl tracing::Subscriber for Panicking {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {
            panic!("a bug in a tracing layer");
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }
    let client = Client::builder("acme")
        .backend("127.0.0.1:9")
        .transport(Arc::new(gamooga_core::transport::DryRunTransport::new()))
        .build()
        .unwrap();
    let (config, dead) = hooked(QueueConfig::default().concurrency(1));
    let queue = client.queue(config).unwrap();
    // Current-thread runtime: the queue's tasks run on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(Panicking);
    for i in 0..5 {
        queue.try_track(&format!("u{i}"), &event()).unwrap();
    }
    assert!(queue.flush_timeout(Duration::from_secs(10)).await);
    let stats = queue.stats();
    assert_eq!(stats.enqueued, stats.accounted(), "{stats:?}");
    assert_eq!(
        stats.dead_letters.panicked, 5,
        "every attempt logs at debug, and the layer panics there: {stats:?}"
    );
    assert_eq!(dead.lock().unwrap().len(), 5, "the hooks ran");
}

// ---------------------------------------------------------------------------------------
// Durations.

/// Settings of `Duration::MAX` ("forever") and a huge `Retry-After` behind a queue: nothing
/// panics (it used to: `Instant + Duration` overflowed in the delivery task, which died with
/// the event in flight); the event waits, every delivery pauses, shutdown still returns.
#[tokio::test]
async fn duration_max_settings_never_panic_behind_a_queue() {
    let deliver = Scripted::new(|request: &Request, _| match user_of(request).as_str() {
        "busy" => Err(Error::Http {
            call: gamooga_core::Endpoint::Evwid,
            host: "backend.test".into(),
            status: 429,
            body: String::new(),
            attempts: 1,
            retry_after: Some(Duration::MAX),
        }),
        "down" => Err(Error::Http {
            call: gamooga_core::Endpoint::Evwid,
            host: "backend.test".into(),
            status: 503,
            body: String::new(),
            attempts: 1,
            retry_after: None,
        }),
        _ => Ok(()),
    });
    let policy = RetryPolicy::background()
        .max_attempts(u32::MAX)
        .initial_backoff(Duration::MAX)
        .max_backoff(Duration::MAX)
        .max_retry_after(Duration::MAX)
        .max_elapsed(None);
    let (config, dead) = hooked(
        QueueConfig::default()
            .retry(policy)
            .pause_floor(Duration::MAX)
            .capacity(usize::MAX)
            .concurrency(usize::MAX),
    );
    assert_eq!(config.get_concurrency(), QueueConfig::MAX_CONCURRENCY);
    let queue = Queue::new(deliver, calls(), config).unwrap();
    queue.try_track("down", &event()).unwrap();
    until(&queue, "the 503 to wait for its retry", |s| {
        s.waiting_retry == 1
    })
    .await;
    queue.try_track("busy", &event()).unwrap();
    until(&queue, "the 429 to pause everything", |s| {
        s.waiting_retry == 2 && s.in_flight == 0 && s.backpressure_pauses == 1
    })
    .await;
    queue.try_track("fine", &event()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = queue.stats();
    assert_eq!(
        stats.delivered, 0,
        "paused for as long as the clock goes: {stats:?}"
    );
    assert!(stats.paused_for.unwrap() > Duration::from_secs(365 * 86_400));
    assert!(!queue.flush_timeout(Duration::from_millis(50)).await);
    assert!(!queue.flush_timeout(Duration::ZERO).await);
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        queue.shutdown(Duration::from_millis(50)),
    )
    .await
    .expect("shutdown returns");
    assert_eq!((report.abandoned, report.delivered), (3, 0), "{report:?}");
    assert_eq!(dead.lock().unwrap().len(), 3);
    // A deadline of Duration::MAX on a settled queue returns at once.
    tokio::time::timeout(Duration::from_secs(5), queue.shutdown(Duration::MAX))
        .await
        .expect("returns");
}

// ---------------------------------------------------------------------------------------
// Resolution failures.

fn unresolved() -> Error {
    // As the resolver makes it: a transient resolution failure, to be tried again at once
    // (no time of its own, so the queue's pause floor applies).
    Error::Resolve {
        cause: Box::new(Error::Decode {
            call: gamooga_core::Endpoint::CompanyInfo,
            reason: "expected a JSON object".into(),
            body: "<html>".into(),
        }),
        host: "config.test".into(),
        retry_in: Duration::ZERO,
        attempts: 1,
    }
}

/// A backend that cannot be resolved dead-letters nothing: events wait (without using up
/// attempts, here a single one) while every delivery pauses, so the resolver is not stormed;
/// they go out once it resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_failures_wait_without_using_attempts_or_storming() {
    let failing = Arc::new(AtomicBool::new(true));
    let failed_calls = Arc::new(AtomicU64::new(0));
    let (f, c) = (failing.clone(), failed_calls.clone());
    let deliver = Scripted::new(move |_: &Request, _| {
        if f.load(Ordering::SeqCst) {
            c.fetch_add(1, Ordering::SeqCst);
            Err(unresolved())
        } else {
            Ok(())
        }
    });
    let floor = Duration::from_millis(200);
    let (config, dead) = hooked(
        QueueConfig::default()
            .concurrency(4)
            .pause_floor(floor)
            .retry(RetryPolicy::background().max_attempts(1)),
    );
    let queue = Queue::new(deliver, calls(), config).unwrap();
    for i in 0..100 {
        queue.try_track(&format!("u{i}"), &event()).unwrap();
    }
    let failing_for = Duration::from_millis(1000);
    tokio::time::sleep(failing_for).await;
    failing.store(false, Ordering::SeqCst);
    assert!(queue.flush_timeout(Duration::from_secs(20)).await);
    let stats = queue.stats();
    assert!(
        dead.lock().unwrap().is_empty(),
        "{:?}",
        dead.lock().unwrap()
    );
    assert_eq!(
        (stats.delivered, stats.dead_lettered),
        (100, 0),
        "{stats:?}"
    );
    assert_eq!(stats.retried, 0, "a wait for the resolver is not a retry");
    assert!(stats.resolution_pauses >= 1, "{stats:?}");
    // At most one round of `concurrency` attempts per pause (plus the first).
    let rounds = (failing_for.as_millis() / floor.as_millis()) as u64 + 2;
    let failed = failed_calls.load(Ordering::SeqCst);
    assert!(
        failed <= 4 * rounds,
        "{failed} failed attempts in {rounds} rounds"
    );
}

/// ... and they age out only by the retry policy's total budget, with their own reason.
#[tokio::test]
async fn events_waiting_for_the_resolver_age_out_as_unresolved() {
    let deliver = Scripted::new(|_: &Request, _| Err(unresolved()));
    let (config, dead) = hooked(
        QueueConfig::default()
            .pause_floor(Duration::from_millis(50))
            .retry(RetryPolicy::background().max_elapsed(Some(Duration::from_millis(300)))),
    );
    let queue = Queue::new(deliver, calls(), config).unwrap();
    queue.try_track("u1", &event()).unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(10)).await);
    assert_eq!(
        *dead.lock().unwrap(),
        [("u1".to_string(), DeadLetterReason::Unresolved, 0)],
        "no attempt reached Gamooga"
    );
    assert_eq!(queue.stats().dead_letters.unresolved, 1);
}

// ---------------------------------------------------------------------------------------
// Shared backpressure.

/// The row: one `429 Retry-After: 2` while 200 events are queued. It used to hold
/// only the event that got it (the other 199 went out within 30 ms); now every delivery
/// waits: nothing but the attempts already in flight reaches Gamooga before the pause ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_pauses_every_delivery() {
    let arrivals: Arc<Mutex<Vec<(Instant, u16, String)>>> = Arc::default();
    let log = arrivals.clone();
    let emu = Emulator::builder()
        .on_call(move |call| {
            log.lock()
                .unwrap()
                .push((Instant::now(), call.status, call.endpoint.clone()));
        })
        .start()
        .await
        .unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap();
    client.backend().await.unwrap();
    let concurrency = 4;
    let queue = client
        .queue(QueueConfig::default().concurrency(concurrency))
        .unwrap();
    emu.fail_next_with_retry_after(1, 429, 2);
    for i in 0..200 {
        queue.try_track(&format!("user-{i}"), &event()).unwrap();
    }
    assert!(queue.flush_timeout(Duration::from_secs(30)).await);
    let stats = queue.stats();
    assert_eq!(
        (stats.delivered, stats.backpressure_pauses),
        (200, 1),
        "{stats:?}"
    );
    let arrivals = arrivals.lock().unwrap().clone();
    let (t429, ..) = *arrivals
        .iter()
        .find(|(_, status, _)| *status == 429)
        .expect("the 429 was answered");
    // The 429 is recorded before its answer leaves; the client pauses when it reads it.
    // Only the requests in flight by then may still arrive: the other tasks' attempts
    // under way (at most concurrency - 1), each of which may have finished and started one
    // more before the 429 was read (on a loaded machine, a thread preempted between reading
    // the 429 and settling it lets a few more start: the bound leaves room for that). Without
    // the shared pause, ~196 calls arrive in this window.
    let during: Vec<_> = arrivals
        .iter()
        .filter(|(t, status, endpoint)| {
            *t > t429
                && *t < t429 + Duration::from_millis(1900)
                && *status != 429
                && endpoint != "newnaconf"
        })
        .collect();
    let bound = 4 * concurrency;
    assert!(
        during.len() <= bound,
        "{} calls during the pause (at most {bound} may have been under way)",
        during.len(),
    );
}

/// A `429` without `Retry-After` pauses for the documented floor.
#[tokio::test]
async fn a_429_without_retry_after_pauses_for_the_floor() {
    let times: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let t = times.clone();
    let deliver = Scripted::new(move |request: &Request, n| {
        t.lock().unwrap().push((Instant::now(), user_of(request)));
        if n == 1 {
            Err(Error::Http {
                call: gamooga_core::Endpoint::Evwid,
                host: "backend.test".into(),
                status: 429,
                body: String::new(),
                attempts: 1,
                retry_after: None,
            })
        } else {
            Ok(())
        }
    });
    let floor = Duration::from_millis(300);
    let queue = Queue::new(
        deliver,
        calls(),
        QueueConfig::default().concurrency(1).pause_floor(floor),
    )
    .unwrap();
    queue.try_track("first", &event()).unwrap();
    queue.try_track("second", &event()).unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(10)).await);
    let times = times.lock().unwrap().clone();
    assert_eq!(times.len(), 3);
    assert!(times[1].0 - times[0].0 >= floor, "{times:?}");
    assert_eq!(queue.stats().backpressure_pauses, 1);
}

// ---------------------------------------------------------------------------------------
// Shutdown, drop, runtime end.

/// The pattern the README shows for a service's graceful shutdown, during an outage: a
/// timed flush, then `shutdown` with a deadline. Both return within their bounds (the
/// README's old `flush().await` waited up to the retry policy's hour), and what is left is
/// reported, not lost silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graceful_shutdown_pattern_is_bounded_during_an_outage() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap();
    client.backend().await.unwrap();
    emu.go_down().await;
    let (config, dead) = hooked(QueueConfig::default()); // background(): up to an hour
    let queue = client.queue(config).unwrap();
    for i in 0..20 {
        queue.try_track(&format!("user-{i}"), &event()).unwrap();
    }
    let start = Instant::now();
    let pattern = async {
        let flushed = queue.flush_timeout(Duration::from_millis(500)).await;
        let report = queue.shutdown(Duration::from_millis(500)).await;
        (flushed, report)
    };
    let (flushed, report) = tokio::time::timeout(Duration::from_secs(20), pattern)
        .await
        .expect("the pattern returns within its bounds");
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "it did wait"
    );
    assert!(!flushed);
    assert!(!report.completed);
    assert_eq!((report.delivered, report.abandoned), (0, 20), "{report:?}");
    assert_eq!(dead.lock().unwrap().len(), 20);
    assert!(dead
        .lock()
        .unwrap()
        .iter()
        .all(|d| d.1 == DeadLetterReason::ShutdownDeadline));
}

/// The last handle dropped without `shutdown`: every event a memory queue holds (in flight
/// or not) goes to the dead-letter hook, counted as `queue_dropped`. It used to be one
/// warning with a count, and the events gone.
#[tokio::test]
async fn dropping_the_last_handle_hands_every_event_to_the_hook() {
    let (config, dead) = hooked(QueueConfig::default().concurrency(2));
    let queue = Queue::new(Stuck, calls(), config).unwrap();
    for i in 0..7 {
        queue.try_track(&format!("u{i}"), &event()).unwrap();
    }
    until(&queue, "two in flight", |s| s.in_flight == 2).await;
    let clone = queue.clone();
    drop(queue);
    assert!(dead.lock().unwrap().is_empty(), "a handle is still alive");
    drop(clone);
    let dead = dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 7, "{dead:?}");
    assert!(dead.iter().all(|d| d.1 == DeadLetterReason::QueueDropped));
    let users: HashSet<String> = dead.into_iter().map(|d| d.0).collect();
    assert_eq!(users.len(), 7, "each event once");
}

/// A queue that outlives its runtime (kept in a `static`, say): when the runtime shuts
/// down, the queue stops; a memory queue hands what it holds to the hook (counted), and
/// takes no more events.
#[test]
fn a_queue_outliving_its_runtime_stops_and_reports_what_it_held() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (config, dead) = hooked(QueueConfig::default().concurrency(1));
    let queue = {
        let _entered = rt.enter();
        Queue::new(Stuck, calls(), config).unwrap()
    };
    for i in 0..4 {
        queue.try_track(&format!("u{i}"), &event()).unwrap();
    }
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
    assert_eq!(queue.stats().in_flight, 1);
    drop(rt);
    let stats = queue.stats();
    assert_eq!(stats.dead_letters.queue_dropped, 4, "{stats:?}");
    assert_eq!(stats.enqueued, stats.accounted());
    assert_eq!(dead.lock().unwrap().len(), 4);
    let err = queue.try_track("late", &event()).unwrap_err();
    assert!(matches!(err, EnqueueError::Closed { .. }), "{err:?}");
}
