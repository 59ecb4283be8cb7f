//! No setting can panic: every duration saturates, and `Duration::MAX` means forever.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gamooga_core::retry::FOREVER;
use gamooga_core::transport::{BoxFuture, HttpRequest, HttpResponse, Transport, TransportError};
use gamooga_core::{Client, CustomEvent, Error, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new().string("method", "sso"))
}

fn forever_policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(u32::MAX)
        .initial_backoff(Duration::MAX)
        .max_backoff(Duration::MAX)
        .max_retry_after(Duration::MAX)
        .max_elapsed(Some(Duration::MAX))
}

#[tokio::test]
async fn timeouts_of_forever_mean_no_timeout() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .resolve_ttl(Duration::MAX)
        .retry(forever_policy().max_attempts(1))
        .build()
        .unwrap();
    client.track("u", &event()).await.unwrap();
    client.identify("u").await.unwrap();
    assert_eq!(emu.events().len(), 1);
    assert_eq!(emu.count("newnaconf"), 1);

    // A delayed answer is waited for, however long the limit.
    emu.delay_next(1, Duration::from_millis(300));
    client.track("v", &event()).await.unwrap();
    assert_eq!(emu.events().len(), 2);
}

/// Fails the first `fail` backend calls with 503, then answers 200.
#[derive(Debug)]
struct FailFirst {
    fail: u32,
    calls: AtomicU32,
    retry_after: Option<String>,
}

impl Transport for FailFirst {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            if request.url.contains("/newnaconf/") {
                return Ok(HttpResponse::new(
                    200,
                    br#"{"evbk":"evbk.example.com"}"#.to_vec(),
                ));
            }
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n > self.fail {
                return Ok(HttpResponse::new(200, Vec::new()));
            }
            let answer = HttpResponse::new(503, Vec::new());
            Ok(match &self.retry_after {
                Some(value) => answer.with_retry_after(value.clone()),
                None => answer,
            })
        })
    }
}

// On the paused clock a wait of up to FOREVER passes at once: the client waits it without
// overflowing anything, and the retry goes out.
#[tokio::test(start_paused = true)]
async fn a_retry_policy_of_forever_waits_without_overflow() {
    for retry_after in [None, Some(u64::MAX.to_string())] {
        let transport = Arc::new(FailFirst {
            fail: 2,
            calls: AtomicU32::new(0),
            retry_after,
        });
        let client = Client::builder("acme")
            .transport(transport.clone())
            .timeout(Duration::MAX)
            .retry(forever_policy())
            .build()
            .unwrap();
        let start = tokio::time::Instant::now();
        client.track("u", &event()).await.unwrap();
        assert_eq!(transport.calls.load(Ordering::SeqCst), 3);
        assert!(start.elapsed() <= FOREVER * 2);
    }
}

#[tokio::test]
async fn a_retry_after_of_u64_max_seconds_is_forever_cut_by_the_budget() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(
            RetryPolicy::default()
                .max_attempts(5)
                .max_retry_after(Duration::MAX)
                .max_elapsed(Some(Duration::from_secs(30))),
        )
        .build()
        .unwrap();
    emu.fail_next_with_retry_after(1, 429, u64::MAX);
    let err = client.track("u", &event()).await.unwrap_err();
    match err {
        Error::Http {
            status: 429,
            retry_after,
            attempts: 1,
            ..
        } => assert_eq!(retry_after, Some(FOREVER)),
        other => panic!("{other:?}"),
    }
    assert!(std::time::Instant::now().checked_add(FOREVER).is_some());

    // With the policy's cap, the same answer is retried after the cap.
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .max_retry_after(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    emu.fail_next_with_retry_after(1, 429, u64::MAX);
    client.track("v", &event()).await.unwrap();
    let users: Vec<_> = emu.events().into_iter().filter_map(|c| c.user_id).collect();
    assert_eq!(users, ["v"]);
}

#[test]
fn zero_timeouts_are_still_refused() {
    for builder in [
        Client::builder("acme").timeout(Duration::ZERO),
        Client::builder("acme").connect_timeout(Duration::ZERO),
    ] {
        assert!(matches!(builder.build(), Err(Error::Config(_))));
    }
}
