//! The [`Emulator`] handle a test holds, its [`EmulatorBuilder`], and the state the server
//! shares with it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::endpoint::Endpoint;
use crate::fault::Faults;
use crate::record::{
    CallLog, Provenance, RecordedCall, RecordedProperty, StoredCall, Visitors, DEFAULT_MAX_RECORDED,
};
use crate::server::{self, Running};

/// The seed used when none is given (`"gamooga"` in ASCII): runs are reproducible by default.
pub const DEFAULT_SEED: u64 = 0x0067_616d_6f6f_6761;

type CallHook = Box<dyn Fn(&RecordedCall) + Send + Sync>;

/// Recorded calls and the visitor state, behind one lock.
pub(crate) struct State {
    pub(crate) log: CallLog,
    pub(crate) visitors: Visitors,
    seed: u64,
    rng: fastrand::Rng,
}

impl State {
    /// A fresh visitor id: 16 lowercase alphanumerics from the seeded generator.
    pub(crate) fn new_visitor_id(&mut self) -> String {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..16)
            .map(|_| char::from(ALPHABET[self.rng.usize(..ALPHABET.len())]))
            .collect()
    }

    /// Applies an accepted call to the visitor state and returns the visitor it concerned.
    fn apply(&mut self, endpoint: Endpoint, call: &RecordedCall) -> Option<String> {
        let user = call.user_id.as_deref();
        match endpoint {
            Endpoint::Evwid | Endpoint::Evwidj => {
                let user = user?;
                Some(self.resolve(user))
            }
            Endpoint::Ev => call.visitor_id.clone(),
            Endpoint::Evvprwid => {
                let vid = self.resolve(user?);
                self.visitors.set_properties(&vid, &call.visitor_properties);
                Some(vid)
            }
            Endpoint::Vpr => {
                let vid = call.visitor_id.clone()?;
                self.visitors.set_properties(&vid, &call.visitor_properties);
                Some(vid)
            }
            Endpoint::Id => match &call.visitor_id {
                Some(v) => {
                    self.visitors.map(user?, v);
                    Some(v.clone())
                }
                None => Some(self.resolve(user?)),
            },
        }
    }

    fn resolve(&mut self, user: &str) -> String {
        if let Some(v) = self.visitors.visitor_of(user) {
            return v;
        }
        let v = self.new_visitor_id();
        self.visitors.map(user, &v);
        v
    }
}

/// Everything the server tasks and the [`Emulator`] handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    pub(crate) companies: Option<HashSet<String>>,
    pub(crate) port: u16,
    notify: Notify,
    on_call: Option<CallHook>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the log inconsistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a call (not applied to the visitor state).
    pub(crate) fn record(&self, call: RecordedCall, provenance: Provenance) {
        self.record_with(call, provenance, None);
    }

    /// Records an accepted call of `endpoint`, applying it to the visitor state first.
    /// Returns the visitor id the call concerned.
    pub(crate) fn record_accepted(
        &self,
        call: RecordedCall,
        provenance: Provenance,
        endpoint: Endpoint,
    ) -> Option<String> {
        self.record_with(call, provenance, Some(endpoint))
    }

    fn record_with(
        &self,
        mut call: RecordedCall,
        provenance: Provenance,
        accepted: Option<Endpoint>,
    ) -> Option<String> {
        let visitor = {
            let mut state = self.state();
            let visitor = accepted.and_then(|ep| state.apply(ep, &call));
            let mut resolved = None;
            if call.visitor_id.is_none() && visitor.is_some() {
                call.visitor_id.clone_from(&visitor);
                resolved.clone_from(&visitor);
            }
            state.log.admit(&mut call);
            if let Some(hook) = &self.on_call {
                hook(&call);
            }
            state.log.store(call, provenance, resolved);
            visitor
        };
        self.notify.notify_waiters();
        visitor
    }

    /// The `evbk` value `newnaconf` answers by default.
    pub(crate) fn own_backend(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn reset(&self) {
        {
            let mut state = self.state();
            state.log.clear();
            state.visitors.clear();
            state.rng = fastrand::Rng::with_seed(state.seed);
        }
        self.faults().clear();
    }
}

/// Configures an [`Emulator`] before it starts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let emu = gamooga_emulator::Emulator::builder()
///     .companies(["acme"])
///     .seed(7)
///     .max_recorded(10_000)
///     .start()
///     .await?;
/// assert!(emu.config_url().starts_with("http://127.0.0.1:"));
/// # Ok(()) }
/// ```
pub struct EmulatorBuilder {
    companies: Option<HashSet<String>>,
    port: u16,
    seed: u64,
    max_recorded: usize,
    on_call: Option<CallHook>,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("companies", &self.companies)
            .field("port", &self.port)
            .field("seed", &self.seed)
            .field("max_recorded", &self.max_recorded)
            .field("on_call", &self.on_call.is_some())
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            companies: None,
            port: 0,
            seed: DEFAULT_SEED,
            max_recorded: DEFAULT_MAX_RECORDED,
            on_call: None,
        }
    }
}

impl EmulatorBuilder {
    /// Only these companies exist: `newnaconf` answers 404 for any other, and backend calls
    /// for any other company are rejected with 404. By default every company exists.
    pub fn companies<I: IntoIterator<Item = S>, S: Into<String>>(mut self, c: I) -> Self {
        self.companies = Some(c.into_iter().map(Into::into).collect());
        self
    }

    /// Listens on this port of 127.0.0.1 (default 0: an ephemeral port).
    pub fn port(mut self, p: u16) -> Self {
        self.port = p;
        self
    }

    /// Seeds the generators of visitor ids and of the random failure rate
    /// (default [`DEFAULT_SEED`]).
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Keeps at most the last `n` calls in memory (default 1,000,000; 0 keeps none).
    /// Per-endpoint counts stay exact whatever the bound.
    pub fn max_recorded(mut self, n: usize) -> Self {
        self.max_recorded = n;
        self
    }

    /// Calls `hook` with every call as it is recorded, in order (the binary prints with it).
    /// The hook runs while the record is locked: keep it quick and do not call the emulator
    /// from it.
    pub fn on_call<F: Fn(&RecordedCall) + Send + Sync + 'static>(mut self, hook: F) -> Self {
        self.on_call = Some(Box::new(hook));
        self
    }

    /// Binds 127.0.0.1 and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound (in use, or not permitted).
    pub async fn start(self) -> std::io::Result<Emulator> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
                .await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                log: CallLog::new(self.max_recorded),
                visitors: Visitors::default(),
                seed: self.seed,
                rng: fastrand::Rng::with_seed(self.seed),
            }),
            faults: Mutex::new(Faults::new(self.seed)),
            companies: self.companies,
            port: addr.port(),
            notify: Notify::new(),
            on_call: self.on_call,
        });
        let running = server::serve(Arc::clone(&shared), listener);
        Ok(Emulator {
            shared,
            addr,
            running: Mutex::new(Some(running)),
        })
    }
}

/// A running local Gamooga emulator on 127.0.0.1. Dropping it stops the server.
///
/// It serves `newnaconf` and the backend endpoints on the same port, records every call
/// (accepted, rejected or faulted) in arrival order, and injects the faults a test scripts.
/// See the [crate docs](crate) for the rules it enforces.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("up", &self.is_up())
            .finish()
    }
}

impl Emulator {
    /// Starts an emulator on an ephemeral port with the defaults.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> std::io::Result<Emulator> {
        Self::builder().start().await
    }

    /// A builder for companies, port, seed and the recording bound.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on (127.0.0.1 and its port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration URL to point a client at: `http://127.0.0.1:PORT` (no trailing
    /// slash); `newnaconf` lives under it.
    pub fn config_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The backend host and port, `127.0.0.1:PORT`, as `newnaconf` answers it in `evbk`.
    pub fn backend(&self) -> String {
        self.shared.own_backend()
    }

    /// Every recorded call, in arrival order (the last [`max_recorded`] of them).
    ///
    /// [`max_recorded`]: EmulatorBuilder::max_recorded
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared
            .state()
            .log
            .calls()
            .map(StoredCall::expand)
            .collect()
    }

    /// The accepted event calls (`evwid`, `evwidj`, `ev`, `evvprwid` answered 200), in order.
    pub fn events(&self) -> Vec<RecordedCall> {
        self.filtered(StoredCall::is_accepted_event)
    }

    /// The calls rejected for a reason (4xx with [`RecordedCall::rejection`] set), in order.
    pub fn rejected(&self) -> Vec<RecordedCall> {
        self.filtered(StoredCall::is_rejected)
    }

    fn filtered(&self, keep: impl Fn(&StoredCall) -> bool) -> Vec<RecordedCall> {
        self.shared
            .state()
            .log
            .calls()
            .filter(|c| keep(c))
            .map(StoredCall::expand)
            .collect()
    }

    /// How many calls reached `endpoint` (`"newnaconf"`, `"evwid"`, `"evwidj"`, `"ev"`,
    /// `"evvprwid"`, `"vpr"`, `"id"`, or an unknown path), faulted and rejected ones included.
    /// Exact even beyond the recording bound.
    pub fn count(&self, endpoint: &str) -> usize {
        self.shared.state().log.count(endpoint)
    }

    /// All per-endpoint counts.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.shared.state().log.counts().clone()
    }

    /// How many calls were recorded since start (or the last reset), beyond the bound too.
    pub fn total_calls(&self) -> u64 {
        self.shared.state().log.total()
    }

    /// A visitor's current properties: last write wins, in first-set order.
    pub fn visitor_properties(&self, visitor_id: &str) -> Vec<RecordedProperty> {
        self.shared.state().visitors.properties(visitor_id)
    }

    /// The visitor id mapped to a user id, if any call created or mapped one.
    pub fn visitor_of(&self, user_id: &str) -> Option<String> {
        self.shared.state().visitors.visitor_of(user_id)
    }

    /// Waits until `predicate` holds for the recorded calls, or `timeout` passes. Returns
    /// whether it held. The predicate sees a snapshot, so it may call the emulator.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # use std::time::Duration;
    /// let emu = gamooga_emulator::Emulator::start().await?;
    /// // ... something sends events in the background ...
    /// let arrived = emu.wait_for(|calls| calls.len() >= 1, Duration::from_millis(50)).await;
    /// assert!(!arrived); // nothing was sent here
    /// # Ok(()) }
    /// ```
    pub async fn wait_for<F: Fn(&[RecordedCall]) -> bool>(
        &self,
        predicate: F,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if predicate(&self.calls()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return predicate(&self.calls());
            }
        }
    }

    /// Clears calls, counts, visitors and faults (generators restart from the seed).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Answers the next `n` backend calls with `status` (every endpoint but `newnaconf` and
    /// the inspection API). `n = 0` cancels.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared.faults().fail_next(n, status, None);
    }

    /// Like [`fail_next`](Self::fail_next), with a `Retry-After: retry_after_secs` header.
    pub fn fail_next_with_retry_after(&self, n: usize, status: u16, retry_after_secs: u64) {
        self.shared
            .faults()
            .fail_next(n, status, Some(retry_after_secs));
    }

    /// Delays the answer to the next `n` backend calls by `delay` (combines with other faults).
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.shared.faults().delay_next(n, delay);
    }

    /// Closes the connection of the next `n` backend calls without any answer (recorded with
    /// status 0 and fault `"drop"`).
    pub fn drop_next(&self, n: usize) {
        self.shared.faults().drop_next(n);
    }

    /// Fails each backend call with probability `rate` (0.0 ..= 1.0) with `status`, from the
    /// seeded generator, so a run is reproducible. `0.0` turns it off. Scripted faults come
    /// first.
    pub fn set_failure_rate(&self, rate: f64, status: u16) {
        self.shared.faults().set_failure_rate(rate, status);
    }

    /// Closes the connection of each backend call with probability `rate` (0.0 ..= 1.0)
    /// without answering, after reading the request (so the client cannot tell whether it was
    /// stored; it was not), from the seeded generator. `0.0` turns it off. Scripted faults
    /// come first; the failure rate applies to the calls not dropped.
    pub fn set_drop_rate(&self, rate: f64) {
        self.shared.faults().set_drop_rate(rate);
    }

    /// Makes `newnaconf` answer another `evbk` (a backend move); `None` answers this
    /// emulator's own backend again.
    pub fn set_evbk(&self, evbk: Option<String>) {
        self.shared.faults().set_evbk(evbk);
    }

    /// Makes `newnaconf` answer 200 with this raw body (garbage, a missing `evbk`, ...);
    /// `None` answers normally again.
    pub fn set_newnaconf_body(&self, body: Option<String>) {
        self.shared.faults().set_newnaconf_body(body);
    }

    /// Answers the next `n` `newnaconf` calls with `status`.
    pub fn fail_newnaconf_next(&self, n: usize, status: u16) {
        self.shared.faults().fail_newnaconf_next(n, status);
    }

    /// Whether it is listening.
    pub fn is_up(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Stops listening and closes open connections: new connections are refused until
    /// [`come_up`](Self::come_up). Recorded calls and faults are kept.
    pub async fn go_down(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(running) = running {
            running.stop().await;
        }
    }

    /// Listens again on the same port (a no-op when already up).
    ///
    /// # Errors
    /// When the port was taken by someone else in the meantime.
    pub async fn come_up(&self) -> std::io::Result<()> {
        if self.is_up() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let running = server::serve(Arc::clone(&self.shared), listener);
        let mut slot = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            // Someone else brought it up while we were binding: keep theirs.
            Some(_) => running.abort(),
            None => *slot = Some(running),
        }
        Ok(())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(running) = running {
            running.abort();
        }
    }
}
