//! Dead letters: a rejected event ends dead with its reason and can be replayed; one whose
//! retries run out too; a row that does not decode is never sent; a panicking delivery is
//! contained; old dead letters are pruned.

use crate::common;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx;
use gamooga::outbox::{DeadLetterFilter, Outbox, Relay};
use gamooga::queue::{DeadLetterReason, Deliver};
use gamooga::retry::RetryPolicy;
use gamooga::{Calls, Client, Error, Request};
use gamooga_emulator::Emulator;

/// Waits until `check` holds on the table's rows, or panics.
async fn until<F: Fn(i64, i64) -> bool>(db: &common::TestDb, check: F) {
    for _ in 0..400 {
        let pending = db.count(Some("pending")).await;
        let dead = db.count(Some("dead")).await;
        if check(pending, dead) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the table never got there: {} pending, {} dead",
        db.count(Some("pending")).await,
        db.count(Some("dead")).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_event_ends_dead_with_its_reason_and_is_replayed() {
    let Some(db) = common::test_db("rejected").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    emu.fail_next(1, 400);
    let rejected = common::numbered(1)
        .enqueue_in(&outbox, &db.pool, "secret-user-1")
        .await
        .unwrap();
    let relay = Relay::new(db.pool(4).await, client.clone())
        .retry(common::patient())
        .start()
        .await
        .unwrap();
    until(&db, |pending, dead| pending == 0 && dead == 1).await;
    let stats = relay.stats();
    assert_eq!(stats.dead_letters.rejected, 1, "{stats:?}");
    assert_eq!(stats.dead_lettered, 1);
    assert_eq!(stats.retried, 0, "a 400 is not retried");

    let dead = outbox.dead_letters(&db.pool, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let dl = &dead[0];
    assert_eq!(dl.id, rejected);
    assert_eq!(dl.reason, "rejected");
    assert_eq!(dl.dead_letter_reason(), Some(DeadLetterReason::Rejected));
    assert_eq!(dl.attempts, 1);
    assert!(dl.last_error.as_deref().unwrap().contains("400"), "{dl:?}");
    let request = dl.request.as_ref().unwrap();
    assert!(request.query().contains("u=secret-user-1"));
    assert!(dl.dead_at >= dl.enqueued_at);
    // Its Debug shows the call and the event, not the user.
    let debug = format!("{dl:?}");
    assert!(
        debug.contains("numbered") && !debug.contains("secret-user"),
        "{debug}"
    );
    let table = outbox.stats(&db.pool).await.unwrap();
    assert_eq!((table.pending, table.dead), (0, 1), "{table:?}");

    // Replayed: pending again with a fresh budget, delivered (the emulator accepts it now).
    let replayed = outbox
        .replay_dead_letters(&db.pool, &DeadLetterFilter::Ids(vec![rejected]))
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    until(&db, |pending, dead| pending == 0 && dead == 0).await;
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.delivered, 1, "{report:?}");
    let events = emu.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id.as_deref(), Some("secret-user-1"));
    assert_eq!(
        events[0].raw_query,
        request.query(),
        "the very request enqueued, tm included"
    );
    // Nothing left to replay.
    assert_eq!(
        outbox
            .replay_dead_letters(&db.pool, &DeadLetterFilter::All)
            .await
            .unwrap(),
        0
    );
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_run_out_and_dead_letters_can_be_removed() {
    let Some(db) = common::test_db("exhausted").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    emu.set_failure_rate(1.0, 503);
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    for seq in 0..3 {
        common::numbered(seq)
            .enqueue_in(&outbox, &db.pool, "user-1")
            .await
            .unwrap();
    }
    let relay = Relay::new(db.pool(4).await, client)
        .retry(
            RetryPolicy::background()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(20)),
        )
        .start()
        .await
        .unwrap();
    until(&db, |pending, dead| pending == 0 && dead == 3).await;
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.dead_letters.retries_exhausted, 3, "{report:?}");
    assert_eq!(report.stats.retried, 6, "two retries each: {report:?}");
    assert_eq!(emu.count("evwid"), 9, "three attempts each, by the policy");
    assert!(report.stats.failing_since.is_some() && report.stats.last_error.is_some());
    let dead = outbox.dead_letters(&db.pool, 10).await.unwrap();
    assert!(
        dead.iter()
            .all(|d| d.reason == "retries_exhausted" && d.attempts == 3),
        "{dead:?}"
    );
    // Removal by reason: another reason removes nothing.
    let none = outbox
        .remove_dead_letters(&db.pool, &DeadLetterFilter::Reason("rejected".into()))
        .await
        .unwrap();
    assert_eq!(none, 0);
    let removed = outbox
        .remove_dead_letters(
            &db.pool,
            &DeadLetterFilter::Reason("retries_exhausted".into()),
        )
        .await
        .unwrap();
    assert_eq!(removed, 3);
    assert_eq!(db.count(None).await, 0);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_does_not_decode_is_never_sent() {
    let Some(db) = common::test_db("undecodable").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    // Rows written by hand: a query with a byte the encoder never writes, an unknown call,
    // the company-information call, a GET with a body.
    for (endpoint, method, query, body) in [
        ("evwid", "GET", "c=acme&u=u1&e=x#frag", None),
        ("delete_everything", "GET", "c=acme", None),
        ("newnaconf", "GET", "c=acme", None),
        ("evwid", "GET", "c=acme&u=u1&e=x", Some("{}")),
    ] {
        sqlx::query("INSERT INTO gamooga_outbox (company, endpoint, method, query, body) VALUES ('acme', $1, $2, $3, $4)")
            .bind(endpoint)
            .bind(method)
            .bind(query)
            .bind(body)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let relay = Relay::new(db.pool(4).await, common::client("acme", &emu))
        .start()
        .await
        .unwrap();
    until(&db, |pending, dead| pending == 0 && dead == 4).await;
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.undecodable, 4, "{report:?}");
    assert_eq!(report.stats.dead_lettered, 4);
    assert_eq!(
        emu.total_calls(),
        0,
        "nothing was sent, not even a resolution"
    );
    let outbox = Outbox::new(Calls::new("acme").unwrap());
    let dead = outbox.dead_letters(&db.pool, 10).await.unwrap();
    assert!(
        dead.iter().all(|d| d.reason == "undecodable"
            && d.request.is_err()
            && d.dead_letter_reason().is_none()),
        "{dead:?}"
    );
    db.drop_schema().await;
}

/// Delivers through the client, but panics on the event with `seq` 3.
struct PanicsOnThree(Client);

impl Deliver for PanicsOnThree {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            if request.query().contains("ky=seq&vl=3&") {
                panic!("a bug in a transport");
            }
            self.0.send_once(request).await.map(drop)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_delivery_is_contained() {
    let Some(db) = common::test_db("panicked").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    for seq in 0..6 {
        common::numbered(seq)
            .enqueue_in(&outbox, &db.pool, "user-1")
            .await
            .unwrap();
    }
    let relay = Relay::with_deliverer(db.pool(4).await, "acme", PanicsOnThree(client))
        .concurrency(1)
        .start()
        .await
        .unwrap();
    until(&db, |pending, dead| pending == 0 && dead == 1).await;
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.dead_letters.panicked, 1, "{report:?}");
    assert_eq!(
        report.stats.delivered, 5,
        "delivery went on after the panic: {report:?}"
    );
    let dead = outbox.dead_letters(&db.pool, 10).await.unwrap();
    assert_eq!(dead[0].reason, "panicked");
    let mut seqs: Vec<u64> = emu.events().iter().filter_map(common::seq_of).collect();
    seqs.sort();
    assert_eq!(seqs, [0, 1, 2, 4, 5]);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_dead_letters_are_pruned() {
    let Some(db) = common::test_db("pruned").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let outbox = Outbox::new(Calls::new("acme").unwrap());
    for seq in 0..3 {
        common::numbered(seq)
            .enqueue_in(&outbox, &db.pool, "user-1")
            .await
            .unwrap();
    }
    // Two died 40 days ago, one an hour ago; another company's old one is not ours.
    sqlx::query(
        "UPDATE gamooga_outbox SET state = 'dead', dead_reason = 'rejected',
             dead_at = now() - CASE WHEN id = (SELECT max(id) FROM gamooga_outbox) THEN interval '1 hour' ELSE interval '40 days' END",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO gamooga_outbox (company, endpoint, method, query, state, dead_reason, dead_at) VALUES ('other', 'evwid', 'GET', 'c=other', 'dead', 'rejected', now() - interval '40 days')")
        .execute(&db.pool)
        .await
        .unwrap();
    let relay = Relay::new(db.pool(4).await, common::client("acme", &emu))
        .dead_letter_retention(Some(Duration::from_secs(30 * 86_400)))
        .start()
        .await
        .unwrap();
    until(&db, |_, dead| dead == 2).await;
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.dead_letters_pruned, 2, "{report:?}");
    let left = outbox.dead_letters(&db.pool, 10).await.unwrap();
    assert_eq!(left.len(), 1, "the recent one stays");
    db.drop_schema().await;
}
