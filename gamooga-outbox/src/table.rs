//! [`TableStats`]: what the table holds for a company, whatever relays run.
//!
//! The same in SQL, for every company at once:
//!
//! ```sql
//! SELECT company,
//!        count(*) FILTER (WHERE state = 'pending')                                       AS pending,
//!        count(*) FILTER (WHERE state = 'pending' AND leased_by IS NOT NULL
//!                               AND not_before > now())                                  AS leased,
//!        count(*) FILTER (WHERE state = 'dead')                                          AS dead,
//!        now() - min(enqueued_at) FILTER (WHERE state = 'pending')                       AS oldest_pending_age
//! FROM gamooga_outbox GROUP BY company;
//! ```

use std::time::Duration;

use sqlx::{Executor, Postgres};

use crate::enqueue::Outbox;
use crate::error::Error;

/// A company's rows in the outbox table, from [`Outbox::stats`].
///
/// `pending == due + leased + waiting`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TableStats {
    /// Rows not delivered yet and not dead.
    pub pending: u64,
    /// Of `pending`, rows any relay may claim now.
    pub due: u64,
    /// Of `pending`, rows leased by a relay now (in flight, or waiting in its batch).
    pub leased: u64,
    /// Of `pending`, rows waiting for their retry's `not_before`.
    pub waiting: u64,
    /// Dead letters.
    pub dead: u64,
    /// The age of the oldest pending row (from its enqueue), if any is pending: how far
    /// behind delivery is.
    pub oldest_pending_age: Option<Duration>,
    /// How long the company's pause still lasts, if one does.
    pub paused_for: Option<Duration>,
    /// Why it is paused (`backpressure`, `unresolved`), if it is.
    pub pause_cause: Option<String>,
}

fn duration_ms(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0)
    } else {
        Duration::ZERO
    }
}

impl Outbox {
    /// Counts the company's rows (one statement; it reads every row of the company, so on a
    /// backlog of millions it takes a while).
    ///
    /// ```no_run
    /// # async fn demo(pool: gamooga::outbox::sqlx::PgPool, outbox: gamooga::outbox::Outbox) -> Result<(), gamooga::outbox::Error> {
    /// let stats = outbox.stats(&pool).await?;
    /// println!("{} pending (oldest {:?}), {} dead", stats.pending, stats.oldest_pending_age, stats.dead);
    /// # Ok(()) }
    /// ```
    pub async fn stats<'c, E>(&self, executor: E) -> Result<TableStats, Error>
    where
        E: Executor<'c, Database = Postgres>,
    {
        type Row = (i64, i64, i64, i64, Option<f64>, Option<f64>, Option<String>);
        let (pending, due, leased, dead, oldest, paused, cause): Row = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE o.state = 'pending'),
                    count(*) FILTER (WHERE o.state = 'pending' AND o.not_before <= now()),
                    count(*) FILTER (WHERE o.state = 'pending' AND o.not_before > now()
                                       AND o.leased_by IS NOT NULL),
                    count(*) FILTER (WHERE o.state = 'dead'),
                    (extract(epoch FROM now() - min(o.enqueued_at) FILTER (WHERE o.state = 'pending')) * 1000)::float8,
                    (SELECT (extract(epoch FROM p.until - now()) * 1000)::float8
                     FROM gamooga_outbox_pause p WHERE p.company = $1 AND p.until > now()),
                    (SELECT p.cause FROM gamooga_outbox_pause p WHERE p.company = $1 AND p.until > now())
             FROM gamooga_outbox o WHERE o.company = $1",
        )
        .bind(self.company_id())
        .fetch_one(executor)
        .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(TableStats {
            pending: n(pending),
            due: n(due),
            leased: n(leased),
            waiting: n(pending - due - leased),
            dead: n(dead),
            oldest_pending_age: oldest.map(duration_ms),
            paused_for: paused.map(duration_ms),
            pause_cause: cause,
        })
    }
}
