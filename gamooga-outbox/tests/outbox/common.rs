//! What the outbox's tests share: a real PostgreSQL (a fresh schema per test), the
//! emulator-backed client, and row helpers.
//!
//! The database is `DATABASE_URL` (`.ci/run` starts Debian's PostgreSQL and sets it). Under
//! `CI=true` a missing or unreachable database FAILS the test; elsewhere the test says loudly
//! that it is skipped.
#![allow(dead_code)]

use std::time::Duration;

use gamooga::outbox::sqlx::{self, postgres::PgPoolOptions, PgPool};
use gamooga::retry::RetryPolicy;
use gamooga::{Client, CustomEvent, Properties};

pub struct TestDb {
    /// A pool whose connections use the test's schema.
    pub pool: PgPool,
    /// The URL of the test's schema (for relay processes).
    pub url: String,
    pub schema: String,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn unavailable(why: String) -> Option<TestDb> {
    if in_ci() {
        panic!("CI=true but PostgreSQL is not available for the outbox's tests: {why} (.ci/run installs and starts it and sets DATABASE_URL)");
    }
    eprintln!(
        "\n*** SKIPPED: {why}. The outbox's tests need PostgreSQL: set DATABASE_URL \
         (postgres://user:password@127.0.0.1:5432/db), as .ci/run does. ***\n"
    );
    None
}

/// A fresh schema in the test database, with the outbox's tables, for the test `name`.
/// `None` (after a loud notice) when there is no database outside CI.
pub async fn test_db(name: &str) -> Option<TestDb> {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        return unavailable("DATABASE_URL is not set".into());
    };
    let admin = match PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&base)
        .await
    {
        Ok(pool) => pool,
        Err(e) => return unavailable(format!("cannot connect to DATABASE_URL ({e})")),
    };
    let schema = format!(
        "t_{}_{}_{:06x}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        fastrand::u32(..0xff_ffff)
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create the test's schema");
    admin.close().await;
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    let url = url.to_string();
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(20))
        .connect(&url)
        .await
        .expect("connect to the test's schema");
    gamooga::outbox::migrate(&pool).await.expect("migrate");
    Some(TestDb { pool, url, schema })
}

impl TestDb {
    /// Another pool on the test's schema (each relay gets its own, as on its own machine).
    pub async fn pool(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(20))
            .connect(&self.url)
            .await
            .expect("connect to the test's schema")
    }

    /// Rows of the outbox table in a given state (`None`: every row).
    pub async fn count(&self, state: Option<&str>) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM gamooga_outbox WHERE $1::text IS NULL OR state = $1",
        )
        .bind(state)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// Drops the test's schema (the database keeps nothing of a passing test).
    pub async fn drop_schema(self) {
        let schema = self.schema.clone();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&self.pool)
            .await
            .expect("drop the test's schema");
        self.pool.close().await;
    }
}

/// A client to the emulator with a short timeout.
pub fn client(company: &str, emu: &gamooga_emulator::Emulator) -> Client {
    Client::builder(company)
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Fast retries without limit, so a fault test ends in delivery, not dead letters.
pub fn patient() -> RetryPolicy {
    RetryPolicy::background()
        .max_attempts(1000)
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(300))
        .max_retry_after(Duration::from_secs(2))
        .max_elapsed(None)
}

/// An event numbered `seq` (the property `seq`, read back from the emulator).
pub fn numbered(seq: u64) -> CustomEvent {
    CustomEvent::new(
        "numbered",
        Properties::new()
            .number("seq", seq)
            .expect("finite")
            .string("sku", "A-1"),
    )
}

pub fn seq_of(call: &gamooga_emulator::RecordedCall) -> Option<u64> {
    call.event_property("seq")?.value.parse().ok()
}
