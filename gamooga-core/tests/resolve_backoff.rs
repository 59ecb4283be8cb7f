//! The resolver's backoff and single flight on tokio's paused clock, with a scripted transport:
//! exact counts of company information fetches and exact remaining delays, no sleeps.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gamooga_core::resolve::{BACKOFF_INITIAL, BACKOFF_MAX};
use gamooga_core::transport::{BoxFuture, HttpRequest, HttpResponse, Transport, TransportError};
use gamooga_core::{Client, CustomEvent, Error, Properties, RetryPolicy};
use tokio::time::{advance, Instant};

/// What `newnaconf` answers.
#[derive(Debug, Clone)]
enum Answer {
    /// 200 with `{"evbk": ..}`.
    Backend(&'static str),
    /// 200 with an HTML page (a CDN hiccup).
    Html,
    /// This status, empty body.
    Status(u16),
}

#[derive(Debug)]
struct Script {
    /// Answers for the next fetches, then `then` for good.
    next: Mutex<VecDeque<Answer>>,
    then: Mutex<Answer>,
    /// How long a fetch takes.
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
    /// The host of every backend call, in order.
    backend_hosts: Mutex<Vec<String>>,
}

impl Script {
    fn new(then: Answer) -> Arc<Self> {
        Arc::new(Script {
            next: Mutex::new(VecDeque::new()),
            then: Mutex::new(then),
            delay: Mutex::new(Duration::ZERO),
            fetches: AtomicUsize::new(0),
            backend_hosts: Mutex::new(Vec::new()),
        })
    }
    fn then(&self, answer: Answer) {
        *self.then.lock().unwrap() = answer;
    }
    fn next(&self, answers: impl IntoIterator<Item = Answer>) {
        self.next.lock().unwrap().extend(answers);
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
    fn backend_hosts(&self) -> Vec<String> {
        self.backend_hosts.lock().unwrap().clone()
    }
}

impl Transport for Script {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let after_scheme = request.url.split_once("://").unwrap().1;
        let (host, path) = after_scheme.split_at(after_scheme.find('/').unwrap());
        if !path.starts_with("/newnaconf/") {
            self.backend_hosts.lock().unwrap().push(host.to_owned());
            return Box::pin(async { Ok(HttpResponse::new(200, Vec::new())) });
        }
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .next
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.then.lock().unwrap().clone());
        let delay = *self.delay.lock().unwrap();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(match answer {
                Answer::Backend(evbk) => {
                    HttpResponse::new(200, format!(r#"{{"evbk":"{evbk}"}}"#).into_bytes())
                }
                Answer::Html => HttpResponse::new(200, b"<html>CDN error</html>".to_vec()),
                Answer::Status(status) => HttpResponse::new(status, Vec::new()),
            })
        })
    }
}

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new())
}

fn client(script: &Arc<Script>, retry: RetryPolicy) -> Client {
    Client::builder("acme")
        .transport(script.clone())
        .retry(retry)
        .build()
        .unwrap()
}

/// The upper bound of the backoff after `failures` failed fetches in a row.
fn ceiling(failures: u32) -> Duration {
    BACKOFF_INITIAL
        .saturating_mul(1 << (failures - 1).min(31))
        .min(BACKOFF_MAX)
}

#[tokio::test(start_paused = true)]
async fn calls_during_the_backoff_fail_fast_with_the_time_left() {
    let script = Script::new(Answer::Html);
    let client = client(&script, RetryPolicy::none());

    let first = client.track("u", &event()).await.unwrap_err();
    assert!(first.is_resolution_failure(), "{first}");
    let wait = first.retry_after().unwrap();
    assert!(wait >= ceiling(1) / 2 && wait <= ceiling(1), "{wait:?}");
    assert_eq!(script.fetches(), 1);

    // No time passed: the same error, the same delay, no fetch.
    let again = client.track("u", &event()).await.unwrap_err();
    assert_eq!(again.retry_after(), Some(wait));
    assert_eq!(script.fetches(), 1);

    // 1 ms before the end of the backoff: still nothing fetched.
    advance(wait - Duration::from_millis(1)).await;
    let late = client.track("u", &event()).await.unwrap_err();
    assert_eq!(late.retry_after(), Some(Duration::from_millis(1)));
    assert_eq!(script.fetches(), 1);

    // The backoff doubles with each failure in a row, up to its cap.
    advance(Duration::from_millis(1)).await;
    for failures in 2..=12 {
        let err = client.track("u", &event()).await.unwrap_err();
        assert_eq!(script.fetches(), failures as usize);
        let wait = err.retry_after().unwrap();
        assert!(
            wait >= ceiling(failures) / 2 && wait <= ceiling(failures),
            "{failures}: {wait:?}"
        );
        advance(wait).await;
    }
    assert_eq!(ceiling(12), BACKOFF_MAX);

    // Recovery resets the backoff and the call goes through.
    script.then(Answer::Backend("evbk.example.com"));
    client.track("u", &event()).await.unwrap();
    assert_eq!(script.backend_hosts(), ["evbk.example.com"]);
    assert_eq!(script.fetches(), 13);
}

#[tokio::test(start_paused = true)]
async fn one_fetch_for_many_waiting_calls() {
    let script = Script::new(Answer::Html);
    *script.delay.lock().unwrap() = Duration::from_secs(2);
    let client = client(&script, RetryPolicy::none());
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.track(&format!("u{i}"), &event()).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(err.is_resolution_failure(), "{err}");
        assert!(err.retry_after().unwrap() <= ceiling(1));
    }
    assert_eq!(script.fetches(), 1, "single flight");
}

#[tokio::test(start_paused = true)]
async fn a_direct_call_retries_after_the_resolvers_delay() {
    let script = Script::new(Answer::Backend("evbk.example.com"));
    script.next([Answer::Html, Answer::Status(503)]);
    let client = client(&script, RetryPolicy::default().max_attempts(3));
    let start = Instant::now();
    client.track("u", &event()).await.unwrap();
    assert_eq!(script.fetches(), 3);
    assert_eq!(script.backend_hosts(), ["evbk.example.com"]);
    // The waits were the resolver's delays: at least half of each ceiling.
    let waited = start.elapsed();
    assert!(
        waited >= ceiling(1) / 2 + ceiling(2) / 2,
        "waited only {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delay_past_the_budget_gives_up_with_the_attempt_count() {
    let script = Script::new(Answer::Status(502));
    let client = client(
        &script,
        RetryPolicy::default()
            .max_attempts(5)
            .max_elapsed(Some(Duration::from_millis(100))),
    );
    let err = client.track("u", &event()).await.unwrap_err();
    // The resolver's first delay (at least 125 ms) ends past the 100 ms budget.
    assert_eq!(err.attempts(), Some(1));
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(502));
    assert_eq!(script.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_backend_is_served_during_a_refresh_and_its_backoff() {
    let script = Script::new(Answer::Backend("old.example.com"));
    let client = Client::builder("acme")
        .transport(script.clone())
        .retry(RetryPolicy::none())
        .resolve_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    client.track("u0", &event()).await.unwrap();
    advance(Duration::from_secs(61)).await;

    // The refresh is slow and fails: a call that arrives meanwhile is not held up by it.
    script.then(Answer::Status(503));
    *script.delay.lock().unwrap() = Duration::from_secs(5);
    let refreshing = tokio::spawn({
        let client = client.clone();
        async move { client.track("u1", &event()).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(script.fetches(), 2, "the refresh started");
    let start = Instant::now();
    client.track("u2", &event()).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "served from the stale backend"
    );
    refreshing.await.unwrap().unwrap();
    assert_eq!(script.fetches(), 2);

    // During the backoff: stale, no fetch. After it: fetched again, and a move is followed.
    client.track("u3", &event()).await.unwrap();
    assert_eq!(script.fetches(), 2);
    *script.delay.lock().unwrap() = Duration::ZERO;
    script.then(Answer::Backend("new.example.com"));
    advance(ceiling(1)).await;
    client.track("u4", &event()).await.unwrap();
    assert_eq!(script.fetches(), 3);
    assert_eq!(
        script.backend_hosts(),
        [
            "old.example.com",
            "old.example.com",
            "old.example.com",
            "old.example.com",
            "new.example.com"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_ttl_of_forever_never_refetches() {
    let script = Script::new(Answer::Backend("evbk.example.com"));
    let client = Client::builder("acme")
        .transport(script.clone())
        .resolve_ttl(Duration::MAX)
        .build()
        .unwrap();
    client.track("u0", &event()).await.unwrap();
    advance(Duration::from_secs(10 * 365 * 24 * 3600)).await;
    client.track("u1", &event()).await.unwrap();
    assert_eq!(script.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_company_is_not_retried() {
    let script = Script::new(Answer::Status(404));
    let client = client(&script, RetryPolicy::default().max_attempts(5));
    let err = client.track("u", &event()).await.unwrap_err();
    assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
    assert!(!err.is_retryable() && !err.is_resolution_failure());
    assert_eq!(err.status(), Some(404));
    assert_eq!(script.fetches(), 1);
}
