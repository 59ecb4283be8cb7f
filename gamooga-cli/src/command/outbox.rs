//! `gamooga outbox`: a company's rows in a PostgreSQL outbox (`gamooga::outbox`): counts,
//! dead letters, replay, purge. The `spool` tools' counterpart for the outbox.
//!
//! Only the database and the company id are needed (nothing is sent from here: a replay
//! marks rows pending and the running relays deliver them). Dead letters are listed without
//! ids or property values unless `--requests` asks for them.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use gamooga::outbox::{sqlx::PgPool, DeadLetterFilter, EventId, Outbox};
use gamooga::Calls;
use serde_json::json;

use crate::command::relay::{outbox_error, DatabaseArg};
use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;

/// What to do with the outbox.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Count the company's rows: pending (due, leased, waiting for a retry), dead, the age of
    /// the oldest pending row, a pause in force
    Stats(DatabaseArg),
    /// List the dead letters, oldest first: why, how many attempts, the last error
    Dead(DeadArgs),
    /// Mark dead letters pending again (attempts reset); running relays deliver them
    Replay(SelectArgs),
    /// Delete dead letters
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
pub struct DeadArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Also print each request's path, query and body (user ids and values included)
    #[arg(long)]
    pub requests: bool,
    /// At most this many
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub limit: usize,
}

/// Which dead letters: all of them, some ids, or those of one reason.
#[derive(Debug, Args)]
pub struct SelectArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Only these rows (repeat the flag, or separate with commas)
    #[arg(
        long = "id",
        value_name = "ID",
        value_delimiter = ',',
        conflicts_with = "reason"
    )]
    pub ids: Vec<i64>,
    /// Only those that died for this reason: rejected, retries_exhausted, unresolved,
    /// panicked, undecodable
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
}

impl SelectArgs {
    fn filter(&self) -> DeadLetterFilter {
        if !self.ids.is_empty() {
            DeadLetterFilter::Ids(self.ids.iter().copied().map(EventId).collect())
        } else if let Some(reason) = &self.reason {
            DeadLetterFilter::Reason(reason.clone())
        } else {
            DeadLetterFilter::All
        }
    }
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Really delete them
    #[arg(long)]
    pub yes: bool,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The company's outbox handle and a pool (no relay, nothing sent).
async fn open(database: &DatabaseArg, conn: &ConnectionArgs) -> Result<(PgPool, Outbox), CliError> {
    let url = database.url()?;
    let settings = conn.settings(None)?;
    let outbox = Outbox::new(Calls::new(&settings.company)?);
    let pool = gamooga::outbox::connect(&url).await.map_err(outbox_error)?;
    gamooga::outbox::check(&pool).await.map_err(outbox_error)?;
    Ok((pool, outbox))
}

pub async fn run(
    command: OutboxCommand,
    conn: &ConnectionArgs,
    out: Output,
) -> Result<Exit, CliError> {
    match command {
        OutboxCommand::Stats(database) => stats(&database, conn, out).await,
        OutboxCommand::Dead(args) => dead(&args, conn, out).await,
        OutboxCommand::Replay(args) => replay(&args, conn, out).await,
        OutboxCommand::Purge(args) => purge(&args, conn, out).await,
    }
}

async fn stats(
    database: &DatabaseArg,
    conn: &ConnectionArgs,
    out: Output,
) -> Result<Exit, CliError> {
    let (pool, outbox) = open(database, conn).await?;
    let s = outbox.stats(&pool).await.map_err(outbox_error)?;
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
    out.result(
        json!({
            "company": outbox.company_id(),
            "pending": s.pending,
            "due": s.due,
            "leased": s.leased,
            "waiting": s.waiting,
            "dead": s.dead,
            "oldest_pending_s": secs(s.oldest_pending_age),
            "paused_for_s": secs(s.paused_for),
            "pause_cause": s.pause_cause,
        }),
        || {
            let mut text = format!(
                "company {}: {} pending ({} due, {} leased, {} waiting for a retry), {} dead",
                outbox.company_id(),
                s.pending,
                s.due,
                s.leased,
                s.waiting,
                s.dead
            );
            if let Some(age) = s.oldest_pending_age {
                text.push_str(&format!(
                    "\n  oldest pending: {:.1} s old",
                    age.as_secs_f64()
                ));
            }
            if let Some(p) = s.paused_for {
                text.push_str(&format!(
                    "\n  paused for {:.1} s more ({})",
                    p.as_secs_f64(),
                    s.pause_cause.as_deref().unwrap_or("?")
                ));
            }
            text
        },
    );
    pool.close().await;
    Ok(Exit::Success)
}

async fn dead(args: &DeadArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let (pool, outbox) = open(&args.database, conn).await?;
    let letters = outbox
        .dead_letters(&pool, args.limit)
        .await
        .map_err(outbox_error)?;
    for d in &letters {
        let endpoint = d.request.as_ref().ok().map(|r| r.endpoint().name());
        let (request, body) = match (&d.request, args.requests) {
            (Ok(r), true) => (Some(r.path_and_query()), r.body().map(str::to_owned)),
            _ => (None, None),
        };
        out.result(
            json!({
                "id": d.id.get(),
                "endpoint": endpoint,
                "reason": d.reason,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "enqueued_at_ms": millis(d.enqueued_at),
                "dead_at_ms": millis(d.dead_at),
                "request": request,
                "body": body,
            }),
            || {
                let mut line = format!(
                    "#{}  {}  {}  {} attempt(s)  {}",
                    d.id.get(),
                    endpoint.unwrap_or("(undecodable)"),
                    d.reason,
                    d.attempts,
                    d.last_error.as_deref().unwrap_or("-")
                );
                if let Some(r) = &request {
                    line.push_str(&format!("\n    {r}"));
                }
                if let Some(b) = &body {
                    line.push_str(&format!("\n    {b}"));
                }
                line
            },
        );
    }
    if letters.len() == args.limit {
        let total = outbox.stats(&pool).await.map_err(outbox_error)?.dead;
        if total > letters.len() as u64 && !out.json {
            eprintln!(
                "{} more not shown (--limit {})",
                total - letters.len() as u64,
                args.limit
            );
        }
    }
    pool.close().await;
    Ok(Exit::Success)
}

async fn replay(args: &SelectArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let (pool, outbox) = open(&args.database, conn).await?;
    let replayed = outbox
        .replay_dead_letters(&pool, &args.filter())
        .await
        .map_err(outbox_error)?;
    out.result(json!({ "replayed": replayed }), || {
        format!("{replayed} dead letter(s) pending again; running relays deliver them")
    });
    pool.close().await;
    Ok(Exit::Success)
}

async fn purge(args: &PurgeArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let (pool, outbox) = open(&args.select.database, conn).await?;
    if !args.yes {
        let n = outbox.stats(&pool).await.map_err(outbox_error)?.dead;
        pool.close().await;
        return Err(CliError::usage(format!(
            "this deletes dead letters of company {} ({n} in all): pass --yes to do it",
            outbox.company_id()
        )));
    }
    let removed = outbox
        .remove_dead_letters(&pool, &args.select.filter())
        .await
        .map_err(outbox_error)?;
    out.result(json!({ "removed": removed }), || {
        format!("removed {removed} dead letter(s)")
    });
    pool.close().await;
    Ok(Exit::Success)
}
