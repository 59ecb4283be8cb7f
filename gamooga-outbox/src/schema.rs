//! The outbox's tables: [`migrate`] creates them, [`check`] verifies them.

use sqlx::{PgConnection, PgPool};

use crate::error::Error;

/// The SQL that creates the outbox's tables, indexes and triggers (the file
/// `migrations/0001_gamooga_outbox.sql` of this crate), for teams that run their own
/// migrations: copy it as it is. Idempotent.
pub const MIGRATION_SQL: &str = include_str!("../migrations/0001_gamooga_outbox.sql");

/// The schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The comment [`MIGRATION_SQL`] puts on `gamooga_outbox`: how a relay knows the table is
/// the one it expects.
const MARKER: &str = "gamooga-outbox schema 1";

/// Any 64-bit key: the advisory lock that serialises concurrent migrations.
const MIGRATION_LOCK: i64 = 0x6761_6d6f_6f67_6131; // "gamooga1"

/// Creates the outbox's tables in the first schema of the connection's `search_path`, unless
/// they exist: safe to call from every process at start (one at a time, under an advisory
/// lock; when the tables are there, it only reads their marker and takes no table lock).
///
/// Errors: [`Error::Schema`] when a `gamooga_outbox` table exists but was not made by this
/// schema version; [`Error::Database`] when the role may not create tables.
///
/// ```no_run
/// # async fn demo(pool: gamooga_outbox::sqlx::PgPool) -> Result<(), gamooga_outbox::Error> {
/// gamooga_outbox::migrate(&pool).await?;
/// # Ok(()) }
/// ```
pub async fn migrate(pool: &PgPool) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    match marker(&mut tx).await? {
        Marker::Current => return Ok(()),
        Marker::Missing => {}
        Marker::Other(found) => return Err(other_schema(found)),
    }
    // The simple query protocol: the file holds several statements and no parameters.
    sqlx::Executor::execute(&mut *tx, MIGRATION_SQL).await?;
    tx.commit().await?;
    tracing::info!(
        version = SCHEMA_VERSION,
        "gamooga outbox: created its tables"
    );
    Ok(())
}

/// Checks that the outbox's tables exist and are this crate's schema version (what a relay
/// does before it starts).
///
/// Errors: [`Error::Schema`] saying what to do.
pub async fn check(pool: &PgPool) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    match marker(&mut conn).await? {
        Marker::Current => Ok(()),
        Marker::Missing => Err(Error::Schema(
            "the table gamooga_outbox does not exist in the search_path: run \
             gamooga_outbox::migrate, or apply migrations/0001_gamooga_outbox.sql"
                .into(),
        )),
        Marker::Other(found) => Err(other_schema(found)),
    }
}

fn other_schema(found: Option<String>) -> Error {
    Error::Schema(format!(
        "a table gamooga_outbox exists but is not gamooga-outbox schema {SCHEMA_VERSION} \
         (its comment is {found:?}); rename it or use another schema (search_path)"
    ))
}

enum Marker {
    Current,
    Missing,
    Other(Option<String>),
}

async fn marker(conn: &mut PgConnection) -> Result<Marker, Error> {
    let (exists, comment): (bool, Option<String>) = sqlx::query_as(
        "SELECT to_regclass('gamooga_outbox') IS NOT NULL,
                obj_description(to_regclass('gamooga_outbox'), 'pg_class')",
    )
    .fetch_one(conn)
    .await?;
    Ok(match (exists, comment) {
        (false, _) => Marker::Missing,
        (true, Some(c)) if c == MARKER => Marker::Current,
        (true, other) => Marker::Other(other),
    })
}
