//! [`Client`]: resolves the company's backend and delivers calls, with retries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tracing::Instrument;

use crate::call::{Calls, Endpoint, EvwidMode, Request};
use crate::error::{Error, Result};
use crate::event::{Event, VisitorProperties};
use crate::resolve::{self, Backend, Resolver, Source};
use crate::retry::RetryPolicy;
use crate::transport::{self, HttpRequest, Transport};

/// The production configuration host.
pub const DEFAULT_CONFIG_URL: &str = "https://cdn-jp.gsecondscreen.com";

/// A client of Gamooga's server-to-server API for one company.
///
/// It resolves the company's backend (cached, see [`resolve`]), sends each
/// call over a pooled HTTPS connection and retries what is worth retrying. It is cheap to
/// clone (an `Arc` inside) and `Send + Sync`: build one at startup and share it.
///
/// ```
/// use std::sync::Arc;
/// use gamooga_core::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
/// // In production: `Client::builder("your-company-id").build()?` or `Client::from_env()?`.
/// let dry = Arc::new(DryRunTransport::new());
/// let client = Client::builder("acme").transport(dry.clone()).build()?;
/// let purchase = CustomEvent::new("purchase", Properties::new().number("amount", 42)?.string("sku", "A-1"));
/// client.track("user-42", &purchase).await?;
/// assert!(dry.requests()[1].url.contains("/evwid/?c=acme&u=user-42&e=purchase&ky=amount&vl=42&tp=n"));
/// # Ok(()) }
/// ```
///
/// # Options
///
/// Set with [`ClientBuilder`]; the defaults are right for production.
///
/// | option | default | what it does |
/// |---|---|---|
/// | [`config_url`](ClientBuilder::config_url) | `https://cdn-jp.gsecondscreen.com` | where the company information (`newnaconf`) is fetched: scheme, host and port only; its scheme is the backend's |
/// | [`backend`](ClientBuilder::backend) | resolved | a fixed backend `host[:port]`, skipping resolution |
/// | [`allow_insecure_http`](ClientBuilder::allow_insecure_http) | `false` | allow plain `http` to hosts other than loopback (`localhost`, `127.0.0.0/8`, `::1`) |
/// | [`connect_timeout`](ClientBuilder::connect_timeout) | 5 s | to open a connection ([`FOREVER`](crate::retry::FOREVER) or `Duration::MAX`: no limit) |
/// | [`timeout`](ClientBuilder::timeout) | 10 s | per attempt, from sending to the end of the answer ([`FOREVER`](crate::retry::FOREVER) or `Duration::MAX`: no limit) |
/// | [`retry`](ClientBuilder::retry) | [`RetryPolicy::default()`] (3 attempts, 100 ms doubling to 2 s, `Retry-After` ≤ 10 s, ≤ 30 s in all) | which failures are retried and when |
/// | [`get_limit`](ClientBuilder::get_limit) | 2,000 bytes | past it a user-id event goes as `evwidj` (POST) |
/// | [`evwid_mode`](ClientBuilder::evwid_mode) | [`EvwidMode::Auto`] | force `evwid` (GET) or `evwidj` (POST) |
/// | [`resolve_ttl`](ClientBuilder::resolve_ttl) | 1 h | how long a resolved backend is used before it is fetched again (`Duration::MAX`: forever) |
/// | [`transport`](ClientBuilder::transport) | [`HyperTransport`](crate::transport::HyperTransport) (rustls; [`ReqwestTransport`](crate::transport::ReqwestTransport) when a proxy is set in the environment) | how requests are sent, e.g. [`DryRunTransport`](crate::transport::DryRunTransport) in tests |
/// | [`user_agent`](ClientBuilder::user_agent) | none | a suffix after `gamooga-rust/<version>` in `User-Agent` |
///
/// # Errors and retries
///
/// Only HTTP 200 is success. [`send`](Self::send) and the call methods retry 408, 429, 5xx
/// (but 501 and 505), connection errors and timeouts as the [`RetryPolicy`] says, honouring
/// `Retry-After`; other 4xx are never retried. The error then says how many attempts were
/// made. A retry whose wait would pass [`RetryPolicy::max_elapsed`] is not made. Retries are
/// at-least-once: a call that timed out may have been stored ([`Error::may_have_been_sent`]).
///
/// When the company information fails (an HTTP error, no answer, an answer that is not JSON
/// or names no valid backend), a call fails with [`Error::Resolve`], which is retried like a
/// connection error after the resolver's own backoff ([`Error::retry_after`]); see
/// [`resolve`].
///
/// Errors name the call and the host, never the query, and never quote an answer's body
/// ([`Error::body`] gives it).
///
/// # Logging
///
/// Each call runs in a `tracing` span `gamooga` with the fields `endpoint` and `company`.
///
/// | level | what |
/// |---|---|
/// | `WARN` | giving up on a retryable error; the company information failing (once per run of failures) |
/// | `INFO` | a failed attempt that is retried; the company information answering again; a refresh after repeated backend failures |
/// | `DEBUG` | the full URL of every request (user and visitor ids, values), answer bodies of errors |
///
/// Nothing above `DEBUG` holds a user id, a visitor id, a property value or an answer body.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    calls: Calls,
    resolver: Resolver,
    transport: Arc<dyn Transport>,
    /// The config URL without a trailing `/`: `scheme://host[:port]`.
    config_base: String,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("company_id", &self.company_id())
            .field("config_url", &self.inner.config_base)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

/// The answer to a call: HTTP status (200 for a returned `Response`) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body (at most [`MAX_BODY_BYTES`](crate::transport::MAX_BODY_BYTES)).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl Client {
    /// A builder for company `company_id` (from the account section of Gamooga), with the
    /// production defaults of the [options table](Client#options).
    ///
    /// ```
    /// use std::time::Duration;
    /// use gamooga_core::{client::Client, retry::RetryPolicy};
    /// let client = Client::builder("acme")
    ///     .timeout(Duration::from_secs(5))
    ///     .retry(RetryPolicy::default().max_attempts(5))
    ///     .build()?;
    /// assert_eq!(client.company_id(), "acme");
    /// # Ok::<(), gamooga_core::Error>(())
    /// ```
    pub fn builder(company_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(company_id.into())
    }

    /// A client configured from the environment: `GAMOOGA_COMPANY_ID` (required),
    /// `GAMOOGA_CONFIG_URL` and `GAMOOGA_BACKEND` (optional); see
    /// [`ClientBuilder::from_env`] to set more options.
    ///
    /// ```no_run
    /// let client = gamooga_core::client::Client::from_env()?;
    /// # Ok::<(), gamooga_core::Error>(())
    /// ```
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env()?.build()
    }

    /// The call builders, configured with this client's GET limit and `evwid` mode.
    pub fn calls(&self) -> &Calls {
        &self.inner.calls
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        self.inner.calls.company_id()
    }

    /// The backend base URL calls go to (`https://host[:port]`), resolving it if needed.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// assert_eq!(client.backend().await?, "https://evbk.dry-run.invalid");
    /// # Ok(()) }
    /// ```
    pub async fn backend(&self) -> Result<String> {
        Ok(self.inner.resolver.resolve().await?.to_string())
    }

    /// Sends a request built by [`calls`](Self::calls): resolves the backend and makes up to
    /// [`RetryPolicy::max_attempts`] attempts. `Ok` only for HTTP 200.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let request = client.calls().link("user-42", "0123456789abcdef")?;
    /// let response = client.send(&request).await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, request: &Request) -> Result<Response> {
        let span = self.span(request);
        async {
            let retry = &self.inner.retry;
            let start = Instant::now();
            let mut attempt = 1;
            loop {
                let error = match self.attempt(request).await {
                    Ok(response) => return Ok(response),
                    // The count so far, so that a logged message agrees with `attempt`.
                    Err(error) => error.with_attempts(attempt),
                };
                match retry.retry_delay(&error, attempt, start.elapsed()) {
                    Some(wait) => {
                        tracing::info!(attempt, ?wait, %error, "attempt failed; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        if error.is_retryable() {
                            tracing::warn!(attempts = attempt, %error, "giving up");
                        }
                        return Err(error);
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Sends a request with exactly one attempt and no retry (for callers that schedule their
    /// own retries, such as the delivery queue). An HTTP error carries the server's
    /// `Retry-After`, if any.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// let request = client.calls().push_visitor("0123456789abcdef", &Properties::new().boolean("vip", true))?;
    /// client.send_once(&request).await?;
    /// assert_eq!(dry.requests().len(), 2); // newnaconf, then vpr
    /// # Ok(()) }
    /// ```
    pub async fn send_once(&self, request: &Request) -> Result<Response> {
        let span = self.span(request);
        self.attempt(request).instrument(span).await
    }

    /// Tracks an event by user id: `evwid` (GET), or `evwidj` (POST) for a long one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// client.track("user-42", &CustomEvent::new("login", Properties::new())).await?;
    /// # Ok(()) }
    /// ```
    pub async fn track<E: Event + ?Sized + Sync>(&self, user_id: &str, event: &E) -> Result<()> {
        let request = self.inner.calls.track(user_id, event)?;
        self.send(&request).await.map(drop)
    }

    /// Tracks an event by visitor id: `ev`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// client.track_visitor("0123456789abcdef", &CustomEvent::new("view", Properties::new())).await?;
    /// assert_eq!(dry.requests()[1].path(), "/ev/");
    /// # Ok(()) }
    /// ```
    pub async fn track_visitor<E: Event + ?Sized + Sync>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<()> {
        let request = self.inner.calls.track_visitor(visitor_id, event)?;
        self.send(&request).await.map(drop)
    }

    /// Tracks an event and sets visitor properties by user id, in one call: `evvprwid`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// let event = CustomEvent::new("signup", Properties::new());
    /// client.track_with("user-42", &event, &Properties::new().string("plan", "pro")).await?;
    /// assert_eq!(dry.requests()[1].path(), "/evvprwid/");
    /// # Ok(()) }
    /// ```
    pub async fn track_with<E: Event + ?Sized + Sync, P: VisitorProperties + ?Sized + Sync>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<()> {
        let request = self.inner.calls.track_with(user_id, event, visitor)?;
        self.send(&request).await.map(drop)
    }

    /// Sets visitor properties by visitor id: `vpr` (at least one property).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// client.push_visitor("0123456789abcdef", &Properties::new().string("city", "Tokyo")).await?;
    /// assert_eq!(dry.requests()[1].path(), "/vpr/");
    /// # Ok(()) }
    /// ```
    pub async fn push_visitor<P: VisitorProperties + ?Sized + Sync>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<()> {
        let request = self.inner.calls.push_visitor(visitor_id, properties)?;
        self.send(&request).await.map(drop)
    }

    /// The visitor id mapped to `user_id`, created by Gamooga if there is none (`id` with
    /// `u`). An answer other than `{"result":"success","vid":"..."}` is an
    /// [`Error::Decode`] (its [`body`](Error::body) holds the answer).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let vid = client.identify("user-42").await?;
    /// assert_eq!(vid.len(), 16);
    /// # Ok(()) }
    /// ```
    pub async fn identify(&self, user_id: &str) -> Result<String> {
        let request = self.inner.calls.identify(user_id)?;
        let response = self.send(&request).await?;
        parse_identify(response.body())
    }

    /// Maps `user_id` to `visitor_id` (`id` with `u` and `v`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga_core::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga_core::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// client.link("user-42", "0123456789abcdef").await?;
    /// assert_eq!(dry.requests()[1].query(), "c=acme&u=user-42&v=0123456789abcdef");
    /// # Ok(()) }
    /// ```
    pub async fn link(&self, user_id: &str, visitor_id: &str) -> Result<()> {
        let request = self.inner.calls.link(user_id, visitor_id)?;
        self.send(&request).await.map(drop)
    }

    fn span(&self, request: &Request) -> tracing::Span {
        tracing::info_span!(
            "gamooga",
            endpoint = request.endpoint().name(),
            company = self.company_id()
        )
    }

    /// One attempt: resolve (backend calls), send, map the answer.
    async fn attempt(&self, request: &Request) -> Result<Response> {
        let inner = &*self.inner;
        let backend = request.endpoint().is_backend();
        let base: Arc<str> = if backend {
            inner.resolver.resolve().await?
        } else {
            Arc::from(inner.config_base.as_str())
        };
        // `scheme://host[:port]`: the host for errors is what follows the scheme.
        let host = base.split_once("://").map_or(&*base, |(_, host)| host);
        // base + path + ? + query, built once (the query can be 2 KB).
        let mut url =
            String::with_capacity(base.len() + request.path().len() + 1 + request.query().len());
        url.push_str(&base);
        url.push_str(request.path());
        if !request.query().is_empty() {
            url.push('?');
            url.push_str(request.query());
        }
        tracing::debug!(method = request.method().as_str(), url = %url, "sending");
        let http = HttpRequest::new(request.method(), url, request.body().map(str::to_owned));
        let outcome = transport::exchange(
            &*inner.transport,
            http,
            request.endpoint(),
            host,
            inner.timeout,
        )
        .await;
        if backend {
            match &outcome {
                Err(Error::Connection { .. } | Error::Timeout { .. }) => {
                    inner.resolver.report_failure()
                }
                _ => inner.resolver.report_answer(),
            }
        }
        let response = outcome?;
        Ok(Response {
            status: response.status,
            body: response.body,
        })
    }
}

/// Reads the answer of `id`: `{"result":"success","vid":"<visitor id>"}`.
fn parse_identify(body: &[u8]) -> Result<String> {
    let decode = |reason: &str| Error::Decode {
        call: Endpoint::Id,
        reason: reason.to_owned(),
        body: transport::body_snippet(body),
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| decode(&format!("the body is not JSON ({e})")))?;
    if value.get("result").and_then(|r| r.as_str()) != Some("success") {
        return Err(decode(r#"the answer is not {"result":"success",...}"#));
    }
    match value.get("vid").and_then(|v| v.as_str()) {
        Some(vid) if !vid.is_empty() => Ok(vid.to_owned()),
        _ => Err(decode("the answer has no visitor id (`vid`)")),
    }
}

/// Configures a [`Client`]; see the [options table](Client#options).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    company_id: String,
    config_url: String,
    backend: Option<String>,
    allow_insecure_http: bool,
    connect_timeout: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    get_limit: usize,
    evwid_mode: EvwidMode,
    resolve_ttl: Duration,
    transport: Option<Arc<dyn Transport>>,
    user_agent: Option<String>,
}

impl ClientBuilder {
    fn new(company_id: String) -> Self {
        ClientBuilder {
            company_id,
            config_url: DEFAULT_CONFIG_URL.to_owned(),
            backend: None,
            allow_insecure_http: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            get_limit: Calls::DEFAULT_GET_LIMIT,
            evwid_mode: EvwidMode::Auto,
            resolve_ttl: Duration::from_secs(3600),
            transport: None,
            user_agent: None,
        }
    }

    /// A builder from the environment: `GAMOOGA_COMPANY_ID` (required), and when set and
    /// non-empty, `GAMOOGA_CONFIG_URL` ([`config_url`](Self::config_url)) and
    /// `GAMOOGA_BACKEND` ([`backend`](Self::backend)). A missing company id is an
    /// [`Error::Config`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = gamooga_core::client::ClientBuilder::from_env()?
    ///     .timeout(Duration::from_secs(3))
    ///     .build()?;
    /// # Ok::<(), gamooga_core::Error>(())
    /// ```
    pub fn from_env() -> Result<ClientBuilder> {
        let company = env_var("GAMOOGA_COMPANY_ID")?.ok_or_else(|| {
            Error::Config(
                "GAMOOGA_COMPANY_ID is not set: set it to the company id from your Gamooga \
                 account section"
                    .into(),
            )
        })?;
        let mut builder = ClientBuilder::new(company);
        if let Some(url) = env_var("GAMOOGA_CONFIG_URL")? {
            builder = builder.config_url(url);
        }
        if let Some(backend) = env_var("GAMOOGA_BACKEND")? {
            builder = builder.backend(backend);
        }
        Ok(builder)
    }

    /// Where the company information is fetched (default
    /// [`DEFAULT_CONFIG_URL`]): `scheme://host[:port]`, nothing more, since
    /// `/newnaconf/{company}/` is appended. Its scheme is also the backend's. A URL with a
    /// path, query, fragment or user info, or without a scheme, is refused by
    /// [`build`](Self::build) with the reason.
    pub fn config_url(mut self, url: impl Into<String>) -> Self {
        self.config_url = url.into();
        self
    }

    /// A fixed backend `host[:port]` (e.g. `evbk.gamooga.com`): calls go there and the company
    /// information is never fetched.
    pub fn backend(mut self, host: impl Into<String>) -> Self {
        self.backend = Some(host.into());
        self
    }

    /// Allows plain `http` to hosts other than loopback. Off by default: event data and user
    /// ids would cross the network unencrypted.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The time to open a connection (default 5 s). [`FOREVER`](crate::retry::FOREVER) or longer (`Duration::MAX`)
    /// means no limit.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time for one attempt, from sending to the end of the answer (default 10 s).
    /// [`FOREVER`](crate::retry::FOREVER) or longer (`Duration::MAX`) means no limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default()`]; [`RetryPolicy::none()`] turns
    /// retries off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The length of path and query past which a user-id event goes as `evwidj` (default
    /// 2,000 bytes).
    pub fn get_limit(mut self, bytes: usize) -> Self {
        self.get_limit = bytes;
        self
    }

    /// Forces `evwid` or `evwidj` for user-id events (default [`EvwidMode::Auto`]).
    pub fn evwid_mode(mut self, mode: EvwidMode) -> Self {
        self.evwid_mode = mode;
        self
    }

    /// How long a resolved backend is used before the company information is fetched again
    /// (default one hour). [`FOREVER`](crate::retry::FOREVER) or longer (`Duration::MAX`) caches it for good (it is
    /// still fetched again after repeated connection failures to the backend).
    pub fn resolve_ttl(mut self, ttl: Duration) -> Self {
        self.resolve_ttl = ttl;
        self
    }

    /// Sends requests through `transport` instead of the default one (whose
    /// timeouts and user agent options then do not apply; the per-attempt
    /// [`timeout`](Self::timeout) still does).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// A suffix for the `User-Agent` header, after `gamooga-rust/<version>` (e.g.
    /// `"my-shop/1.4"`).
    pub fn user_agent(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent = Some(suffix.into());
        self
    }

    /// Builds the client. Nothing is fetched yet: the backend is resolved on the first call.
    ///
    /// Errors: an empty company id, or one with whitespace or control characters
    /// ([`Error::InvalidInput`]); a config URL that is not `http(s)://host[:port]` (a path,
    /// query, fragment or user info, or no scheme: the message says which and how to fix
    /// it), plain `http` to a host that is not loopback without
    /// [`allow_insecure_http`](Self::allow_insecure_http), a fixed backend that is not
    /// `host[:port]`, a zero timeout, or a bad user agent ([`Error::Config`]).
    pub fn build(self) -> Result<Client> {
        let calls = Calls::new(&self.company_id)?
            .with_get_limit(self.get_limit)
            .with_evwid_mode(self.evwid_mode);
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be longer than zero".into()));
        }
        let ConfigUrl {
            scheme,
            base: config_base,
            host: config_host,
        } = parse_config_url(&self.config_url, self.allow_insecure_http)?;
        let transport: Arc<dyn Transport> = match self.transport {
            Some(t) => t,
            None => transport::default_transport(
                self.connect_timeout,
                self.timeout,
                self.user_agent.as_deref(),
            )?,
        };
        let source = match &self.backend {
            Some(host) => {
                let backend = Backend::parse(host).map_err(|e| match e {
                    Error::InvalidBackend { value, reason } => Error::Config(format!(
                        "the backend {value:?} is not host[:port]: {reason}"
                    )),
                    other => other,
                })?;
                Source::Fixed(
                    resolve::backend_base(scheme, &backend, self.allow_insecure_http)
                        .map_err(Error::Config)?,
                )
            }
            None => Source::Config {
                url: format!("{config_base}{}", calls.company_info().path_and_query()),
                host: config_host,
                scheme,
                allow_insecure_http: self.allow_insecure_http,
                ttl: self.resolve_ttl,
                transport: transport.clone(),
                timeout: self.timeout,
            },
        };
        Ok(Client {
            inner: Arc::new(Inner {
                calls,
                resolver: Resolver::new(source),
                transport,
                config_base,
                timeout: self.timeout,
                retry: self.retry,
            }),
        })
    }
}

/// Reads an environment variable; unset or empty is `None`, non-Unicode an error.
fn env_var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid Unicode")))
        }
    }
}

/// A checked config URL.
#[derive(Debug, PartialEq, Eq)]
struct ConfigUrl {
    /// `http` or `https`.
    scheme: &'static str,
    /// `scheme://host[:port]`, no trailing `/`.
    base: String,
    /// `host[:port]`.
    host: String,
}

/// Checks the config URL: `http(s)://host[:port]` and nothing else.
fn parse_config_url(text: &str, allow_insecure_http: bool) -> Result<ConfigUrl> {
    let refuse = |what: String| Error::Config(format!("the config URL {text:?} {what}"));
    // Without `://`, `127.0.0.1:8686` is no URL and `localhost:8686` one with the scheme
    // `localhost`: either way the scheme is missing.
    if !text.contains("://") {
        return Err(refuse(
            "has no scheme: add http:// or https:// (e.g. https://cdn-jp.gsecondscreen.com)".into(),
        ));
    }
    let url = url::Url::parse(text).map_err(|e| refuse(format!("is not a URL: {e}")))?;
    let scheme = match url.scheme() {
        "https" => "https",
        "http" => "http",
        other => {
            return Err(refuse(format!(
                "has the scheme `{other}`; use https (or http for a local emulator)"
            )))
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("has user info; remove it".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("has a query or fragment; remove it".into()));
    }
    if url.path() != "/" {
        return Err(refuse(format!(
            "has the path `{}`; give only scheme, host and port: the SDK appends \
             /newnaconf/{{company}}/ itself",
            url.path()
        )));
    }
    let host = url.host().ok_or_else(|| refuse("has no host".into()))?;
    if scheme == "http" && !allow_insecure_http && !resolve::is_loopback_host(&host) {
        return Err(Error::Config(format!(
            "plain http to {host} is refused: use https, or allow_insecure_http(true) if you \
             really mean it"
        )));
    }
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Ok(ConfigUrl {
        scheme,
        base: format!("{scheme}://{host}"),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str, insecure: bool) -> Result<(&'static str, String, String)> {
        parse_config_url(text, insecure).map(|c| (c.scheme, c.base, c.host))
    }

    #[test]
    fn config_urls() {
        assert_eq!(
            config(DEFAULT_CONFIG_URL, false).unwrap(),
            (
                "https",
                "https://cdn-jp.gsecondscreen.com".to_owned(),
                "cdn-jp.gsecondscreen.com".to_owned()
            )
        );
        assert_eq!(
            config("https://conf.example:8443/", false).unwrap(),
            (
                "https",
                "https://conf.example:8443".to_owned(),
                "conf.example:8443".to_owned()
            )
        );
        for (ok, host) in [
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://localhost:1/", "localhost:1"),
            ("http://[::1]:9", "[::1]:9"),
            ("http://127.9.9.9", "127.9.9.9"),
        ] {
            let (scheme, _, h) = config(ok, false).unwrap();
            assert_eq!((scheme, h.as_str()), ("http", host), "{ok}");
        }
        assert!(config("http://conf.example", true).is_ok());
        for (bad, reason) in [
            ("http://conf.example", "plain http"),
            ("http://10.0.0.1", "plain http"),
            ("ftp://conf.example", "scheme `ftp`"),
            ("conf.example", "add http:// or https://"),
            ("127.0.0.1:8686", "add http:// or https://"),
            ("localhost:8686", "add http:// or https://"),
            ("https://u:p@conf.example", "user info"),
            ("https://conf.example/?x=1", "query"),
            ("https://conf.example/#x", "fragment"),
            ("https://conf.example/prefix/", "path `/prefix/`"),
            (
                "http://127.0.0.1:8686/newnaconf/acme/",
                "/newnaconf/{company}/",
            ),
            ("", "add http:// or https://"),
            ("https://", "not a URL"),
        ] {
            match config(bad, false) {
                Err(Error::Config(message)) => {
                    assert!(message.contains(reason), "{bad:?}: {message}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn identify_answers() {
        assert_eq!(
            parse_identify(br#"{"result":"success","vid":"0123456789abcdef"}"#).unwrap(),
            "0123456789abcdef"
        );
        for body in [
            &br#"{"result":"failure","vid":"x"}"#[..],
            br#"{"result":"success"}"#,
            br#"{"result":"success","vid":""}"#,
            br#"{"result":"success","vid":7}"#,
            b"<html>oops</html>",
            b"",
        ] {
            match parse_identify(body) {
                Err(
                    ref e @ Error::Decode {
                        call: Endpoint::Id,
                        body: ref quoted,
                        ..
                    },
                ) => {
                    assert_eq!(quoted.as_bytes(), body);
                    assert_eq!(e.body().map(str::as_bytes), Some(body));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn attempts_are_set_on_transport_errors_only() {
        let e = Error::Timeout {
            call: Endpoint::Evwid,
            host: "h".into(),
            phase: crate::transport::Phase::Unknown,
            timeout: Duration::from_secs(1),
            attempts: 1,
        }
        .with_attempts(3);
        assert!(matches!(e, Error::Timeout { attempts: 3, .. }));
        let resolve = Error::Resolve {
            cause: Box::new(e.clone().with_attempts(1)),
            host: "conf.example".into(),
            retry_in: Duration::from_secs(1),
            attempts: 1,
        }
        .with_attempts(4);
        assert_eq!(resolve.attempts(), Some(4));
        let message = resolve.to_string();
        assert!(message.contains("after 4 attempt(s)"), "{message}");
        assert!(!message.contains("after 1 attempt(s)"), "{message}");
        let e = Error::Config("x".into()).with_attempts(3);
        assert!(matches!(e, Error::Config(_)));
    }

    #[test]
    fn client_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
        check::<ClientBuilder>();
    }
}
