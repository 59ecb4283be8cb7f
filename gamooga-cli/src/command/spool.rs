//! `gamooga spool`: look into a spool file left behind (by `gamooga import` or any service
//! using the SDK's spooled queue), re-send its dead letters, remove them.
//!
//! Built on the SDK's public `gamooga::spool::Spool` (counts, dead letters, replay, removal)
//! and a queue started on the file (delivery).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use gamooga::queue::QueueConfig;
use gamooga::spool::Spool;
use serde_json::json;

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
    if !path.is_file() {
        return Err(CliError::usage(format!(
            "no spool file at {}",
            path.display()
        )));
    }
    Ok(Spool::open(path)?)
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

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
    let spool = open(path)?;
    let pending = spool.pending()?;
    let dead = spool.dead_letters()?;
    let mut by_reason = BTreeMap::<String, u64>::new();
    for d in &dead {
        let reason = d.reason.map_or("unknown", |r| r.as_str());
        *by_reason.entry(reason.to_owned()).or_default() += 1;
    }
    let oldest_dead = dead.iter().map(|d| millis(d.enqueued_at)).min();
    out.result(
        json!({
            "spool": path.display().to_string(),
            "pending": pending,
            "dead_letters": dead.len(),
            "dead_by_reason": by_reason,
            "oldest_dead_letter_ms": oldest_dead,
        }),
        || {
            let mut text = format!(
                "{}: {pending} pending, {} dead letter(s)",
                path.display(),
                dead.len()
            );
            for (reason, n) in &by_reason {
                text.push_str(&format!("\n  {reason}: {n}"));
            }
            text
        },
    );
    Ok(Exit::Success)
}

fn dead(args: &DeadArgs, out: Output) -> Result<Exit, CliError> {
    let spool = open(&args.spool.path)?;
    for d in spool.dead_letters()? {
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
                if let Some(r) = &request {
                    line.push_str(&format!("\n    {r}"));
                }
                line
            },
        );
    }
    Ok(Exit::Success)
}

fn purge(args: &PurgeArgs, out: Output) -> Result<Exit, CliError> {
    let spool = open(&args.spool.path)?;
    if !args.yes {
        let n = spool.dead_letters()?.len();
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
        spool.replay_dead_letters()?
    };
    if args.mark_only {
        out.result(json!({ "marked_pending": marked }), || {
            format!("{marked} dead letter(s) marked pending")
        });
        return Ok(Exit::Success);
    }
    let client = conn.settings(None)?.client()?;
    let queue = client.queue(QueueConfig::default().spool(path))?;
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
