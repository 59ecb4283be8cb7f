//! The emulator's state and its one owner, [`Shared`]: the call log, visitors, per-event
//! stats and the tracking plan behind one lock, the faults behind another, and the
//! notification that wakes waiters (tests' `wait_for`, the page's stream) when a call is
//! recorded or a fault changes.
//!
//! Everything that changes the state goes through a named transition here (`record`,
//! `reset`, `set_plan`, `change_faults`); readers get a read-only [`View`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use crate::call::RecordedCall;
use crate::endpoint::Endpoint;
use crate::fault::{BackendFault, FaultState, Faults};
use crate::log::{parse_header_block, CallLog, Origin, Provenance};
use crate::plan::Plan;
use crate::stats::{Outcome, Stats, Summary};
use crate::visitors::Visitors;

/// Called with every call as it is recorded.
pub(crate) type CallHook = Box<dyn Fn(&RecordedCall) + Send + Sync>;

/// The recorded state, behind [`Shared`]'s lock.
pub(crate) struct State {
    log: CallLog,
    visitors: Visitors,
    stats: Stats,
    plan: Option<Arc<Plan>>,
    seed: u64,
    rng: fastrand::Rng,
    /// The header block of the last call, shared by the next one when equal.
    last_headers: Arc<str>,
    totals: Totals,
}

/// Calls by outcome since the start or the last reset.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub accepted: u64,
    pub rejected: u64,
    pub faulted: u64,
    pub violating: u64,
}

/// Read-only access to the state.
pub(crate) type View = State;

impl State {
    pub(crate) fn log(&self) -> &CallLog {
        &self.log
    }

    pub(crate) fn visitors(&self) -> &Visitors {
        &self.visitors
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    pub(crate) fn plan(&self) -> Option<&Plan> {
        self.plan.as_deref()
    }

    /// Calls by outcome.
    pub(crate) fn totals(&self) -> Totals {
        self.totals
    }

    /// The summary for CI.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            total_calls: self.log.total(),
            accepted: self.totals.accepted,
            rejected: self.totals.rejected,
            faulted: self.totals.faulted,
            plan_violations: self.totals.violating,
            plan_loaded: self.plan.is_some(),
            endpoints: self
                .log
                .counts()
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            events: self.stats.event_summaries(),
        }
    }

    /// A fresh visitor id: 16 lowercase alphanumerics from the seeded generator.
    fn new_visitor_id(&mut self) -> String {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..16)
            .map(|_| char::from(ALPHABET[self.rng.usize(..ALPHABET.len())]))
            .collect()
    }

    /// The visitor of a user, created if none.
    fn resolve(&mut self, user: &str) -> String {
        if let Some(vid) = self.visitors.visitor_of(user) {
            return vid;
        }
        let vid = self.new_visitor_id();
        self.visitors.map(user, &vid);
        vid
    }

    /// Applies an accepted call of `endpoint` to the visitor state and returns the visitor it
    /// concerned.
    fn apply(&mut self, endpoint: Endpoint, call: &RecordedCall) -> Option<String> {
        let user = call.user_id.as_deref();
        match endpoint {
            Endpoint::Evwid | Endpoint::Evwidj => Some(self.resolve(user?)),
            Endpoint::Ev => call.visitor_id.clone(),
            Endpoint::Evvprwid => {
                let vid = self.resolve(user?);
                self.visitors
                    .set_properties(&vid, call.seq, &call.visitor_properties);
                Some(vid)
            }
            Endpoint::Vpr => {
                let vid = call.visitor_id.clone()?;
                self.visitors
                    .set_properties(&vid, call.seq, &call.visitor_properties);
                Some(vid)
            }
            Endpoint::Id => {
                let user = user?;
                match call.visitor_id.as_deref() {
                    Some(v) => {
                        self.visitors.map(user, v);
                        Some(v.to_owned())
                    }
                    None => Some(self.resolve(user)),
                }
            }
        }
    }
}

/// What the server shares between connections, the inspector and the [`Emulator`] handle.
///
/// [`Emulator`]: crate::Emulator
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    companies: Option<HashSet<String>>,
    /// The API's port (the backend `newnaconf` answers).
    port: u16,
    notify: Notify,
    on_call: Option<CallHook>,
}

/// Settings fixed at start.
pub(crate) struct Settings {
    pub companies: Option<HashSet<String>>,
    pub port: u16,
    pub seed: u64,
    pub max_recorded: usize,
    pub plan: Option<Plan>,
    pub on_call: Option<CallHook>,
}

/// What recording a call does beside storing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Nothing more (rejected, faulted, `newnaconf`, unknown paths).
    None,
    /// An accepted call of this endpoint: applied to the visitor state.
    Accepted(Endpoint),
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Shared {
    pub(crate) fn new(settings: Settings) -> Self {
        Shared {
            state: Mutex::new(State {
                log: CallLog::new(settings.max_recorded),
                visitors: Visitors::default(),
                stats: Stats::default(),
                plan: settings.plan.map(Arc::new),
                seed: settings.seed,
                rng: fastrand::Rng::with_seed(settings.seed),
                last_headers: Arc::from(""),
                totals: Totals::default(),
            }),
            faults: Mutex::new(Faults::new(settings.seed)),
            companies: settings.companies,
            port: settings.port,
            notify: Notify::new(),
            on_call: settings.on_call,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the log inconsistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the state under its lock. Keep `f` short: calls wait meanwhile.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&View) -> R) -> R {
        f(&self.state())
    }

    /// Waits for the next change (a call recorded, a fault changed, a reset). Create the
    /// future and `enable` it before looking at the state, so no change is missed.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Whether a company exists (every company does when none were configured).
    pub(crate) fn company_known(&self, company: &str) -> bool {
        self.companies
            .as_ref()
            .is_none_or(|known| known.contains(company))
    }

    /// The `evbk` value `newnaconf` answers by default.
    pub(crate) fn own_backend(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Records a call. `headers` is its header block; `effect` says whether it was
    /// accepted. Returns the visitor id an accepted call concerned.
    ///
    /// Checks the call against the tracking plan (when one is loaded and the call passed
    /// validation), counts it per event, applies it to the visitors, numbers it, hands it to
    /// the hook and keeps it, all under one lock so the order is the arrival order.
    pub(crate) fn record(
        &self,
        mut call: RecordedCall,
        provenance: Provenance,
        headers: String,
        effect: Effect,
    ) -> Option<String> {
        let visitor = {
            let mut state = self.state();
            state.log.admit(&mut call);
            let visitor = match effect {
                Effect::Accepted(ep) => state.apply(ep, &call),
                Effect::None => None,
            };
            let mut resolved = None;
            if call.visitor_id.is_none() && visitor.is_some() {
                call.visitor_id.clone_from(&visitor);
                resolved.clone_from(&visitor);
            }
            let checked = call.rejection.is_none()
                && matches!(provenance.origin, Origin::Backend(ep) if ep != Endpoint::Id);
            if checked {
                if let Some(plan) = &state.plan {
                    call.plan_violations = plan.check(
                        call.event.as_deref(),
                        &call.event_properties,
                        &call.visitor_properties,
                    );
                }
            }
            let outcome = Outcome {
                accepted: call.status == 200,
                rejected: call.rejection.is_some(),
                faulted: call.fault.is_some(),
                violating: !call.plan_violations.is_empty(),
            };
            let totals = &mut state.totals;
            totals.accepted += u64::from(outcome.accepted);
            totals.rejected += u64::from(outcome.rejected);
            totals.faulted += u64::from(outcome.faulted);
            totals.violating += u64::from(outcome.violating);
            if let Some(event) = call.event.as_deref() {
                state
                    .stats
                    .observe_event(event, outcome, &call.event_properties, call.received_ms);
            }
            if outcome.accepted && !call.visitor_properties.is_empty() {
                state.stats.observe_visitor(&call.visitor_properties);
            }
            let headers = if *state.last_headers == *headers {
                Arc::clone(&state.last_headers)
            } else {
                let block: Arc<str> = Arc::from(headers);
                state.last_headers = Arc::clone(&block);
                block
            };
            if let Some(hook) = &self.on_call {
                call.headers = parse_header_block(&headers);
                call.offending_range = provenance
                    .offending
                    .and_then(|i| crate::validate::parameter_range(&call.raw_query, i));
                hook(&call);
            }
            state.log.store(call, provenance, headers, resolved);
            visitor
        };
        self.notify.notify_waiters();
        visitor
    }

    /// Clears calls, counts, stats, visitors and faults (generators restart from the seed).
    /// The tracking plan stays.
    pub(crate) fn reset(&self) {
        {
            let mut state = self.state();
            state.log.clear();
            state.visitors.clear();
            state.stats.clear();
            state.totals = Totals::default();
            state.rng = fastrand::Rng::with_seed(state.seed);
        }
        self.faults().clear();
        self.notify.notify_waiters();
    }

    /// Loads (or with `None` removes) the tracking plan; calls from now on are checked.
    pub(crate) fn set_plan(&self, plan: Option<Plan>) {
        self.state().plan = plan.map(Arc::new);
        self.notify.notify_waiters();
    }

    /// Changes the faults.
    pub(crate) fn change_faults<R>(&self, f: impl FnOnce(&mut Faults) -> R) -> R {
        let r = f(&mut self.faults());
        self.notify.notify_waiters();
        r
    }

    /// Decides the fault of the next backend call (using up scripted counts: not a change
    /// anyone waits for, it shows in the call).
    pub(crate) fn next_backend_fault(&self, now: Instant) -> BackendFault {
        self.faults().next_backend(now)
    }

    /// For `newnaconf`: a scripted failure (used up), the `evbk` to answer, a raw body.
    pub(crate) fn newnaconf_faults(&self) -> (Option<u16>, Option<String>, Option<String>) {
        let mut faults = self.faults();
        (
            faults.next_newnaconf_failure(),
            faults.evbk().map(str::to_owned),
            faults.newnaconf_body().map(str::to_owned),
        )
    }

    /// The faults set now (`up` is the caller's to fill in).
    pub(crate) fn fault_state(&self) -> FaultState {
        self.faults().state()
    }
}
