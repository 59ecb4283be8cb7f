//! Retries against the emulator's faults: what is retried, how often, and what the error says
//! when attempts run out.

use std::time::{Duration, Instant};

use gamooga_core::transport::Phase;
use gamooga_core::{Client, CustomEvent, Error, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new().string("method", "sso"))
}

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(attempts)
        .initial_backoff(Duration::from_millis(10))
        .max_elapsed(None)
}

fn client(emu: &Emulator, retry: RetryPolicy) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(30))
        .retry(retry)
        .build()
        .unwrap()
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    for status in [500, 502, 503, 504, 408, 429] {
        let emu = Emulator::start().await.unwrap();
        let client = client(&emu, fast_retry(3));
        emu.fail_next(2, status);
        client.track("u", &event()).await.unwrap();
        assert_eq!(
            emu.count("evwid"),
            3,
            "{status}: two failures, then success"
        );
        assert_eq!(emu.events().len(), 1);
        assert!(emu.rejected().is_empty());
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu, fast_retry(3));
    emu.fail_next_with_retry_after(1, 429, 1);
    let start = Instant::now();
    client.track("u", &event()).await.unwrap();
    // A lower bound only: the client waited at least what the server asked.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(emu.count("evwid"), 2);
    assert_eq!(emu.events().len(), 1);
}

#[tokio::test]
async fn retry_after_is_capped_by_the_policy() {
    let emu = Emulator::start().await.unwrap();
    // An hour-long Retry-After, cut to 10 ms: the call finishes (the test would time out).
    let client = client(
        &emu,
        fast_retry(3).max_retry_after(Duration::from_millis(10)),
    );
    emu.fail_next_with_retry_after(2, 503, 3600);
    tokio::time::timeout(Duration::from_secs(60), client.track("u", &event()))
        .await
        .expect("the cap applied")
        .unwrap();
    assert_eq!(emu.count("evwid"), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 401, 403, 404, 501, 505] {
        let emu = Emulator::start().await.unwrap();
        let client = client(&emu, fast_retry(5));
        emu.fail_next(1, status);
        match client.track("u", &event()).await {
            Err(Error::Http {
                status: s,
                attempts,
                body,
                ..
            }) => {
                assert_eq!(s, status);
                assert_eq!(attempts, 1);
                assert!(body.len() <= 512);
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(emu.count("evwid"), 1, "{status} was not retried");
    }
}

#[tokio::test]
async fn running_out_of_attempts_reports_them() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu, fast_retry(4));
    emu.fail_next(10, 503);
    let err = client.track("u", &event()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Http {
                status: 503,
                attempts: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("after 4 attempt(s)"), "{err}");
    assert_eq!(emu.count("evwid"), 4);
}

#[tokio::test]
async fn send_once_makes_one_attempt_and_carries_retry_after() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu, fast_retry(5));
    emu.fail_next_with_retry_after(1, 429, 7);
    let request = client.calls().track("u", &event()).unwrap();
    match client.send_once(&request).await {
        Err(Error::Http {
            status: 429,
            attempts: 1,
            retry_after,
            ..
        }) => assert_eq!(retry_after, Some(Duration::from_secs(7))),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.count("evwid"), 1);
    client.send_once(&request).await.unwrap();
    assert_eq!(emu.events().len(), 1);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(1))
        .retry(fast_retry(4))
        .build()
        .unwrap();
    // Resolve first, so only the event call meets the delay.
    client.backend().await.unwrap();
    emu.delay_next(1, Duration::from_secs(5));
    let start = Instant::now();
    client.track("u", &event()).await.unwrap();
    // The first attempt was given up after the 1 s timeout (the emulator records a delayed
    // call only once it answers, so it is not counted); the retry succeeded.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(emu.events().len(), 1);
    assert_eq!(
        emu.events()[0].fault,
        None,
        "the recorded call is the retry"
    );
}

#[tokio::test]
async fn timeouts_that_outlast_the_retries_are_a_timeout_error() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_millis(300))
        .retry(fast_retry(2))
        .build()
        .unwrap();
    client.backend().await.unwrap();
    emu.delay_next(2, Duration::from_secs(5));
    match client.track("u", &event()).await {
        Err(
            ref err @ Error::Timeout {
                timeout,
                attempts,
                phase,
                ..
            },
        ) => {
            assert_eq!(timeout, Duration::from_millis(300));
            assert_eq!(attempts, 2);
            // The request was written before the answer was late: it may have been stored.
            assert_eq!(phase, Phase::Unknown);
            assert!(err.may_have_been_sent());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu, fast_retry(3));
    emu.drop_next(2);
    client.track("u", &event()).await.unwrap();
    assert_eq!(emu.count("evwid"), 3);
    assert_eq!(emu.events().len(), 1);
    let dropped = emu
        .calls()
        .iter()
        .filter(|c| c.fault.as_deref() == Some("drop"))
        .count();
    assert_eq!(dropped, 2);
}

#[tokio::test]
async fn a_dropped_connection_without_retries_is_a_connection_error() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu, RetryPolicy::none());
    emu.drop_next(1);
    let err = client.track("u", &event()).await.unwrap_err();
    assert!(
        matches!(err, Error::Connection { attempts: 1, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(
        !err.to_string().contains("u=u"),
        "the message does not quote the URL (user ids): {err}"
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_retried_until_it_comes_back() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(
            RetryPolicy::default()
                .max_attempts(200)
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(100))
                .max_elapsed(None),
        )
        .build()
        .unwrap();
    client.backend().await.unwrap();
    emu.go_down().await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.track("u", &event()).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    emu.come_up().await.unwrap();
    call.await.unwrap().unwrap();
    assert_eq!(emu.events().len(), 1);
}

#[tokio::test]
async fn a_wait_past_the_time_budget_gives_up_with_the_servers_answer() {
    let emu = Emulator::start().await.unwrap();
    let client = client(
        &emu,
        RetryPolicy::default()
            .max_attempts(5)
            .max_retry_after(Duration::from_secs(3600))
            .max_elapsed(Some(Duration::from_secs(30))),
    );
    emu.fail_next_with_retry_after(1, 503, 600);
    match client.track("u", &event()).await {
        Err(Error::Http {
            status: 503,
            attempts: 1,
            retry_after,
            ..
        }) => assert_eq!(retry_after, Some(Duration::from_secs(600))),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.count("evwid"), 1);
}
