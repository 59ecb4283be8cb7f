//! `gamooga relay`: deliver a company's PostgreSQL outbox (`gamooga::outbox`) until Ctrl-C
//! or SIGTERM, then report.
//!
//! The same relay and the same flags as the `gamooga-outbox-relay` program: both parse into
//! `gamooga::outbox::process::RelayOptions` and run `process::run`, so they cannot drift.
//! This one adds logs (a tracing subscriber on standard error) and a report for people.

use std::time::Duration;

use clap::Args;
use gamooga::outbox::process::{self, RelayOptions};
use serde_json::json;
use tokio::sync::watch;

use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;

pub const ENV_DATABASE_URL: &str = "DATABASE_URL";

/// The database of the outbox, for `relay` and `outbox`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// The PostgreSQL database holding the outbox (postgres://user:password@host:port/db)
    /// [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

impl DatabaseArg {
    /// The URL, from the flag, else `DATABASE_URL`.
    pub fn url(&self) -> Result<String, CliError> {
        if let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            return Ok(url.trim().to_owned());
        }
        match std::env::var(ENV_DATABASE_URL) {
            Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
            _ => Err(CliError::usage(format!(
                "no database: pass --database-url URL or set {ENV_DATABASE_URL}"
            ))),
        }
    }
}

/// A `--max-elapsed-s` value: seconds, or `none` for no time limit. (A newtype: clap reads
/// an `Option<Option<_>>` field as a flag whose value may be left out.)
#[derive(Debug, Clone, Copy)]
pub struct MaxElapsed(Option<Duration>);

fn max_elapsed(s: &str) -> Result<MaxElapsed, String> {
    if s == "none" {
        return Ok(MaxElapsed(None));
    }
    s.parse::<u64>()
        .map(|n| MaxElapsed(Some(Duration::from_secs(n))))
        .map_err(|_| format!("`{s}` is neither a number of seconds nor `none`"))
}

/// Deliver the rows of a PostgreSQL outbox (the `gamooga-outbox` crate) to Gamooga until
/// Ctrl-C or SIGTERM. Any number of relays, on any number of machines, can share one table.
#[derive(Debug, Args)]
pub struct RelayArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// The relay's name, as stored in the rows it leases (default: host-pid-random)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Rows per claim [default: 100]
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Requests in flight [default: 32]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// How long a claim holds its rows, in milliseconds [default: 60000]
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// Per attempt, in milliseconds (instead of --timeout)
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Retry policy: attempts in all [default: 10]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Retry policy: first backoff ceiling, in milliseconds [default: 500]
    #[arg(long, value_name = "MS")]
    pub initial_backoff_ms: Option<u64>,
    /// Retry policy: largest backoff ceiling, in milliseconds [default: 60000]
    #[arg(long, value_name = "MS")]
    pub max_backoff_ms: Option<u64>,
    /// Retry policy: give up after this many seconds, or `none` [default: 3600]
    #[arg(long, value_name = "SECONDS|none", value_parser = max_elapsed)]
    pub max_elapsed_s: Option<MaxElapsed>,
    /// The longest idle sleep without a notification, in milliseconds [default: 5000]
    #[arg(long, value_name = "MS")]
    pub idle_poll_ms: Option<u64>,
    /// Time to finish after Ctrl-C or SIGTERM, in milliseconds [default: 10000]
    #[arg(long, value_name = "MS")]
    pub grace_ms: Option<u64>,
    /// Create the outbox's tables first if they are missing
    #[arg(long)]
    pub migrate: bool,
}

impl RelayArgs {
    fn options(&self) -> RelayOptions {
        let ms = |v: Option<u64>| v.map(Duration::from_millis);
        let mut o = RelayOptions::default();
        o.name = self.name.clone();
        o.batch_size = self.batch_size;
        o.concurrency = self.concurrency;
        o.lease = ms(self.lease_ms);
        o.max_attempts = self.max_attempts;
        o.initial_backoff = ms(self.initial_backoff_ms);
        o.max_backoff = ms(self.max_backoff_ms);
        o.max_elapsed = self.max_elapsed_s.map(|m| m.0);
        o.idle_poll = ms(self.idle_poll_ms);
        o.shutdown_grace = ms(self.grace_ms);
        o.migrate = self.migrate;
        o
    }
}

/// Logs to standard error: `RUST_LOG` if set, else `info` for the SDK's crates and `warn`
/// for the rest. (The SDK logs no id or value above DEBUG.)
pub fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,gamooga_outbox=info,gamooga_core=info,gamooga=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub async fn run(args: RelayArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let database_url = args.database.url()?;
    let mut settings = conn.settings(None)?;
    if let Some(ms) = args.timeout_ms {
        if ms == 0 {
            return Err(CliError::usage("--timeout-ms must be above 0"));
        }
        settings.timeout = Duration::from_millis(ms);
    }
    let client = settings.client()?;
    let options = args.options();
    init_logs();
    // The first signal starts the bounded shutdown; a second one stops at once (dropping the
    // relay stops its tasks: the rows it held come back when their lease ends).
    let signals = count_signals()
        .map_err(|e| CliError::failed(format!("cannot listen for Ctrl-C and SIGTERM: {e}")))?;
    let mut first = signals.clone();
    let mut second = signals;
    let run = process::run(
        &database_url,
        client,
        &options,
        |relay| {
            let config = relay.config();
            out.result(
                json!({ "ready": relay.name(), "company": settings.company }),
                || {
                    format!(
                        "relay {} delivering the outbox of company {} (batches of {}, {} in \
                         flight, leases of {:?}); Ctrl-C or SIGTERM stops it",
                        relay.name(),
                        settings.company,
                        config.batch_size(),
                        config.concurrency(),
                        config.lease()
                    )
                },
            );
        },
        async {
            let _ = first.wait_for(|n| *n >= 1).await;
            if !out.json {
                eprintln!(
                    "stopping: finishing what is in flight (up to {:?}; a second Ctrl-C stops \
                     at once); rows not started go back to the table",
                    options.shutdown_grace.unwrap_or(Duration::from_secs(10))
                );
            }
        },
    );
    let report = tokio::select! {
        report = run => report.map_err(outbox_error)?,
        _ = second.wait_for(|n| *n >= 2) => {
            eprintln!(
                "stopped at once: the rows this relay held come back to the table when their \
                 lease ends"
            );
            return Ok(Exit::Interrupted);
        }
    };
    let s = &report.stats;
    out.result(process::report_json(&report), || {
        let mut text = format!(
            "relay {} stopped: {} claimed, {} delivered, {} retried later, {} dead-lettered, \
             {} handed back unattempted, {} abandoned at the deadline ({} ambiguous attempts)",
            s.name,
            s.claimed,
            s.delivered,
            s.retried,
            s.dead_lettered,
            s.released,
            s.abandoned,
            s.ambiguous
        );
        if !report.completed {
            text.push_str(
                "\nnot everything settled before the deadline: those rows come back to the \
                 table when their lease ends",
            );
        }
        text
    });
    Ok(if report.completed {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// Counts Ctrl-C (SIGINT) and SIGTERM from now on. The signal streams are made once and
/// kept, so a second signal sent right after the first is never missed (a listener made
/// after a signal does not see it). (`process::stop_signal` waits for one only.)
fn count_signals() -> std::io::Result<watch::Receiver<u32>> {
    let (tx, rx) = watch::channel(0_u32);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    got = interrupt.recv() => got,
                    got = terminate.recv() => got,
                };
                if got.is_none() {
                    break;
                }
                tx.send_modify(|n| *n += 1);
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            tx.send_modify(|n| *n += 1);
        }
    });
    Ok(rx)
}

/// An outbox error as the command line's: bad settings are usage errors, the rest
/// failures (a missing schema with the hint to migrate).
pub fn outbox_error(e: gamooga::outbox::Error) -> CliError {
    match e {
        gamooga::outbox::Error::Config(_) | gamooga::outbox::Error::Invalid(_) => {
            CliError::usage(e.to_string())
        }
        gamooga::outbox::Error::Schema(_) => CliError::failed(format!(
            "{e} (create the tables with `gamooga relay --migrate`, or apply the SQL of \
             gamooga::outbox::MIGRATION_SQL)"
        )),
        other => CliError::failed(other.to_string()),
    }
}
