//! A relay's counters ([`RelayStats`]), its [`RelayReport`], and the outage log lines.

use std::time::{Duration, Instant, SystemTime};

use gamooga_core::queue::{DeadLetterCounts, DeadLetterReason};

/// A snapshot of one relay's counters, from [`RelayHandle::stats`](crate::RelayHandle::stats).
///
/// Counters count rows, except `retried`, `ambiguous` and the pauses, which count attempts
/// or events.
///
/// **The identity.** Every row this relay claimed is, at every snapshot, in exactly one of:
/// `delivered`, `retried` (handed back with a `not_before` after a failed attempt),
/// `dead_lettered`, `released` (handed back unattempted: a pause began, or the relay
/// stopped), `abandoned` (an attempt still running at the shutdown deadline, handed back),
/// or still `held`:
///
/// ```text
/// claimed == delivered + retried + dead_lettered + released + abandoned + held
/// ```
///
/// [`RelayStats::accounted`] gives the right-hand side.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RelayStats {
    /// The relay's name (as stored in `leased_by`).
    pub name: String,
    /// The company whose rows it delivers.
    pub company: String,
    /// Rows claimed (leased) from the table.
    pub claimed: u64,
    /// Rows delivered (Gamooga answered 200) and deleted.
    pub delivered: u64,
    /// Attempts that failed and were handed back with a `not_before` for a later try (by any
    /// relay).
    pub retried: u64,
    /// Rows marked dead: `dead_letters` by reason, plus `undecodable`.
    pub dead_lettered: u64,
    /// `dead_lettered` by reason (of the rules shared with the queue).
    pub dead_letters: DeadLetterCounts,
    /// Rows marked dead because they could not be decoded back into a request (a row
    /// written by hand or damaged): never sent. Part of `dead_lettered`.
    pub undecodable: u64,
    /// Rows handed back unattempted: a pause began while they waited, or the relay stopped.
    pub released: u64,
    /// Rows whose attempt was still running at the shutdown deadline: handed back, and
    /// counted `ambiguous` (the request may have reached Gamooga).
    pub abandoned: u64,
    /// Attempts whose outcome is unknown (a timeout or a connection lost after the request
    /// may have been sent, or an attempt abandoned at shutdown): Gamooga may hold the event
    /// twice. Decided by [`Error::may_have_been_sent`](gamooga_core::Error::may_have_been_sent).
    pub ambiguous: u64,
    /// Settlements that found their row leased by another claim: this relay held it past its
    /// lease (an attempt longer than the lease, or the database out of reach), so another
    /// relay may deliver it too. Zero while the lease is longer than the client's timeout.
    pub lease_lost: u64,
    /// Settlements that could not be written before the shutdown deadline (the database out
    /// of reach): those rows come back when their lease ends, so a delivered one is sent
    /// again.
    pub unsettled: u64,
    /// Times this relay paused every relay of the company because the server asked (`429`,
    /// or `503` with `Retry-After`).
    pub backpressure_pauses: u64,
    /// Times this relay paused every relay of the company because the backend could not be
    /// resolved.
    pub resolution_pauses: u64,
    /// Pauses set by other relays that this one learnt of (a notification or its claim).
    pub pauses_observed: u64,
    /// Notifications of committed rows of the company received (they wake a sleeping relay).
    pub notifications: u64,
    /// How long the current pause still lasts, if one does.
    pub paused_for: Option<Duration>,
    /// Dead letters older than the retention deleted by this relay.
    pub dead_letters_pruned: u64,
    /// Failed database calls (claims, settlements, notifications); each is retried.
    pub database_errors: u64,
    /// Since when deliveries fail without a success in between, if they do.
    pub failing_since: Option<SystemTime>,
    /// The last transient failure (its message: the call and host, never values).
    pub last_error: Option<String>,
    /// Rows held now: claimed and not yet settled (waiting, in flight, or being written).
    pub held: u64,
    /// Requests in flight now.
    pub in_flight: u64,
}

impl RelayStats {
    /// `delivered + retried + dead_lettered + released + abandoned + held`: equal to
    /// `claimed` at every snapshot.
    pub fn accounted(&self) -> u64 {
        self.delivered
            + self.retried
            + self.dead_lettered
            + self.released
            + self.abandoned
            + self.held
    }
}

/// What a relay did, from [`RelayHandle::shutdown`](crate::RelayHandle::shutdown) and
/// [`Relay::run_until`](crate::Relay::run_until).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayReport {
    /// Whether every row it held was settled before the deadline (no attempt abandoned, no
    /// settlement left unwritten).
    pub completed: bool,
    /// The counters at the end (`held` is 0).
    pub stats: RelayStats,
}

/// The counters behind [`RelayStats`], under the relay's lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) claimed: u64,
    pub(crate) delivered: u64,
    pub(crate) retried: u64,
    pub(crate) dead_letters: DeadLetterCounts,
    pub(crate) undecodable: u64,
    pub(crate) released: u64,
    pub(crate) abandoned: u64,
    pub(crate) ambiguous: u64,
    pub(crate) lease_lost: u64,
    pub(crate) unsettled: u64,
    pub(crate) backpressure_pauses: u64,
    pub(crate) resolution_pauses: u64,
    pub(crate) pauses_observed: u64,
    pub(crate) notifications: u64,
    pub(crate) dead_letters_pruned: u64,
    pub(crate) database_errors: u64,
    pub(crate) held: u64,
    pub(crate) in_flight: u64,
    pub(crate) outage: Outage,
}

impl Counters {
    pub(crate) fn dead(&mut self, reason: DeadLetterReason) {
        let c = &mut self.dead_letters;
        *match reason {
            DeadLetterReason::Overflow => &mut c.overflow,
            DeadLetterReason::Rejected => &mut c.rejected,
            DeadLetterReason::RetriesExhausted => &mut c.retries_exhausted,
            DeadLetterReason::Unresolved => &mut c.unresolved,
            DeadLetterReason::Panicked => &mut c.panicked,
            DeadLetterReason::ShutdownDeadline => &mut c.shutdown_deadline,
            DeadLetterReason::QueueDropped => &mut c.queue_dropped,
            // The rules give none other today; a reason added later is at least counted in
            // `dead_lettered` (the total) through the nearest bucket, a refusal.
            _ => &mut c.rejected,
        } += 1;
    }

    pub(crate) fn snapshot(
        &self,
        name: &str,
        company: &str,
        paused_for: Option<Duration>,
    ) -> RelayStats {
        RelayStats {
            name: name.to_owned(),
            company: company.to_owned(),
            claimed: self.claimed,
            delivered: self.delivered,
            retried: self.retried,
            dead_lettered: self.dead_letters.total() + self.undecodable,
            dead_letters: self.dead_letters,
            undecodable: self.undecodable,
            released: self.released,
            abandoned: self.abandoned,
            ambiguous: self.ambiguous,
            lease_lost: self.lease_lost,
            unsettled: self.unsettled,
            backpressure_pauses: self.backpressure_pauses,
            resolution_pauses: self.resolution_pauses,
            pauses_observed: self.pauses_observed,
            notifications: self.notifications,
            paused_for,
            dead_letters_pruned: self.dead_letters_pruned,
            database_errors: self.database_errors,
            failing_since: self.outage.failing_since,
            last_error: self.outage.last_error.clone(),
            held: self.held,
            in_flight: self.in_flight,
        }
    }
}

/// At most one warning a minute while failures go on.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Whether deliveries (or the database) are failing, for one `WARN` at the start (then at
/// most one a minute) and one `INFO` at recovery. Messages name the destination and the
/// error, never an id or a value.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    pub(crate) failing_since: Option<SystemTime>,
    pub(crate) last_error: Option<String>,
    warned_at: Option<Instant>,
    db_failing_since: Option<Instant>,
    db_warned_at: Option<Instant>,
}

/// What to log after an outage transition (logged outside the lock).
#[derive(Debug)]
pub(crate) enum OutageLog {
    Failing { error: String, since: Duration },
    Recovered { after: Duration },
    DatabaseFailing { error: String },
    DatabaseRecovered { after: Duration },
}

impl Outage {
    /// A transient delivery failure.
    pub(crate) fn failed(&mut self, error: String, now: Instant) -> Option<OutageLog> {
        let since = *self.failing_since.get_or_insert_with(SystemTime::now);
        self.last_error = Some(error.clone());
        let due = self
            .warned_at
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY);
        due.then(|| {
            self.warned_at = Some(now);
            OutageLog::Failing {
                error,
                since: SystemTime::now().duration_since(since).unwrap_or_default(),
            }
        })
    }

    /// A delivery that succeeded.
    pub(crate) fn delivered(&mut self) -> Option<OutageLog> {
        let since = self.failing_since.take()?;
        self.warned_at = None;
        Some(OutageLog::Recovered {
            after: SystemTime::now().duration_since(since).unwrap_or_default(),
        })
    }

    /// A failed database call.
    pub(crate) fn database_failed(&mut self, error: String, now: Instant) -> Option<OutageLog> {
        self.db_failing_since.get_or_insert(now);
        let due = self
            .db_warned_at
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY);
        due.then(|| {
            self.db_warned_at = Some(now);
            OutageLog::DatabaseFailing { error }
        })
    }

    /// A database call that succeeded.
    pub(crate) fn database_ok(&mut self, now: Instant) -> Option<OutageLog> {
        let since = self.db_failing_since.take()?;
        self.db_warned_at = None;
        Some(OutageLog::DatabaseRecovered {
            after: now.duration_since(since),
        })
    }
}

impl OutageLog {
    pub(crate) fn emit(&self, relay: &str, destination: &str) {
        match self {
            OutageLog::Failing { error, since } => tracing::warn!(
                relay,
                %destination,
                %error,
                failing_for = ?since,
                "gamooga outbox relay: deliveries are failing; rows wait in the outbox and are retried"
            ),
            OutageLog::Recovered { after } => tracing::info!(
                relay,
                %destination,
                after = ?after,
                "gamooga outbox relay: deliveries recovered"
            ),
            OutageLog::DatabaseFailing { error } => tracing::warn!(
                relay,
                %error,
                "gamooga outbox relay: the outbox's database is failing; retrying"
            ),
            OutageLog::DatabaseRecovered { after } => tracing::info!(
                relay,
                after = ?after,
                "gamooga outbox relay: the outbox's database answers again"
            ),
        }
    }
}
