//! A relay run as a process: the settings both relay programs take (`gamooga-outbox-relay`
//! and the CLI's `gamooga relay`), the signal that stops them, and the report they print.
//!
//! Shared so the two programs cannot drift: each parses its command line into
//! [`RelayOptions`] (the same flag names), builds its client, and calls [`run`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use gamooga::outbox::process::{self, RelayOptions};
//!
//! let mut options = RelayOptions::default();
//! options.batch_size = Some(200);
//! options.shutdown_grace = Some(Duration::from_secs(20));
//! let client = gamooga::Client::from_env()?;
//! let report = process::run("postgres://app@db/app", client, &options, |relay| {
//!     println!("{} is running", relay.name());
//! }, process::stop_signal()).await?;
//! println!("{}", process::report_json(&report));
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use gamooga_core::retry::RetryPolicy;
use gamooga_core::Client;

use crate::error::Error;
use crate::relay::{Relay, RelayHandle, RelayReport};

/// A relay process's settings; `None` keeps [`Relay`]'s default. The programs' flags:
///
/// | field | flag | default |
/// |---|---|---|
/// | `name` | `--name NAME` | host-pid-random |
/// | `batch_size` | `--batch-size N` | 100 |
/// | `concurrency` | `--concurrency N` | 32 |
/// | `lease` | `--lease-ms N` | 60,000 |
/// | `max_attempts` | `--max-attempts N` | 10 |
/// | `initial_backoff` | `--initial-backoff-ms N` | 500 |
/// | `max_backoff` | `--max-backoff-ms N` | 60,000 |
/// | `max_elapsed` | `--max-elapsed-s N\|none` | 3,600 |
/// | `idle_poll` | `--idle-poll-ms N` | 5,000 |
/// | `shutdown_grace` | `--grace-ms N` | 10,000 |
/// | `migrate` | `--migrate` | off |
///
/// (The client's own settings, company, backend and timeout, are the program's.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayOptions {
    /// The relay's name ([`Relay::name`]).
    pub name: Option<String>,
    /// Rows per claim ([`Relay::batch_size`]).
    pub batch_size: Option<usize>,
    /// Requests in flight ([`Relay::concurrency`]).
    pub concurrency: Option<usize>,
    /// How long a claim holds its rows ([`Relay::lease`]).
    pub lease: Option<Duration>,
    /// The retry policy's attempts in all.
    pub max_attempts: Option<u32>,
    /// The retry policy's first backoff ceiling.
    pub initial_backoff: Option<Duration>,
    /// The retry policy's largest backoff ceiling.
    pub max_backoff: Option<Duration>,
    /// The retry policy's time budget: `Some(None)` retries without a time limit.
    pub max_elapsed: Option<Option<Duration>>,
    /// The longest idle sleep without a notification ([`Relay::idle_poll`]).
    pub idle_poll: Option<Duration>,
    /// Time to finish after the stop signal ([`Relay::shutdown_grace`]).
    pub shutdown_grace: Option<Duration>,
    /// Create the tables first if they are missing ([`migrate`](crate::migrate)).
    pub migrate: bool,
}

impl RelayOptions {
    /// [`RetryPolicy::background`] with these options' changes.
    pub fn retry_policy(&self) -> RetryPolicy {
        let mut retry = RetryPolicy::background();
        if let Some(n) = self.max_attempts {
            retry = retry.max_attempts(n);
        }
        if let Some(d) = self.initial_backoff {
            retry = retry.initial_backoff(d);
        }
        if let Some(d) = self.max_backoff {
            retry = retry.max_backoff(d);
        }
        if let Some(d) = self.max_elapsed {
            retry = retry.max_elapsed(d);
        }
        retry
    }

    /// `relay` with these options (its retry policy included).
    pub fn apply(&self, relay: Relay) -> Relay {
        let mut relay = relay.retry(self.retry_policy());
        if let Some(name) = &self.name {
            relay = relay.name(name.clone());
        }
        if let Some(n) = self.batch_size {
            relay = relay.batch_size(n);
        }
        if let Some(n) = self.concurrency {
            relay = relay.concurrency(n);
        }
        if let Some(d) = self.lease {
            relay = relay.lease(d);
        }
        if let Some(d) = self.idle_poll {
            relay = relay.idle_poll(d);
        }
        if let Some(d) = self.shutdown_grace {
            relay = relay.shutdown_grace(d);
        }
        relay
    }
}

/// Connects to `database_url` ([`connect`](crate::connect)), migrates if asked, starts a
/// relay of `client`'s company with `options`, calls `ready` once it runs, and at `stop`
/// shuts it down within its grace ([`RelayHandle::shutdown`]), returning its report.
///
/// Errors: a setting is out of range ([`Relay::start`]; checked before the database is
/// tried), the database cannot be reached, the schema is missing or of another version.
pub async fn run<F: Future>(
    database_url: &str,
    client: Client,
    options: &RelayOptions,
    ready: impl FnOnce(&RelayHandle),
    stop: F,
) -> Result<RelayReport, Error> {
    // The settings first: a bad one is named before the database is tried.
    let pool = crate::connect_lazy(database_url)?;
    let relay = options.apply(Relay::new(pool.clone(), client));
    relay.validate()?;
    // Then reach the database, as `connect` does: an unreachable one fails here.
    drop(pool.acquire().await?);
    if options.migrate {
        crate::migrate(&pool).await?;
    }
    let handle = relay.start().await?;
    ready(&handle);
    stop.await;
    tracing::info!(relay = handle.name(), "gamooga outbox relay: stopping");
    let grace = handle.config().shutdown_grace();
    Ok(handle.shutdown(grace).await)
}

/// Completes at SIGTERM (what container runtimes and `kill` send) or Ctrl-C (SIGINT).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The report as one JSON object (stable field names: `name`, `company`, `completed`, and
/// the counters of [`RelayStats`](crate::RelayStats) by their field names). No ids, no
/// values: the relay's name, the company and counts.
pub fn report_json(report: &RelayReport) -> serde_json::Value {
    let s = &report.stats;
    serde_json::json!({
        "name": s.name,
        "company": s.company,
        "completed": report.completed,
        "claimed": s.claimed,
        "delivered": s.delivered,
        "retried": s.retried,
        "dead_lettered": s.dead_lettered,
        "undecodable": s.undecodable,
        "released": s.released,
        "abandoned": s.abandoned,
        "ambiguous": s.ambiguous,
        "lease_lost": s.lease_lost,
        "unsettled": s.unsettled,
        "backpressure_pauses": s.backpressure_pauses,
        "resolution_pauses": s.resolution_pauses,
        "pauses_observed": s.pauses_observed,
        "dead_letters_pruned": s.dead_letters_pruned,
        "database_errors": s.database_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_change_only_what_they_name() {
        let mut options = RelayOptions::default();
        assert_eq!(options.retry_policy(), RetryPolicy::background());
        options.max_attempts = Some(3);
        options.max_elapsed = Some(None);
        let retry = options.retry_policy();
        assert_eq!(
            retry,
            RetryPolicy::background().max_attempts(3).max_elapsed(None)
        );
    }
}
