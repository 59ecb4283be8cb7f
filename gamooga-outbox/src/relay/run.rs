//! A running relay's tasks:
//!
//! - the **claim loop** leases batches of due rows while the relay has room (at most the
//!   concurrency plus one batch held), and sleeps while the company is paused or nothing is
//!   due (until a notification, the next row's due time, or the idle poll);
//! - a **delivery task** per claimed row: waits for one of the concurrency's permits,
//!   makes one attempt through the [`Deliver`](gamooga_core::queue::Deliver) (the client's
//!   keep-alive pool), and settles the outcome by the [`DeliveryRules`] the queue uses;
//! - the **settler** writes settlements in batches (delete, hand back with `not_before`,
//!   mark dead) together with any pause, in one transaction;
//! - the **listener** (`LISTEN`) wakes the claim loop when rows of the company are committed
//!   and learns of pauses set by other relays at once.
//!
//! [`DeliveryRules`]: gamooga_core::queue::DeliveryRules

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use gamooga_core::queue::{Outcome, PauseCause, Verdict};
use gamooga_core::spool::decode_row;
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::core::Core;
use super::sql::{self, Claimed, PauseWrite, Settle, Settlement};

/// The channels relays listen on (the triggers' first argument).
pub(crate) const CHANNEL_ROWS: &str = "gamooga_outbox";
pub(crate) const CHANNEL_PAUSE: &str = "gamooga_outbox_pause";

/// The shortest idle wait when a row is due but was not claimable (another relay's claim
/// held it): a retry soon, not a busy loop.
const MIN_IDLE: Duration = Duration::from_millis(20);
/// Database retries: from this, doubling to `DB_BACKOFF_MAX`.
const DB_BACKOFF: Duration = Duration::from_millis(100);
const DB_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// After its last row, a relay polls this often for `LINGER` before it sleeps on `LISTEN`:
/// under a steady flow it never sleeps, so no enqueue has to notify (notifying commits wait
/// for each other in PostgreSQL).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_POLL: Duration = Duration::from_millis(50);
/// How often dead letters are pruned at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Settlements written per transaction at most.
const SETTLE_BATCH: usize = 2048;

/// What delivery tasks send the settler.
#[derive(Debug)]
pub(crate) enum Msg {
    Row(Settlement),
    Pause(PauseWrite),
}

/// The claim loop, then the end: releases what was never started, waits for attempts until
/// the deadline, hands back what is still running then. Returns whether nothing had to be
/// abandoned.
pub(crate) async fn claim_and_deliver(
    core: Arc<Core>,
    tx: mpsc::UnboundedSender<Msg>,
    mut deadline: watch::Receiver<Option<Instant>>,
) -> bool {
    let mut deliveries = JoinSet::new();
    claim_loop(&core, &tx, &mut deliveries).await;
    // Stopping: tasks that have not started an attempt release their rows at once.
    // `shutdown` sets the deadline before it stops the relay.
    let until = match deadline.wait_for(Option::is_some).await {
        Ok(at) => at.unwrap_or_else(Instant::now),
        Err(_) => Instant::now(),
    };
    let drained = tokio::time::timeout_at(until.into(), async {
        while deliveries.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        deliveries.abort_all();
        while deliveries.join_next().await.is_some() {}
    }
    // Rows whose task ended without settling (aborted in an attempt, or never run).
    let left = core.take_unsettled_rows();
    let abandoned = left.iter().filter(|r| r.2).count();
    for (id, lease, _) in left {
        let _ = tx.send(Msg::Row(Settlement {
            id,
            lease,
            settle: Settle::Later {
                wait: Duration::ZERO,
                counted: false,
                attempted: None,
                error: None,
            },
        }));
    }
    abandoned == 0
}

async fn claim_loop(
    core: &Arc<Core>,
    tx: &mpsc::UnboundedSender<Msg>,
    deliveries: &mut JoinSet<()>,
) {
    let mut backoff = DB_BACKOFF;
    let mut pruned_at: Option<Instant> = None;
    // Since when claims come back empty, and until when commits notify this relay.
    let mut empty_since: Option<Instant> = None;
    let mut listening_until: Option<Instant> = None;
    loop {
        while deliveries.try_join_next().is_some() {}
        let notified = core.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if core.is_stopping() {
            if listening_until.is_some() {
                let unmark = sql::unmark_idle(&core.pool, core.name());
                let _ = tokio::time::timeout(Duration::from_secs(1), unmark).await;
            }
            return;
        }
        if let Some(left) = core.paused_for(Instant::now()) {
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(left) => {}
            }
            continue;
        }
        let batch = core.config.batch_size;
        let want = core.room().min(batch);
        // Claim whole half-batches at least while rows are held: fewer, larger claims.
        if want == 0 || (core.held() > 0 && want < batch.div_ceil(2)) {
            notified.await;
            continue;
        }
        let claimed = sql::claim(
            &core.pool,
            &core.company,
            want,
            core.config.lease,
            core.name(),
        )
        .await;
        let rows = match claimed {
            Ok(rows) => {
                core.database(None);
                backoff = DB_BACKOFF;
                rows
            }
            Err(e) => {
                core.database(Some(&e));
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(DB_BACKOFF_MAX);
                continue;
            }
        };
        if rows.is_empty() {
            let since = *empty_since.get_or_insert_with(Instant::now);
            if since.elapsed() < LINGER || core.held() > 0 {
                // Busy a moment ago, or still delivering: look again soon.
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(LINGER_POLL) => {}
                }
                continue;
            }
            // Idle for a while: sleep on LISTEN. Ask for notifications first (or again,
            // before the request expires), then look once more: a row committed before the
            // request notified no one.
            let now = Instant::now();
            if listening_until.is_none_or(|until| until < now + core.config.idle_poll) {
                let valid_for = core.config.idle_poll * 2 + Duration::from_secs(1);
                match sql::mark_idle(&core.pool, core.name(), &core.company, valid_for).await {
                    Ok(()) => {
                        core.database(None);
                        listening_until = Some(now + valid_for);
                        continue;
                    }
                    Err(e) => core.database(Some(&e)),
                }
            }
            idle(core, notified, &mut pruned_at, &mut backoff).await;
            continue;
        }
        empty_since = None;
        core.claimed(&rows);
        let claimed_at = Instant::now();
        for row in rows {
            deliveries.spawn(deliver(core.clone(), row, claimed_at, tx.clone()));
        }
        if listening_until.take().is_some() {
            // Busy again: enqueues need not notify (see the migration's notify trigger).
            if let Err(e) = sql::unmark_idle(&core.pool, core.name()).await {
                core.database(Some(&e));
            }
        }
    }
}

/// Nothing claimable: prune dead letters (and the sleep requests of relays that died asleep)
/// now and then, learn of a pause, and sleep until a notification, the next due row, or the
/// idle poll.
async fn idle(
    core: &Arc<Core>,
    notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    pruned_at: &mut Option<Instant>,
    backoff: &mut Duration,
) {
    if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
        *pruned_at = Some(Instant::now());
        if let Some(age) = core.config.dead_letter_retention {
            match sql::prune(&core.pool, &core.company, age).await {
                Ok(n) => core.count(|c| {
                    c.dead_letters_pruned += n;
                    None
                }),
                Err(e) => core.database(Some(&e)),
            }
        }
        if let Err(e) = sql::forget_dead_sleepers(&core.pool).await {
            core.database(Some(&e));
        }
    }
    let wait = match sql::horizon(&core.pool, &core.company).await {
        Ok(h) => {
            if let Some((left, _cause, set_by)) = h.pause {
                core.observed_pause(left, set_by.as_deref(), Instant::now());
                return;
            }
            h.next_due.map_or(core.config.idle_poll, |d| {
                d.max(MIN_IDLE).min(core.config.idle_poll)
            })
        }
        Err(e) => {
            core.database(Some(&e));
            let wait = *backoff;
            *backoff = (*backoff * 2).min(DB_BACKOFF_MAX);
            wait
        }
    };
    tokio::select! {
        _ = notified => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

/// One claimed row: wait for a permit, attempt once, settle.
async fn deliver(
    core: Arc<Core>,
    row: Claimed,
    claimed_at: Instant,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let id = row.raw.id;
    let lease = row.lease;
    let mut stopping = core.stopping.subscribe();
    let permit = tokio::select! {
        biased;
        _ = stopping.wait_for(|s| *s) => None,
        permit = core.permits.acquire() => permit.ok(),
    };
    let release = |wait: Duration| {
        core.count(|c| {
            c.released += 1;
            None
        });
        settle(
            &core,
            &tx,
            id,
            lease,
            Settle::Later {
                wait,
                counted: false,
                attempted: None,
                error: None,
            },
        );
    };
    if permit.is_none() || core.is_stopping() {
        return release(Duration::ZERO);
    }
    if let Some(left) = core.paused_for(Instant::now()) {
        return release(left);
    }
    let request = match decode_row(row.raw) {
        Ok((request, _enqueued_at)) => request,
        Err(e) => {
            // The message names the row and what is wrong, never its values.
            tracing::warn!(relay = core.name(), error = %e, "gamooga outbox relay: a row cannot be decoded; marked dead (undecodable), not sent");
            core.count(|c| {
                c.undecodable += 1;
                None
            });
            return settle(
                &core,
                &tx,
                id,
                lease,
                Settle::Dead {
                    reason: "undecodable",
                    counted: false,
                    attempted: None,
                    error: Some(e.to_string()),
                },
            );
        }
    };
    core.attempt_started(id);
    let started = Instant::now();
    let result = AssertUnwindSafe(async { core.deliverer.deliver(&request).await })
        .catch_unwind()
        .await;
    core.attempt_ended(id);
    drop(permit);
    let now = Instant::now();
    let elapsed = match row.since_first {
        Some(since) => since + now.duration_since(claimed_at),
        None => now.duration_since(started),
    };
    let error = match &result {
        Ok(Err(e)) => Some(e),
        _ => None,
    };
    let outcome = match &result {
        Ok(Ok(())) => Outcome::Delivered,
        Ok(Err(e)) => Outcome::Failed(e),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned());
            tracing::error!(
                relay = core.name(),
                row = id,
                endpoint = request.endpoint().name(),
                "gamooga outbox relay: a delivery attempt panicked; the row is marked dead (panicked)"
            );
            // The payload may hold anything the panicking code formatted: kept at debug.
            tracing::debug!(panic = ?message, "gamooga outbox relay: the panic's message");
            Outcome::Panicked
        }
    };
    if let Some(e) = error {
        tracing::debug!(relay = core.name(), row = id, endpoint = request.endpoint().name(), error = %e, "gamooga outbox relay: attempt failed");
    }
    let decision = core
        .rules
        .decide(outcome, row.attempts.saturating_add(1), elapsed);
    if let Some(pause) = decision.pause {
        core.paused(pause.length, pause.cause, now);
        let cause = match pause.cause {
            PauseCause::Unresolved => "unresolved",
            _ => "backpressure",
        };
        tracing::debug!(relay = core.name(), cause, length = ?pause.length, "gamooga outbox relay: every relay of the company pauses");
        let _ = tx.send(Msg::Pause(PauseWrite {
            length: pause.length,
            cause,
        }));
    }
    let message = error.map(|e| e.to_string());
    let attempted = Some(now.duration_since(started));
    let settle_as = match decision.verdict {
        Verdict::Delivered => {
            core.count(|c| {
                c.delivered += 1;
                c.outage.delivered()
            });
            Settle::Delivered
        }
        Verdict::Retry(wait) => {
            let transient = decision
                .transient
                .then(|| message.clone().unwrap_or_default());
            core.count(|c| {
                c.retried += 1;
                c.ambiguous += u64::from(decision.ambiguous);
                transient.and_then(|m| c.outage.failed(m, now))
            });
            Settle::Later {
                wait,
                counted: decision.counts,
                attempted,
                error: message,
            }
        }
        Verdict::Dead(reason) => {
            let transient = decision
                .transient
                .then(|| message.clone().unwrap_or_default());
            core.count(|c| {
                c.dead(reason);
                c.ambiguous += u64::from(decision.ambiguous);
                transient.and_then(|m| c.outage.failed(m, now))
            });
            tracing::warn!(
                relay = core.name(),
                row = id,
                endpoint = request.endpoint().name(),
                reason = reason.as_str(),
                error = message.as_deref().unwrap_or(""),
                "gamooga outbox relay: an event is dead (kept in the outbox; replay it with Outbox::replay_dead_letters)"
            );
            Settle::Dead {
                reason: reason.as_str(),
                counted: decision.counts,
                attempted,
                error: message,
            }
        }
    };
    settle(&core, &tx, id, lease, settle_as);
}

/// Hands a row's settlement to the settler (no await: a task aborted at the deadline either
/// sent it or still has its row registered, never half of it).
fn settle(core: &Core, tx: &mpsc::UnboundedSender<Msg>, id: i64, lease: i64, settle: Settle) {
    core.row_settled(id);
    // The settler outlives every sender but a stopped runtime's.
    let _ = tx.send(Msg::Row(Settlement { id, lease, settle }));
}

/// The settler: writes what delivery tasks decided, in batches, until every sender is gone.
/// A failed write is retried; once the deadline (`deadline`, set at shutdown) has passed, a
/// write that still fails is given up (`unsettled`: those rows come back at their lease's end).
pub(crate) async fn settler(
    core: Arc<Core>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    deadline: watch::Receiver<Option<Instant>>,
) -> bool {
    let mut all_written = true;
    let mut buf = Vec::with_capacity(SETTLE_BATCH);
    loop {
        if rx.recv_many(&mut buf, SETTLE_BATCH).await == 0 {
            return all_written;
        }
        let mut rows = Vec::with_capacity(buf.len());
        let mut pause: Option<PauseWrite> = None;
        for msg in buf.drain(..) {
            match msg {
                Msg::Row(s) => rows.push(s),
                Msg::Pause(p) => {
                    if pause.as_ref().is_none_or(|q| q.length < p.length) {
                        pause = Some(p);
                    }
                }
            }
        }
        let mut backoff = DB_BACKOFF;
        loop {
            let until = *deadline.borrow();
            let write = sql::settle(
                &core.pool,
                &core.company,
                core.name(),
                &rows,
                pause.as_ref(),
            );
            let written = match until {
                // Shutting down: bounded by the deadline (plus a moment for a healthy write).
                Some(at) => {
                    let at = at.max(Instant::now()) + Duration::from_secs(2);
                    tokio::time::timeout_at(at.into(), write)
                        .await
                        .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut))
                }
                None => write.await,
            };
            match written {
                Ok(lost) => {
                    core.database(None);
                    core.settled(rows.len(), lost);
                    break;
                }
                Err(e) => {
                    core.database(Some(&e));
                    if until.is_some_and(|at| Instant::now() >= at) {
                        all_written = false;
                        let n = rows.len() as u64;
                        core.count(|c| {
                            c.unsettled += n;
                            None
                        });
                        core.settled(rows.len(), 0);
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(DB_BACKOFF_MAX);
                }
            }
        }
    }
}

/// The listener: wakes the claim loop when rows of the company are committed, and applies
/// pauses other relays set. A lost connection is re-established (and the claim loop woken,
/// since notifications may have been missed meanwhile).
pub(crate) async fn listen(core: Arc<Core>, mut listener: PgListener) {
    let mut backoff = DB_BACKOFF;
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                backoff = DB_BACKOFF;
                if n.channel() == CHANNEL_PAUSE {
                    // "<company> <milliseconds left> <set by>", from the pause row's trigger.
                    let mut parts = n.payload().splitn(3, ' ');
                    if parts.next() != Some(core.company.as_str()) {
                        continue;
                    }
                    let left = parts.next().and_then(|ms| ms.parse::<u64>().ok());
                    let set_by = parts.next();
                    match left {
                        Some(ms) => {
                            core.observed_pause(Duration::from_millis(ms), set_by, Instant::now())
                        }
                        // Not ours to read: ask the table.
                        None => match sql::pause_of(&core.pool, &core.company).await {
                            Ok(Some((left, set_by))) => {
                                core.observed_pause(left, set_by.as_deref(), Instant::now())
                            }
                            Ok(None) => {}
                            Err(e) => core.database(Some(&e)),
                        },
                    }
                } else if n.payload() == core.company {
                    core.count(|c| {
                        c.notifications += 1;
                        None
                    });
                    core.wake.notify_one();
                }
            }
            Ok(None) => core.wake.notify_one(),
            Err(e) => {
                core.database(Some(&e));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(DB_BACKOFF_MAX);
            }
        }
    }
}
