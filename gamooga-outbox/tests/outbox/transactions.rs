//! Enqueue in the caller's transaction, against a real PostgreSQL: a rolled-back transaction
//! sends nothing, a committed one is delivered; bad input is refused at the call site and
//! leaves the transaction usable; what is delivered is byte for byte what was built.

use crate::common;

use std::time::Duration;

use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx;
use gamooga::outbox::{Error, Outbox, Relay};
use gamooga::prelude::*;
use gamooga::{Calls, CustomEvent, Properties};
use gamooga_emulator::Emulator;

#[derive(GamoogaEvent)]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
}

#[derive(VisitorProps)]
struct Profile<'a> {
    city: &'a str,
}

async fn orders_table(pool: &sqlx::PgPool) {
    sqlx::query("CREATE TABLE orders (id bigint PRIMARY KEY, sku text NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_sends_nothing_and_committed_is_delivered() {
    let Some(db) = common::test_db("rollback").await else {
        return;
    };
    orders_table(&db.pool).await;
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    // The relay runs throughout: if the rolled-back event existed even for a moment, it
    // would be claimed and sent.
    let relay = Relay::new(db.pool(4).await, client.clone())
        .idle_poll(Duration::from_millis(200))
        .start()
        .await
        .unwrap();

    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (1, 'ROLLED-BACK')")
        .execute(&mut *tx)
        .await
        .unwrap();
    Purchase {
        sku: "ROLLED-BACK",
        amount: 1.0,
    }
    .enqueue_in(&outbox, &mut *tx, "user-rollback")
    .await
    .unwrap();
    // Visible inside the transaction, to no one else.
    let inside: i64 = sqlx::query_scalar("SELECT count(*) FROM gamooga_outbox")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(inside, 1);
    assert_eq!(db.count(None).await, 0);
    tx.rollback().await.unwrap();

    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (2, 'COMMITTED')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = Purchase {
        sku: "COMMITTED",
        amount: 12.5,
    }
    .enqueue_in(&outbox, &mut *tx, "user-commit")
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert!(
        emu.wait_for(
            |calls| calls
                .iter()
                .any(|c| c.user_id.as_deref() == Some("user-commit")),
            Duration::from_secs(20)
        )
        .await,
        "the committed event was delivered"
    );
    let report = relay.shutdown(Duration::from_secs(5)).await;
    let events = emu.events();
    assert_eq!(events.len(), 1, "only the committed event reached Gamooga");
    assert_eq!(events[0].event_property("sku").unwrap().value, "COMMITTED");
    assert!(events
        .iter()
        .all(|c| c.user_id.as_deref() != Some("user-rollback")));
    assert_eq!(report.stats.delivered, 1, "{report:?}");
    assert_eq!(report.stats.claimed, report.stats.accounted(), "{report:?}");
    // The delivered row is gone; the order stays.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM gamooga_outbox WHERE id = $1")
        .bind(id.get())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let orders: Vec<String> = sqlx::query_scalar("SELECT sku FROM orders ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(orders, ["COMMITTED"]);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_at_the_call_site_and_the_transaction_goes_on() {
    let Some(db) = common::test_db("refused").await else {
        return;
    };
    let outbox = Outbox::new(Calls::new("acme").unwrap());
    let mut tx = db.pool.begin().await.unwrap();
    let nan = Purchase {
        sku: "A",
        amount: f64::NAN,
    };
    // Checked before the future is polled: dropping it unpolled still gave the error.
    let refused = nan.enqueue_in(&outbox, &mut *tx, "user-1").await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    let refused = Purchase {
        sku: "A",
        amount: 1.0,
    }
    .enqueue_in(&outbox, &mut *tx, "user\n1")
    .await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    // Nothing reached PostgreSQL, so the transaction is not aborted: it goes on and commits.
    Purchase {
        sku: "B",
        amount: 2.0,
    }
    .enqueue_in(&outbox, &mut *tx, "user-1")
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.count(Some("pending")).await, 1);

    // A request of another company, or a company-information call, is refused.
    let other = Calls::new("other-co")
        .unwrap()
        .track("user-1", &CustomEvent::new("login", Properties::new()))
        .unwrap();
    let refused = outbox.enqueue_in(&db.pool, other).await;
    assert!(matches!(refused, Err(Error::Config(_))), "{refused:?}");
    let info = outbox.calls().company_info();
    assert!(matches!(
        outbox.enqueue_in(&db.pool, info).await,
        Err(Error::Config(_))
    ));
    assert_eq!(db.count(None).await, 1);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_on_a_pool_or_a_connection_arrives_as_built() {
    let Some(db) = common::test_db("wire").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    let calls = client.calls().clone();

    let long = "x".repeat(3000); // past the GET limit: evwidj, a POST with a JSON body
    let big = CustomEvent::new("note", Properties::new().string("text", long.as_str()));
    let purchase = Purchase {
        sku: "A&B é",
        amount: 12.5,
    };
    let profile = Profile { city: "Tōkyō" };

    // The built requests, in the order they are written (each row is built once: the
    // emulator must see these very bytes, `tm` included).
    let mut conn = db.pool.acquire().await.unwrap();
    let ids = [
        purchase
            .enqueue_in(&outbox, &db.pool, "user-pool")
            .await
            .unwrap(),
        purchase
            .enqueue_in(&outbox, &mut *conn, "user-conn")
            .await
            .unwrap(),
        purchase
            .enqueue_visitor_in(&outbox, &db.pool, "0123456789abcdef")
            .await
            .unwrap(),
        purchase
            .enqueue_with_in(&outbox, &db.pool, "user-with", &profile)
            .await
            .unwrap(),
        profile
            .push_in(&outbox, &db.pool, "0123456789abcdef")
            .await
            .unwrap(),
        big.enqueue_in(&outbox, &db.pool, "user-long")
            .await
            .unwrap(),
    ];
    drop(conn);
    let stored: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT endpoint, query, body FROM gamooga_outbox ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 6);
    let endpoints: Vec<&str> = stored.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        endpoints,
        ["evwid", "evwid", "ev", "evvprwid", "vpr", "evwidj"]
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    // Built the same way now, only `tm` differs: the stored query is the builder's.
    let rebuilt = calls.track("user-pool", &purchase).unwrap();
    let strip_tm = |q: &str| q.split("&tm=").next().unwrap().to_owned();
    assert_eq!(strip_tm(&stored[0].1), strip_tm(rebuilt.query()));

    let relay = Relay::new(db.pool(4).await, client).start().await.unwrap();
    assert!(
        emu.wait_for(|c| c.len() >= 7, Duration::from_secs(20))
            .await
    ); // + newnaconf
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.delivered, 6, "{report:?}");
    let events = emu.calls();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    // What arrived is byte for byte what was stored (the emulator's own parser read it).
    for (endpoint, query, body) in &stored {
        let call = events
            .iter()
            .find(|c| &c.raw_query == query)
            .unwrap_or_else(|| panic!("a stored {endpoint} request arrived unchanged"));
        assert_eq!(&call.endpoint, endpoint);
        assert_eq!(&call.body, body);
    }
    let long_call = events.iter().find(|c| c.endpoint == "evwidj").unwrap();
    assert_eq!(long_call.method, "POST");
    assert_eq!(long_call.event_property("text").unwrap().value, long);
    let with = events.iter().find(|c| c.endpoint == "evvprwid").unwrap();
    assert_eq!(with.visitor_property("city").unwrap().value, "Tōkyō");
    assert_eq!(with.event_property("sku").unwrap().value, "A&B é");
    assert_eq!(db.count(None).await, 0);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_writes_all_or_nothing() {
    let Some(db) = common::test_db("many").await else {
        return;
    };
    let outbox = Outbox::new(Calls::new("acme").unwrap());
    let requests: Vec<_> = (0..500)
        .map(|i| {
            outbox
                .calls()
                .track(&format!("user-{i}"), &common::numbered(i))
                .unwrap()
        })
        .collect();
    let mut tx = db.pool.begin().await.unwrap();
    assert_eq!(
        outbox.enqueue_many_in(&mut *tx, &requests).await.unwrap(),
        500
    );
    tx.rollback().await.unwrap();
    assert_eq!(db.count(None).await, 0);
    assert_eq!(
        outbox.enqueue_many_in(&db.pool, &requests).await.unwrap(),
        500
    );
    // Stored in order, each the request it was given.
    let queries: Vec<String> = sqlx::query_scalar("SELECT query FROM gamooga_outbox ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let given: Vec<&str> = requests.iter().map(|r| r.query()).collect();
    assert_eq!(queries, given);
    // One bad request refuses the whole batch, before anything is written.
    let mut mixed = requests[..3].to_vec();
    mixed.push(outbox.calls().company_info());
    assert!(matches!(
        outbox.enqueue_many_in(&db.pool, &mixed).await,
        Err(Error::Config(_))
    ));
    assert_eq!(db.count(None).await, 500);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_concurrent_and_checked() {
    let Some(db) = common::test_db("migrate").await else {
        return;
    };
    // Five processes starting at once (five pools): one creates, the others find it done.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let pool = db.pool(1).await;
        set.spawn(async move { gamooga::outbox::migrate(&pool).await });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap().unwrap();
    }
    gamooga::outbox::check(&db.pool).await.unwrap();

    // A schema without the tables: the relay refuses to start, saying what to do.
    let bare = format!("{}_bare", db.schema);
    sqlx::query(&format!("CREATE SCHEMA {bare}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let url = db.url.replace(&db.schema, &bare);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let emu = Emulator::start().await.unwrap();
    let refused = Relay::new(pool.clone(), common::client("acme", &emu))
        .start()
        .await;
    match refused {
        Err(Error::Schema(m)) => assert!(m.contains("migrate"), "{m}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
    // A table of the same name that is not ours: migrate refuses to touch it.
    sqlx::query("CREATE TABLE gamooga_outbox (id int)")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        gamooga::outbox::migrate(&pool).await,
        Err(Error::Schema(_))
    ));
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {bare} CASCADE"))
        .execute(&db.pool)
        .await
        .unwrap();
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_settings_are_checked_at_start() {
    let Some(db) = common::test_db("settings").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let config = |relay: Relay| async move {
        match relay.start().await {
            Err(Error::Config(m)) => m,
            other => panic!("expected a settings error, got {other:?}"),
        }
    };
    assert!(
        config(Relay::new(db.pool.clone(), client.clone()).batch_size(0))
            .await
            .contains("batch_size")
    );
    assert!(
        config(Relay::new(db.pool.clone(), client.clone()).concurrency(5000))
            .await
            .contains("concurrency")
    );
    assert!(
        config(Relay::new(db.pool.clone(), client.clone()).lease(Duration::from_millis(10)))
            .await
            .contains("lease")
    );
    assert!(config(Relay::new(db.pool(1).await, client.clone()))
        .await
        .contains("LISTEN"));
    let spaced = Relay::with_deliverer(db.pool.clone(), "ac me", client.clone())
        .start()
        .await;
    assert!(matches!(spaced, Err(Error::Invalid(_))), "{spaced:?}");
    db.drop_schema().await;
}
