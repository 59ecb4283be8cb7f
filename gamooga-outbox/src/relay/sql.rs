//! The relay's statements: claim a batch, learn what to wait for, settle a batch, set a
//! pause, prune dead letters. All times are the database's (`now()`), so relays on machines
//! whose clocks disagree still agree on leases, retries and pauses.
//!
//! Claims and settlements commit with `synchronous_commit = off`: they are visible to every
//! other relay at once, and what a database crash can forget (its last fraction of a
//! second) is a lease, which then ends early, or a settlement, whose row is then delivered
//! again: at-least-once, as a retry already is. The enqueue (the caller's transaction) is
//! untouched and as durable as the caller's database makes it.

use std::time::Duration;

use gamooga_core::retry::FOREVER;
use gamooga_core::spool::RawRow;
use sqlx::{PgPool, Postgres, Transaction};

/// A row claimed by this relay.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) raw: RawRow,
    /// The claim's token: a settlement applies only while the row still carries it.
    pub(crate) lease: i64,
    /// Attempts that counted so far.
    pub(crate) attempts: u32,
    /// Time since the row's first attempt when it was claimed (`None`: never attempted).
    pub(crate) since_first: Option<Duration>,
}

/// Milliseconds for SQL intervals, saturating at [`FOREVER`] so that `now() + wait` never
/// leaves PostgreSQL's timestamp range.
pub(crate) fn ms(d: Duration) -> f64 {
    d.min(FOREVER).as_secs_f64() * 1000.0
}

fn duration_ms(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0).min(FOREVER)
    } else {
        Duration::ZERO
    }
}

async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Leases up to `limit` due rows of `company` for `lease`, unless the company is paused.
/// `FOR UPDATE SKIP LOCKED`: relays claiming at the same time take different rows.
pub(crate) async fn claim(
    pool: &PgPool,
    company: &str,
    limit: usize,
    lease: Duration,
    relay: &str,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let token = fastrand::i64(..);
    let mut tx = begin(pool).await?;
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        i64,
        i32,
        Option<f64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "UPDATE gamooga_outbox o
         SET not_before = now() + $3 * interval '1 millisecond', leased_by = $4, lease_id = $5
         FROM (
             SELECT id FROM gamooga_outbox
             WHERE company = $1 AND state = 'pending' AND not_before <= now()
               AND NOT EXISTS (SELECT 1 FROM gamooga_outbox_pause p
                               WHERE p.company = $1 AND p.until > now())
             ORDER BY not_before
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         ) picked
         WHERE o.id = picked.id
         RETURNING o.id, o.endpoint, o.method, o.query, o.body,
                   (extract(epoch FROM o.enqueued_at) * 1000)::bigint,
                   o.attempts,
                   (extract(epoch FROM now() - o.first_attempt_at) * 1000)::float8",
    )
    .bind(company)
    .bind(limit as i64)
    .bind(ms(lease))
    .bind(relay)
    .bind(token)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(
            |(id, endpoint, method, query, body, enqueued_ms, attempts, since)| Claimed {
                raw: RawRow {
                    id,
                    endpoint,
                    method,
                    query,
                    body,
                    enqueued_ms,
                },
                lease: token,
                attempts: u32::try_from(attempts).unwrap_or(0),
                since_first: since.map(duration_ms),
            },
        )
        .collect();
    // Oldest first (RETURNING keeps no order).
    claimed.sort_by_key(|c| c.raw.id);
    Ok(claimed)
}

/// What an idle relay waits for: the company's pause, and when its next pending row is due.
#[derive(Debug, Default)]
pub(crate) struct Horizon {
    /// The pause still in force: how long, its cause, who set it.
    pub(crate) pause: Option<(Duration, String, Option<String>)>,
    /// Until the next pending row is due (zero when one is due already), if any is pending.
    pub(crate) next_due: Option<Duration>,
}

pub(crate) async fn horizon(pool: &PgPool, company: &str) -> Result<Horizon, sqlx::Error> {
    let (pause_ms, cause, set_by, due_ms): (
        Option<f64>,
        Option<String>,
        Option<String>,
        Option<f64>,
    ) = sqlx::query_as(
        "SELECT (extract(epoch FROM p.until - now()) * 1000)::float8, p.cause, p.set_by,
                    (SELECT (extract(epoch FROM min(not_before) - now()) * 1000)::float8
                     FROM gamooga_outbox WHERE company = $1 AND state = 'pending')
             FROM (SELECT 1) one
             LEFT JOIN gamooga_outbox_pause p ON p.company = $1 AND p.until > now()",
    )
    .bind(company)
    .fetch_one(pool)
    .await?;
    Ok(Horizon {
        pause: pause_ms.map(|m| (duration_ms(m), cause.unwrap_or_default(), set_by)),
        next_due: due_ms.map(duration_ms),
    })
}

/// The pause of `company` still in force, if any: how long, and who set it.
pub(crate) async fn pause_of(
    pool: &PgPool,
    company: &str,
) -> Result<Option<(Duration, Option<String>)>, sqlx::Error> {
    let row: Option<(f64, Option<String>)> = sqlx::query_as(
        "SELECT (extract(epoch FROM until - now()) * 1000)::float8, set_by
         FROM gamooga_outbox_pause WHERE company = $1 AND until > now()",
    )
    .bind(company)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(m, by)| (duration_ms(m), by)))
}

/// How one claimed row ends, as written to the table.
#[derive(Debug, Clone)]
pub(crate) enum Settle {
    /// Delivered: delete the row.
    Delivered,
    /// Hand it back, due after `wait`. `counted` adds to its attempts; `attempted` says an
    /// attempt was made (its first sets `first_attempt_at`); `error` replaces `last_error`.
    Later {
        wait: Duration,
        counted: bool,
        attempted: Option<Duration>,
        error: Option<String>,
    },
    /// Give up: `reason` in `dead_reason`.
    Dead {
        reason: &'static str,
        counted: bool,
        attempted: Option<Duration>,
        error: Option<String>,
    },
}

/// One row's settlement.
#[derive(Debug, Clone)]
pub(crate) struct Settlement {
    pub(crate) id: i64,
    pub(crate) lease: i64,
    pub(crate) settle: Settle,
}

/// A pause to write for the company.
#[derive(Debug, Clone)]
pub(crate) struct PauseWrite {
    pub(crate) length: Duration,
    pub(crate) cause: &'static str,
}

/// Writes a batch of settlements (and the longest pause among them) in one transaction.
/// Returns how many settlements found their row no longer leased by their claim.
pub(crate) async fn settle(
    pool: &PgPool,
    company: &str,
    relay: &str,
    batch: &[Settlement],
    pause: Option<&PauseWrite>,
) -> Result<u64, sqlx::Error> {
    let mut tx = begin(pool).await?;
    if let Some(pause) = pause {
        // Only ever lengthens a pause; the trigger notifies every relay of the company.
        sqlx::query(
            "INSERT INTO gamooga_outbox_pause (company, until, cause, set_by)
             VALUES ($1, now() + $2 * interval '1 millisecond', $3, $4)
             ON CONFLICT (company) DO UPDATE
                 SET until = EXCLUDED.until, cause = EXCLUDED.cause, set_by = EXCLUDED.set_by
                 WHERE gamooga_outbox_pause.until < EXCLUDED.until",
        )
        .bind(company)
        .bind(ms(pause.length))
        .bind(pause.cause)
        .bind(relay)
        .execute(&mut *tx)
        .await?;
    }
    let mut expected = 0u64;
    let mut applied = 0u64;

    let (ids, leases): (Vec<i64>, Vec<i64>) = batch
        .iter()
        .filter(|s| matches!(s.settle, Settle::Delivered))
        .map(|s| (s.id, s.lease))
        .unzip();
    if !ids.is_empty() {
        expected += ids.len() as u64;
        applied += sqlx::query(
            "DELETE FROM gamooga_outbox o
             USING unnest($1::bigint[], $2::bigint[]) AS s(id, lease)
             WHERE o.id = s.id AND o.lease_id = s.lease",
        )
        .bind(&ids)
        .bind(&leases)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }

    let mut later = Columns::default();
    let mut dead = Columns::default();
    for s in batch {
        match &s.settle {
            Settle::Delivered => {}
            Settle::Later {
                wait,
                counted,
                attempted,
                error,
            } => later.push(s, ms(*wait), *counted, *attempted, error.clone(), None),
            Settle::Dead {
                reason,
                counted,
                attempted,
                error,
            } => dead.push(s, 0.0, *counted, *attempted, error.clone(), Some(reason)),
        }
    }
    if !later.ids.is_empty() {
        expected += later.ids.len() as u64;
        applied += sqlx::query(
            "UPDATE gamooga_outbox o SET
                 attempts = o.attempts + s.counted,
                 first_attempt_at = coalesce(o.first_attempt_at, now() - s.ago * interval '1 millisecond'),
                 not_before = now() + s.wait * interval '1 millisecond',
                 last_error = coalesce(s.error, o.last_error),
                 leased_by = NULL, lease_id = NULL
             FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::float8[], $5::float8[], $6::text[])
                  AS s(id, lease, counted, ago, wait, error)
             WHERE o.id = s.id AND o.lease_id = s.lease",
        )
        .bind(&later.ids)
        .bind(&later.leases)
        .bind(&later.counted)
        .bind(&later.ago)
        .bind(&later.wait)
        .bind(&later.error)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if !dead.ids.is_empty() {
        expected += dead.ids.len() as u64;
        applied += sqlx::query(
            "UPDATE gamooga_outbox o SET
                 state = 'dead', dead_reason = s.reason, dead_at = now(),
                 attempts = o.attempts + s.counted,
                 first_attempt_at = coalesce(o.first_attempt_at, now() - s.ago * interval '1 millisecond'),
                 not_before = now(),
                 last_error = coalesce(s.error, o.last_error),
                 leased_by = NULL, lease_id = NULL
             FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::float8[], $5::text[], $6::text[])
                  AS s(id, lease, counted, ago, error, reason)
             WHERE o.id = s.id AND o.lease_id = s.lease",
        )
        .bind(&dead.ids)
        .bind(&dead.leases)
        .bind(&dead.counted)
        .bind(&dead.ago)
        .bind(&dead.error)
        .bind(&dead.reason)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(expected.saturating_sub(applied))
}

/// Settlements as column arrays, for `unnest`.
#[derive(Default)]
struct Columns {
    ids: Vec<i64>,
    leases: Vec<i64>,
    counted: Vec<i32>,
    ago: Vec<Option<f64>>,
    wait: Vec<f64>,
    error: Vec<Option<String>>,
    reason: Vec<Option<&'static str>>,
}

impl Columns {
    fn push(
        &mut self,
        s: &Settlement,
        wait: f64,
        counted: bool,
        attempted: Option<Duration>,
        error: Option<String>,
        reason: Option<&'static str>,
    ) {
        self.ids.push(s.id);
        self.leases.push(s.lease);
        self.counted.push(i32::from(counted));
        self.ago.push(attempted.map(ms));
        self.wait.push(wait);
        self.error.push(error);
        self.reason.push(reason);
    }
}

/// Deletes the company's dead letters that died more than `age` ago.
pub(crate) async fn prune(pool: &PgPool, company: &str, age: Duration) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM gamooga_outbox
         WHERE company = $1 AND state = 'dead' AND dead_at < now() - $2 * interval '1 millisecond'",
    )
    .bind(company)
    .bind(ms(age))
    .execute(pool)
    .await?
    .rows_affected())
}

/// Asks to be woken by notifications until `valid_for` from now: commits of the company's
/// rows notify while this row is valid (see the migration's `gamooga_outbox_notify`).
pub(crate) async fn mark_idle(
    pool: &PgPool,
    relay: &str,
    company: &str,
    valid_for: Duration,
) -> Result<(), sqlx::Error> {
    let mut tx = begin(pool).await?;
    sqlx::query(
        "INSERT INTO gamooga_outbox_idle (relay, company, until)
         VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (relay) DO UPDATE SET company = EXCLUDED.company, until = EXCLUDED.until",
    )
    .bind(relay)
    .bind(company)
    .bind(ms(valid_for))
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Busy again (or stopping): commits no longer need to notify this relay.
pub(crate) async fn unmark_idle(pool: &PgPool, relay: &str) -> Result<(), sqlx::Error> {
    let mut tx = begin(pool).await?;
    sqlx::query("DELETE FROM gamooga_outbox_idle WHERE relay = $1")
        .bind(relay)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Forgets the sleep requests of relays that died asleep (expired for an hour).
pub(crate) async fn forget_dead_sleepers(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM gamooga_outbox_idle WHERE until < now() - interval '1 hour'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
