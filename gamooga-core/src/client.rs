//! [`Client`]: resolves the company's backend and delivers calls, with retries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tracing::Instrument;

use crate::call::{Calls, Endpoint, EvwidMode, Request};
use crate::counters::{ClientStats, Counters};
use crate::error::{Error, Result};
use crate::event::{Event, VisitorProperties};
use crate::hook::{Action, BeforeSendHook, Outgoing};
use crate::identify_cache::{Found, IdentifyCache};
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
/// use gamooga::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
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
    /// Where the backend comes from.
    origin: BackendOrigin,
    /// Checks calls and sends nothing.
    disabled: bool,
    /// Visitor ids by user id, for pushes by user id.
    identities: IdentifyCache,
    /// The settings it was built with (transport options cleared), for
    /// [`Client::for_company`].
    settings: ClientBuilder,
}

/// Where a client's backend comes from, from [`Client::backend_origin`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendOrigin {
    /// A fixed backend ([`ClientBuilder::backend`], `GAMOOGA_BACKEND`): the base URL
    /// (`https://host[:port]`). The company information is never fetched.
    Fixed {
        /// `scheme://host[:port]`.
        base: String,
    },
    /// Fetched from the company information (`newnaconf`) and cached.
    CompanyInfo {
        /// The full URL of the company information: `{config_url}/newnaconf/{company}/`.
        url: String,
    },
}

impl fmt::Display for BackendOrigin {
    /// `fixed (https://host)` or `company information at https://.../newnaconf/acme/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendOrigin::Fixed { base } => write!(f, "fixed ({base})"),
            BackendOrigin::CompanyInfo { url } => write!(f, "company information at {url}"),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("company_id", &self.company_id())
            .field("config_url", &self.inner.config_base)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .field("transport", &self.inner.transport)
            .field("disabled", &self.inner.disabled)
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
    /// use gamooga::{client::Client, retry::RetryPolicy};
    /// let client = Client::builder("acme")
    ///     .timeout(Duration::from_secs(5))
    ///     .retry(RetryPolicy::default().max_attempts(5))
    ///     .build()?;
    /// assert_eq!(client.company_id(), "acme");
    /// # Ok::<(), gamooga::Error>(())
    /// ```
    pub fn builder(company_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(company_id.into())
    }

    /// A client configured from the environment: `GAMOOGA_COMPANY_ID` (required),
    /// `GAMOOGA_CONFIG_URL` and `GAMOOGA_BACKEND` (optional); see
    /// [`ClientBuilder::from_env`] to set more options.
    ///
    /// ```no_run
    /// let client = gamooga::client::Client::from_env()?;
    /// # Ok::<(), gamooga::Error>(())
    /// ```
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env()?.build()
    }

    /// The call builders, configured with this client's GET limit, `evwid` mode and
    /// before-send hook.
    pub fn calls(&self) -> &Calls {
        &self.inner.calls
    }

    /// Counts of the calls this client built but did not send (dropped by the before-send
    /// hook, or by the disabled mode) and of its visitor-id lookups for pushes by user id.
    /// A queue started with [`queue`](Self::queue) counts its own in
    /// [`QueueStats`](crate::queue::QueueStats).
    pub fn stats(&self) -> ClientStats {
        self.inner.calls.stats()
    }

    /// Whether the client is [disabled](ClientBuilder::disabled): it checks calls and sends
    /// nothing.
    pub fn is_disabled(&self) -> bool {
        self.inner.disabled
    }

    /// A client for another company that shares this one's connection pool (its transport)
    /// and settings: timeouts, retry policy, GET limit, `evwid` mode, before-send hook,
    /// config URL, fixed backend, disabled mode. It has its own resolver (with its own cache
    /// and backoff), its own visitor-id cache and its own counters, so one company's failing
    /// backend or company information does not hold up another's calls.
    ///
    /// For a service that sends for several companies: one client per company, each with its
    /// own queue (its own retries and pauses), over one pool of keep-alive connections.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{transport::DryRunTransport, Client, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let acme = Client::builder("acme").transport(dry.clone()).build()?;
    /// let globex = acme.for_company("globex")?;
    /// globex.track("user-7", &CustomEvent::new("login", Properties::new())).await?;
    /// assert_eq!(globex.company_id(), "globex");
    /// assert!(dry.requests().iter().any(|r| r.path() == "/newnaconf/globex/"));
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: a company id that [`Client::builder`] would refuse.
    pub fn for_company(&self, company_id: impl Into<String>) -> Result<Client> {
        let mut settings = self.inner.settings.clone();
        settings.company_id = company_id.into();
        settings.build_on(self.inner.transport.clone())
    }

    /// The transport calls go through: with the default, a
    /// [`HyperTransport`](crate::transport::HyperTransport) (a reqwest client when a proxy
    /// is set in the environment) and its pool of keep-alive connections. Pass it to another client's
    /// [`ClientBuilder::transport`] to share the pool while configuring that client
    /// freely (its own config URL or fixed backend); [`for_company`](Self::for_company)
    /// does this with the same settings.
    ///
    /// ```
    /// use gamooga::Client;
    /// let acme = Client::builder("acme").build()?;
    /// let globex = Client::builder("globex")
    ///     .backend("evbk-2.example.com")
    ///     .transport(acme.transport().clone()) // the same connection pool
    ///     .build()?;
    /// # Ok::<(), gamooga::Error>(())
    /// ```
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.inner.transport
    }

    /// Where the backend comes from: fixed, or fetched from the company information at
    /// which URL. ([`backend`](Self::backend) resolves it.)
    ///
    /// ```
    /// use gamooga::client::{BackendOrigin, Client};
    /// let client = Client::builder("acme").build()?;
    /// assert_eq!(
    ///     client.backend_origin(),
    ///     &BackendOrigin::CompanyInfo { url: "https://cdn-jp.gsecondscreen.com/newnaconf/acme/".into() }
    /// );
    /// let fixed = Client::builder("acme").backend("evbk.example.com").build()?;
    /// assert_eq!(fixed.backend_origin().to_string(), "fixed (https://evbk.example.com)");
    /// # Ok::<(), gamooga::Error>(())
    /// ```
    pub fn backend_origin(&self) -> &BackendOrigin {
        &self.inner.origin
    }

    /// The full URL `request` would be sent to (resolving the backend if needed): what
    /// [`send`](Self::send) hands the transport. Holds the request's ids and values: for
    /// showing to the person who made it, not for logs. A push by user id
    /// ([`Request::needs_visitor_id`]) shows `u=`; it is sent with `v=` once the visitor id is
    /// known.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{transport::DryRunTransport, Client};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let request = client.calls().identify("user-42")?;
    /// assert_eq!(client.url_for(&request).await?, "https://evbk.dry-run.invalid/id/?c=acme&u=user-42");
    /// # Ok(()) }
    /// ```
    pub async fn url_for(&self, request: &Request) -> Result<String> {
        let base = self.base_for(request).await?;
        Ok(full_url(&base, request))
    }

    /// The base URL a request goes to: the backend, or the config host for the company
    /// information.
    async fn base_for(&self, request: &Request) -> Result<Arc<str>> {
        if request.endpoint().is_backend() {
            self.inner.resolver.resolve().await
        } else {
            Ok(Arc::from(self.inner.config_base.as_str()))
        }
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        self.inner.calls.company_id()
    }

    /// The backend base URL calls go to (`https://host[:port]`), resolving it if needed.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// assert_eq!(client.backend().await?, "https://evbk.dry-run.invalid");
    /// # Ok(()) }
    /// ```
    pub async fn backend(&self) -> Result<String> {
        if self.inner.disabled {
            return Err(disabled_error());
        }
        Ok(self.inner.resolver.resolve().await?.to_string())
    }

    /// Sends a request built by [`calls`](Self::calls): resolves the backend and makes up to
    /// [`RetryPolicy::max_attempts`] attempts. `Ok` only for HTTP 200.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let request = client.calls().link("user-42", "0123456789abcdef")?;
    /// let response = client.send(&request).await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, request: &Request) -> Result<Response> {
        let span = self.span(request);
        let counters = self.inner.calls.counters();
        async {
            let retry = &self.inner.retry;
            let start = Instant::now();
            let mut attempt = 1;
            loop {
                let error = match self.attempt(request, counters).await {
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
    /// use gamooga::{client::Client, transport::DryRunTransport, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// let request = client.calls().push_visitor("0123456789abcdef", &Properties::new().boolean("vip", true))?;
    /// client.send_once(&request).await?;
    /// assert_eq!(dry.requests().len(), 2); // newnaconf, then vpr
    /// # Ok(()) }
    /// ```
    pub async fn send_once(&self, request: &Request) -> Result<Response> {
        self.send_once_counted(request, self.inner.calls.counters())
            .await
    }

    /// [`send_once`](Self::send_once), counting lookups and drops in `counters` (a queue's).
    pub(crate) async fn send_once_counted(
        &self,
        request: &Request,
        counters: &Counters,
    ) -> Result<Response> {
        let span = self.span(request);
        self.attempt(request, counters).instrument(span).await
    }

    /// Tracks an event by user id: `evwid` (GET), or `evwidj` (POST) for a long one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// client.track("user-42", &CustomEvent::new("login", Properties::new())).await?;
    /// # Ok(()) }
    /// ```
    pub async fn track<E: Event + ?Sized + Sync>(&self, user_id: &str, event: &E) -> Result<()> {
        let built = self.inner.calls.track(user_id, event);
        self.send_built(built).await
    }

    /// Tracks an event by visitor id: `ev`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
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
        let built = self.inner.calls.track_visitor(visitor_id, event);
        self.send_built(built).await
    }

    /// Tracks an event and sets visitor properties by user id, in one call: `evvprwid`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
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
        let built = self.inner.calls.track_with(user_id, event, visitor);
        self.send_built(built).await
    }

    /// Sets visitor properties by visitor id: `vpr` (at least one property).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
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
        let built = self.inner.calls.push_visitor(visitor_id, properties);
        self.send_built(built).await
    }

    /// Sets visitor properties by *user* id: finds the visitor id with `id` (cached per user
    /// id, see [`ClientBuilder::identify_cache`]) and sends `vpr` with it, as one call with
    /// retries. The queued form, which also works during an outage, is
    /// [`Queue::push_visitor_for_user`](crate::queue::Queue::push_visitor_for_user).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// let city = Properties::new().string("city", "Tokyo");
    /// client.push_visitor_for_user("user-42", &city).await?;
    /// client.push_visitor_for_user("user-42", &city).await?; // the visitor id is cached
    /// let paths: Vec<_> = dry.requests().iter().map(|r| r.path().to_owned()).collect();
    /// assert_eq!(paths, ["/newnaconf/acme/", "/id/", "/vpr/", "/vpr/"]);
    /// assert_eq!(client.stats().identify_cache_hits, 1);
    /// # Ok(()) }
    /// ```
    pub async fn push_visitor_for_user<P: VisitorProperties + ?Sized + Sync>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> Result<()> {
        let built = self.inner.calls.push_visitor_for_user(user_id, properties);
        self.send_built(built).await
    }

    /// Sends a built request; a call the before-send hook dropped is `Ok` (it was counted).
    async fn send_built(
        &self,
        built: std::result::Result<Request, crate::InvalidInput>,
    ) -> Result<()> {
        match built {
            Ok(request) => self.send(&request).await.map(drop),
            Err(e) if e.is_dropped_by_hook() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The visitor id mapped to `user_id`, created by Gamooga if there is none (`id` with
    /// `u`). An answer other than `{"result":"success","vid":"..."}` is an
    /// [`Error::Decode`] (its [`body`](Error::body) holds the answer).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
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
    /// use gamooga::{client::Client, transport::DryRunTransport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
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

    /// One attempt. Disabled: nothing is sent (counted). A push by user id: its visitor id
    /// (cached, or looked up with `id` in this attempt), then the `vpr`. Otherwise the
    /// request itself.
    async fn attempt(&self, request: &Request, counters: &Counters) -> Result<Response> {
        if self.inner.disabled {
            counters.disabled_dropped();
            tracing::debug!(
                endpoint = request.endpoint().name(),
                "disabled: checked, not sent"
            );
            return Ok(disabled_answer(request));
        }
        let Some(user) = request.encoded_user_of_visitor_push() else {
            return self.attempt_plain(request).await;
        };
        let lookup = async {
            counters.identify_lookup();
            let identify = request
                .identify_of_visitor_push()
                .expect("a push by user id has an id call");
            let answer = self.attempt_plain(&identify).await?;
            parse_identify(answer.body())
        };
        let (visitor_id, found) = self.inner.identities.get_or_lookup(user, lookup).await?;
        if found == Found::Cached {
            counters.identify_cache_hit();
        }
        let push = request
            .with_visitor_id(&visitor_id)
            .ok_or_else(|| Error::Decode {
                call: Endpoint::Id,
                reason: "the visitor id in the answer contains a control character".into(),
                body: String::new(),
            })?;
        self.attempt_plain(&push).await
    }

    /// One attempt of the request as it is: resolve (backend calls), send, map the answer.
    async fn attempt_plain(&self, request: &Request) -> Result<Response> {
        let inner = &*self.inner;
        let backend = request.endpoint().is_backend();
        let base = self.base_for(request).await?;
        // `scheme://host[:port]`: the host for errors is what follows the scheme.
        let host = base.split_once("://").map_or(&*base, |(_, host)| host);
        let url = full_url(&base, request);
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

/// `base` + path + `?` + query, built once (the query can be 2 KB).
fn full_url(base: &str, request: &Request) -> String {
    let mut url =
        String::with_capacity(base.len() + request.path().len() + 1 + request.query().len());
    url.push_str(base);
    url.push_str(request.path());
    if !request.query().is_empty() {
        url.push('?');
        url.push_str(request.query());
    }
    url
}

/// What a disabled client answers: 200, with a made-up visitor id for `id` (16 hex digits
/// from the user id, the same for the same user), so code that identifies and then pushes
/// runs unchanged.
fn disabled_answer(request: &Request) -> Response {
    let body = match request.endpoint() {
        Endpoint::Id => {
            let user = request
                .query()
                .split('&')
                .find_map(|pair| pair.strip_prefix("u="))
                .unwrap_or("");
            serde_json::json!({ "result": "success", "vid": transport::made_up_visitor_id(user) })
                .to_string()
                .into_bytes()
        }
        _ => Vec::new(),
    };
    Response { status: 200, body }
}

fn disabled_error() -> Error {
    Error::Config("the client is disabled (GAMOOGA_DISABLED): it resolves and sends nothing".into())
}

/// Reads the answer of `id`: `{"result":"success","vid":"<visitor id>"}`. Public only for
/// the fuzz targets (`fuzz/`); not part of the API.
#[doc(hidden)]
pub fn parse_identify(body: &[u8]) -> Result<String> {
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
        // A visitor id with a control character could not be sent back (the call builders
        // refuse it): refused here, where the answer is read. Found by fuzzing (`fuzz/`).
        Some(vid) if vid.chars().any(char::is_control) => {
            Err(decode("the visitor id (`vid`) holds a control character"))
        }
        Some(vid) if !vid.is_empty() => Ok(vid.to_owned()),
        _ => Err(decode("the answer has no visitor id (`vid`)")),
    }
}

/// Wraps the transport the builder made (see [`ClientBuilder::wrap_transport`]).
type TransportWrapper = Arc<dyn Fn(Arc<dyn Transport>) -> Arc<dyn Transport> + Send + Sync>;

/// Configures a [`Client`]; see the [options table](Client#options).
#[derive(Clone)]
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
    wrap_transport: Option<TransportWrapper>,
    user_agent: Option<String>,
    before_send: Option<BeforeSendHook>,
    disabled: bool,
    identify_cache_capacity: usize,
    identify_cache_ttl: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("company_id", &self.company_id)
            .field("config_url", &self.config_url)
            .field("backend", &self.backend)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("get_limit", &self.get_limit)
            .field("evwid_mode", &self.evwid_mode)
            .field("resolve_ttl", &self.resolve_ttl)
            .field("transport", &self.transport)
            .field(
                "wrap_transport",
                &self.wrap_transport.as_ref().map(|_| "Fn"),
            )
            .field("user_agent", &self.user_agent)
            .field("before_send", &self.before_send.as_ref().map(|_| "Fn"))
            .field("disabled", &self.disabled)
            .field("identify_cache_capacity", &self.identify_cache_capacity)
            .field("identify_cache_ttl", &self.identify_cache_ttl)
            .finish()
    }
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
            wrap_transport: None,
            user_agent: None,
            before_send: None,
            disabled: false,
            identify_cache_capacity: Self::DEFAULT_IDENTIFY_CACHE_CAPACITY,
            identify_cache_ttl: Self::DEFAULT_IDENTIFY_CACHE_TTL,
        }
    }

    /// The default number of user ids whose visitor id is cached: 10,000.
    pub const DEFAULT_IDENTIFY_CACHE_CAPACITY: usize = 10_000;
    /// The default time a cached visitor id is used: one hour.
    pub const DEFAULT_IDENTIFY_CACHE_TTL: Duration = Duration::from_secs(3600);

    /// A builder from the environment: `GAMOOGA_COMPANY_ID` (required), and when set and
    /// non-empty, `GAMOOGA_CONFIG_URL` ([`config_url`](Self::config_url)),
    /// `GAMOOGA_BACKEND` ([`backend`](Self::backend)) and `GAMOOGA_DISABLED`
    /// ([`disabled`](Self::disabled): `1` or `true` disables, `0` or `false` does not). A
    /// missing company id, or another value of `GAMOOGA_DISABLED`, is an [`Error::Config`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = gamooga::client::ClientBuilder::from_env()?
    ///     .timeout(Duration::from_secs(3))
    ///     .build()?;
    /// # Ok::<(), gamooga::Error>(())
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
        if let Some(disabled) = env_var("GAMOOGA_DISABLED")? {
            builder = builder.disabled(match disabled.to_ascii_lowercase().as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => {
                    return Err(Error::Config(format!(
                        "GAMOOGA_DISABLED is {disabled:?}: set it to 1 (or true) to disable \
                         sending, 0 (or false) or nothing to send"
                    )))
                }
            });
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

    /// Sends requests through `transport` instead of the default one
    /// ([`HyperTransport`](crate::transport::HyperTransport), or [`ReqwestTransport`](crate::transport::ReqwestTransport) when a
    /// proxy is set in the environment), whose [`connect_timeout`](Self::connect_timeout) and
    /// [`user_agent`](Self::user_agent) options then do not apply (the per-attempt
    /// [`timeout`](Self::timeout) still does). To
    /// add to the default transport rather than replace it (logging, a header, a counter),
    /// use [`wrap_transport`](Self::wrap_transport).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Wraps the transport: `build()` makes the transport as it would (the default
    /// one, [`HyperTransport`](crate::transport::HyperTransport) or [`ReqwestTransport`](crate::transport::ReqwestTransport), with this builder's timeouts and user agent, or the one given to
    /// [`transport`](Self::transport)) and hands it to `wrap`, whose result sends every
    /// request. A wrapper forwards to the inner transport and adds what it needs.
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
    /// use gamooga::transport::{BoxFuture, HttpRequest, HttpResponse, Transport, TransportError};
    /// use gamooga::Client;
    ///
    /// /// Counts the requests that go through it.
    /// #[derive(Debug)]
    /// struct Counting {
    ///     inner: Arc<dyn Transport>,
    ///     sent: Arc<AtomicUsize>,
    /// }
    ///
    /// impl Transport for Counting {
    ///     fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
    ///         self.sent.fetch_add(1, Ordering::Relaxed);
    ///         self.inner.send(request)
    ///     }
    /// }
    ///
    /// let sent = Arc::new(AtomicUsize::new(0));
    /// let counter = sent.clone();
    /// let client = Client::builder("acme")
    ///     .connect_timeout(std::time::Duration::from_secs(2)) // still applies: the default transport is kept
    ///     .user_agent("my-shop/1.4")
    ///     .wrap_transport(move |inner| Arc::new(Counting { inner, sent: counter.clone() }))
    ///     .build()?;
    /// # Ok::<(), gamooga::Error>(())
    /// ```
    pub fn wrap_transport<F>(mut self, wrap: F) -> Self
    where
        F: Fn(Arc<dyn Transport>) -> Arc<dyn Transport> + Send + Sync + 'static,
    {
        self.wrap_transport = Some(Arc::new(wrap));
        self
    }

    /// Sets the before-send hook: it runs on every event and visitor property push as the
    /// call is built (by this client, and by its queues at enqueue time), sees the event's
    /// name and properties, can add, change or remove properties, and can drop the call
    /// ([`Action::Drop`], counted in [`Client::stats`]; the method then returns `Ok`). See
    /// [`hook`](crate::hook); the facade's crate docs have recipes (default properties,
    /// redaction, sampling).
    ///
    /// Without a hook, a derived event's properties are encoded straight into the request;
    /// with one, they are first copied into a list the hook can change.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gamooga::{hook::Action, transport::DryRunTransport, Client, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme")
    ///     .transport(dry.clone())
    ///     .before_send(|out| {
    ///         out.properties_mut().set("app_version", "1.4.2");
    ///         Action::Keep
    ///     })
    ///     .build()?;
    /// client.track("user-42", &CustomEvent::new("login", Properties::new())).await?;
    /// assert!(dry.requests()[1].query().contains("&ky=app_version&vl=1.4.2&tp=s&"));
    /// # Ok(()) }
    /// ```
    pub fn before_send<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Outgoing<'_>) -> Action + Send + Sync + 'static,
    {
        self.before_send = Some(Arc::new(hook));
        self
    }

    /// Disables sending, for local development and tests of code that tracks: every call is
    /// built and checked as usual (so bad input still fails, and the before-send hook runs),
    /// then dropped without any network call, not even the company information. Calls return
    /// `Ok` (an `identify` answers a made-up visitor id of 16 hex digits, the same for the
    /// same user id); [`Client::stats`] counts them in `disabled_dropped`. A queue of a
    /// disabled client checks each event and drops it at once: `enqueued` stays 0 and
    /// [`QueueStats::disabled_dropped`](crate::queue::QueueStats::disabled_dropped) counts
    /// them; its shutdown report shows nothing delivered. [`Client::backend`] fails with an
    /// [`Error::Config`] saying the client is disabled.
    ///
    /// Also set by `GAMOOGA_DISABLED=1` in [`from_env`](Self::from_env).
    ///
    /// ```
    /// use gamooga::{Client, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
    /// let client = Client::builder("acme").disabled(true).build()?;
    /// client.track("user-42", &CustomEvent::new("login", Properties::new())).await?; // not sent
    /// assert!(client.track("", &CustomEvent::new("login", Properties::new())).await.is_err()); // still checked
    /// assert_eq!(client.stats().disabled_dropped, 1);
    /// # Ok(()) }
    /// ```
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// Sizes the cache of visitor ids by user id that pushes by user id use
    /// ([`Client::push_visitor_for_user`], [`Queue::push_visitor_for_user`](crate::queue::Queue::push_visitor_for_user)):
    /// at most `capacity` user ids (least recently used out first; 0 caches nothing), each
    /// used for `ttl` (`Duration::MAX`: until evicted). Default 10,000 user ids for an hour.
    pub fn identify_cache(mut self, capacity: usize, ttl: Duration) -> Self {
        self.identify_cache_capacity = capacity;
        self.identify_cache_ttl = ttl;
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
    pub fn build(mut self) -> Result<Client> {
        // Checked before a transport is made, so a bad company id is reported first.
        Calls::new(&self.company_id)?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be longer than zero".into()));
        }
        let transport: Arc<dyn Transport> = match self.transport.take() {
            Some(t) => t,
            None => transport::default_transport(
                self.connect_timeout,
                self.timeout,
                self.user_agent.as_deref(),
            )?,
        };
        let transport = match self.wrap_transport.take() {
            Some(wrap) => wrap(transport),
            None => transport,
        };
        self.build_on(transport)
    }

    /// Builds the client on a transport already made (shared by [`Client::for_company`]).
    fn build_on(self, transport: Arc<dyn Transport>) -> Result<Client> {
        let calls = Calls::new(&self.company_id)?
            .with_get_limit(self.get_limit)
            .with_evwid_mode(self.evwid_mode)
            .with_hook(self.before_send.clone());
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be longer than zero".into()));
        }
        let ConfigUrl {
            scheme,
            base: config_base,
            host: config_host,
        } = parse_config_url(&self.config_url, self.allow_insecure_http)?;
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
        let origin = match &source {
            Source::Fixed(base) => BackendOrigin::Fixed {
                base: base.to_string(),
            },
            Source::Config { url, .. } => BackendOrigin::CompanyInfo { url: url.clone() },
        };
        Ok(Client {
            inner: Arc::new(Inner {
                calls,
                resolver: Resolver::new(source),
                transport,
                config_base,
                timeout: self.timeout,
                retry: self.retry.clone(),
                origin,
                disabled: self.disabled,
                identities: IdentifyCache::new(
                    self.identify_cache_capacity,
                    self.identify_cache_ttl,
                ),
                settings: self,
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
