//! `gamooga spool`: look into a spool file left behind (by `gamooga import` or any service
//! using the SDK's spooled queue), re-send its dead letters, remove them.
//!
//! Built on the SDK's public `gamooga::spool::Spool`, opened with `open_existing` (a
//! mistyped path is an error, nothing is created, an older format is read as it is), and
//! a queue started on the file (delivery). Dead letters are listed page by page, so a spool
//! with millions of them is listed in bounded memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use gamooga::queue::{QueueConfig, Tag};
use gamooga::spool::{DeadLetterRetention, Spool};
use serde_json::{json, Value};

use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;

/// What to do with a spool.
#[derive(Debug, Subcommand)]
pub enum SpoolCommand {
    /// Count the events waiting for delivery and the dead letters (by reason)
    Stats(PathArg),
    /// List the dead letters: why, how many attempts, the last error
    Dead(DeadArgs),
    /// Mark every dead letter pending again and deliver everything pending (needs the
    /// company configuration, like `send`)
    Replay(ReplayArgs),
    /// Delete every dead letter (pending events stay)
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
pub struct PathArg {
    /// The spool file (e.g. orders.csv.gamooga-spool)
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct DeadArgs {
    #[command(flatten)]
    pub spool: PathArg,
    /// Also print each request's path and query (user ids and values included)
    #[arg(long)]
    pub requests: bool,
    /// At most this many (the oldest first)
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub spool: PathArg,
    /// Only mark the dead letters pending; the next queue started on the file delivers them
    #[arg(long)]
    pub mark_only: bool,
    /// Seconds to keep delivering after Ctrl-C before leaving the rest in the spool
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub shutdown_timeout: u64,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub spool: PathArg,
    /// Really delete them
    #[arg(long)]
    pub yes: bool,
}

/// Opens an existing spool (never creates one: a mistyped path is an error).
fn open(path: &Path) -> Result<Spool, CliError> {
    Ok(Spool::open_existing(path)?)
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn tag_json(tag: Option<&Tag>) -> Value {
    match tag {
        Some(t) => json!({ "source": t.source(), "position": t.position(), "extra": t.extra() }),
        None => Value::Null,
    }
}

/// Dead letters read at once.
const PAGE: usize = 1000;

pub async fn run(
    command: SpoolCommand,
    conn: &ConnectionArgs,
    out: Output,
) -> Result<Exit, CliError> {
    match command {
        SpoolCommand::Stats(args) => stats(&args.path, out),
        SpoolCommand::Dead(args) => dead(&args, out),
        SpoolCommand::Replay(args) => replay(&args, conn, out).await,
        SpoolCommand::Purge(args) => purge(&args, out),
    }
}

fn stats(path: &Path, out: Output) -> Result<Exit, CliError> {
    let s = open(path)?.stats()?;
    let cursors: Vec<Value> = s
        .cursors
        .iter()
        .map(|c| {
            json!({
                "source": c.source,
                "position": c.position,
                "extra": c.extra,
                "accepted": c.accepted,
                "delivered": c.delivered,
                "marked": c.marked,
                "updated_ms": millis(c.updated_at),
            })
        })
        .collect();
    out.result(
        json!({
            "spool": path.display().to_string(),
            "version": s.version,
            "pending": s.pending,
            "oldest_pending_ms": s.oldest_pending.map(millis),
            "dead_letters": s.dead_letters,
            "dead_by_reason": s.dead_by_reason,
            "oldest_dead_letter_ms": s.oldest_dead_letter.map(millis),
            "cursors": cursors,
            "bytes": s.bytes,
        }),
        || {
            let mut text = format!(
                "{}: {} pending, {} dead letter(s), {:.1} MiB (format {})",
                path.display(),
                s.pending,
                s.dead_letters,
                s.bytes as f64 / (1 << 20) as f64,
                s.version
            );
            for (reason, n) in &s.dead_by_reason {
                text.push_str(&format!("\n  dead, {reason}: {n}"));
            }
            for c in &s.cursors {
                // An import's cursor: the extra number is the line of the row at `position`.
                let at = if c.source.starts_with("import:") {
                    format!("line {} (byte {})", c.extra, c.position)
                } else {
                    format!("position {} (extra {})", c.position, c.extra)
                };
                text.push_str(&format!(
                    "\n  checkpoint {}: {at}; {} accepted, {} delivered, {} marked",
                    c.source, c.accepted, c.delivered, c.marked
                ));
            }
            text
        },
    );
    Ok(Exit::Success)
}

fn dead(args: &DeadArgs, out: Output) -> Result<Exit, CliError> {
    let spool = open(&args.spool.path)?;
    let mut left = args.limit.unwrap_or(u64::MAX);
    let mut after = 0;
    while left > 0 {
        let page = spool.dead_letters_page(after, PAGE.min(left.try_into().unwrap_or(PAGE)))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        left -= page.len() as u64;
        for d in page {
            let reason = d.reason.map_or("unknown", |r| r.as_str());
            let endpoint = d.request.endpoint().name();
            let request = args.requests.then(|| d.request.path_and_query());
            out.result(
                json!({
                    "id": d.id,
                    "endpoint": endpoint,
                    "reason": reason,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "enqueued_at_ms": millis(d.enqueued_at),
                    "tag": tag_json(d.tag.as_ref()),
                    "request": request,
                    "body": if args.requests { d.request.body() } else { None },
                }),
                || {
                    let mut line = format!(
                        "#{}  {endpoint}  {reason}  {} attempt(s)  {}",
                        d.id,
                        d.attempts,
                        d.last_error.as_deref().unwrap_or("-")
                    );
                    if let Some(t) = &d.tag {
                        if t.source().starts_with("import:") {
                            line.push_str(&format!("  (line {})", t.extra()));
                        } else {
                            line.push_str(&format!("  ({} at {})", t.source(), t.position()));
                        }
                    }
                    if let Some(r) = &request {
                        line.push_str(&format!("\n    {r}"));
                    }
                    line
                },
            );
        }
    }
    Ok(Exit::Success)
}

fn purge(args: &PurgeArgs, out: Output) -> Result<Exit, CliError> {
    let spool = open(&args.spool.path)?;
    if !args.yes {
        let n = spool.stats()?.dead_letters;
        return Err(CliError::usage(format!(
            "this deletes {n} dead letter(s) from {}: pass --yes to do it",
            args.spool.path.display()
        )));
    }
    let removed = spool.remove_dead_letters()?;
    out.result(json!({ "removed": removed }), || {
        format!("removed {removed} dead letter(s)")
    });
    Ok(Exit::Success)
}

async fn replay(args: &ReplayArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let path = &args.spool.path;
    let marked = {
        let spool = open(path)?;
        if !args.mark_only && spool.in_use()? {
            // Refused before anything changes: marked now, they would wait for the queue
            // that holds the file, which does not read them before its next start.
            return Err(CliError::failed(format!(
                "{} is in use by another queue (a running import or service): stop it first,                  or use --mark-only so that the next queue started on it delivers them",
                path.display()
            )));
        }
        spool.replay_dead_letters()?
    };
    if args.mark_only {
        out.result(json!({ "marked_pending": marked }), || {
            format!("{marked} dead letter(s) marked pending")
        });
        return Ok(Exit::Success);
    }
    let client = conn.settings(None)?.client()?;
    // The spool tools never prune dead letters: they go only with `purge`.
    let queue = client.queue(
        QueueConfig::default()
            .spool(path)
            .spool_dead_letters(DeadLetterRetention::unbounded()),
    )?;
    let interrupted = tokio::select! {
        () = queue.flush() => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    let deadline = if interrupted {
        Duration::from_secs(args.shutdown_timeout)
    } else {
        Duration::from_secs(5)
    };
    let report = queue.shutdown(deadline).await;
    out.result(
        json!({
            "marked_pending": marked,
            "delivered": report.delivered,
            "dead_lettered": report.dead_lettered,
            "still_spooled": report.still_spooled,
            "interrupted": interrupted,
        }),
        || {
            format!(
                "{marked} dead letter(s) marked pending; {} delivered, {} dead-lettered again, \
                 {} still in the spool",
                report.delivered, report.dead_lettered, report.still_spooled
            )
        },
    );
    Ok(match () {
        () if interrupted => Exit::Interrupted,
        () if report.dead_lettered > 0 || report.still_spooled > 0 => Exit::Failure,
        () => Exit::Success,
    })
}
