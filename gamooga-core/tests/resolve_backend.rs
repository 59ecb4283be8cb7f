//! The resolver against the emulator: caching, single flight, stale-on-error, backend moves,
//! early refresh after connection failures, and refusal of bad `evbk` values.

use std::time::Duration;

use gamooga_core::{Client, CustomEvent, Error, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

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
                err,
                Error::Decode {
                    call: "newnaconf",
                    ..
                }
            ),
            "{err}"
        );
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

    // Garbage and an invalid evbk on refresh: also served from the last good value.
    tokio::time::sleep(Duration::from_millis(120)).await;
    emu.set_newnaconf_body(Some("not json".into()));
    client.track("u3", &event()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
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
        match client.track("u", &event()).await {
            Err(Error::InvalidBackend { value, reason }) => {
                assert_eq!(value, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad:?} was not refused: {other:?}"),
        }
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
        assert!(matches!(err, Error::InvalidBackend { .. }), "{body}: {err}");
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
        match client.identify("u").await {
            Err(Error::Decode {
                call: "newnaconf",
                body: quoted,
                ..
            }) => assert_eq!(quoted, body),
            other => panic!("{body:?}: {other:?}"),
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
        matches!(err, Error::Config(ref m) if m.contains("plain http")),
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

    let emu = Emulator::start().await.unwrap();
    emu.fail_newnaconf_next(1, 404);
    let client = builder(&emu).build().unwrap();
    let err = client.track("u", &event()).await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 404, .. }), "{err}");
}
