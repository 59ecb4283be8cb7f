//! What a running relay's tasks share: the settings, the counters and the local view of
//! the company's pause, behind one lock with named transitions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gamooga_core::queue::{Deliver, DeliveryRules, PauseCause};
use sqlx::PgPool;
use tokio::sync::{watch, Notify, Semaphore};

use super::sql::Claimed;
use super::stats::{Counters, OutageLog, RelayStats};
use super::RelayConfig;

pub(crate) struct Core {
    pub(crate) pool: PgPool,
    pub(crate) deliverer: Arc<dyn Deliver>,
    pub(crate) destination: String,
    pub(crate) company: String,
    pub(crate) config: RelayConfig,
    pub(crate) rules: DeliveryRules,
    /// Wakes the claim loop: rows committed (a notification), room freed, a pause ended or
    /// changed, the relay stopping.
    pub(crate) wake: Notify,
    /// One permit per request that may be in flight.
    pub(crate) permits: Semaphore,
    /// `true` once the relay stops claiming.
    pub(crate) stopping: watch::Sender<bool>,
    state: Mutex<State>,
}

struct State {
    counters: Counters,
    /// The end of the company's pause as this relay knows it.
    paused_until: Option<Instant>,
    /// Rows claimed and not yet settled: id → (lease, in an attempt). What is left here when
    /// the tasks end is handed back.
    rows: HashMap<i64, (i64, bool)>,
}

impl Core {
    pub(crate) fn new(
        pool: PgPool,
        deliverer: Arc<dyn Deliver>,
        company: String,
        config: RelayConfig,
    ) -> Core {
        let rules = DeliveryRules::new(config.retry.clone()).pause_floor(config.pause_floor);
        Core {
            pool,
            destination: deliverer.destination(),
            deliverer,
            company,
            permits: Semaphore::new(config.concurrency),
            rules,
            config,
            wake: Notify::new(),
            stopping: watch::channel(false).0,
            state: Mutex::new(State {
                counters: Counters::default(),
                paused_until: None,
                rows: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock; a poisoned one still holds consistent counters.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
        self.wake.notify_one();
    }

    /// How long the pause still lasts, if one does.
    pub(crate) fn paused_for(&self, now: Instant) -> Option<Duration> {
        let until = self.lock().paused_until?;
        (until > now).then(|| until - now)
    }

    /// A pause learnt from this relay's own attempt: starts now, counted by cause.
    pub(crate) fn paused(&self, length: Duration, cause: PauseCause, now: Instant) {
        let mut st = self.lock();
        match cause {
            PauseCause::Unresolved => st.counters.resolution_pauses += 1,
            _ => st.counters.backpressure_pauses += 1,
        }
        extend(&mut st.paused_until, now, length);
    }

    /// A pause learnt from the table (set by another relay, or this one earlier): counted as
    /// observed when another relay set it and it lengthens what this relay knew.
    pub(crate) fn observed_pause(&self, left: Duration, set_by: Option<&str>, now: Instant) {
        let mut st = self.lock();
        if extend(&mut st.paused_until, now, left) && set_by != Some(self.name()) {
            st.counters.pauses_observed += 1;
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Rows claimed: now held.
    pub(crate) fn claimed(&self, rows: &[Claimed]) {
        let mut st = self.lock();
        st.counters.claimed += rows.len() as u64;
        st.counters.held += rows.len() as u64;
        for row in rows {
            st.rows.insert(row.raw.id, (row.lease, false));
        }
    }

    /// How many more rows may be claimed now: the concurrency plus one batch are held at
    /// most, so a claimed row starts soon after its claim.
    pub(crate) fn room(&self) -> usize {
        let held = self.lock().counters.held as usize;
        (self.config.concurrency + self.config.batch_size).saturating_sub(held)
    }

    pub(crate) fn held(&self) -> u64 {
        self.lock().counters.held
    }

    /// An attempt starts on a row.
    pub(crate) fn attempt_started(&self, id: i64) {
        let mut st = self.lock();
        st.counters.in_flight += 1;
        if let Some(row) = st.rows.get_mut(&id) {
            row.1 = true;
        }
    }

    /// An attempt ended (whatever its outcome).
    pub(crate) fn attempt_ended(&self, id: i64) {
        let mut st = self.lock();
        st.counters.in_flight = st.counters.in_flight.saturating_sub(1);
        if let Some(row) = st.rows.get_mut(&id) {
            row.1 = false;
        }
    }

    /// A row's settlement is on its way to the settler.
    pub(crate) fn row_settled(&self, id: i64) {
        self.lock().rows.remove(&id);
    }

    /// The rows whose tasks ended without settling them (aborted at the deadline, or never
    /// run): `(id, lease, in an attempt)`. Counted `abandoned` (and `ambiguous`: the request
    /// may have reached Gamooga) when in an attempt, `released` otherwise.
    pub(crate) fn take_unsettled_rows(&self) -> Vec<(i64, i64, bool)> {
        let mut st = self.lock();
        let rows: Vec<(i64, i64, bool)> = st
            .rows
            .drain()
            .map(|(id, (lease, a))| (id, lease, a))
            .collect();
        let abandoned = rows.iter().filter(|r| r.2).count() as u64;
        st.counters.in_flight = 0;
        st.counters.abandoned += abandoned;
        st.counters.ambiguous += abandoned;
        st.counters.released += rows.len() as u64 - abandoned;
        rows
    }

    /// Counts an outcome; returns what to log about an outage.
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters) -> Option<OutageLog>) {
        let log = f(&mut self.lock().counters);
        if let Some(log) = log {
            log.emit(self.name(), &self.destination);
        }
    }

    /// Settlements written (or given up on): no longer held.
    pub(crate) fn settled(&self, n: usize, lease_lost: u64) {
        let mut st = self.lock();
        st.counters.held = st.counters.held.saturating_sub(n as u64);
        st.counters.lease_lost += lease_lost;
        drop(st);
        if lease_lost > 0 {
            tracing::warn!(
                relay = self.name(),
                rows = lease_lost,
                "gamooga outbox relay: rows were settled after their lease ended (another relay may deliver them too); make the lease longer than the client's timeout"
            );
        }
        self.wake.notify_one();
    }

    /// A database call failed (`Some(error)`) or succeeded (`None`).
    pub(crate) fn database(&self, error: Option<&sqlx::Error>) {
        let now = Instant::now();
        let log = {
            let mut st = self.lock();
            match error {
                Some(e) => {
                    st.counters.database_errors += 1;
                    let message = crate::error::database_message(e);
                    st.counters.outage.database_failed(message, now)
                }
                None => st.counters.outage.database_ok(now),
            }
        };
        if let Some(log) = log {
            log.emit(self.name(), &self.destination);
        }
    }

    pub(crate) fn stats(&self) -> RelayStats {
        let now = Instant::now();
        let st = self.lock();
        let paused_for = st.paused_until.filter(|u| *u > now).map(|u| u - now);
        st.counters.snapshot(self.name(), &self.company, paused_for)
    }
}

/// Moves `until` to `now + length` if that is later; true when it did.
fn extend(until: &mut Option<Instant>, now: Instant, length: Duration) -> bool {
    let end = now
        .checked_add(length.min(gamooga_core::retry::FOREVER))
        .unwrap_or(now);
    if until.is_none_or(|u| u < end) {
        *until = Some(end);
        true
    } else {
        false
    }
}
