//! Dead letters: rows given up on stay in the table (`state = 'dead'`) with their reason and
//! last error, until replayed, removed, or pruned by a relay after their retention.
//!
//! The same in SQL, for a console:
//!
//! ```sql
//! -- What died, and why (newest first):
//! SELECT id, endpoint, dead_reason, attempts, last_error, enqueued_at, dead_at
//! FROM gamooga_outbox WHERE company = 'acme' AND state = 'dead' ORDER BY id DESC LIMIT 50;
//! -- Send them again (relays are woken by the trigger):
//! UPDATE gamooga_outbox
//! SET state = 'pending', attempts = 0, first_attempt_at = NULL, not_before = now(),
//!     dead_reason = NULL, dead_at = NULL, leased_by = NULL, lease_id = NULL
//! WHERE company = 'acme' AND state = 'dead' AND dead_reason = 'rejected';
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gamooga_core::queue::DeadLetterReason;
use gamooga_core::spool::{decode_row, RawRow, RowError};
use gamooga_core::Request;
use sqlx::{Executor, Postgres};

use crate::enqueue::{EventId, Outbox};
use crate::error::Error;

/// A dead row of the outbox.
///
/// `Debug` shows the request through [`Request`]'s own `Debug` (the call, the event name,
/// the property names: no ids, no values), the reason and the last error (the call, the
/// host, the status).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutboxDeadLetter {
    /// The row's id (for [`DeadLetterFilter::Ids`]).
    pub id: EventId,
    /// The stored request, as enqueued (`tm` included): `Err` for a row that does not decode
    /// (its reason is then `undecodable`).
    pub request: Result<Request, RowError>,
    /// Why it died: a [`DeadLetterReason`] name (`rejected`, `retries_exhausted`,
    /// `unresolved`, `panicked`), or `undecodable`.
    pub reason: String,
    /// Attempts that counted.
    pub attempts: u32,
    /// The last failure's message (the call, the host, the status; never ids or values).
    pub last_error: Option<String>,
    /// When it was enqueued (the database's clock).
    pub enqueued_at: SystemTime,
    /// When it died.
    pub dead_at: SystemTime,
}

impl OutboxDeadLetter {
    /// The reason as the queue's [`DeadLetterReason`]; `None` for `undecodable`.
    pub fn dead_letter_reason(&self) -> Option<DeadLetterReason> {
        DeadLetterReason::from_name(&self.reason)
    }
}

/// Which dead letters a replay or a removal applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterFilter {
    /// Every dead letter of the company.
    All,
    /// These rows (those of them that are dead letters of the company).
    Ids(Vec<EventId>),
    /// Those that died for this reason (`rejected`, `retries_exhausted`, ...).
    Reason(String),
}

impl DeadLetterFilter {
    fn ids(&self) -> Option<Vec<i64>> {
        match self {
            DeadLetterFilter::Ids(ids) => Some(ids.iter().map(|i| i.0).collect()),
            _ => None,
        }
    }
    fn reason(&self) -> Option<&str> {
        match self {
            DeadLetterFilter::Reason(r) => Some(r),
            _ => None,
        }
    }
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Outbox {
    /// The company's dead letters, oldest first, at most `limit`.
    ///
    /// ```no_run
    /// # async fn demo(pool: gamooga::outbox::sqlx::PgPool, outbox: gamooga::outbox::Outbox) -> Result<(), gamooga::outbox::Error> {
    /// use gamooga::outbox::DeadLetterFilter;
    /// for dead in outbox.dead_letters(&pool, 100).await? {
    ///     println!("{} {} after {} attempts: {:?}", dead.id, dead.reason, dead.attempts, dead.last_error);
    /// }
    /// let replayed = outbox.replay_dead_letters(&pool, &DeadLetterFilter::Reason("rejected".into())).await?;
    /// # Ok(()) }
    /// ```
    pub async fn dead_letters<'c, E>(
        &self,
        executor: E,
        limit: usize,
    ) -> Result<Vec<OutboxDeadLetter>, Error>
    where
        E: Executor<'c, Database = Postgres>,
    {
        type Row = (
            i64,
            String,
            String,
            String,
            Option<String>,
            i64,
            Option<String>,
            i32,
            Option<String>,
            i64,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, endpoint, method, query, body,
                    (extract(epoch FROM enqueued_at) * 1000)::bigint,
                    dead_reason, attempts, last_error,
                    (extract(epoch FROM coalesce(dead_at, now())) * 1000)::bigint
             FROM gamooga_outbox
             WHERE company = $1 AND state = 'dead'
             ORDER BY id
             LIMIT $2",
        )
        .bind(self.company_id())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(executor)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    endpoint,
                    method,
                    query,
                    body,
                    enqueued_ms,
                    reason,
                    attempts,
                    last_error,
                    dead_ms,
                )| {
                    let raw = RawRow {
                        id,
                        endpoint,
                        method,
                        query,
                        body,
                        enqueued_ms,
                    };
                    OutboxDeadLetter {
                        id: EventId(id),
                        request: decode_row(raw).map(|(request, _)| request),
                        reason: reason.unwrap_or_default(),
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        last_error,
                        enqueued_at: time(enqueued_ms),
                        dead_at: time(dead_ms),
                    }
                },
            )
            .collect())
    }

    /// Sends dead letters again: they become pending with their attempts reset (their
    /// retry budget starts over) and relays are woken. The request is the one enqueued, its
    /// `tm` included. Returns how many rows were replayed.
    pub async fn replay_dead_letters<'c, E>(
        &self,
        executor: E,
        which: &DeadLetterFilter,
    ) -> Result<u64, Error>
    where
        E: Executor<'c, Database = Postgres>,
    {
        let done = sqlx::query(
            "UPDATE gamooga_outbox
             SET state = 'pending', attempts = 0, first_attempt_at = NULL, not_before = now(),
                 dead_reason = NULL, dead_at = NULL, leased_by = NULL, lease_id = NULL
             WHERE company = $1 AND state = 'dead'
               AND ($2::bigint[] IS NULL OR id = ANY($2))
               AND ($3::text IS NULL OR dead_reason = $3)",
        )
        .bind(self.company_id())
        .bind(which.ids())
        .bind(which.reason())
        .execute(executor)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes dead letters. Returns how many.
    pub async fn remove_dead_letters<'c, E>(
        &self,
        executor: E,
        which: &DeadLetterFilter,
    ) -> Result<u64, Error>
    where
        E: Executor<'c, Database = Postgres>,
    {
        let done = sqlx::query(
            "DELETE FROM gamooga_outbox
             WHERE company = $1 AND state = 'dead'
               AND ($2::bigint[] IS NULL OR id = ANY($2))
               AND ($3::text IS NULL OR dead_reason = $3)",
        )
        .bind(self.company_id())
        .bind(which.ids())
        .bind(which.reason())
        .execute(executor)
        .await?;
        Ok(done.rows_affected())
    }
}
