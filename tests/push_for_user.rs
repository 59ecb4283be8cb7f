//! Visitor properties queued by user id: the handler never waits for Gamooga (not even for
//! the visitor id); the queue looks the visitor id up with `id` at delivery (cached per user
//! id, counted), retries a failed lookup with the push, loses nothing during an outage, and
//! with the spool keeps the push across a restart. Checked against the emulator, which maps
//! user ids to visitor ids itself.

use std::time::Duration;

use gamooga::prelude::*;
use gamooga::queue::QueueStats;
use gamooga::{ClientBuilder, RetryPolicy};
use gamooga_emulator::{Emulator, RecordedCall};

#[derive(VisitorProps)]
struct Profile<'a> {
    city: &'a str,
    vip: bool,
}

/// A client that skips resolution (a fixed backend), so an outage shows as connection
/// errors of the calls themselves.
fn builder(emu: &Emulator) -> ClientBuilder {
    Client::builder("acme")
        .config_url(emu.config_url())
        .backend(emu.backend())
        .timeout(Duration::from_secs(5))
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy::background()
        .max_attempts(10_000)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(50))
}

fn calls_to(emu: &Emulator, endpoint: &str) -> Vec<RecordedCall> {
    emu.calls()
        .into_iter()
        .filter(|c| c.endpoint == endpoint && c.is_accepted())
        .collect()
}

/// Waits (polling the queue's counters) until `done` holds; fails after 30 s.
async fn until(queue: &Queue, done: impl Fn(&QueueStats) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(&queue.stats()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            queue.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn pushes_by_user_id_look_the_visitor_up_once_per_user() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();
    Profile {
        city: "Tokyo",
        vip: true,
    }
    .enqueue_for_user(&queue, "user-42")
    .await
    .unwrap();
    Profile {
        city: "Osaka",
        vip: false,
    }
    .try_enqueue_for_user(&queue, "user-42")
    .unwrap();
    queue
        .push_visitor_for_user(
            "user 43",
            &Profile {
                city: "Kyoto",
                vip: true,
            },
        )
        .await
        .unwrap();
    let report = queue.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.delivered, report.dead_lettered), (3, 0));
    assert_eq!(
        (
            report.stats.identify_lookups,
            report.stats.identify_cache_hits
        ),
        (2, 1)
    );
    assert_eq!(calls_to(&emu, "id").len(), 2);
    let pushes = calls_to(&emu, "vpr");
    assert_eq!(pushes.len(), 3);
    let v42 = emu.visitor_of("user-42").unwrap();
    let v43 = emu.visitor_of("user 43").unwrap();
    assert_ne!(v42, v43);
    for push in &pushes {
        assert!(push.user_id.is_none(), "vpr goes by visitor id only");
        let visitor = push.visitor_id.as_deref().unwrap();
        assert!(visitor == v42 || visitor == v43);
    }
    // Last write wins at the visitor's: the later push of user-42 was Osaka.
    let city = |v: &str| {
        emu.visitor_properties(v)
            .into_iter()
            .find(|p| p.name == "city")
            .map(|p| p.value)
    };
    assert_eq!(city(&v42).as_deref(), Some("Osaka"));
    assert_eq!(city(&v43).as_deref(), Some("Kyoto"));
    // The client's own counters are apart from the queue's.
    assert_eq!(client.stats().identify_lookups, 0);
}

#[tokio::test]
async fn a_push_enqueued_during_an_outage_waits_and_is_delivered_after_it() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    let queue = client
        .queue(QueueConfig::default().retry(quick_retry()))
        .unwrap();
    emu.go_down().await;
    // The handler's part: it returns at once, Gamooga being down.
    Profile {
        city: "Tokyo",
        vip: true,
    }
    .enqueue_for_user(&queue, "user-42")
    .await
    .unwrap();
    assert_eq!(queue.stats().enqueued, 1);
    // The lookup fails, attempt after attempt; nothing is lost.
    until(&queue, |s| s.retried >= 3).await;
    let stats = queue.stats();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.depth),
        (0, 0, 1)
    );
    assert!(stats.identify_lookups >= 3, "{stats:?}");
    assert!(stats.last_error.unwrap().starts_with("id at "));
    emu.come_up().await.unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(30)).await);
    let report = queue.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.delivered, report.dead_lettered), (1, 0));
    let visitor = emu.visitor_of("user-42").unwrap();
    let pushes = calls_to(&emu, "vpr");
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].visitor_id.as_deref(), Some(visitor.as_str()));
}

#[tokio::test]
async fn a_failed_lookup_fails_the_attempt_which_is_retried_with_the_push() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    let queue = client
        .queue(QueueConfig::default().retry(quick_retry()))
        .unwrap();
    // The next two backend calls answer 503: the id call of the first attempt, and of
    // the second.
    emu.fail_next(2, 503);
    Profile {
        city: "Tokyo",
        vip: true,
    }
    .enqueue_for_user(&queue, "user-42")
    .await
    .unwrap();
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!((report.delivered, report.retried), (1, 2));
    assert_eq!(report.stats.identify_lookups, 3);
    let ids: Vec<u16> = emu
        .calls()
        .iter()
        .filter(|c| c.endpoint == "id")
        .map(|c| c.status)
        .collect();
    assert_eq!(ids, [503, 503, 200]);
    assert_eq!(calls_to(&emu, "vpr").len(), 1);
}

#[tokio::test]
async fn the_hook_sees_a_push_by_user_id_as_a_visitor_push() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu)
        .before_send(|out| {
            assert_eq!(out.endpoint(), gamooga::Endpoint::Vpr);
            out.properties_mut().remove("vip");
            gamooga::hook::Action::Keep
        })
        .build()
        .unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();
    Profile {
        city: "Tokyo",
        vip: true,
    }
    .enqueue_for_user(&queue, "user-42")
    .await
    .unwrap();
    queue.shutdown(Duration::from_secs(10)).await;
    let push = calls_to(&emu, "vpr").pop().unwrap();
    assert!(push.visitor_property("vip").is_none());
    assert!(push.visitor_property("city").is_some());
}

#[cfg(feature = "spool")]
#[tokio::test]
async fn with_the_spool_a_push_by_user_id_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.db");
    let emu = Emulator::start().await.unwrap();
    emu.go_down().await;
    {
        let client = builder(&emu).build().unwrap();
        let queue = client
            .queue(QueueConfig::default().spool(&spool).retry(quick_retry()))
            .unwrap();
        Profile {
            city: "Tokyo",
            vip: true,
        }
        .enqueue_for_user(&queue, "user-42")
        .await
        .unwrap();
        until(&queue, |s| s.retried >= 1).await;
        let report = queue.shutdown(Duration::from_millis(50)).await;
        assert_eq!((report.delivered, report.still_spooled), (0, 1));
    }
    emu.come_up().await.unwrap();
    // A new process: a new client (an empty cache) on the same spool.
    let client = builder(&emu).build().unwrap();
    let queue = client
        .queue(QueueConfig::default().spool(&spool).retry(quick_retry()))
        .unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(30)).await);
    let report = queue.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        (
            report.stats.replayed,
            report.delivered,
            report.still_spooled
        ),
        (1, 1, 0)
    );
    assert_eq!(report.stats.identify_lookups, 1);
    let visitor = emu.visitor_of("user-42").unwrap();
    let push = calls_to(&emu, "vpr").pop().unwrap();
    assert_eq!(push.visitor_id.as_deref(), Some(visitor.as_str()));
    assert_eq!(push.visitor_property("city").unwrap().value, "Tokyo");
}
