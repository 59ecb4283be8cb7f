//! The outbox's figures, against the local emulator over loopback and the PostgreSQL at
//! `DATABASE_URL`, beside the SQLite spool queue in the same run.
//!
//! Run: `DATABASE_URL=postgres://... cargo bench -p gamooga-outbox` (a program that prints
//! its figures). `BENCH_EVENTS` (default 20,000) and `BENCH_ROUNDS` (default 3) change the
//! size; each figure is the median of the rounds, with the range.
//!
//! - **relay drain**: events/s delivered by 1 and by 3 relays (in this process, each with
//!   its own pool) from a table already holding the events; then the same with Gamooga 20 ms
//!   away (the emulator's latency; a quarter of the events), where a relay is bound by its
//!   concurrency over the round trip rather than by this machine's two cores;
//! - **end to end**: 32 producer tasks enqueue the events (each its own autocommitted
//!   `enqueue_in` on a pool) while 1 relay delivers: events/s until the last is delivered;
//!   the same for the SQLite spool queue (`QueueConfig::spool`, 32 producer tasks, group
//!   commit);
//! - **enqueue cost**: the median latency of a transaction inserting an order row, without
//!   and with an `enqueue_in` in it (relays busy; or one asleep, so the commit notifies it),
//!   interleaved on one connection with a relay's `LISTEN` open; and the median time of the
//!   `enqueue_in` statement itself. The commit's disk flush dominates the transaction, so
//!   the statement's own time is the steadier figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gamooga::outbox::sqlx::{self, postgres::PgPoolOptions, PgPool};
use gamooga::outbox::{Outbox, Relay};
use gamooga::queue::QueueConfig;
use gamooga::{Client, CustomEvent, Properties};
use gamooga_emulator::Emulator;

fn event(seq: u64) -> CustomEvent {
    CustomEvent::new(
        "bench",
        Properties::new()
            .number("seq", seq)
            .expect("finite")
            .string("sku", "A-1234"),
    )
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Median, min and max.
fn summary(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

fn print_rate(what: &str, xs: Vec<f64>) -> f64 {
    let (median, min, max) = summary(xs);
    println!("{what:<58} {median:>8.0} events/s   (range {min:.0}–{max:.0})");
    median
}

struct Db {
    base: String,
    url: String,
    schema: String,
    pool: PgPool,
}

async fn pool(url: &str, max: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .connect(url)
        .await
        .expect("connect")
}

async fn fresh_schema(base: &str, name: &str) -> Db {
    let admin = pool(base, 1).await;
    let schema = format!("bench_{name}_{}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let mut url = url::Url::parse(base).unwrap();
    url.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    let url = url.to_string();
    let pool = pool(&url, 16).await;
    gamooga::outbox::migrate(&pool).await.unwrap();
    Db {
        base: base.to_owned(),
        url,
        schema,
        pool,
    }
}

impl Db {
    async fn drop(self) {
        self.pool.close().await;
        let admin = pool(&self.base, 1).await;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&admin)
            .await
            .unwrap();
    }
}

/// Waits until the relays delivered `n` events in all.
async fn delivered(relays: &[gamooga::outbox::RelayHandle], n: u64) {
    loop {
        let done: u64 = relays.iter().map(|r| r.stats().delivered).sum();
        if done >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Relays draining a table that already holds `events` rows: events/s.
async fn relay_drain(db: &Db, client: &Client, emu: &Emulator, events: u64, relays: usize) -> f64 {
    let outbox = Outbox::for_client(client);
    let requests: Vec<_> = (0..events)
        .map(|seq| {
            outbox
                .calls()
                .track(&format!("user-{}", seq % 100), &event(seq))
                .unwrap()
        })
        .collect();
    for chunk in requests.chunks(5_000) {
        outbox.enqueue_many_in(&db.pool, chunk).await.unwrap();
    }
    let before = emu.count("evwid");
    let start = Instant::now();
    let mut handles = Vec::new();
    for i in 0..relays {
        handles.push(
            Relay::new(pool(&db.url, 4).await, client.clone())
                .name(format!("bench-{i}"))
                .start()
                .await
                .unwrap(),
        );
    }
    delivered(&handles, events).await;
    let elapsed = start.elapsed();
    for h in handles {
        let report = h.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.stats.dead_lettered, 0, "{report:?}");
    }
    assert!(emu.count("evwid") - before >= events as usize);
    events as f64 / elapsed.as_secs_f64()
}

/// 32 producers enqueueing (autocommit) while one relay delivers: events/s end to end.
async fn outbox_end_to_end(db: &Db, client: &Client, events: u64) -> f64 {
    let outbox = Outbox::for_client(client);
    let relay = Relay::new(pool(&db.url, 4).await, client.clone())
        .name("bench-e2e")
        .start()
        .await
        .unwrap();
    let producers = pool(&db.url, 16).await;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..32u64 {
        let (outbox, producers) = (outbox.clone(), producers.clone());
        set.spawn(async move {
            for seq in (t..events).step_by(32) {
                outbox
                    .track_in(&producers, &format!("user-{}", seq % 100), &event(seq))
                    .await
                    .unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    delivered(std::slice::from_ref(&relay), events).await;
    let elapsed = start.elapsed();
    relay.shutdown(Duration::from_secs(30)).await;
    producers.close().await;
    events as f64 / elapsed.as_secs_f64()
}

/// The SQLite spool queue, 32 producers: events/s end to end.
async fn spool_end_to_end(client: &Client, events: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let queue = client
        .queue(QueueConfig::default().spool(dir.path().join("spool.db")))
        .unwrap();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..32u64 {
        let queue = queue.clone();
        set.spawn(async move {
            for seq in (t..events).step_by(32) {
                queue
                    .track(&format!("user-{}", seq % 100), &event(seq))
                    .await
                    .unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    let report = queue.shutdown(Duration::from_secs(600)).await;
    let elapsed = start.elapsed();
    assert_eq!(report.delivered, events, "{report:?}");
    events as f64 / elapsed.as_secs_f64()
}

/// Median transaction latencies (µs), interleaved on one connection: an order row alone;
/// with an `enqueue_in` while the company's relays are busy (no notification); with an
/// `enqueue_in` while one sleeps (the commit notifies it).
async fn enqueue_cost(db: &Db, n: usize) -> ([f64; 3], f64) {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_orders (id bigserial PRIMARY KEY, user_id text NOT NULL, sku text NOT NULL, amount float8 NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO gamooga_outbox_idle (relay, company, until) VALUES ('bench-sleeper', 'bench-asleep', now() + interval '1 hour') ON CONFLICT DO NOTHING")
        .execute(&db.pool)
        .await
        .unwrap();
    // A relay's LISTEN, open as in production (notifications are queued for it).
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("gamooga_outbox").await.unwrap();
    let drain = tokio::spawn(async move { while listener.recv().await.is_ok() {} });
    let busy = Outbox::new(gamooga::Calls::new("bench-busy").unwrap());
    let asleep = Outbox::new(gamooga::Calls::new("bench-asleep").unwrap());
    let mut conn = db.pool.acquire().await.unwrap();
    let mut latencies: [Vec<f64>; 3] = Default::default();
    let mut statement = Vec::new();
    let warmup = n / 10;
    for i in 0..(3 * (n + warmup)) {
        let variant = i % 3;
        let start = Instant::now();
        let mut tx = sqlx::Acquire::begin(&mut *conn).await.unwrap();
        sqlx::query("INSERT INTO bench_orders (user_id, sku, amount) VALUES ($1, $2, $3)")
            .bind("user-42")
            .bind("A-1234")
            .bind(12.5_f64)
            .execute(&mut *tx)
            .await
            .unwrap();
        let enqueued = Instant::now();
        match variant {
            1 => busy
                .track_in(&mut *tx, "user-42", &event(i as u64))
                .await
                .map(drop)
                .unwrap(),
            2 => asleep
                .track_in(&mut *tx, "user-42", &event(i as u64))
                .await
                .map(drop)
                .unwrap(),
            _ => {}
        }
        if variant == 1 && i >= 3 * warmup {
            statement.push(enqueued.elapsed().as_secs_f64() * 1e6);
        }
        tx.commit().await.unwrap();
        // The first tenth warms up (prepared statements, caches).
        if i >= 3 * warmup {
            latencies[variant].push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    drain.abort();
    (latencies.map(|l| summary(l).0), summary(statement).0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but DATABASE_URL is not set");
        }
        eprintln!(
            "the outbox bench needs PostgreSQL: set DATABASE_URL (see .ci/run); nothing measured"
        );
        return;
    };
    let events = env_u64("BENCH_EVENTS", 20_000);
    let rounds = env_u64("BENCH_ROUNDS", 3).max(1);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version: String = {
        let p = pool(&base, 1).await;
        let v = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&p)
            .await
            .unwrap();
        p.close().await;
        v
    };
    println!("outbox bench: {events} events, {rounds} rounds, {cores} cores, PostgreSQL {version}, load average at start {}", loadavg());

    let emu = Emulator::builder().max_recorded(0).start().await.unwrap();
    let client = Client::builder("bench")
        .config_url(emu.config_url())
        .build()
        .unwrap();
    let client = Arc::new(client);

    let (mut one, mut three, mut e2e, mut spool) = (vec![], vec![], vec![], vec![]);
    let (mut one_far, mut three_far) = (vec![], vec![]);
    let (mut cost_without, mut cost_with, mut cost_notify) = (vec![], vec![], vec![]);
    let mut cost_statement = vec![];
    for round in 0..rounds {
        let db = fresh_schema(&base, "drain").await;
        one.push(relay_drain(&db, &client, &emu, events, 1).await);
        three.push(relay_drain(&db, &client, &emu, events, 3).await);
        // Gamooga over a network: a 20 ms round trip, where more relays add throughput.
        emu.set_latency(Some(Duration::from_millis(20)));
        one_far.push(relay_drain(&db, &client, &emu, events / 4, 1).await);
        three_far.push(relay_drain(&db, &client, &emu, events / 4, 3).await);
        emu.set_latency(None);
        e2e.push(outbox_end_to_end(&db, &client, events).await);
        let ([wo, w, wn], st) = enqueue_cost(&db, 2_000).await;
        cost_statement.push(st);
        cost_without.push(wo);
        cost_with.push(w);
        cost_notify.push(wn);
        db.drop().await;
        spool.push(spool_end_to_end(&client, events).await);
        println!(
            "  round {}: drain 1 relay {:.0}/s, 3 relays {:.0}/s (20 ms away: {:.0}/s, {:.0}/s); end to end outbox {:.0}/s, spool {:.0}/s; tx {wo:.0} µs, {w:.0} µs with enqueue_in, {wn:.0} µs notifying a sleeping relay, the enqueue_in statement {st:.0} µs; load {}",
            round + 1,
            one[round as usize],
            three[round as usize],
            one_far[round as usize],
            three_far[round as usize],
            e2e[round as usize],
            spool[round as usize],
            loadavg()
        );
    }
    println!();
    print_rate("outbox, 1 relay draining the table", one);
    print_rate("outbox, 3 relays draining the table", three);
    print_rate("outbox, 1 relay, Gamooga 20 ms away", one_far);
    print_rate("outbox, 3 relays, Gamooga 20 ms away", three_far);
    print_rate("outbox end to end (32 producers, 1 relay)", e2e);
    print_rate("SQLite spool queue end to end (32 producers)", spool);
    let (wo, wo_min, wo_max) = summary(cost_without);
    let (w, w_min, w_max) = summary(cost_with);
    let (wn, wn_min, wn_max) = summary(cost_notify);
    let (st, st_min, st_max) = summary(cost_statement);
    let line = |what: &str, median: f64, min: f64, max: f64| {
        println!("{what:<58} {median:>8.0} µs   (range {min:.0}–{max:.0})");
    };
    line("transaction: insert an order, commit", wo, wo_min, wo_max);
    line("the same with enqueue_in, relays busy", w, w_min, w_max);
    line(
        "the same with enqueue_in, a relay asleep (notified)",
        wn,
        wn_min,
        wn_max,
    );
    line(
        "the enqueue_in statement alone, inside the transaction",
        st,
        st_min,
        st_max,
    );
    println!(
        "{:<58} {:>8.0} µs   ({:.2}x)",
        "cost of enqueue_in, relays busy (median of medians)",
        w - wo,
        w / wo
    );
    println!(
        "{:<58} {:>8.0} µs   ({:.2}x)",
        "cost of enqueue_in, a relay asleep",
        wn - wo,
        wn / wo
    );
    println!("load average at the end {}", loadavg());
}
