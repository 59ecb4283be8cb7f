//! A transactional outbox for Gamooga events on PostgreSQL (the `gamooga` facade's
//! `gamooga::outbox`, feature `postgres`).
//!
//! An event is written into your own database **in the same transaction** as your business
//! rows, and relays deliver it afterwards:
//!
//! - a rolled-back transaction sends nothing; a committed one is delivered even if the
//!   process dies right after the commit (the row is in the database, not in memory);
//! - any number of relays, in the application or as processes on any number of machines,
//!   share one table (`FOR UPDATE SKIP LOCKED` and leases); one that dies loses nothing;
//! - they apply the delivery queue's own rules
//!   ([`DeliveryRules`](gamooga_core::queue::DeliveryRules)): retries with backoff, a `429`
//!   or `503` with `Retry-After` pausing *every* relay of the company, dead letters with
//!   their reason, kept in the table, inspectable and replayable.
//!
//! ```no_run
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga::outbox::{prelude::*, Outbox, Relay};
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> { sku: &'a str, amount: f64 }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = gamooga::outbox::connect("postgres://app@db/app").await?;
//! gamooga::outbox::migrate(&pool).await?;            // or apply MIGRATION_SQL yourself
//! let client = gamooga::Client::from_env()?;
//! let outbox = Outbox::for_client(&client);
//! let relay = Relay::new(pool.clone(), client).start().await?;
//!
//! // In a request handler:
//! let mut tx = pool.begin().await?;
//! sqlx::query("INSERT INTO orders (id, sku) VALUES ($1, $2)").bind(7_i64).bind("A-1")
//!     .execute(&mut *tx).await?;
//! Purchase { sku: "A-1", amount: 12.5 }.enqueue_in(&outbox, &mut *tx, "user-42").await?;
//! tx.commit().await?;                                  // the order and its event, or neither
//!
//! // At the end:
//! let report = relay.shutdown(Duration::from_secs(10)).await;
//! # use gamooga::outbox::sqlx; Ok(()) }
//! ```
//!
//! # The pieces
//!
//! | what | where |
//! |---|---|
//! | the tables, indexes and triggers | [`migrate`], or [`MIGRATION_SQL`] (`migrations/0001_gamooga_outbox.sql`) in your own migrations |
//! | enqueue in a transaction, on a connection or a pool | [`Outbox`], [`EventOutboxExt::enqueue_in`], [`VisitorPropsOutboxExt::push_in`] |
//! | deliver | [`Relay`]: [`Relay::start`] in the application, [`Relay::run_until`] in a process; the `gamooga-outbox-relay` program and the CLI's `gamooga relay` (both through [`process`]) |
//! | dead letters | [`Outbox::dead_letters`], [`Outbox::replay_dead_letters`], [`Outbox::remove_dead_letters`] (and the SQL in [`dead`]) |
//! | stats | [`RelayHandle::stats`] per relay, [`Outbox::stats`] for the table (and the SQL in [`table`]) |
//!
//! # sqlx
//!
//! The enqueue methods take any sqlx 0.8 PostgreSQL executor: `&mut *tx` (a
//! `Transaction`), `&mut PgConnection`, `&PgPool`. Your `sqlx` must be 0.8 (the same
//! types), or use the one re-exported here ([`sqlx`]). No query is checked at compile
//! time, so building never needs a database.
//!
//! # What is where, and personal data
//!
//! The table holds every pending and dead request in full (the query with user ids and
//! property values, the body): protect it as the rest of your database. Logs above `DEBUG`
//! name the relay, the company, the call, row ids and errors (the call, the host, the
//! status), never an id or a value; `Debug` of this crate's types shows no id or value
//! either (requests through [`Request`](gamooga_core::Request)'s redacted `Debug`; a
//! database error without PostgreSQL's `DETAIL`, which can quote a row).
//!
//! # Delivery guarantees
//!
//! At-least-once, like every path of the SDK (Gamooga has no idempotency key). A duplicate
//! can come from an attempt whose outcome is unknown (counted `ambiguous` by the relay that
//! made it), from a relay that died after Gamooga's 200 and before its delete (the row comes
//! back at the end of its lease), or from a settlement a database crash forgot (claims and
//! settlements commit with `synchronous_commit = off`; see [`Relay`]).
#![warn(missing_docs)]

pub mod dead;
pub mod enqueue;
pub mod error;
pub mod process;
pub mod relay;
pub mod schema;
pub mod table;

use std::time::Duration;

pub use dead::{DeadLetterFilter, OutboxDeadLetter};
pub use enqueue::{EventId, EventOutboxExt, Outbox, VisitorPropsOutboxExt};
pub use error::Error;
pub use relay::{Relay, RelayConfig, RelayHandle, RelayReport, RelayStats};
pub use schema::{check, migrate, MIGRATION_SQL, SCHEMA_VERSION};
pub use table::TableStats;

// The README's Rust snippets, compiled as doctests so they cannot drift from the API (not
// run: they need a database).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// The sqlx this crate is built with (0.8, PostgreSQL, tokio): its `PgPool`, `Transaction`
/// and `PgConnection` are the executor types the enqueue methods take.
pub use sqlx;

/// The one-line enqueue methods: `use gamooga::outbox::prelude::*;`.
pub mod prelude {
    pub use crate::enqueue::{EventOutboxExt as _, VisitorPropsOutboxExt as _};
}

/// A pool for the outbox at `database_url` (`postgres://user:password@host:port/db`, with
/// `?sslmode=require` for TLS; `options=-c search_path=...` puts the tables in another
/// schema): up to 8 connections, 10 s to connect. A relay uses one of them for `LISTEN`.
///
/// ```no_run
/// # async fn demo() -> Result<(), gamooga::outbox::Error> {
/// let pool = gamooga::outbox::connect("postgres://app:secret@127.0.0.1/app").await?;
/// # Ok(()) }
/// ```
pub async fn connect(database_url: &str) -> Result<sqlx::PgPool, Error> {
    pool_options()
        .connect(database_url)
        .await
        .map_err(Error::from)
}

/// [`connect`]'s pool without connecting yet (the URL is checked): for code that checks
/// other settings first.
pub(crate) fn connect_lazy(database_url: &str) -> Result<sqlx::PgPool, Error> {
    pool_options()
        .connect_lazy(database_url)
        .map_err(Error::from)
}

fn pool_options() -> sqlx::postgres::PgPoolOptions {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
}
