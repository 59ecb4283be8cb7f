//! The [`Emulator`] handle a test holds and its [`EmulatorBuilder`]: they start the two
//! listeners (the API's and the inspector's) over the shared state, and are the Rust API of
//! everything the emulator records and every fault it injects.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::call::{RecordedCall, RecordedProperty};
use crate::fault::FaultState;
use crate::http::{self, Power, Running, Switch};
use crate::inspector::Inspector;
use crate::log::{StoredCall, DEFAULT_MAX_RECORDED};
use crate::plan::Plan;
use crate::ratelimit::RateLimit;
use crate::router::{ApiPort, InspectorPort};
use crate::state::{CallHook, Settings, Shared};
use crate::stats::Summary;

/// The seed used when none is given (`"gamooga"` in ASCII): runs are reproducible by default.
pub const DEFAULT_SEED: u64 = 0x0067_616d_6f6f_6761;

/// Configures an [`Emulator`] before it starts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let plan = gamooga_emulator::Plan::from_json(r#"{"events": [{"name": "login", "properties": []}]}"#)?;
/// let emu = gamooga_emulator::Emulator::builder()
///     .companies(["acme"])
///     .seed(7)
///     .max_recorded(10_000)
///     .plan(plan)
///     .start()
///     .await?;
/// assert!(emu.config_url().starts_with("http://127.0.0.1:"));
/// assert!(emu.inspector_url().ends_with("/_emulator/"));
/// # Ok(()) }
/// ```
pub struct EmulatorBuilder {
    companies: Option<HashSet<String>>,
    port: u16,
    inspector_port: u16,
    seed: u64,
    max_recorded: usize,
    plan: Option<Plan>,
    on_call: Option<CallHook>,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("companies", &self.companies)
            .field("port", &self.port)
            .field("inspector_port", &self.inspector_port)
            .field("seed", &self.seed)
            .field("max_recorded", &self.max_recorded)
            .field("plan", &self.plan.is_some())
            .field("on_call", &self.on_call.is_some())
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            companies: None,
            port: 0,
            inspector_port: 0,
            seed: DEFAULT_SEED,
            max_recorded: DEFAULT_MAX_RECORDED,
            plan: None,
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

    /// Serves the inspector on this port of 127.0.0.1 (default 0: an ephemeral port).
    pub fn inspector_port(mut self, p: u16) -> Self {
        self.inspector_port = p;
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

    /// Checks every call against this tracking plan (see [`Plan`]).
    pub fn plan(mut self, plan: Plan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Calls `hook` with every call as it is recorded, in order (the binary prints with it).
    /// The hook runs while the record is locked: keep it quick and do not call the emulator
    /// from it.
    pub fn on_call<F: Fn(&RecordedCall) + Send + Sync + 'static>(mut self, hook: F) -> Self {
        self.on_call = Some(Box::new(hook));
        self
    }

    /// Binds 127.0.0.1 (the API's port and the inspector's) and starts serving on the
    /// current tokio runtime.
    ///
    /// # Errors
    /// When a port cannot be bound (in use, or not permitted).
    pub async fn start(self) -> std::io::Result<Emulator> {
        let bind =
            |port| tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        let listener = bind(self.port).await?;
        let inspector_listener = bind(self.inspector_port).await?;
        let addr = listener.local_addr()?;
        let inspector_addr = inspector_listener.local_addr()?;
        let shared = Arc::new(Shared::new(Settings {
            companies: self.companies,
            port: addr.port(),
            seed: self.seed,
            max_recorded: self.max_recorded,
            plan: self.plan,
            on_call: self.on_call,
        }));
        let inspector = Arc::new(Inspector::new(Arc::clone(&shared)));
        let api = Arc::new(Switch::start(
            Arc::new(ApiPort {
                shared: Arc::clone(&shared),
                inspector: Arc::clone(&inspector),
            }),
            listener,
        )?);
        let power: Arc<dyn Power> = api.clone();
        inspector.connect_power(Arc::downgrade(&power));
        let inspector_running = http::serve(
            Arc::new(InspectorPort { inspector }),
            inspector_listener,
            Arc::default(),
        );
        Ok(Emulator {
            shared,
            addr,
            inspector_addr,
            api,
            inspector: Mutex::new(Some(inspector_running)),
        })
    }
}

/// A running local Gamooga emulator on 127.0.0.1. Dropping it stops the server.
///
/// It serves `newnaconf` and the backend endpoints on one port, records every call
/// (accepted, rejected or faulted) in arrival order, injects the faults a test scripts, and
/// serves the web inspector on a second port ([`inspector_url`](Self::inspector_url)).
/// See the [crate docs](crate) for the rules it enforces.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    inspector_addr: SocketAddr,
    api: Arc<Switch<ApiPort>>,
    inspector: Mutex<Option<Running>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("inspector_addr", &self.inspector_addr)
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

    /// A builder for companies, ports, seed, tracking plan and the recording bound.
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

    /// The address of the inspector's own port.
    pub fn inspector_addr(&self) -> SocketAddr {
        self.inspector_addr
    }

    /// The web inspector's page, `http://127.0.0.1:PORT/_emulator/`: open it in a browser
    /// (while stepping through a test, say) to watch every call live. Its JSON API lives
    /// beside it (see [`inspector`](crate::inspector)).
    pub fn inspector_url(&self) -> String {
        format!("http://{}/_emulator/", self.inspector_addr)
    }

    /// Every recorded call, in arrival order (the last [`max_recorded`] of them).
    ///
    /// [`max_recorded`]: EmulatorBuilder::max_recorded
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.filtered(|_| true)
    }

    /// The accepted event calls (`evwid`, `evwidj`, `ev`, `evvprwid` answered 200), in order.
    pub fn events(&self) -> Vec<RecordedCall> {
        self.filtered(StoredCall::is_accepted_event)
    }

    /// The calls rejected for a reason (4xx with [`RecordedCall::rejection`] set), in order.
    pub fn rejected(&self) -> Vec<RecordedCall> {
        self.filtered(StoredCall::is_rejected)
    }

    /// The calls that violate the tracking plan ([`RecordedCall::plan_violations`]), in order.
    pub fn plan_violations(&self) -> Vec<RecordedCall> {
        self.filtered(StoredCall::violates_plan)
    }

    fn filtered(&self, keep: impl Fn(&StoredCall) -> bool) -> Vec<RecordedCall> {
        self.shared.read(|s| {
            s.log()
                .calls()
                .filter(|c| keep(c))
                .map(StoredCall::expand)
                .collect()
        })
    }

    /// How many calls reached `endpoint` (`"newnaconf"`, `"evwid"`, `"evwidj"`, `"ev"`,
    /// `"evvprwid"`, `"vpr"`, `"id"`, or an unknown path), faulted and rejected ones included.
    /// Exact even beyond the recording bound.
    pub fn count(&self, endpoint: &str) -> usize {
        self.shared.read(|s| s.log().count(endpoint))
    }

    /// All per-endpoint counts.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.shared.read(|s| s.log().counts().clone())
    }

    /// How many TCP connections the API's port accepted since start (not reset by
    /// [`reset`](Self::reset)): a client that keeps its connections alive opens about as
    /// many as it has requests in flight at once, not one per call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emu = gamooga_emulator::Emulator::start().await?;
    /// let http = reqwest::Client::new();
    /// for _ in 0..3 {
    ///     let url = format!("http://{}/evwid/?c=acme&u=u1&e=login", emu.backend());
    ///     http.get(url).send().await?.text().await?;
    /// }
    /// assert_eq!(emu.connections_accepted(), 1); // one keep-alive connection, three calls
    /// # Ok(()) }
    /// ```
    pub fn connections_accepted(&self) -> u64 {
        self.api.connections_accepted()
    }

    /// How many calls were recorded since start (or the last reset), beyond the bound too.
    pub fn total_calls(&self) -> u64 {
        self.shared.read(|s| s.log().total())
    }

    /// Accepted, rejected, faulted and plan-violating calls, in all and per event (exact
    /// beyond the recording bound), as `GET /_emulator/summary` answers it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emu = gamooga_emulator::Emulator::start().await?;
    /// reqwest::get(format!("http://{}/evwid/?c=acme&u=u1&e=login", emu.backend())).await?;
    /// let summary = emu.summary();
    /// assert_eq!(summary.accepted, 1);
    /// assert_eq!(summary.events[0].event, "login");
    /// # Ok(()) }
    /// ```
    pub fn summary(&self) -> Summary {
        self.shared.read(|s| s.summary())
    }

    /// A visitor's current properties: last write wins, in first-set order.
    pub fn visitor_properties(&self, visitor_id: &str) -> Vec<RecordedProperty> {
        self.shared.read(|s| s.visitors().properties(visitor_id))
    }

    /// The visitor id mapped to a user id, if any call created or mapped one.
    pub fn visitor_of(&self, user_id: &str) -> Option<String> {
        self.shared.read(|s| s.visitors().visitor_of(user_id))
    }

    /// Waits until `predicate` holds for the recorded calls, or `timeout` passes. Returns
    /// whether it held. The predicate sees a snapshot, so it may call the emulator.
    ///
    /// Each notification decodes only the calls recorded since the last look (a reset starts
    /// again from the kept calls).
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
        let mut seen: Vec<RecordedCall> = Vec::new();
        let mut cursor: Option<(u64, u64)> = None; // (epoch, last seq seen)
        loop {
            let changed = self.shared.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            self.catch_up(&mut seen, &mut cursor);
            if predicate(&seen) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                self.catch_up(&mut seen, &mut cursor);
                return predicate(&seen);
            }
        }
    }

    /// Appends the calls recorded after `cursor` to `seen` (all kept calls after a reset),
    /// keeping at most the recording bound.
    fn catch_up(&self, seen: &mut Vec<RecordedCall>, cursor: &mut Option<(u64, u64)>) {
        self.shared.read(|s| {
            let log = s.log();
            let from = match *cursor {
                Some((epoch, seq)) if epoch == log.epoch() => seq,
                _ => {
                    seen.clear();
                    0
                }
            };
            seen.extend(log.calls_after(from).map(StoredCall::expand));
            let excess = seen.len().saturating_sub(log.max());
            seen.drain(..excess);
            *cursor = Some((log.epoch(), log.total()));
        });
    }

    /// Clears calls, counts, visitors and faults (generators restart from the seed). The
    /// tracking plan stays.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Loads a tracking plan (or with `None` removes it): calls from now on are checked
    /// against it.
    pub fn set_plan(&self, plan: Option<Plan>) {
        self.shared.set_plan(plan);
    }

    /// The faults set now, and whether the server is up: what the inspector shows.
    pub fn faults(&self) -> FaultState {
        let mut state = self.shared.fault_state();
        state.up = self.is_up();
        state
    }

    /// Answers the next `n` backend calls with `status` (every endpoint but `newnaconf` and
    /// the inspection API). `n = 0` cancels.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared.change_faults(|f| f.fail_next(n, status, None));
    }

    /// Like [`fail_next`](Self::fail_next), with a `Retry-After: retry_after_secs` header.
    pub fn fail_next_with_retry_after(&self, n: usize, status: u16, retry_after_secs: u64) {
        self.shared
            .change_faults(|f| f.fail_next(n, status, Some(retry_after_secs)));
    }

    /// Delays the answer to the next `n` backend calls by `delay` (combines with other faults).
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.shared.change_faults(|f| f.delay_next(n, delay));
    }

    /// Closes the connection of the next `n` backend calls without any answer (recorded with
    /// status 0 and fault `"drop"`).
    pub fn drop_next(&self, n: usize) {
        self.shared.change_faults(|f| f.drop_next(n));
    }

    /// Fails each backend call with probability `rate` (0.0 ..= 1.0) with `status`, from the
    /// seeded generator, so a run is reproducible. `0.0` turns it off. Scripted faults come
    /// first.
    pub fn set_failure_rate(&self, rate: f64, status: u16) {
        self.shared
            .change_faults(|f| f.set_failure_rate(rate, status));
    }

    /// Closes the connection of each backend call with probability `rate` (0.0 ..= 1.0)
    /// without answering, after reading the request (so the client cannot tell whether it was
    /// stored; it was not), from the seeded generator. `0.0` turns it off. Scripted faults
    /// come first; the failure rate applies to the calls not dropped.
    pub fn set_drop_rate(&self, rate: f64) {
        self.shared.change_faults(|f| f.set_drop_rate(rate));
    }

    /// Serves backend calls at most at this rate (a token bucket, full when set): beyond it
    /// a call is answered `429` with `Retry-After` (whole seconds until a call would be
    /// served, at least 1) and recorded with fault `"rate limit 429 retry-after N"`. `None`
    /// lifts the limit. Scripted drops and failures come first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use gamooga_emulator::{Emulator, RateLimit};
    /// let emu = Emulator::start().await?;
    /// emu.set_rate_limit(Some(RateLimit::per_second(1.0).burst(1)));
    /// let url = format!("http://{}/evwid/?c=acme&u=u1&e=login", emu.backend());
    /// assert_eq!(reqwest::get(&url).await?.status(), 200);
    /// let limited = reqwest::get(&url).await?;
    /// assert_eq!(limited.status(), 429);
    /// assert_eq!(limited.headers()["retry-after"], "1");
    /// # Ok(()) }
    /// ```
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared
            .change_faults(|f| f.set_rate_limit(limit, Instant::now()));
    }

    /// Delays every backend answer by `latency` (a steady round trip, for benchmarks), on
    /// top of any scripted delay; `None` removes it. Not recorded as a fault of each call.
    pub fn set_latency(&self, latency: Option<Duration>) {
        self.shared.change_faults(|f| f.set_latency(latency));
    }

    /// Makes `newnaconf` answer another `evbk` (a backend move); `None` answers this
    /// emulator's own backend again.
    pub fn set_evbk(&self, evbk: Option<String>) {
        self.shared.change_faults(|f| f.set_evbk(evbk));
    }

    /// Makes `newnaconf` answer 200 with this raw body (garbage, a missing `evbk`, ...);
    /// `None` answers normally again.
    pub fn set_newnaconf_body(&self, body: Option<String>) {
        self.shared.change_faults(|f| f.set_newnaconf_body(body));
    }

    /// Answers the next `n` `newnaconf` calls with `status`.
    pub fn fail_newnaconf_next(&self, n: usize, status: u16) {
        self.shared
            .change_faults(|f| f.fail_newnaconf_next(n, status));
    }

    /// Whether it is listening.
    pub fn is_up(&self) -> bool {
        self.api.is_up()
    }

    /// Stops listening and closes open connections: new connections are refused until
    /// [`come_up`](Self::come_up). Recorded calls and faults are kept; the inspector stays
    /// up.
    pub async fn go_down(&self) {
        self.api.go_down().await;
        self.shared.change_faults(|_| ());
    }

    /// Listens again on the same port (a no-op when already up).
    ///
    /// # Errors
    /// When the port was taken by someone else in the meantime.
    pub async fn come_up(&self) -> std::io::Result<()> {
        let result = self.api.come_up().await;
        self.shared.change_faults(|_| ());
        result
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.api.abort();
        let inspector = self
            .inspector
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(running) = inspector {
            running.abort();
        }
    }
}
