//! The queue's state machine: every accepted event, where it is, and every counter, behind
//! private fields and named transitions. Nothing else touches them.
//!
//! An event is accepted once ([`State::admit_tagged`] in memory, [`State::commit`] after its spool
//! row committed, [`State::replayed`] for a row left by an earlier run), then lives in
//! exactly one place (ready, waiting for a retry, or in flight in a delivery task's slot),
//! and leaves through exactly one bucket:
//!
//! - delivered ([`State::finish`]),
//! - dead-lettered by reason ([`State::finish`], [`State::admit_tagged`]'s eviction, [`State::drain`]),
//! - still spooled ([`State::drain`] with a spool, or a commit after the queue stopped).
//!
//! So `enqueued = delivered + dead_lettered + still_spooled + depth` at every snapshot.
//! Events refused or dropped before acceptance are counted apart (`refused`, `dropped`).
//!
//! Transitions return [`Effects`]: wake-ups, a dead letter to hand out, a spool row to
//! delete, a line to log. The caller applies them after releasing the lock, so no user code
//! (hooks, `tracing` layers) and no I/O runs under it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::call::Request;
use crate::dead_letter::DeadLetterReason;
use crate::error::Error;
use crate::queue::config::{AdaptiveAlgorithm, Concurrency, Overflow, QueueConfig};
use crate::queue::limit::{self, Limit, Sample, Signal};
use crate::queue::settle::{later, DeliveryRules, Outcome, PauseCause, Verdict};
use crate::queue::stats::{DeadLetterCounts, Histogram, QueueStats};
use crate::queue::store::{Backlog, Page, Replayed};
use crate::tag::Tag;

/// Free slots that wake enqueues waiting for room (see [`State::room_for_waiters`]).
const ROOM_BATCH: usize = 32;
/// The longest a waiting enqueue is kept waiting while room is free and attempts settle.
const ROOM_WAIT: Duration = Duration::from_millis(1);
/// At most one outage warning per this long while deliveries keep failing.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// The most rows one replay page reads.
const PAGE_MAX: usize = 1024;

/// One accepted event.
struct Entry {
    id: u64,
    request: Arc<Request>,
    accepted: Instant,
    enqueued_at: SystemTime,
    first_attempt: Option<Instant>,
    /// Attempts that counted (a wait for the resolver does not).
    attempts: u32,
    /// The spool row (0: not spooled).
    row: i64,
    /// The caller's tag, given back in its dead letter.
    tag: Option<Arc<Tag>>,
}

/// When an event was accepted, read before the lock is taken.
#[derive(Clone, Copy)]
pub(super) struct Stamp {
    pub(super) accepted: Instant,
    pub(super) enqueued_at: SystemTime,
}

impl Stamp {
    pub(super) fn now() -> Self {
        Stamp {
            accepted: Instant::now(),
            enqueued_at: SystemTime::now(),
        }
    }
}

/// A dead letter to hand out (to the spool, the log and the hook), outside the lock.
pub(super) struct DeadJob {
    /// The event's id when it was accepted (settled once the hook has run), `None` for an
    /// event dropped before acceptance.
    pub(super) id: Option<u64>,
    pub(super) request: Arc<Request>,
    pub(super) enqueued_at: SystemTime,
    pub(super) attempts: u32,
    /// The spool row (0: none; a new dead row is written for it when spooled).
    pub(super) row: i64,
    pub(super) reason: DeadLetterReason,
    pub(super) error: Option<Error>,
    pub(super) tag: Option<Arc<Tag>>,
}

impl DeadJob {
    fn of(e: Entry, reason: DeadLetterReason, error: Option<Error>) -> Self {
        DeadJob {
            id: Some(e.id),
            request: e.request,
            enqueued_at: e.enqueued_at,
            attempts: e.attempts,
            row: e.row,
            tag: e.tag,
            reason,
            error: error.map(|err| err.with_attempts(e.attempts)),
        }
    }
}

/// A line to log about the deliveries' health (outside the lock).
pub(super) enum HealthLog {
    /// Deliveries started failing (or still fail, a minute after the last warning).
    Failing {
        error: String,
        since: Duration,
        failures: u64,
    },
    /// They succeed again after failing.
    Recovered { after: Duration, failures: u64 },
}

/// What a transition asks the caller to do once the lock is released.
#[must_use]
#[derive(Default)]
pub(super) struct Effects {
    /// Parked delivery tasks to wake.
    pub(super) work: usize,
    /// Wake the enqueues waiting for room.
    pub(super) room: bool,
    /// Wake the `flush` waiters.
    pub(super) flush: bool,
    /// Wake the scheduler (a retry or a pause to time, a page to load).
    pub(super) scheduler: bool,
    /// A dead letter to hand out.
    pub(super) dead: Option<DeadJob>,
    /// A delivered spool row to delete (0: none).
    pub(super) delete_row: i64,
    /// A health line to log.
    pub(super) health: Option<HealthLog>,
    /// A pause started: how long and why (logged at debug).
    pub(super) paused: Option<(Duration, PauseCause)>,
}

/// The result of [`State::admit_tagged`].
pub(super) enum Admission {
    /// Accepted in memory.
    Accepted(Effects),
    /// A slot is reserved under `token`: write the spool row; [`State::commit`] accepts it.
    Reserved {
        token: u64,
        request: Arc<Request>,
        effects: Effects,
    },
    /// Full under [`Overflow::Wait`]: the caller waits for room (it is registered).
    Full(Arc<Request>),
    /// Refused (full): returned to the caller, counted.
    Refused(Arc<Request>),
    /// The queue is closed.
    Closed(Arc<Request>),
    /// Dropped before acceptance by the overflow policy: dead-letter it.
    Dropped(DeadJob),
}

/// The result of [`State::start`].
pub(super) enum Start {
    /// The queue stopped: the task ends.
    Stop,
    /// Nothing may start now (nothing ready, paused, or at the in-flight limit): park.
    Wait,
    /// Deliver this.
    Go(Arc<Request>),
}

/// What an attempt came to, as the delivery task saw it.
pub(super) enum Attempted {
    Delivered,
    Failed(Error),
    Panicked,
}

/// What the scheduler does next.
pub(super) struct Tick {
    pub(super) stop: bool,
    pub(super) effects: Effects,
    /// When to tick again at the latest (a retry due, a pause ending).
    pub(super) next: Option<Instant>,
    /// A replay page to read: `(after, through, limit)`.
    pub(super) load: Option<(i64, i64, usize)>,
}

/// Spool rows left by an earlier run and not yet read into memory. Their ids were handed
/// out when the queue started (`next_id..end_id`), so a `flush` waits for them too.
struct Replay {
    next_id: u64,
    end_id: u64,
    /// Row ids in `(after, through]` are left to read.
    after: i64,
    through: i64,
    /// Rows left to read (as counted at start).
    left: u64,
    /// Slots reserved for the page being read (0: none is).
    reserved: usize,
    done: bool,
}

/// Whether deliveries are failing, for the outage log and `stats()`.
#[derive(Default)]
struct Health {
    failing_since: Option<(Instant, SystemTime)>,
    failures: u64,
    warned: bool,
    last_warn: Option<Instant>,
    last_error: Option<Error>,
}

/// Everything behind the queue's lock.
pub(super) struct State {
    capacity: usize,
    overflow: Overflow,
    /// Events are written to a spool before they are accepted.
    durable: bool,
    next_id: u64,
    ready: VecDeque<Entry>,
    waiting: BTreeMap<(Instant, u64), Entry>,
    /// One slot per delivery task: the event it is delivering. A slot emptied by `drain`
    /// tells its task to drop the attempt's outcome.
    in_flight: Vec<Option<Entry>>,
    /// Per slot: when its attempt started, and how many were in flight then (itself
    /// included), for the limiter's sample.
    started: Vec<(Instant, usize)>,
    in_flight_count: usize,
    /// The most in flight at once so far.
    in_flight_peak: usize,
    /// How many requests may be in flight now (`limiter.limit()`, at most the pool's size),
    /// read by every start.
    limit: usize,
    /// What moves `limit`: fixed, or adaptive (fed every settled attempt by `finish`).
    limiter: Box<dyn Limit>,
    /// Tokens (ids) of enqueues writing their spool row.
    reserving: BTreeSet<u64>,
    /// Ids accepted (or reserved) and not yet settled, for `flush`.
    outstanding: BTreeSet<u64>,
    replay: Replay,
    /// Intake stopped (`shutdown` called).
    closed: bool,
    /// The tasks must stop; everything held was drained.
    stopped: bool,
    /// Every delivery waits until then (server backpressure, or a resolver to wait for).
    paused_until: Option<Instant>,
    /// Delivery tasks parked on `work` that nobody has woken yet.
    idle: usize,
    room_waiters: usize,
    room_since: Option<Instant>,
    /// The lowest mark a `flush` waits for, if one waits.
    flush_mark: Option<u64>,
    health: Health,
    enqueued: u64,
    replayed: u64,
    delivered: u64,
    dead: DeadLetterCounts,
    still_spooled: u64,
    refused: u64,
    dropped: u64,
    retried: u64,
    ambiguous: u64,
    backpressure_pauses: u64,
    resolution_pauses: u64,
    latency: Histogram,
}

impl State {
    /// A new queue's state; `backlog`: the spool rows an earlier run left (`None` in memory).
    pub(super) fn new(config: &QueueConfig, durable: bool, backlog: Option<&Backlog>) -> State {
        let pool = config.get_concurrency();
        let limiter = limiter(config.concurrency, config.algorithm);
        let left = backlog.map_or(0, |b| b.count);
        let replay = Replay {
            next_id: 1,
            end_id: 1 + left,
            after: 0,
            through: backlog.map_or(0, |b| b.through),
            left,
            reserved: 0,
            done: left == 0,
        };
        State {
            capacity: config.capacity,
            overflow: config.overflow,
            durable,
            next_id: replay.end_id,
            ready: VecDeque::new(),
            waiting: BTreeMap::new(),
            in_flight: (0..pool).map(|_| None).collect(),
            started: vec![(Instant::now(), 0); pool],
            in_flight_count: 0,
            in_flight_peak: 0,
            limit: limiter.limit().clamp(1, pool),
            limiter,
            reserving: BTreeSet::new(),
            outstanding: BTreeSet::new(),
            replay,
            closed: false,
            stopped: false,
            paused_until: None,
            idle: 0,
            room_waiters: 0,
            room_since: None,
            flush_mark: None,
            health: Health::default(),
            enqueued: 0,
            replayed: 0,
            delivered: 0,
            dead: DeadLetterCounts::default(),
            still_spooled: 0,
            refused: 0,
            dropped: 0,
            retried: 0,
            ambiguous: 0,
            backpressure_pauses: 0,
            resolution_pauses: 0,
            latency: Histogram::new(),
        }
    }

    /// Events held: ready, waiting for a retry, in flight, and slots reserved for spool
    /// writes and replay pages. What the capacity bounds.
    fn held(&self) -> usize {
        self.ready.len()
            + self.waiting.len()
            + self.in_flight_count
            + self.reserving.len()
            + self.replay.reserved
    }

    pub(super) fn room(&self) -> usize {
        self.capacity.saturating_sub(self.held())
    }

    // -----------------------------------------------------------------------------------
    // Intake.

    /// Takes a new event in, or says why not. `waiting`: an `enqueue` that waits for room
    /// under [`Overflow::Wait`] (its `Notified` is enabled; it is registered here).
    #[cfg(test)]
    pub(super) fn admit(
        &mut self,
        request: Arc<Request>,
        waiting: bool,
        stamp: Stamp,
    ) -> Admission {
        self.admit_tagged(request, None, waiting, stamp)
    }

    /// Takes a new event in (as `admit`) with the caller's tag (kept with the event when it is
    /// accepted in memory or dropped; a spooled one gets it back at [`commit`](Self::commit)).
    pub(super) fn admit_tagged(
        &mut self,
        request: Arc<Request>,
        tag: Option<&Arc<Tag>>,
        waiting: bool,
        stamp: Stamp,
    ) -> Admission {
        if self.closed || self.stopped {
            return Admission::Closed(request);
        }
        let mut effects = Effects::default();
        if self.held() >= self.capacity {
            match self.overflow {
                Overflow::Wait if waiting => {
                    self.wait_for_room();
                    return Admission::Full(request);
                }
                Overflow::Wait | Overflow::Refuse => {
                    self.refused += 1;
                    return Admission::Refused(request);
                }
                Overflow::DropNewest => {
                    return Admission::Dropped(self.drop_new(request, tag, stamp))
                }
                Overflow::DropOldest => match self.evict() {
                    Some(job) => effects.dead = Some(job),
                    // Everything held is in flight: the new event goes instead.
                    None => return Admission::Dropped(self.drop_new(request, tag, stamp)),
                },
            }
        }
        let id = self.new_id();
        if self.durable {
            self.reserving.insert(id);
            return Admission::Reserved {
                token: id,
                request,
                effects,
            };
        }
        effects.work = self.accept(Entry {
            id,
            request,
            accepted: stamp.accepted,
            enqueued_at: stamp.enqueued_at,
            first_attempt: None,
            attempts: 0,
            row: 0,
            tag: tag.cloned(),
        });
        Admission::Accepted(effects)
    }

    /// A dropped newest event: never accepted, counted apart.
    fn drop_new(&mut self, request: Arc<Request>, tag: Option<&Arc<Tag>>, stamp: Stamp) -> DeadJob {
        self.dropped += 1;
        DeadJob {
            id: None,
            request,
            enqueued_at: stamp.enqueued_at,
            attempts: 0,
            row: 0,
            reason: DeadLetterReason::Overflow,
            error: None,
            tag: tag.cloned(),
        }
    }

    /// Evicts the oldest event not in flight (drop-oldest): the head of the ready line, or
    /// the retry due first.
    fn evict(&mut self) -> Option<DeadJob> {
        let e = match self.ready.pop_front() {
            Some(e) => e,
            None => self.waiting.pop_first()?.1,
        };
        self.dead.add(DeadLetterReason::Overflow);
        Some(DeadJob::of(e, DeadLetterReason::Overflow, None))
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.outstanding.insert(id);
        id
    }

    /// The one place an event becomes accepted and ready. Returns the delivery tasks to wake.
    fn accept(&mut self, entry: Entry) -> usize {
        self.enqueued += 1;
        self.ready.push_back(entry);
        usize::from(self.claim_idle())
    }

    /// A spool row committed (`row` its id) or failed (`None`) for the enqueue reserved
    /// under `token`. Idempotent: a token already settled is ignored.
    #[cfg_attr(not(feature = "spool"), allow(dead_code))] // only a spool commits
    pub(super) fn commit(
        &mut self,
        token: u64,
        request: &Arc<Request>,
        enqueued_at: SystemTime,
        row: Option<i64>,
        tag: Option<&Arc<Tag>>,
        effects: &mut Effects,
    ) {
        if !self.reserving.remove(&token) {
            return;
        }
        match row {
            Some(row) if !self.stopped => {
                effects.work += self.accept(Entry {
                    id: token,
                    request: request.clone(),
                    accepted: Instant::now(),
                    enqueued_at,
                    first_attempt: None,
                    attempts: 0,
                    row,
                    tag: tag.cloned(),
                });
            }
            Some(_) => {
                // Durable, but the queue has stopped: the next queue on the spool sends it.
                self.enqueued += 1;
                self.still_spooled += 1;
                effects.flush |= self.settle(token);
            }
            None => {
                self.refused += 1;
                effects.flush |= self.settle(token);
                effects.room |= self.take_room_waiters();
            }
        }
    }

    /// The enqueue reserved under `token` gave up waiting for its row (the writer stopped
    /// without answering). Idempotent.
    pub(super) fn abort(&mut self, token: u64) -> Effects {
        let mut effects = Effects::default();
        if self.reserving.remove(&token) {
            effects.flush = self.settle(token);
            effects.room = self.take_room_waiters();
            effects.scheduler = self.wants_page();
        }
        effects
    }

    /// Rows read back from the spool (the first page when the queue starts, then one page
    /// at a time as room frees up), or the read's error (the rest stays in the spool).
    pub(super) fn replayed(&mut self, page: Result<Page, String>) -> Effects {
        let mut effects = Effects::default();
        self.replay.reserved = 0;
        let page = match page {
            Ok(page) => page,
            Err(message) => {
                tracing::error!(error = %message, "gamooga queue: reading the spool failed; the rows left stay there for the next start");
                Page {
                    rows: Vec::new(),
                    last: self.replay.through,
                    exhausted: true,
                }
            }
        };
        let now = Instant::now();
        for Replayed {
            row,
            request,
            enqueued_at,
            tag,
        } in page.rows
        {
            let id = if self.replay.next_id < self.replay.end_id {
                self.replay.next_id += 1;
                self.outstanding.insert(self.replay.next_id - 1);
                self.replay.next_id - 1
            } else {
                // More rows than counted at start (dead letters replayed meanwhile).
                self.new_id()
            };
            self.replay.left = self.replay.left.saturating_sub(1);
            self.replayed += 1;
            if self.stopped {
                self.enqueued += 1;
                self.still_spooled += 1;
                self.outstanding.remove(&id);
                continue;
            }
            effects.work += self.accept(Entry {
                id,
                request: Arc::new(request),
                accepted: now,
                enqueued_at,
                first_attempt: None,
                attempts: 0,
                row,
                tag,
            });
        }
        self.replay.after = page.last;
        if page.exhausted || self.replay.after >= self.replay.through {
            self.replay.done = true;
            self.replay.left = 0;
            // Ids handed out for rows that were not there any more are void.
            self.replay.next_id = self.replay.end_id;
            effects.flush = self.flush_done();
        }
        effects.room = self.room_for_waiters(false);
        effects
    }

    // -----------------------------------------------------------------------------------
    // Delivery.

    /// Moves the next ready event into `slot` if one may start now.
    pub(super) fn start(&mut self, slot: usize) -> Start {
        if self.stopped {
            return Start::Stop;
        }
        if self.in_flight_count >= self.limit {
            return Start::Wait;
        }
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return Start::Wait;
            }
        }
        let Some(mut e) = self.ready.pop_front() else {
            return Start::Wait;
        };
        let now = Instant::now();
        e.attempts = e.attempts.saturating_add(1);
        if e.first_attempt.is_none() {
            e.first_attempt = Some(now);
        }
        let request = e.request.clone();
        self.in_flight[slot] = Some(e);
        self.in_flight_count += 1;
        self.in_flight_peak = self.in_flight_peak.max(self.in_flight_count);
        self.started[slot] = (now, self.in_flight_count);
        Start::Go(request)
    }

    /// A delivery task parks (its `Notified` is enabled) until claimed.
    pub(super) fn park(&mut self) {
        self.idle += 1;
    }

    /// Claims one parked delivery task to wake, when a new ready event may start at once.
    fn claim_idle(&mut self) -> bool {
        if self.idle > 0 && self.paused_until.is_none() && self.in_flight_count < self.limit {
            self.idle -= 1;
            true
        } else {
            false
        }
    }

    /// Settles the attempt of `slot` by the rules: delivered, retried later, or dead.
    pub(super) fn finish(
        &mut self,
        slot: usize,
        attempted: Attempted,
        rules: &DeliveryRules,
        now: Instant,
    ) -> Effects {
        let mut effects = Effects::default();
        // Empty when `drain` took it (shutdown deadline, queue dropped).
        let Some(mut e) = self.in_flight[slot].take() else {
            return effects;
        };
        self.in_flight_count -= 1;
        self.adapt(slot, &attempted, now, &mut effects);
        let elapsed = e
            .first_attempt
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let outcome = match &attempted {
            Attempted::Delivered => Outcome::Delivered,
            Attempted::Failed(error) => Outcome::Failed(error),
            Attempted::Panicked => Outcome::Panicked,
        };
        let decision = rules.decide(outcome, e.attempts, elapsed);
        if !decision.counts {
            e.attempts -= 1;
        }
        if decision.ambiguous {
            self.ambiguous += 1;
        }
        if let Some(pause) = decision.pause {
            let until = later(now, pause.length);
            if self.paused_until.is_none_or(|t| t <= now) {
                match pause.cause {
                    PauseCause::Backpressure => self.backpressure_pauses += 1,
                    _ => self.resolution_pauses += 1,
                }
                effects.paused = Some((pause.length, pause.cause));
            }
            if self.paused_until.is_none_or(|t| t < until) {
                self.paused_until = Some(until);
            }
            effects.scheduler = true;
        }
        let mut error = match attempted {
            Attempted::Failed(error) => Some(error),
            _ => None,
        };
        if decision.transient {
            if let Some(error) = &error {
                effects.health = self.failing(now, error);
            }
        }
        match decision.verdict {
            Verdict::Delivered => {
                self.delivered += 1;
                self.latency
                    .record(now.saturating_duration_since(e.accepted));
                effects.health = self.recovered(now);
                effects.delete_row = e.row;
                effects.flush = self.settle(e.id);
                effects.room = self.room_for_waiters(true);
            }
            Verdict::Retry(wait) => {
                if decision.counts {
                    self.retried += 1;
                }
                if decision.transient {
                    self.health.last_error = error.take();
                }
                self.waiting.insert((later(now, wait), e.id), e);
                effects.room = self.room_for_waiters(false);
                // The scheduler may be sleeping until a later due time.
                effects.scheduler = true;
            }
            Verdict::Dead(reason) => {
                if decision.transient {
                    self.health.last_error = error.clone();
                }
                self.dead.add(reason);
                effects.room = self.room_for_waiters(false);
                // Settled once the hook has run (`finish_dead`), so `flush` returns after it.
                effects.dead = Some(DeadJob::of(e, reason, error));
            }
        }
        effects.scheduler |= self.wants_page();
        effects
    }

    /// Feeds the attempt of `slot` to the limiter; when the limit grew, wakes parked tasks
    /// for the room it made (the finishing task takes one event itself).
    fn adapt(&mut self, slot: usize, attempted: &Attempted, now: Instant, effects: &mut Effects) {
        let (started, in_flight) = self.started[slot];
        let sample = Sample {
            started,
            rtt: now.saturating_duration_since(started),
            in_flight,
            signal: signal(attempted),
        };
        self.limiter.sample(&sample, now);
        let before = self.limit;
        self.limit = self.limiter.limit().clamp(1, self.in_flight.len());
        if self.limit > before && self.paused_until.is_none() {
            let room = self.limit.saturating_sub(self.in_flight_count + 1);
            let mut woken = 0;
            while woken < room && self.ready.len() > woken + 1 && self.claim_idle() {
                woken += 1;
            }
            effects.work += woken;
        }
    }

    /// A dead letter's hook has run: its event is settled.
    pub(super) fn finish_dead(&mut self, id: u64) -> Effects {
        Effects {
            flush: self.settle(id),
            scheduler: self.wants_page(),
            ..Effects::default()
        }
    }

    /// A delivery task's loop panicked outside its attempt: its slot's event, if any, is
    /// settled as panicked, so nothing stays in flight for good.
    pub(super) fn abandon_slot(&mut self, slot: usize, rules: &DeliveryRules) -> Effects {
        self.finish(slot, Attempted::Panicked, rules, Instant::now())
    }

    /// Notes a transient failure: the outage starts, or goes on.
    fn failing(&mut self, now: Instant, error: &Error) -> Option<HealthLog> {
        let h = &mut self.health;
        let (since, _) = *h
            .failing_since
            .get_or_insert_with(|| (now, SystemTime::now()));
        h.failures += 1;
        if h.last_warn
            .is_some_and(|t| now.saturating_duration_since(t) < WARN_EVERY)
        {
            return None;
        }
        h.last_warn = Some(now);
        h.warned = true;
        Some(HealthLog::Failing {
            error: error.to_string(),
            since: now.saturating_duration_since(since),
            failures: h.failures,
        })
    }

    /// Notes a delivery: an outage that was warned about is over.
    fn recovered(&mut self, now: Instant) -> Option<HealthLog> {
        let h = &mut self.health;
        let (since, _) = h.failing_since.take()?;
        let failures = std::mem::take(&mut h.failures);
        std::mem::take(&mut h.warned).then(|| HealthLog::Recovered {
            after: now.saturating_duration_since(since),
            failures,
        })
    }

    // -----------------------------------------------------------------------------------
    // The scheduler.

    /// Moves due retries to the ready line, ends a pause that is over, and asks for the next
    /// replay page when there is room for one.
    pub(super) fn tick(&mut self, now: Instant) -> Tick {
        let mut tick = Tick {
            stop: false,
            effects: Effects::default(),
            next: None,
            load: None,
        };
        if self.stopped || (self.closed && self.held() == 0 && self.replay.done) {
            tick.stop = true;
            return tick;
        }
        if self.paused_until.is_some_and(|t| t <= now) {
            self.paused_until = None;
        }
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let e = entry.remove();
            self.ready.push_front(e);
        }
        // Wake as many parked tasks as may start now.
        while self.ready.len() > tick.effects.work && self.claim_idle() {
            tick.effects.work += 1;
        }
        if self.wants_page() {
            let page = self.room().min(PAGE_MAX);
            self.replay.reserved = page;
            tick.load = Some((self.replay.after, self.replay.through, page));
        }
        let due = self.waiting.first_key_value().map(|(k, _)| k.0);
        tick.next = match (due, self.paused_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tick
    }

    /// Whether the next replay page should be read now: rows are left, none is being read,
    /// and room for a page (a quarter of the capacity, at most `PAGE_MAX`) is free, or any
    /// room while nothing is held.
    fn wants_page(&self) -> bool {
        if self.replay.done || self.replay.reserved != 0 || self.stopped {
            return false;
        }
        let page = self.room().min(PAGE_MAX);
        let threshold = (self.capacity / 4).clamp(1, PAGE_MAX);
        page >= threshold || (page > 0 && self.held() == 0)
    }

    // -----------------------------------------------------------------------------------
    // The end.

    /// Stops intake (`shutdown`).
    pub(super) fn close(&mut self) {
        self.closed = true;
    }

    /// Stops everything and takes every held event out: with a spool they stay spooled
    /// (counted), in memory they are dead-lettered with `reason` (returned, counted). An
    /// attempt in flight is abandoned, and counted ambiguous (it may have reached Gamooga).
    /// Idempotent. Returns the dead letters, how many events stayed spooled, and the
    /// wake-ups.
    pub(super) fn drain(&mut self, reason: DeadLetterReason) -> (Vec<DeadJob>, u64, Effects) {
        self.closed = true;
        self.stopped = true;
        let mut left: Vec<Entry> = self.ready.drain(..).collect();
        left.extend(std::mem::take(&mut self.waiting).into_values());
        let before = left.len();
        left.extend(self.in_flight.iter_mut().filter_map(Option::take));
        self.ambiguous += (left.len() - before) as u64;
        self.in_flight_count = 0;
        let mut dead = Vec::new();
        let mut spooled = 0;
        for e in left {
            self.outstanding.remove(&e.id);
            if self.durable && e.row != 0 {
                spooled += 1;
            } else {
                self.dead.add(reason);
                dead.push(DeadJob {
                    id: None, // settled now: the queue is stopped, flush does not wait
                    ..DeadJob::of(e, reason, None)
                });
            }
        }
        self.still_spooled += spooled;
        let effects = Effects {
            flush: true,
            room: self.take_room_waiters(),
            ..Effects::default()
        };
        (dead, spooled, effects)
    }

    /// Whether every id below `mark` is settled (or the queue stopped); if not, registers
    /// `mark` so the settlement that completes it wakes the waiter.
    pub(super) fn settled_below(&mut self, mark: u64) -> bool {
        if self.stopped || self.below_settled(mark) {
            return true;
        }
        self.flush_mark = Some(self.flush_mark.map_or(mark, |m| m.min(mark)));
        false
    }

    /// The mark `flush` waits for: everything accepted so far (spool rows left by an earlier
    /// run included).
    pub(super) fn flush_mark_now(&self) -> u64 {
        self.next_id
    }

    fn below_settled(&self, mark: u64) -> bool {
        self.outstanding.first().is_none_or(|&min| min >= mark)
            && (self.replay.done || self.replay.next_id >= mark)
    }

    /// Marks `id` settled. Returns true when a `flush` waiter can now be done.
    fn settle(&mut self, id: u64) -> bool {
        if !self.outstanding.remove(&id) {
            return false;
        }
        self.flush_done()
    }

    fn flush_done(&mut self) -> bool {
        match self.flush_mark {
            Some(mark) if self.below_settled(mark) => {
                self.flush_mark = None;
                true
            }
            _ => false,
        }
    }

    // -----------------------------------------------------------------------------------
    // Room for waiting enqueues.

    /// Registers an enqueue that waits for room (its `Notified` is enabled).
    fn wait_for_room(&mut self) {
        if self.room_waiters == 0 {
            self.room_since = Some(Instant::now());
        }
        self.room_waiters += 1;
    }

    /// Wakes the enqueues waiting for room (true: notify them) whatever the room.
    fn take_room_waiters(&mut self) -> bool {
        self.room_since = None;
        std::mem::take(&mut self.room_waiters) > 0
    }

    /// After an attempt settled: whether to wake the enqueues waiting for room now.
    ///
    /// Waking a waiter per freed slot costs a task switch (a thread wake-up when it waits
    /// outside the runtime's workers) per event while the queue is full, so waiters are
    /// woken once room for a batch (`ROOM_BATCH`, at most a quarter of the capacity) is
    /// free, or as soon as there is any room and no more is sure to follow soon: nothing in
    /// flight, an attempt failed (`freed` false: a retry or a dead letter), or the first
    /// waiter has waited `ROOM_WAIT` already.
    fn room_for_waiters(&mut self, freed: bool) -> bool {
        if self.room_waiters == 0 {
            return false;
        }
        let room = self.room();
        if room == 0 {
            return false;
        }
        let batch = ROOM_BATCH.min(self.capacity / 4).max(1);
        let wake = room >= batch
            || !freed
            || self.in_flight_count == 0
            || self.room_since.is_none_or(|t| t.elapsed() >= ROOM_WAIT);
        wake && self.take_room_waiters()
    }

    // -----------------------------------------------------------------------------------
    // Reading.

    /// A snapshot of the counters; `pruned`: dead letters the spool pruned.
    pub(super) fn stats(&self, pruned: u64) -> QueueStats {
        let now = Instant::now();
        QueueStats {
            enqueued: self.enqueued,
            replayed: self.replayed,
            delivered: self.delivered,
            dead_lettered: self.dead.total(),
            dead_letters: self.dead,
            still_spooled: self.still_spooled,
            depth: (self.ready.len() + self.waiting.len() + self.in_flight_count) as u64,
            refused: self.refused,
            dropped: self.dropped,
            retried: self.retried,
            ambiguous: self.ambiguous,
            backpressure_pauses: self.backpressure_pauses,
            resolution_pauses: self.resolution_pauses,
            paused_for: self
                .paused_until
                .filter(|&t| t > now)
                .map(|t| t.saturating_duration_since(now)),
            failing_since: self.health.failing_since.map(|(_, wall)| wall),
            last_error: self.health.last_error.as_ref().map(ToString::to_string),
            in_flight: self.in_flight_count as u64,
            in_flight_limit: self.limit as u64,
            in_flight_peak: self.in_flight_peak as u64,
            waiting_retry: self.waiting.len() as u64,
            spool_backlog: self.replay.left,
            dead_letters_pruned: pruned,
            latency: self.latency.latency(),
            // The counts kept outside the state (hook, disabled, lookups): `Shared::stats`.
            ..QueueStats::default()
        }
    }
}

/// The limiter a configuration asks for.
fn limiter(concurrency: Concurrency, algorithm: AdaptiveAlgorithm) -> Box<dyn Limit> {
    match concurrency {
        Concurrency::Fixed(n) => Box::new(limit::Fixed(n)),
        Concurrency::Adaptive { min, max } => {
            let bounds = limit::Bounds::new(min, max, QueueConfig::DEFAULT_CONCURRENCY);
            match algorithm {
                AdaptiveAlgorithm::Gradient => Box::new(limit::Gradient::new(bounds)),
                AdaptiveAlgorithm::Aimd => Box::new(limit::Aimd::new(bounds)),
            }
        }
    }
}

/// What an attempt says about load: a `200` is a latency sample; a `429`, a `503` or a
/// timeout, an overload; anything else (a rejection, a connection error, a backend that
/// cannot be resolved, a panic) nothing.
fn signal(attempted: &Attempted) -> Signal {
    match attempted {
        Attempted::Delivered => Signal::Ok,
        Attempted::Failed(Error::Http {
            status: 429 | 503, ..
        })
        | Attempted::Failed(Error::Timeout { .. }) => Signal::Overload,
        Attempted::Failed(_) | Attempted::Panicked => Signal::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Calls, CustomEvent, Properties};

    fn request() -> Arc<Request> {
        let event = CustomEvent::new("e", Properties::new());
        Arc::new(Calls::new("acme").unwrap().track("u", &event).unwrap())
    }

    fn state(capacity: usize, concurrency: usize, overflow: Overflow) -> State {
        let config = QueueConfig::default()
            .capacity(capacity)
            .concurrency(concurrency)
            .overflow(overflow);
        State::new(&config, false, None)
    }

    /// A full queue of `capacity` ready events with `in_flight` of them in flight.
    fn full(capacity: usize, concurrency: usize, in_flight: usize) -> State {
        let mut st = state(capacity, concurrency, Overflow::Wait);
        for _ in 0..capacity {
            assert!(matches!(
                st.admit(request(), false, Stamp::now()),
                Admission::Accepted(_)
            ));
        }
        for slot in 0..in_flight {
            assert!(matches!(st.start(slot), Start::Go(_)));
        }
        st
    }

    fn rules() -> DeliveryRules {
        DeliveryRules::new(crate::RetryPolicy::background())
    }

    /// Settles the event in `slot` as delivered; true when room waiters are woken.
    fn deliver(st: &mut State, slot: usize) -> bool {
        st.finish(slot, Attempted::Delivered, &rules(), Instant::now())
            .room
    }

    fn identity(st: &State) {
        let s = st.stats(0);
        assert_eq!(
            s.enqueued,
            s.delivered + s.dead_lettered + s.still_spooled + s.depth,
            "{s:?}"
        );
    }

    #[test]
    fn room_waiters_are_woken_per_batch_while_deliveries_succeed() {
        let mut st = full(200, 40, 40);
        st.wait_for_room();
        // However slow this thread is, the waiter has not waited `ROOM_WAIT` yet.
        st.room_since = Some(Instant::now() + Duration::from_secs(3600));
        for slot in 0..ROOM_BATCH - 1 {
            assert!(!deliver(&mut st, slot), "woken with room {}", slot + 1);
        }
        assert!(deliver(&mut st, ROOM_BATCH - 1));
        assert_eq!(st.room_waiters, 0, "woken once");
        assert!(!deliver(&mut st, ROOM_BATCH), "nobody waits any more");
        identity(&st);
    }

    #[test]
    fn room_waiters_are_woken_at_once_when_no_more_room_is_sure_to_follow() {
        // A failed attempt frees no room: wake on any room already free.
        let mut st = full(200, 40, 40);
        assert!(!deliver(&mut st, 0), "nobody waits yet");
        st.wait_for_room();
        st.room_since = Some(Instant::now() + Duration::from_secs(3600));
        let busy = Error::Http {
            call: crate::call::Endpoint::Evwid,
            host: "backend.test".into(),
            status: 503,
            body: String::new(),
            attempts: 1,
            retry_after: None,
        };
        let fx = st.finish(1, Attempted::Failed(busy), &rules(), Instant::now());
        assert!(fx.room && fx.scheduler);

        // The last attempt in flight settled (room 6 of 200, fewer than a batch).
        let mut st = full(200, 40, 1);
        st.ready.truncate(194);
        st.wait_for_room();
        st.room_since = Some(Instant::now() + Duration::from_secs(3600));
        assert!(deliver(&mut st, 0));

        // A small capacity wakes per slot.
        let mut st = full(2, 2, 2);
        st.wait_for_room();
        assert!(deliver(&mut st, 0));

        // The first waiter has waited ROOM_WAIT already.
        let mut st = full(200, 40, 40);
        st.wait_for_room();
        st.room_since = Some(Instant::now() - ROOM_WAIT);
        assert!(deliver(&mut st, 0));
    }

    #[test]
    fn flush_waiters_are_woken_once_every_id_below_the_mark_is_settled() {
        let mut st = full(4, 4, 4); // ids 1..=4 in flight in slots 0..=3
        let flushed = |st: &mut State, slot| {
            st.finish(slot, Attempted::Delivered, &rules(), Instant::now())
                .flush
        };
        assert!(!flushed(&mut st, 0), "nobody waits");
        assert!(!st.settled_below(4));
        assert!(!flushed(&mut st, 2), "2 is not settled");
        assert!(flushed(&mut st, 1), "every id below 4 is settled");
        assert_eq!(st.flush_mark, None);
        assert!(!flushed(&mut st, 3));
        assert!(st.settled_below(5));
    }

    #[test]
    fn a_pause_holds_every_start_until_the_scheduler_ends_it() {
        let mut st = state(20, 2, Overflow::Wait);
        for _ in 0..10 {
            let _ = st.admit(request(), false, Stamp::now());
        }
        assert!(matches!(st.start(0), Start::Go(_)));
        let busy = Error::Http {
            call: crate::call::Endpoint::Evwid,
            host: "backend.test".into(),
            status: 429,
            body: String::new(),
            attempts: 1,
            retry_after: Some(Duration::from_secs(2)),
        };
        let now = Instant::now();
        let fx = st.finish(0, Attempted::Failed(busy), &rules(), now);
        assert!(fx.paused.is_some());
        assert!(matches!(st.start(0), Start::Wait), "paused");
        st.park();
        // A new event does not wake the parked task while paused.
        let Admission::Accepted(fx) = st.admit(request(), false, Stamp::now()) else {
            panic!()
        };
        assert_eq!(fx.work, 0);
        let tick = st.tick(now + Duration::from_millis(1999));
        assert_eq!(tick.effects.work, 0);
        assert_eq!(tick.next, Some(now + Duration::from_secs(2)));
        let tick = st.tick(now + Duration::from_secs(2));
        assert_eq!(
            tick.effects.work, 1,
            "the pause is over: the parked task is woken"
        );
        assert!(matches!(st.start(0), Start::Go(_)));
        assert_eq!(st.stats(0).backpressure_pauses, 1);
        identity(&st);
    }

    #[test]
    fn a_spool_commit_and_an_abort_settle_a_reservation_once() {
        let config = QueueConfig::default().capacity(4);
        let mut st = State::new(&config, true, None);
        let Admission::Reserved {
            token,
            request: req,
            ..
        } = st.admit(request(), false, Stamp::now())
        else {
            panic!("a durable queue reserves")
        };
        assert_eq!(st.held(), 1, "the reservation holds room");
        let mut fx = Effects::default();
        st.commit(token, &req, SystemTime::now(), Some(7), None, &mut fx);
        assert_eq!(st.stats(0).enqueued, 1);
        // The writer's answer was lost after it committed: the late abort changes nothing.
        let _ = st.abort(token);
        st.commit(token, &req, SystemTime::now(), Some(7), None, &mut fx);
        let s = st.stats(0);
        assert_eq!((s.enqueued, s.depth, s.refused), (1, 1, 0), "{s:?}");
        identity(&st);

        // Aborted first (the writer stopped before answering), then a late commit: ignored.
        let Admission::Reserved {
            token,
            request: req,
            ..
        } = st.admit(request(), false, Stamp::now())
        else {
            panic!()
        };
        let _ = st.abort(token);
        st.commit(token, &req, SystemTime::now(), Some(8), None, &mut fx);
        assert_eq!(st.stats(0).enqueued, 1);
        assert!(!st.outstanding.contains(&token));

        // A commit after the queue stopped: durable, so still spooled, not lost.
        let Admission::Reserved {
            token,
            request: req,
            ..
        } = st.admit(request(), false, Stamp::now())
        else {
            panic!()
        };
        let _ = st.drain(DeadLetterReason::ShutdownDeadline);
        st.commit(token, &req, SystemTime::now(), Some(9), None, &mut fx);
        let s = st.stats(0);
        assert_eq!((s.enqueued, s.still_spooled), (2, 2), "{s:?}");
        identity(&st);
    }

    /// A limiter that records what it is fed and moves to a scripted limit.
    #[derive(Debug)]
    struct Scripted {
        limit: usize,
        next: Option<usize>,
        seen: std::sync::Arc<std::sync::Mutex<Vec<(Signal, usize)>>>,
    }

    impl Limit for Scripted {
        fn limit(&self) -> usize {
            self.limit
        }
        fn sample(&mut self, s: &Sample, _now: Instant) {
            self.seen.lock().unwrap().push((s.signal, s.in_flight));
            if let Some(next) = self.next.take() {
                self.limit = next;
            }
        }
    }

    fn http(status: u16) -> Error {
        Error::Http {
            call: crate::call::Endpoint::Evwid,
            host: "backend.test".into(),
            status,
            body: String::new(),
            attempts: 1,
            retry_after: None,
        }
    }

    #[test]
    fn every_settled_attempt_feeds_the_limiter_its_signal() {
        let mut st = state(10, 4, Overflow::Wait);
        let seen = std::sync::Arc::default();
        st.limiter = Box::new(Scripted {
            limit: 4,
            next: None,
            seen: std::sync::Arc::clone(&seen),
        });
        for _ in 0..4 {
            let _ = st.admit(request(), false, Stamp::now());
        }
        for slot in 0..4 {
            assert!(matches!(st.start(slot), Start::Go(_)));
        }
        let reset = Error::Connection {
            call: crate::call::Endpoint::Evwid,
            host: "backend.test".into(),
            phase: crate::error::Phase::Unknown,
            message: "reset".into(),
            attempts: 1,
        };
        let now = Instant::now();
        let _ = st.finish(0, Attempted::Delivered, &rules(), now);
        let _ = st.finish(1, Attempted::Failed(http(429)), &rules(), now);
        let _ = st.finish(2, Attempted::Failed(http(503)), &rules(), now);
        let _ = st.finish(3, Attempted::Failed(reset), &rules(), now);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (Signal::Ok, 1),
                (Signal::Overload, 2),
                (Signal::Overload, 3),
                (Signal::Ignore, 4)
            ],
            "the signal, and how many were in flight when each started"
        );
    }

    #[test]
    fn a_limit_that_grows_wakes_parked_tasks_for_the_room_it_made() {
        let mut st = state(20, 8, Overflow::Wait);
        st.limiter = Box::new(Scripted {
            limit: 1,
            next: Some(4),
            seen: std::sync::Arc::default(),
        });
        st.limit = 1;
        for _ in 0..10 {
            let _ = st.admit(request(), false, Stamp::now());
        }
        assert!(matches!(st.start(0), Start::Go(_)));
        for slot in 1..8 {
            assert!(matches!(st.start(slot), Start::Wait), "at the limit");
            st.park();
        }
        let fx = st.finish(0, Attempted::Delivered, &rules(), Instant::now());
        assert_eq!(st.stats(0).in_flight_limit, 4);
        // Room for 4: the finishing task takes one, three parked ones are woken.
        assert_eq!(fx.work, 3);
        assert!(matches!(st.start(0), Start::Go(_)));
        for slot in 1..4 {
            assert!(matches!(st.start(slot), Start::Go(_)));
        }
        assert!(matches!(st.start(4), Start::Wait));
    }

    #[test]
    fn an_adaptive_limit_is_cut_by_a_429_and_shows_in_stats() {
        let config = QueueConfig::default().capacity(100);
        let mut st = State::new(&config, false, None);
        assert_eq!(
            st.stats(0).in_flight_limit,
            QueueConfig::DEFAULT_CONCURRENCY as u64
        );
        for _ in 0..10 {
            let _ = st.admit(request(), false, Stamp::now());
        }
        assert!(matches!(st.start(0), Start::Go(_)));
        let _ = st.finish(0, Attempted::Failed(http(429)), &rules(), Instant::now());
        let limit = st.stats(0).in_flight_limit;
        assert!(
            limit < QueueConfig::DEFAULT_CONCURRENCY as u64,
            "a 429 cuts the limit: {limit}"
        );
        // A fixed concurrency does not move.
        let mut st = state(100, 8, Overflow::Wait);
        let _ = st.admit(request(), false, Stamp::now());
        assert!(matches!(st.start(0), Start::Go(_)));
        let _ = st.finish(0, Attempted::Failed(http(429)), &rules(), Instant::now());
        assert_eq!(st.stats(0).in_flight_limit, 8);
    }

    #[test]
    fn drain_settles_everything_and_keeps_the_identity() {
        for overflow in [
            Overflow::Wait,
            Overflow::Refuse,
            Overflow::DropNewest,
            Overflow::DropOldest,
        ] {
            let mut st = state(3, 1, overflow);
            for _ in 0..5 {
                match st.admit(request(), false, Stamp::now()) {
                    Admission::Accepted(Effects {
                        dead: Some(evicted),
                        ..
                    }) => {
                        // Settled once its hook has run.
                        let _ = st.finish_dead(evicted.id.unwrap());
                    }
                    Admission::Accepted(_) | Admission::Refused(_) | Admission::Dropped(_) => {}
                    _ => panic!("{overflow:?}: unexpected admission"),
                }
                identity(&st);
            }
            assert!(matches!(st.start(0), Start::Go(_)));
            let _ = st.finish(0, Attempted::Delivered, &rules(), Instant::now());
            identity(&st);
            let (dead, _, _) = st.drain(DeadLetterReason::ShutdownDeadline);
            identity(&st);
            let s = st.stats(0);
            assert_eq!(s.depth, 0);
            assert_eq!(dead.len() as u64, s.dead_letters.shutdown_deadline);
            assert_eq!(
                s.enqueued + s.refused + s.dropped,
                5,
                "{overflow:?}: every event offered is accepted, refused or dropped: {s:?}"
            );
            assert!(st.outstanding.is_empty());
        }
    }
}
