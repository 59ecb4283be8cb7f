//! [`Relay`]: delivers a company's outbox rows to Gamooga. Run any number, in the
//! application ([`Relay::start`]) or as processes ([`Relay::run_until`]), on any number of
//! machines: they share the table.
//!
//! # How relays share the table
//!
//! - A relay **claims** a batch of due rows with `FOR UPDATE SKIP LOCKED` (relays claiming
//!   at once take different rows) and **leases** them: each row's `not_before` moves to the
//!   end of the lease, and `leased_by`/`lease_id` name the claim.
//! - It **delivers** them concurrently over the client's keep-alive connections, one attempt
//!   each ([`Deliver`], [`Client::send_once`](gamooga_core::Client::send_once)), and
//!   **settles** every outcome by the [`DeliveryRules`](gamooga_core::queue::DeliveryRules)
//!   the delivery queue uses: 200 deletes the row; a retryable failure hands it back with
//!   `not_before` after the policy's backoff (for any relay to take); a refusal, or the
//!   retry budget used up, marks it `dead` with the reason and the last error.
//! - A relay that **dies** mid-batch loses nothing: its rows come back when their lease ends
//!   (any relay claims them then). A row delivered just before the death is sent again:
//!   delivery is at-least-once, as Gamooga has no idempotency key.
//! - A settlement applies only while the row still carries its claim's `lease_id`: a relay
//!   that held a row past its lease (an attempt longer than the lease) cannot undo another
//!   relay's claim; it counts `lease_lost`. Keep the lease (60 s by default) well above the
//!   client's timeout (10 s by default).
//! - **Backpressure is shared.** A `429`/`503` with `Retry-After` (or a `429` without it, or
//!   a backend that cannot be resolved) writes a pause into `gamooga_outbox_pause`: every
//!   relay of the company stops claiming until it ends, and learns of it at once through
//!   `LISTEN` (a relay's rows already claimed but not started are handed back until then;
//!   attempts already in flight finish).
//! - **Idle relays sleep** on `LISTEN`. After its last row a relay looks again every 50 ms
//!   for a second; then it asks to be notified (a row in `gamooga_outbox_idle`) and sleeps
//!   until a notification (a committed row of its company), the next row's due time, or the
//!   idle poll (5 s). An enqueue's commit notifies only while a relay of its company sleeps:
//!   PostgreSQL makes notifying commits wait for one another (fsync included), so a
//!   notification from every enqueue would cap the application's enqueuing transactions at
//!   about one per disk flush. Under a steady flow no enqueue notifies and delivery latency
//!   stays under 50 ms or so; a relay that just fell asleep may, rarely, miss a row whose
//!   transaction raced its going to sleep, and find it at its idle poll.
//!
//! A relay holds one connection of its pool for `LISTEN`, and uses others for claims and
//! settlements: give it a pool of at least 2 (its own, or the application's).

mod core;
mod run;
mod sql;
mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gamooga_core::queue::Deliver;
use gamooga_core::retry::RetryPolicy;
use gamooga_core::Client;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use stats::{RelayReport, RelayStats};

use self::core::Core;
use crate::error::Error;

/// A relay's settings (see [`Relay`]'s methods for each, and their defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayConfig {
    name: String,
    batch_size: usize,
    concurrency: usize,
    lease: Duration,
    retry: RetryPolicy,
    pause_floor: Duration,
    idle_poll: Duration,
    dead_letter_retention: Option<Duration>,
    shutdown_grace: Duration,
}

impl RelayConfig {
    /// The relay's name, stored in `leased_by`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Rows claimed at once at most.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Requests in flight at most.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
    /// How long a claim holds its rows.
    pub fn lease(&self) -> Duration {
        self.lease
    }
    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
    /// The shortest pause (a `429` without `Retry-After`, an unresolved backend).
    pub fn pause_floor(&self) -> Duration {
        self.pause_floor
    }
    /// The longest sleep of an idle relay without a notification.
    pub fn idle_poll(&self) -> Duration {
        self.idle_poll
    }
    /// How long dead letters are kept (`None`: until removed).
    pub fn dead_letter_retention(&self) -> Option<Duration> {
        self.dead_letter_retention
    }
    /// How long [`Relay::run_until`] lets attempts finish after its signal.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }
}

/// The default relay name: the host name, the process id and a random suffix (two relays
/// of one process get different names).
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "relay".to_owned());
    format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            name: default_name(),
            batch_size: 100,
            concurrency: 32,
            lease: Duration::from_secs(60),
            retry: RetryPolicy::background(),
            pause_floor: gamooga_core::queue::DeliveryRules::DEFAULT_PAUSE_FLOOR,
            idle_poll: Duration::from_secs(5),
            dead_letter_retention: Some(Duration::from_secs(30 * 86_400)),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A relay, configured and not yet running: [`start`](Self::start) it in the application,
/// or [`run_until`](Self::run_until) a signal in a relay process.
///
/// ```no_run
/// use std::time::Duration;
/// use gamooga::outbox::{sqlx::PgPool, Relay};
///
/// # async fn demo(pool: PgPool, client: gamooga::Client) -> Result<(), gamooga::outbox::Error> {
/// // In the application: a background task, ended with a bounded shutdown.
/// let relay = Relay::new(pool.clone(), client.clone()).start().await?;
/// // ... serve ...
/// let report = relay.shutdown(Duration::from_secs(10)).await;
/// println!("{} delivered, {} dead", report.stats.delivered, report.stats.dead_lettered);
///
/// // As a process: until Ctrl-C (or SIGTERM), then up to `shutdown_grace` to finish.
/// let report = Relay::new(pool, client)
///     .batch_size(200)
///     .lease(Duration::from_secs(30))
///     .run_until(async { let _ = tokio::signal::ctrl_c().await; })
///     .await?;
/// # Ok(()) }
/// ```
pub struct Relay {
    pool: PgPool,
    deliverer: Arc<dyn Deliver>,
    company: String,
    config: RelayConfig,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("company", &self.company)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay delivering `client`'s company's rows through `client` (its resolver, its
    /// keep-alive connections, one attempt at a time: the relay does the retrying, with
    /// [`RetryPolicy::background`] by default, as the queue).
    pub fn new(pool: PgPool, client: Client) -> Relay {
        let company = client.company_id().to_owned();
        Relay::with_deliverer(pool, company, client)
    }

    /// A relay delivering `company`'s rows through your own [`Deliver`] (a test double, a
    /// transport of your own).
    pub fn with_deliverer<D: Deliver>(
        pool: PgPool,
        company: impl Into<String>,
        deliverer: D,
    ) -> Relay {
        Relay {
            pool,
            deliverer: Arc::new(deliverer),
            company: company.into(),
            config: RelayConfig::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The name stored in `leased_by` and in the stats (default: host name, process id and
    /// a random suffix). Give every running relay its own: a relay's sleep request (see
    /// the module's docs) is stored under its name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Rows claimed per claim at most (default 100; 1 to 10,000). A relay holds at most
    /// `concurrency + batch_size` rows at once.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.config.batch_size = rows;
        self
    }

    /// Requests in flight at most (default 32; 1 to 1,024).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.config.concurrency = requests;
        self
    }

    /// How long a claim holds its rows (default 60 s, at least 100 ms). A relay that dies
    /// holds them this long; an attempt must end well within it (the client's timeout is
    /// 10 s by default).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// The retry policy (default [`RetryPolicy::background`]: 10 attempts, 500 ms doubling
    /// to 60 s, `Retry-After` up to 120 s, an hour in all).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// The shortest pause after a `429` without `Retry-After` or a failed resolution that
    /// gives no time (default 1 s).
    pub fn pause_floor(mut self, floor: Duration) -> Self {
        self.config.pause_floor = floor;
        self
    }

    /// The longest an idle relay sleeps without a notification (default 5 s): the bound on
    /// latency should a notification be lost.
    pub fn idle_poll(mut self, poll: Duration) -> Self {
        self.config.idle_poll = poll;
        self
    }

    /// How long dead letters are kept before the relay deletes them (default 30 days;
    /// `None` keeps them until removed).
    pub fn dead_letter_retention(mut self, keep: Option<Duration>) -> Self {
        self.config.dead_letter_retention = keep;
        self
    }

    /// How long [`run_until`](Self::run_until) lets attempts finish after its signal
    /// (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Checks the settings, without the database ([`start`](Self::start) does it first).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let c = &self.config;
        let bad = |m: String| Err(Error::Config(m));
        if !(1..=10_000).contains(&c.batch_size) {
            return bad(format!(
                "batch_size {} is not within 1 to 10,000",
                c.batch_size
            ));
        }
        if !(1..=1024).contains(&c.concurrency) {
            return bad(format!(
                "concurrency {} is not within 1 to 1,024",
                c.concurrency
            ));
        }
        if c.lease < Duration::from_millis(100) {
            return bad(format!("the lease {:?} is shorter than 100 ms", c.lease));
        }
        if c.idle_poll.is_zero() {
            return bad("the idle poll is zero".into());
        }
        if c.name.is_empty() {
            return bad("the relay's name is empty".into());
        }
        // The company id goes into notification payloads, separated by spaces.
        gamooga_core::Calls::new(&self.company)?;
        if self.pool.options().get_max_connections() < 2 {
            return bad(
                "the pool allows 1 connection; a relay needs 2 at least (one for LISTEN)".into(),
            );
        }
        Ok(())
    }

    /// Checks the settings and the schema, starts listening, and spawns the relay on the
    /// current tokio runtime. End it with [`RelayHandle::shutdown`].
    ///
    /// Errors: [`Error::Config`] for a setting out of range; [`Error::Schema`] when the
    /// tables are missing or of another version; [`Error::Database`] when the database
    /// cannot be reached.
    pub async fn start(self) -> Result<RelayHandle, Error> {
        self.validate()?;
        crate::schema::check(&self.pool).await?;
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener
            .listen_all([run::CHANNEL_ROWS, run::CHANNEL_PAUSE])
            .await?;
        let core = Arc::new(Core::new(
            self.pool,
            self.deliverer,
            self.company,
            self.config,
        ));
        tracing::info!(
            relay = core.name(),
            company = %core.company,
            batch_size = core.config.batch_size,
            concurrency = core.config.concurrency,
            lease = ?core.config.lease,
            "gamooga outbox relay: started"
        );
        let (deadline_tx, deadline_rx) = watch::channel(None);
        let (tx, rx) = mpsc::unbounded_channel();
        let settler = tokio::spawn(run::settler(core.clone(), rx, deadline_rx.clone()));
        let listener = tokio::spawn(run::listen(core.clone(), listener));
        let main = tokio::spawn(run::claim_and_deliver(core.clone(), tx, deadline_rx));
        Ok(RelayHandle {
            core,
            deadline: deadline_tx,
            tasks: Some(Tasks {
                main,
                settler,
                listener,
            }),
        })
    }

    /// Runs the relay until `signal` completes, then stops it with
    /// [`shutdown_grace`](Self::shutdown_grace) to finish (what a relay process, or the
    /// CLI's `gamooga relay`, does).
    ///
    /// Errors: as [`start`](Self::start).
    pub async fn run_until<F: Future>(self, signal: F) -> Result<RelayReport, Error> {
        let grace = self.config.shutdown_grace;
        let handle = self.start().await?;
        signal.await;
        tracing::info!(relay = handle.core.name(), "gamooga outbox relay: stopping");
        Ok(handle.shutdown(grace).await)
    }
}

struct Tasks {
    main: JoinHandle<bool>,
    settler: JoinHandle<bool>,
    listener: JoinHandle<()>,
}

/// A running relay. [`shutdown`](Self::shutdown) ends it; dropping the handle without it
/// stops its tasks at once (its rows come back to the table when their lease ends).
pub struct RelayHandle {
    core: Arc<Core>,
    deadline: watch::Sender<Option<Instant>>,
    tasks: Option<Tasks>,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RelayHandle {
    /// A snapshot of the relay's counters.
    pub fn stats(&self) -> RelayStats {
        self.core.stats()
    }

    /// The relay's name.
    pub fn name(&self) -> &str {
        self.core.name()
    }

    /// The relay's settings.
    pub fn config(&self) -> &RelayConfig {
        &self.core.config
    }

    /// Stops claiming, hands back the rows not yet started, lets attempts in flight finish
    /// until `deadline` has passed, writes every settlement, and reports. An attempt still
    /// running at the deadline is abandoned and its row handed back (counted `abandoned` and
    /// `ambiguous`). Bounded: it returns shortly after `deadline` (at most about 2 s more to
    /// write the last settlements), whatever Gamooga or the database do.
    pub async fn shutdown(mut self, deadline: Duration) -> RelayReport {
        let until = Instant::now()
            .checked_add(deadline.min(gamooga_core::retry::FOREVER))
            .unwrap_or_else(Instant::now);
        self.deadline.send_replace(Some(until));
        self.core.stop();
        let Some(tasks) = self.tasks.take() else {
            return self.report(false);
        };
        let Tasks {
            mut main,
            mut settler,
            listener,
        } = tasks;
        let hard = until + Duration::from_secs(3);
        let drained = match tokio::time::timeout_at(hard.into(), &mut main).await {
            Ok(Ok(drained)) => drained,
            _ => {
                main.abort();
                false
            }
        };
        let written = match tokio::time::timeout_at(hard.into(), &mut settler).await {
            Ok(Ok(written)) => written,
            _ => {
                settler.abort();
                false
            }
        };
        listener.abort();
        let report = self.report(drained && written);
        tracing::info!(
            relay = self.core.name(),
            delivered = report.stats.delivered,
            retried = report.stats.retried,
            dead_lettered = report.stats.dead_lettered,
            abandoned = report.stats.abandoned,
            "gamooga outbox relay: stopped"
        );
        report
    }

    fn report(&self, completed: bool) -> RelayReport {
        let stats = self.core.stats();
        RelayReport {
            completed: completed && stats.held == 0,
            stats,
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            tasks.main.abort();
            tasks.settler.abort();
            tasks.listener.abort();
            tracing::warn!(
                relay = self.core.name(),
                held = self.core.held(),
                "gamooga outbox relay: dropped without shutdown; its rows come back when their lease ends"
            );
        }
    }
}
