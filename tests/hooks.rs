//! The before-send hook (default properties, redaction, dropping with a count), the disabled
//! mode, and `?` from a queue's `EnqueueError` into `gamooga::Error`. What was sent is read
//! from the emulator, which decodes requests with its own parser.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gamooga::hook::{Action, Outgoing};
use gamooga::prelude::*;
use gamooga::transport::DryRunTransport;
use gamooga::{Calls, ClientBuilder, Endpoint, Error, InvalidInput};
use gamooga_emulator::Emulator;

#[derive(GamoogaEvent)]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
    email: &'a str,
}

#[derive(GamoogaEvent)]
struct DebugInfo {
    detail: String,
}

#[derive(VisitorProps)]
struct Profile<'a> {
    city: &'a str,
    email: &'a str,
}

fn builder(emu: &Emulator) -> ClientBuilder {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(30))
}

/// The recipe of the crate docs: default properties and redaction.
fn defaults_and_redaction(out: &mut Outgoing<'_>) -> Action {
    if out.event_name().is_some() {
        out.properties_mut().set("app_version", "1.4.2");
        out.properties_mut().set("env", "staging");
    }
    if out.properties().contains("email") {
        out.properties_mut().set("email", "[redacted]");
    }
    if let Some(visitor) = out.visitor_properties_mut() {
        if visitor.contains("email") {
            visitor.set("email", "[redacted]");
        }
    }
    Action::Keep
}

fn property(call: &gamooga_emulator::RecordedCall, name: &str) -> Option<(String, char)> {
    call.event_property(name)
        .or_else(|| call.visitor_property(name))
        .map(|p| (p.value.clone(), p.datatype))
}

#[tokio::test]
async fn the_hook_adds_default_properties_and_redacts_in_every_call() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu)
        .before_send(defaults_and_redaction)
        .build()
        .unwrap();
    let purchase = Purchase {
        sku: "A&B",
        amount: 12.5,
        email: "alice@example.com",
    };
    let profile = Profile {
        city: "Tokyo",
        email: "alice@example.com",
    };
    purchase.track(&client, "user-42").await.unwrap();
    purchase
        .track_with(&client, "user-42", &profile)
        .await
        .unwrap();
    let visitor = client.identify("user-42").await.unwrap();
    purchase.track_visitor(&client, &visitor).await.unwrap();
    profile.push(&client, &visitor).await.unwrap();

    let calls: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.endpoint != "newnaconf" && c.endpoint != "id")
        .collect();
    let endpoints: Vec<&str> = calls.iter().map(|c| c.endpoint.as_str()).collect();
    assert_eq!(endpoints, ["evwid", "evvprwid", "ev", "vpr"]);
    for call in &calls {
        assert!(call.is_accepted(), "{call:?}");
        assert_eq!(
            property(call, "email"),
            Some(("[redacted]".into(), 's')),
            "{}",
            call.endpoint
        );
        assert!(!call.raw_query.contains("alice"), "{}", call.raw_query);
    }
    for call in &calls[..3] {
        // The event's own fields first, in declaration order, then the defaults.
        let names: Vec<&str> = call
            .event_properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["sku", "amount", "email", "app_version", "env"],
            "{}",
            call.endpoint
        );
        assert_eq!(
            property(call, "amount"),
            Some(("12.5".into(), 'n')),
            "{}",
            call.endpoint
        );
        assert_eq!(property(call, "sku"), Some(("A&B".into(), 's')));
    }
    // A visitor push has no event: no defaults, only the redaction.
    assert!(calls[3].visitor_property("app_version").is_none());
    assert_eq!(client.stats().before_send_dropped, 0);
}

#[tokio::test]
async fn the_get_limit_is_checked_after_the_hook() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu)
        .get_limit(250)
        .before_send(defaults_and_redaction)
        .build()
        .unwrap();
    let unhooked = builder(&emu).get_limit(250).build().unwrap();
    let email = format!("{}@example.com", "a".repeat(200));
    let long = Purchase {
        sku: "A-1",
        amount: 1.0,
        email: &email,
    };
    long.track(&unhooked, "user-42").await.unwrap();
    long.track(&client, "user-42").await.unwrap();
    let calls = emu.events();
    // Without the hook the event is too long for a GET; redacted, it is short.
    assert_eq!(calls[0].endpoint, "evwidj");
    assert_eq!(calls[1].endpoint, "evwid");
    assert_eq!(
        property(&calls[1], "email"),
        Some(("[redacted]".into(), 's'))
    );
}

#[tokio::test]
async fn dropped_events_are_counted_and_never_sent_or_queued() {
    let emu = Emulator::start().await.unwrap();
    // Drops every `debug_info` event, and keeps one purchase in two (a deterministic sampler).
    let seen = Arc::new(AtomicU64::new(0));
    let sampler = seen.clone();
    let client = builder(&emu)
        .before_send(move |out| match out.event_name() {
            Some("debug_info") => Action::Drop,
            Some("purchase") if sampler.fetch_add(1, Ordering::SeqCst) % 2 == 1 => Action::Drop,
            _ => Action::Keep,
        })
        .build()
        .unwrap();
    let purchase = Purchase {
        sku: "A-1",
        amount: 1.0,
        email: "x",
    };
    for _ in 0..4 {
        purchase.track(&client, "user-42").await.unwrap(); // a dropped one is Ok too
    }
    DebugInfo { detail: "x".into() }
        .track(&client, "user-42")
        .await
        .unwrap();
    assert_eq!(client.stats().before_send_dropped, 3);
    assert_eq!(emu.count("evwid"), 2);

    // The queue builds with the same hook, at enqueue time, and counts its own drops.
    let queue = client.queue(QueueConfig::default()).unwrap();
    for _ in 0..4 {
        purchase.enqueue(&queue, "user-43").await.unwrap();
    }
    DebugInfo { detail: "x".into() }
        .try_enqueue(&queue, "user-43")
        .unwrap();
    queue
        .track("user-43", &DebugInfo { detail: "y".into() })
        .await
        .unwrap();
    let stats = queue.stats();
    assert_eq!(stats.before_send_dropped, 4);
    assert_eq!(stats.enqueued, 2, "dropped events are never accepted");
    let report = queue.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.delivered, 2);
    assert_eq!(report.stats.enqueued, report.stats.accounted());
    assert_eq!(emu.count("evwid"), 4);
    assert_eq!(
        client.stats().before_send_dropped,
        3,
        "the queue counts its own"
    );
    assert!(emu
        .events()
        .iter()
        .all(|c| c.event.as_deref() == Some("purchase")));
}

#[test]
fn the_pure_builders_say_a_call_was_dropped() {
    let calls = Calls::new("acme")
        .unwrap()
        .with_before_send(|_| Action::Drop);
    let profile = Profile {
        city: "Tokyo",
        email: "x",
    };
    match calls.track("user-42", &DebugInfo { detail: "x".into() }) {
        Err(e @ InvalidInput::DroppedByHook { .. }) => {
            assert!(e.is_dropped_by_hook());
            assert_eq!(
                e.to_string(),
                "the before-send hook dropped the evwid call of the event `debug_info`"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        calls.push_visitor("0123456789abcdef", &profile),
        Err(InvalidInput::DroppedByHook {
            call: Endpoint::Vpr,
            event: None
        })
    ));
    // Ids are checked before the hook runs.
    assert!(matches!(
        calls.track("", &DebugInfo { detail: "x".into() }),
        Err(InvalidInput::EmptyUserId)
    ));
    assert_eq!(calls.stats().before_send_dropped, 2);
}

#[test]
fn a_value_the_hook_sets_is_checked_when_the_call_is_built() {
    let calls = Calls::new("acme").unwrap().with_before_send(|out| {
        out.properties_mut().set("ratio", f64::NAN);
        Action::Keep
    });
    assert!(matches!(
        calls.track("user-42", &DebugInfo { detail: "x".into() }),
        Err(InvalidInput::NonFiniteNumber { .. })
    ));
}

#[tokio::test]
async fn a_disabled_client_checks_and_sends_nothing() {
    let dry = Arc::new(DryRunTransport::new());
    let client = Client::builder("acme")
        .transport(dry.clone())
        .disabled(true)
        .build()
        .unwrap();
    assert!(client.is_disabled());
    let purchase = Purchase {
        sku: "A-1",
        amount: 1.0,
        email: "x",
    };
    purchase.track(&client, "user-42").await.unwrap();
    let profile = Profile {
        city: "Tokyo",
        email: "x",
    };
    let visitor = client.identify("user-42").await.unwrap();
    assert_eq!(visitor.len(), 16);
    assert_eq!(client.identify("user-42").await.unwrap(), visitor);
    assert_ne!(client.identify("user-43").await.unwrap(), visitor);
    profile.push(&client, &visitor).await.unwrap();
    client
        .push_visitor_for_user("user-42", &profile)
        .await
        .unwrap();
    // Bad input is still refused.
    let bad = Purchase {
        sku: "A-1",
        amount: f64::NAN,
        email: "x",
    };
    assert!(matches!(
        bad.track(&client, "user-42").await,
        Err(Error::InvalidInput(InvalidInput::NonFiniteNumber { .. }))
    ));
    assert!(client.track("bad\nid", &bad).await.is_err());
    assert!(matches!(client.backend().await, Err(Error::Config(_))));
    assert_eq!(client.stats().disabled_dropped, 6);
    assert!(dry.requests().is_empty(), "no network call at all");

    // Its queue checks each event and drops it at once.
    let queue = client.queue(QueueConfig::default()).unwrap();
    purchase.enqueue(&queue, "user-42").await.unwrap();
    purchase.try_enqueue(&queue, "user-42").unwrap();
    profile.enqueue_for_user(&queue, "user-42").await.unwrap();
    assert!(bad.try_enqueue(&queue, "user-42").is_err());
    let report = queue.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.disabled_dropped, 3);
    assert_eq!((report.stats.enqueued, report.delivered), (0, 0));
    assert!(dry.requests().is_empty());
}

#[test]
fn gamooga_disabled_in_the_environment_disables() {
    // The only test of this binary that touches the environment.
    std::env::set_var("GAMOOGA_COMPANY_ID", "acme");
    std::env::set_var("GAMOOGA_DISABLED", "1");
    assert!(Client::from_env().unwrap().is_disabled());
    std::env::set_var("GAMOOGA_DISABLED", "false");
    assert!(!Client::from_env().unwrap().is_disabled());
    std::env::set_var("GAMOOGA_DISABLED", "yes");
    match Client::from_env() {
        Err(Error::Config(message)) => assert!(message.contains("GAMOOGA_DISABLED"), "{message}"),
        other => panic!("{other:?}"),
    }
    std::env::remove_var("GAMOOGA_DISABLED");
    assert!(!Client::from_env().unwrap().is_disabled());
    std::env::remove_var("GAMOOGA_COMPANY_ID");
}

/// A handler returning `gamooga::Result`, as in a web service: `?` on an enqueue.
fn handler(queue: &Queue, user_id: &str) -> gamooga::Result<()> {
    Purchase {
        sku: "A-1",
        amount: 1.0,
        email: "x",
    }
    .try_enqueue(queue, user_id)?;
    Ok(())
}

#[tokio::test]
async fn an_enqueue_error_converts_into_gamooga_error_keeping_the_request() {
    let dry = Arc::new(DryRunTransport::new());
    let client = Client::builder("acme")
        .transport(dry.clone())
        .build()
        .unwrap();
    let queue = client
        .queue(
            QueueConfig::default()
                .capacity(1)
                .overflow(Overflow::Refuse),
        )
        .unwrap();
    // Input refused: the same `InvalidInput` a direct call gives.
    assert!(matches!(
        handler(&queue, ""),
        Err(Error::InvalidInput(InvalidInput::EmptyUserId))
    ));
    // Fill the queue without letting it deliver (the current-thread runtime is ours).
    handler(&queue, "user-1").unwrap();
    let full = handler(&queue, "user-2").unwrap_err();
    assert!(matches!(
        full.enqueue_error(),
        Some(EnqueueError::Full { capacity: 1, .. })
    ));
    assert!(full.to_string().contains("full"), "{full}");
    let debug = format!("{full:?}");
    assert!(
        debug.contains("Enqueue") && !debug.contains("user-2"),
        "{debug}"
    );
    let request = full.clone().into_request().unwrap();
    assert_eq!(request.endpoint(), Endpoint::Evwid);
    assert!(request.query().starts_with("c=acme&u=user-2&e=purchase"));
    assert_eq!(full.request(), Some(&request));

    queue.shutdown(Duration::from_secs(5)).await;
    let closed = handler(&queue, "user-3").unwrap_err();
    assert!(matches!(
        closed.enqueue_error(),
        Some(EnqueueError::Closed { .. })
    ));
    assert!(closed.into_request().unwrap().query().contains("u=user-3"));
}
