//! A relay's shutdown is bounded and hands its rows back: rows not started are released at
//! once, attempts still running at the deadline are abandoned (counted ambiguous) and their
//! rows handed back too, so another relay takes them without waiting for the lease.

use crate::common;

use std::time::{Duration, Instant};

use gamooga::outbox::prelude::*;
use gamooga::outbox::{Outbox, Relay};
use gamooga_emulator::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_and_hands_every_row_back() {
    let Some(db) = common::test_db("shutdown").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu); // 2 s timeout
    let outbox = Outbox::for_client(&client);
    for seq in 0..10 {
        common::numbered(seq)
            .enqueue_in(&outbox, &db.pool, "user-1")
            .await
            .unwrap();
    }
    // Every answer takes 1.5 s: two attempts run, eight rows wait in the relay's batch.
    emu.set_latency(Some(Duration::from_millis(1500)));
    let relay = Relay::new(db.pool(4).await, client.clone())
        .concurrency(2)
        .batch_size(10)
        .lease(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    for _ in 0..500 {
        if relay.stats().in_flight == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = relay.stats();
    assert_eq!((stats.in_flight, stats.held), (2, 10), "{stats:?}");

    let asked = Instant::now();
    let report = relay.shutdown(Duration::from_millis(200)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "bounded: {:?}",
        asked.elapsed()
    );
    let s = &report.stats;
    assert!(!report.completed, "{report:?}");
    assert_eq!((s.abandoned, s.released, s.held), (2, 8, 0), "{report:?}");
    assert_eq!(
        s.ambiguous, 2,
        "an abandoned attempt may have reached Gamooga: {report:?}"
    );
    assert_eq!(s.claimed, s.accounted(), "{report:?}");
    // Every row is back, due now, leased by no one (not after the 60 s lease).
    let table = outbox.stats(&db.pool).await.unwrap();
    assert_eq!(
        (table.pending, table.due, table.leased),
        (10, 10, 0),
        "{table:?}"
    );

    emu.set_latency(None);
    let next = Relay::new(db.pool(4).await, client).start().await.unwrap();
    let accepted = |c: &[gamooga_emulator::RecordedCall]| {
        let mut seqs: Vec<u64> = c
            .iter()
            .filter(|c| c.status == 200)
            .filter_map(common::seq_of)
            .collect();
        seqs.sort();
        seqs.dedup();
        seqs.len()
    };
    assert!(
        emu.wait_for(|c| accepted(c) == 10, Duration::from_secs(20))
            .await
    );
    let report = next.shutdown(Duration::from_secs(5)).await;
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 10);
    assert_eq!(db.count(None).await, 0);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_until_stops_on_its_signal_and_reports() {
    let Some(db) = common::test_db("rununtil").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    for seq in 0..5 {
        common::numbered(seq)
            .enqueue_in(&outbox, &db.pool, "user-1")
            .await
            .unwrap();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(
        Relay::new(db.pool(4).await, client)
            .shutdown_grace(Duration::from_secs(5))
            .run_until(async {
                let _ = stopped.await;
            }),
    );
    assert!(
        emu.wait_for(
            |c| c.iter().filter(|c| c.event.is_some()).count() == 5,
            Duration::from_secs(20)
        )
        .await
    );
    stop.send(()).unwrap();
    let report = relay.await.unwrap().unwrap();
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 5);
    db.drop_schema().await;
}
