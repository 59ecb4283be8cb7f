//! What relays share beyond rows: a `429` with `Retry-After` seen by one relay pauses every
//! relay of the company; a failing resolver pauses them without dead-lettering; a commit
//! wakes an idle relay through `LISTEN`/`NOTIFY`.

use crate::common;

use std::time::Duration;

use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx;
use gamooga::outbox::{Outbox, Relay};
use gamooga_emulator::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_pauses_every_relay_of_the_company() {
    let Some(db) = common::test_db("pause").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    // Two relays, each as on its own machine (its own pool and LISTEN connection); at most
    // two requests in flight each.
    let mut relays = Vec::new();
    for name in ["relay-a", "relay-b"] {
        relays.push(
            Relay::new(db.pool(4).await, client.clone())
                .name(name)
                .concurrency(2)
                .batch_size(4)
                .retry(common::patient().max_retry_after(std::time::Duration::from_secs(10)))
                .start()
                .await
                .unwrap(),
        );
    }
    // 50 ms a call, two at a time per relay: 80 events take each relay about a second, so
    // without a shared pause the other relay would go on sending through the 3 s pause.
    emu.set_latency(Some(Duration::from_millis(50)));
    emu.fail_next_with_retry_after(1, 429, 3);
    let events: Vec<_> = (0..80)
        .map(|seq| {
            outbox
                .calls()
                .track("user-1", &common::numbered(seq))
                .unwrap()
        })
        .collect();
    outbox.enqueue_many_in(&db.pool, &events).await.unwrap();

    assert!(
        emu.wait_for(
            |c| c.iter().any(|c| c.status == 429),
            Duration::from_secs(20)
        )
        .await,
        "the 429 was answered"
    );
    // The relay that got it writes the pause (right after the answer); the table shows it.
    let mut table = outbox.stats(&db.pool).await.unwrap();
    for _ in 0..100 {
        if table.pause_cause.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        table = outbox.stats(&db.pool).await.unwrap();
    }
    assert_eq!(
        table.pause_cause.as_deref(),
        Some("backpressure"),
        "{table:?}"
    );
    assert!(
        table
            .paused_for
            .is_some_and(|d| d <= Duration::from_secs(3)),
        "{table:?}"
    );

    let accepted = |calls: &[gamooga_emulator::RecordedCall]| {
        calls
            .iter()
            .filter(|c| c.status == 200 && c.event.is_some())
            .count()
    };
    assert!(
        emu.wait_for(|c| accepted(c) == 80, Duration::from_secs(60))
            .await,
        "all delivered after the pause"
    );
    let mut reports = Vec::new();
    for relay in relays {
        reports.push(relay.shutdown(Duration::from_secs(5)).await);
    }
    let calls = emu.calls();
    let limited = calls.iter().find(|c| c.status == 429).unwrap();
    let t = limited.received_ms;
    // The other relay learns of the pause within milliseconds (the pause row's trigger
    // notifies it), and cannot claim once the row is committed: until it knows, it may send
    // at most what it holds (2 in flight + a batch of 4, + a claim under way of 4), and the
    // first relay its other attempt in flight. After that, nothing until the pause ends.
    let after = |from: u64, to: u64| -> Vec<u64> {
        calls
            .iter()
            .filter(|c| c.event.is_some() && c.received_ms > t + from && c.received_ms < t + to)
            .map(|c| c.received_ms - t)
            .collect()
    };
    let propagating = after(0, 500);
    let paused = after(500, 2_900);
    assert!(
        paused.is_empty(),
        "calls during the pause, ms after the 429: {paused:?}"
    );
    assert!(
        propagating.len() <= 11,
        "calls while the pause spread, ms after the 429: {propagating:?}"
    );
    let resumed = calls
        .iter()
        .filter(|c| c.event.is_some() && c.received_ms >= t + 2_900)
        .count();
    assert!(
        resumed > 40,
        "most events were sent after the pause: {resumed}"
    );
    let (paused_it, other) = if reports[0].stats.backpressure_pauses == 1 {
        (&reports[0], &reports[1])
    } else {
        (&reports[1], &reports[0])
    };
    assert_eq!(paused_it.stats.backpressure_pauses, 1, "{reports:?}");
    assert_eq!(other.stats.backpressure_pauses, 0, "{reports:?}");
    assert!(
        other.stats.pauses_observed >= 1,
        "the other relay learnt of the pause: {reports:?}"
    );
    assert!(reports.iter().all(|r| r.stats.dead_lettered == 0));
    assert_eq!(reports.iter().map(|r| r.stats.delivered).sum::<u64>(), 80);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_backend_pauses_without_dead_letters() {
    let Some(db) = common::test_db("unresolved").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    // The company information answers an HTML page (status 200): not a backend.
    emu.set_newnaconf_body(Some("<html>CDN hiccup</html>".into()));
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    for seq in 0..20 {
        common::numbered(seq)
            .enqueue_in(&outbox, &db.pool, "user-1")
            .await
            .unwrap();
    }
    let relay = Relay::new(db.pool(4).await, client)
        .pause_floor(Duration::from_millis(100))
        .retry(gamooga::retry::RetryPolicy::background().max_attempts(2))
        .start()
        .await
        .unwrap();
    assert!(
        emu.wait_for(
            |c| c.iter().filter(|c| c.endpoint == "newnaconf").count() >= 2,
            Duration::from_secs(20)
        )
        .await
    );
    emu.set_newnaconf_body(None);
    assert!(
        emu.wait_for(
            |c| c.iter().filter(|c| c.event.is_some()).count() == 20,
            Duration::from_secs(30)
        )
        .await
    );
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert!(report.stats.resolution_pauses >= 1, "{report:?}");
    // Waiting for the resolver used up no attempt (two allowed), so nothing died.
    assert_eq!(report.stats.dead_lettered, 0, "{report:?}");
    assert_eq!(report.stats.delivered, 20);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_an_idle_relay() {
    let Some(db) = common::test_db("notify").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    // Once idle for a second it sleeps on LISTEN and polls once a minute: only the
    // notification can bring it back within the test.
    let relay = Relay::new(db.pool(4).await, client)
        .name("sleeper")
        .idle_poll(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    for seq in 0..3 {
        // Asleep: it asked to be notified (after the last delivery it first withdrew the
        // request, busy again, then asked anew a second later).
        let asleep = || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM gamooga_outbox_idle WHERE relay = 'sleeper'",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            n == 1
        };
        let wait = |want: bool| async move {
            for _ in 0..400 {
                if asleep().await == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!(
                "the relay never got {}",
                if want { "to sleep" } else { "busy" }
            );
        };
        if seq > 0 {
            wait(false).await;
        }
        wait(true).await;
        let before = relay.stats();
        let mut tx = db.pool.begin().await.unwrap();
        common::numbered(seq)
            .enqueue_in(&outbox, &mut *tx, "user-1")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            emu.wait_for(
                |c| c.iter().filter(|c| c.event.is_some()).count() as u64 == seq + 1,
                Duration::from_secs(15)
            )
            .await,
            "event {seq} was delivered long before the minute's poll"
        );
        assert!(
            relay.stats().notifications > before.notifications,
            "woken by a notification"
        );
    }
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.delivered, 3);
    db.drop_schema().await;
}

/// The next notification of a `gated-…` company. The channel is the database's, shared with
/// the other tests' schemas running at the same time: their notifications are skipped.
async fn next_gated(listener: &mut sqlx::postgres::PgListener) -> String {
    loop {
        let n = listener.recv().await.unwrap();
        if n.payload().starts_with("gated-") {
            return n.payload().to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_commits_for_a_sleeping_relay_notify() {
    let Some(db) = common::test_db("gated").await else {
        return;
    };
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("gamooga_outbox").await.unwrap();
    let enqueue = |company: &'static str| {
        let pool = db.pool.clone();
        async move {
            let outbox = Outbox::new(gamooga::Calls::new(company).unwrap());
            common::numbered(1)
                .enqueue_in(&outbox, &pool, "user-1")
                .await
                .unwrap();
        }
    };
    let sleep_on = |company: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query("INSERT INTO gamooga_outbox_idle (relay, company, until) VALUES ($1, $1, now() + interval '1 minute')")
                .bind(company)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    // No relay of `gated-busy` sleeps: its commit notifies no one. Then one of `gated-asleep` does.
    enqueue("gated-busy").await;
    sleep_on("gated-asleep").await;
    enqueue("gated-asleep").await;
    // Notifications arrive in commit order: had the first commit notified, it would be first.
    assert_eq!(next_gated(&mut listener).await, "gated-asleep");
    // A rolled-back enqueue notifies no one, even with a relay asleep; an expired request
    // is not honoured.
    let outbox = Outbox::new(gamooga::Calls::new("gated-asleep").unwrap());
    let mut tx = db.pool.begin().await.unwrap();
    common::numbered(2)
        .enqueue_in(&outbox, &mut *tx, "user-1")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    sqlx::query("INSERT INTO gamooga_outbox_idle (relay, company, until) VALUES ('stale', 'gated-expired', now() - interval '1 second')")
        .execute(&db.pool)
        .await
        .unwrap();
    enqueue("gated-expired").await;
    sleep_on("gated-last").await;
    enqueue("gated-last").await;
    assert_eq!(next_gated(&mut listener).await, "gated-last");
    db.drop_schema().await;
}
