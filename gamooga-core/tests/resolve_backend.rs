//! The resolver against the emulator: caching, single flight, stale-on-error, backend moves,
//! early refresh after connection failures, refusal of bad `evbk` values, and company
//! information failures as transient resolution errors with a backoff (no storm).

use std::time::{Duration, Instant};

use gamooga_core::{Client, CustomEvent, Endpoint, Error, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

/// The cause of a resolution failure, asserting it is one.
fn resolve_cause(err: &Error) -> &Error {
    match err {
        Error::Resolve { cause, .. } => cause,
        other => panic!("not a resolution failure: {other:?}"),
    }
}

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new().string("method", "sso"))
}

fn builder(emu: &Emulator) -> gamooga_core::ClientBuilder {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::none())
}

#[tokio::test]
async fn the_backend_is_fetched_once_for_many_calls() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    for i in 0..20 {
        client.track(&format!("user-{i}"), &event()).await.unwrap();
    }
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.events().len(), 20);
    assert!(emu.rejected().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_calls_fetch_once() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.track(&format!("user-{i}"), &event()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(emu.count("newnaconf"), 1, "single flight");
    assert_eq!(emu.events().len(), 50);
}

// On the current-thread runtime every task reaches the resolver before the first fetch
// answers, so the count is exact.
#[tokio::test]
async fn concurrent_callers_share_a_failed_first_fetch() {
    let emu = Emulator::start().await.unwrap();
    emu.set_newnaconf_body(Some("<html>maintenance</html>".into()));
    let client = builder(&emu).build().unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.track(&format!("user-{i}"), &event()).await })
        })
        .collect();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(
            matches!(
                resolve_cause(&err),
                Error::Decode {
                    call: Endpoint::CompanyInfo,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_resolution_failure() && err.is_retryable(), "{err}");
        assert!(!err.may_have_been_sent());
    }
    // Waiters of a failed fetch get its error instead of fetching again each.
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.count("evwid"), 0);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_backend() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu)
        .resolve_ttl(Duration::from_millis(50))
        .build()
        .unwrap();
    client.track("u1", &event()).await.unwrap();
    emu.fail_newnaconf_next(1, 503);
    tokio::time::sleep(Duration::from_millis(120)).await;
    client.track("u2", &event()).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 2, "the refresh was tried");

    // Garbage and an invalid evbk on refresh: also served from the last good value. The
    // failed refreshes back off (at most 250 ms after the first failure, 500 ms after the
    // second), so each sleep outlasts the backoff.
    tokio::time::sleep(Duration::from_millis(300)).await;
    emu.set_newnaconf_body(Some("not json".into()));
    client.track("u3", &event()).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 3);
    tokio::time::sleep(Duration::from_millis(550)).await;
    emu.set_newnaconf_body(None);
    emu.set_evbk(Some("http://evil.example".into()));
    client.track("u4", &event()).await.unwrap();

    assert_eq!(emu.count("newnaconf"), 4);
    let users: Vec<_> = emu.events().into_iter().filter_map(|c| c.user_id).collect();
    assert_eq!(users, ["u1", "u2", "u3", "u4"]);
}

#[tokio::test]
async fn calls_follow_a_backend_move_after_the_ttl() {
    let first = Emulator::start().await.unwrap();
    let second = Emulator::start().await.unwrap();
    let client = builder(&first)
        .resolve_ttl(Duration::from_millis(50))
        .build()
        .unwrap();
    client.track("before", &event()).await.unwrap();
    first.set_evbk(Some(second.backend()));
    tokio::time::sleep(Duration::from_millis(120)).await;
    client.track("after", &event()).await.unwrap();

    let on_first: Vec<_> = first
        .events()
        .into_iter()
        .filter_map(|c| c.user_id)
        .collect();
    let on_second: Vec<_> = second
        .events()
        .into_iter()
        .filter_map(|c| c.user_id)
        .collect();
    assert_eq!(on_first, ["before"]);
    assert_eq!(on_second, ["after"]);
    assert_eq!(
        client.backend().await.unwrap(),
        format!("http://{}", second.backend())
    );
}

#[tokio::test]
async fn repeated_connection_failures_resolve_again_early() {
    let config = Emulator::start().await.unwrap();
    let old = Emulator::start().await.unwrap();
    let new = Emulator::start().await.unwrap();
    config.set_evbk(Some(old.backend()));
    let client = builder(&config).build().unwrap(); // TTL: one hour
    client.track("u0", &event()).await.unwrap();
    assert_eq!(old.events().len(), 1);

    old.go_down().await;
    config.set_evbk(Some(new.backend()));
    for i in 1..=3 {
        let err = client.track(&format!("u{i}"), &event()).await.unwrap_err();
        assert!(
            matches!(err, Error::Connection { attempts: 1, .. }),
            "{err}"
        );
    }
    assert_eq!(
        config.count("newnaconf"),
        1,
        "no refresh before the third failure"
    );
    client.track("u4", &event()).await.unwrap();
    assert_eq!(config.count("newnaconf"), 2);
    let on_new: Vec<_> = new.events().into_iter().filter_map(|c| c.user_id).collect();
    assert_eq!(on_new, ["u4"]);
}

#[tokio::test]
async fn retries_within_one_call_reach_a_moved_backend() {
    let config = Emulator::start().await.unwrap();
    let old = Emulator::start().await.unwrap();
    let new = Emulator::start().await.unwrap();
    config.set_evbk(Some(old.backend()));
    let client = builder(&config)
        .retry(
            RetryPolicy::default()
                .max_attempts(5)
                .initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    client.track("u0", &event()).await.unwrap();
    old.go_down().await;
    config.set_evbk(Some(new.backend()));
    client.track("u1", &event()).await.unwrap();
    assert_eq!(new.events().len(), 1);
    assert_eq!(config.count("newnaconf"), 2);
}

#[tokio::test]
async fn invalid_evbk_values_are_refused_and_never_followed() {
    let emu = Emulator::start().await.unwrap();
    for bad in [
        "http://x", "x/y", "u@x", "x?y", "x y", "", "x#y", "x:99999", "[::1",
    ] {
        emu.reset();
        emu.set_evbk(Some(bad.to_owned()));
        let client = builder(&emu).build().unwrap();
        let err = client.track("u", &event()).await.unwrap_err();
        match resolve_cause(&err) {
            Error::InvalidBackend { value, reason } => {
                assert_eq!(value, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad:?} was not refused: {other:?}"),
        }
        // Retried like any failure of the company information.
        assert!(err.is_resolution_failure(), "{err}");
        assert_eq!(emu.count("newnaconf"), 1);
        assert_eq!(
            emu.total_calls(),
            1,
            "{bad:?}: nothing but newnaconf was called"
        );
    }
    for body in [
        r#"{"evbk":1}"#,
        r#"{"evbk":null}"#,
        r#"{"evbk":["127.0.0.1"]}"#,
    ] {
        emu.reset();
        emu.set_newnaconf_body(Some(body.to_owned()));
        let client = builder(&emu).build().unwrap();
        let err = client.track("u", &event()).await.unwrap_err();
        assert!(
            matches!(resolve_cause(&err), Error::InvalidBackend { .. }),
            "{body}: {err}"
        );
        assert_eq!(emu.total_calls(), 1);
    }
}

#[tokio::test]
async fn undecodable_company_information_is_a_decode_error() {
    let emu = Emulator::start().await.unwrap();
    for body in ["<html>", "", r#"{"wsbk":"x"}"#, r#"["evbk"]"#] {
        emu.reset();
        emu.set_newnaconf_body(Some(body.to_owned()));
        let client = builder(&emu).build().unwrap();
        let err = client.identify("u").await.unwrap_err();
        match resolve_cause(&err) {
            Error::Decode {
                call: Endpoint::CompanyInfo,
                ..
            } => assert_eq!(err.body(), Some(body)),
            other => panic!("{body:?}: {other:?}"),
        }
        // The body is reachable, never in the message.
        if !body.is_empty() {
            assert!(!err.to_string().contains(body), "{err}");
            assert!(!format!("{err:?}").contains(body), "{err:?}");
        }
        assert_eq!(emu.total_calls(), 1);
    }
}

#[tokio::test]
async fn plain_http_to_a_remote_backend_is_refused() {
    let emu = Emulator::start().await.unwrap();
    emu.set_evbk(Some("evbk.gamooga.com".into()));
    let client = builder(&emu).build().unwrap();
    let err = client.track("u", &event()).await.unwrap_err();
    assert!(
        matches!(resolve_cause(&err), Error::InvalidBackend { reason, .. } if reason.contains("plain http")),
        "{err}"
    );
    assert_eq!(emu.total_calls(), 1);
}

#[tokio::test]
async fn company_information_errors_are_retried_like_calls() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_newnaconf_next(2, 503);
    let client = builder(&emu)
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    client.track("u", &event()).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 3);
    assert_eq!(emu.events().len(), 1);

    // An unknown company (404) is not transient: not retried, and not a resolution failure
    // the queue would keep events for.
    let emu = Emulator::start().await.unwrap();
    emu.fail_newnaconf_next(5, 404);
    let client = builder(&emu)
        .retry(RetryPolicy::default().max_attempts(3))
        .build()
        .unwrap();
    let err = client.track("u", &event()).await.unwrap_err();
    assert!(
        matches!(resolve_cause(&err), Error::Http { status: 404, .. }),
        "{err}"
    );
    assert!(!err.is_retryable() && !err.is_resolution_failure(), "{err}");
    assert_eq!(emu.count("newnaconf"), 1);
    let message = err.to_string();
    assert!(message.contains("newnaconf at 127.0.0.1:"), "{message}");
}

#[tokio::test]
async fn a_ttl_of_forever_caches_the_backend_for_good() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).resolve_ttl(Duration::MAX).build().unwrap();
    for i in 0..3 {
        client.track(&format!("u{i}"), &event()).await.unwrap();
    }
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.events().len(), 3);
}

// The CDN hiccup of the issue: the company information answers an HTML page with status 200.
// Fifty direct calls at once, each allowed 3 attempts, make one fetch per backoff step rather
// than one per attempt (150). Each fetch is followed by a backoff of at least 125 ms during
// which nobody fetches, so the count is bounded by the elapsed time, whatever the scheduling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_company_information_is_fetched_once_per_backoff_step() {
    let emu = Emulator::start().await.unwrap();
    emu.set_newnaconf_body(Some("<html>Service Unavailable</html>".into()));
    let client = builder(&emu)
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .max_elapsed(Some(Duration::from_secs(30))),
        )
        .build()
        .unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.track(&format!("user-{i}"), &event()).await })
        })
        .collect();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(err.is_resolution_failure(), "{err}");
        assert_eq!(err.attempts(), Some(3), "{err}");
        assert!(err.to_string().contains("after 3 attempt(s)"), "{err}");
        assert!(
            !err.to_string().contains("Service Unavailable"),
            "no body in the message: {err}"
        );
    }
    let elapsed = start.elapsed();
    let fetches = emu.count("newnaconf");
    let bound = 1 + (elapsed.as_millis() / 125) as usize;
    assert!(
        fetches >= 2 && fetches <= bound,
        "{fetches} fetches in {elapsed:?} (at most {bound})"
    );
    assert!(fetches <= 10, "{fetches} fetches: a storm");
    assert_eq!(emu.total_calls() as usize, fetches, "no backend call");
}

// A direct call rides out the hiccup within its retry policy, waiting the resolver's delay.
#[tokio::test]
async fn a_direct_call_waits_for_the_company_information_to_recover() {
    let emu = Emulator::start().await.unwrap();
    emu.set_newnaconf_body(Some("<html>oops</html>".into()));
    let client = builder(&emu).build().unwrap(); // RetryPolicy::none()
    let err = client.track("u0", &event()).await.unwrap_err();
    let wait = err.retry_after().expect("the resolver's delay");
    assert!(
        wait >= Duration::from_millis(125) && wait <= Duration::from_millis(250),
        "{wait:?}"
    );
    emu.set_newnaconf_body(None);

    // Three attempts, the resolver's delay between them: the second fetch succeeds.
    let client = builder(&emu)
        .retry(RetryPolicy::default().max_attempts(3))
        .build()
        .unwrap();
    emu.fail_newnaconf_next(1, 503);
    let before = emu.count("newnaconf");
    client.track("u1", &event()).await.unwrap();
    assert_eq!(emu.count("newnaconf") - before, 2);
    let users: Vec<_> = emu.events().into_iter().filter_map(|c| c.user_id).collect();
    assert_eq!(users, ["u1"]);
}

// An invalid evbk is never followed, and is fetched again after the backoff like any failure.
#[tokio::test]
async fn an_invalid_backend_is_retried_after_the_backoff() {
    let emu = Emulator::start().await.unwrap();
    emu.set_evbk(Some("http://evil.example/x".into()));
    let client = builder(&emu).build().unwrap();
    let err = client.track("u0", &event()).await.unwrap_err();
    assert!(err.is_resolution_failure(), "{err}");
    let wait = err.retry_after().unwrap();
    emu.set_evbk(None);
    tokio::time::sleep(wait).await;
    client.track("u1", &event()).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 2);
    let users: Vec<_> = emu.events().into_iter().filter_map(|c| c.user_id).collect();
    assert_eq!(users, ["u1"]);
}
