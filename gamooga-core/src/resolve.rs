//! The resolver: which host a company's calls go to.
//!
//! Gamooga names each company's backend in its company information,
//! `GET {config}/newnaconf/{company}/`, a JSON object whose `evbk` value is a host name.
//! The resolver fetches it, checks it is a plain host ([`Backend::parse`]), and caches it per
//! client:
//!
//! - for a TTL (one hour by default; `Duration::MAX` caches forever), since `evbk` "does
//!   not change often";
//! - single flight: one fetch at a time; calls without a backend wait for it, calls with a
//!   stale one keep using it meanwhile;
//! - backoff on failure: a failed fetch (an HTTP error, no answer, an answer that is not JSON
//!   or has no valid `evbk`) is a transient [`Error::Resolve`], and the next fetch waits
//!   [`BACKOFF_INITIAL`] doubling to [`BACKOFF_MAX`] (jittered). Calls during that wait fail
//!   at once with the last error and the time left ([`Error::retry_after`]): a thousand
//!   waiting calls make one fetch per backoff step, not a thousand;
//! - stale on error: when a refresh fails, the last good backend keeps being used, and the
//!   refresh is tried again after the backoff or the TTL, whichever is shorter;
//! - early refresh: after [`REFRESH_AFTER_FAILURES`] connection failures or timeouts in a row
//!   against the backend, the next call fetches the company information again.
//!
//! An `evbk` that fails validation is never followed; it is retried like any failure.
//! A fixed backend can be configured instead, which skips all of this.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

// tokio's clock (the system's monotonic clock, or a paused test clock).
use tokio::time::Instant;

use crate::call::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::retry::finite;
use crate::transport::{self, HttpRequest, Transport};

/// Connection failures or timeouts in a row against the backend after which the next call
/// fetches the company information again, in case the backend moved.
pub const REFRESH_AFTER_FAILURES: u32 = 3;

/// The wait after a first failed fetch of the company information (its upper bound: the wait
/// is jittered between half of it and all of it). It doubles with each failure in a row.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(250);

/// The longest wait between fetches of failing company information.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The most bytes of a refused value quoted in an error.
const MAX_QUOTED: usize = 128;

/// A backend host as named by `evbk`: a DNS name or an IP literal, with an optional port.
///
/// ```
/// use gamooga::resolve::Backend;
/// let b = Backend::parse("evbk.gamooga.com")?;
/// assert_eq!(b.to_string(), "evbk.gamooga.com");
/// assert_eq!(Backend::parse("[::1]:8080")?.port(), Some(8080));
/// assert!(Backend::parse("https://evil.example/x").is_err());
/// # Ok::<(), gamooga::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Lowercase DNS name, dotted IPv4, or bracketed IPv6.
    host: String,
    port: Option<u16>,
    loopback: bool,
}

impl Backend {
    /// Checks that `value` is a host (DNS name, IPv4, or IPv6 in brackets or bare) with an
    /// optional `:port`, and nothing else: a scheme, path, query, fragment, user info, empty
    /// label or any character outside `A-Z a-z 0-9 - .` is an [`Error::InvalidBackend`].
    pub fn parse(value: &str) -> Result<Backend> {
        parse_backend(value).map_err(|reason| invalid(value, reason))
    }

    /// The host: a lowercase DNS name, a dotted IPv4 address or a bracketed IPv6 address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, if one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the host is a loopback host (`localhost`, `127.0.0.0/8`, `::1`), where plain
    /// http is allowed.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn invalid(value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidBackend {
        value: transport::truncate(value, MAX_QUOTED).to_owned(),
        reason: reason.into(),
    }
}

fn parse_backend(value: &str) -> std::result::Result<Backend, String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.len() > 261 {
        return Err("it is longer than a host name and port can be".into());
    }
    if value.contains("://") {
        return Err("it has a scheme; a bare host name is expected".into());
    }
    for (c, what) in [
        ('@', "user info"),
        ('/', "a path"),
        ('?', "a query"),
        ('#', "a fragment"),
    ] {
        if value.contains(c) {
            return Err(format!(
                "it has {what} (`{c}`); a bare host name is expected"
            ));
        }
    }
    if let Some(c) = value
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']')))
    {
        return Err(format!("it contains the character {c:?}"));
    }

    // IPv6 in brackets, with an optional port.
    if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address opens `[` but does not close it")?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("`{inside}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(
                after
                    .strip_prefix(':')
                    .ok_or("only `:port` may follow `]`")?,
            )?),
        };
        return Ok(Backend {
            host: format!("[{ip}]"),
            port,
            loopback: ip.is_loopback(),
        });
    }
    if value.contains('[') || value.contains(']') {
        return Err("brackets are allowed only around an IPv6 address".into());
    }
    // A bare IPv6 address (no port possible).
    if value.matches(':').count() > 1 {
        let ip: Ipv6Addr = value
            .parse()
            .map_err(|_| "it is not a host with an optional port nor an IPv6 address")?;
        return Ok(Backend {
            host: format!("[{ip}]"),
            port: None,
            loopback: ip.is_loopback(),
        });
    }
    let (host, port) = match value.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (value, None),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Backend {
            host: ip.to_string(),
            port,
            loopback: ip.is_loopback(),
        });
    }
    check_dns_name(host)?;
    let host = host.to_ascii_lowercase();
    let loopback = host == "localhost";
    Ok(Backend {
        host,
        port,
        loopback,
    })
}

fn parse_port(port: &str) -> std::result::Result<u16, String> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the port `{port}` is not a number"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("the port `{port}` is not between 1 and 65535")),
        Ok(p) => Ok(p),
    }
}

fn check_dns_name(host: &str) -> std::result::Result<(), String> {
    if host.is_empty() {
        return Err("the host name is empty".into());
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(format!("the host name `{host}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("a label of `{host}` is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("a label of `{host}` starts or ends with a hyphen"));
        }
    }
    // All-numeric labels that did not parse as IPv4 (`1.2.3.999`, `1.2`) are not names.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{host}` is neither an IPv4 address nor a host name"
        ));
    }
    // The transport reads the host with `url` (WHATWG rules), where a name whose last label
    // is a hex or octal number (`0x7f000001`, `a.0x1`) is an IPv4 address: such a "name"
    // would reach another host than the one it names. Found by fuzzing (`fuzz/`).
    match url::Host::parse(host) {
        Ok(url::Host::Domain(_)) => Ok(()),
        Ok(ip) => Err(format!(
            "`{host}` is read as the IPv4 address {ip}, not as a host name"
        )),
        Err(e) => Err(format!("`{host}` is not a valid host name ({e})")),
    }
}

/// Reads the company information (`newnaconf`) answer: a JSON object whose `evbk` value names
/// the backend; every other key is ignored. A body that is not a JSON object, or has no
/// `evbk`, is an [`Error::Decode`]; an `evbk` that is not a string or not a plain host is an
/// [`Error::InvalidBackend`].
///
/// ```
/// use gamooga::resolve::parse_company_info;
/// let backend = parse_company_info(br#"{"evbk":"evbk.gamooga.com","other":1}"#)?;
/// assert_eq!(backend.host(), "evbk.gamooga.com");
/// assert!(parse_company_info(br#"{"evbk":"http://evil.example"}"#).is_err());
/// # Ok::<(), gamooga::Error>(())
/// ```
pub fn parse_company_info(body: &[u8]) -> Result<Backend> {
    let decode = |reason: &str| Error::Decode {
        call: Endpoint::CompanyInfo,
        reason: reason.to_owned(),
        body: transport::body_snippet(body),
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| decode(&format!("the body is not JSON ({e})")))?;
    let object = value
        .as_object()
        .ok_or_else(|| decode("the body is not a JSON object"))?;
    match object.get("evbk") {
        None => Err(decode("the JSON object has no `evbk` key")),
        Some(serde_json::Value::String(s)) => Backend::parse(s),
        Some(other) => Err(invalid(
            &other.to_string(),
            "the `evbk` value is not a string",
        )),
    }
}

/// Whether a URL host (as `url` spells it) is a loopback host.
pub(crate) fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Where the backend comes from, and the scheme calls use.
#[derive(Debug)]
pub(crate) enum Source {
    /// Configured: skip resolution.
    Fixed(Arc<str>),
    /// Fetched from the company information.
    Config {
        /// The full `newnaconf` URL.
        url: String,
        /// The configuration host (and port), for errors.
        host: String,
        /// `http` or `https`: the config URL's scheme, used for the backend too.
        scheme: &'static str,
        allow_insecure_http: bool,
        ttl: Duration,
        transport: Arc<dyn Transport>,
        timeout: Duration,
    },
}

/// The base URL (`scheme://host[:port]`) for a backend, refusing plain http to a remote host
/// unless allowed (the error is the reason).
pub(crate) fn backend_base(
    scheme: &str,
    backend: &Backend,
    allow_insecure_http: bool,
) -> std::result::Result<Arc<str>, String> {
    if scheme == "http" && !backend.is_loopback() && !allow_insecure_http {
        return Err(format!(
            "plain http to the backend {backend} is refused: use an https config URL, \
             or allow_insecure_http(true) if you really mean it"
        ));
    }
    Ok(Arc::from(format!("{scheme}://{backend}")))
}

/// The wait before the next fetch after `failures` failed fetches in a row: a random
/// duration between half and all of `min(BACKOFF_MAX, BACKOFF_INITIAL * 2^(failures-1))`,
/// and at least what the server asked in `Retry-After` (up to [`BACKOFF_MAX`]).
fn backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    let exp = failures.saturating_sub(1).min(31);
    let ceiling = BACKOFF_INITIAL.saturating_mul(1u32 << exp).min(BACKOFF_MAX);
    let half = ceiling / 2;
    let jitter = Duration::from_nanos(fastrand::u64(0..=half.as_nanos() as u64));
    (half + jitter).max(retry_after.unwrap_or_default().min(BACKOFF_MAX))
}

/// The last good backend.
#[derive(Debug)]
struct Cached {
    base: Arc<str>,
    /// When to fetch again; `None`: never (a TTL of `FOREVER` or more).
    refresh_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    cached: Option<Cached>,
    /// Connection failures or timeouts in a row against the backend.
    failures: u32,
    /// Failed fetches in a row: the backoff's exponent.
    fetch_failures: u32,
    /// After a failed fetch: no fetch before this instant, and why the last one failed.
    backoff: Option<(Instant, Error)>,
}

/// What a call does, from the state at one instant.
enum Decision {
    /// Use this base URL (fresh, or stale during a refresh's backoff).
    Use(Arc<str>),
    /// Fail at once: nothing is cached and the backoff is running.
    Fail(Error),
    /// Fetch the company information.
    Fetch,
}

/// The per-client backend cache; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Resolver {
    source: Source,
    state: Mutex<State>,
    flight: tokio::sync::Mutex<()>,
}

impl Resolver {
    pub(crate) fn new(source: Source) -> Self {
        Resolver {
            source,
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The configuration host, for errors.
    fn config_host(&self) -> &str {
        match &self.source {
            Source::Config { host, .. } => host,
            Source::Fixed(_) => "",
        }
    }

    fn decide(&self, now: Instant) -> Decision {
        let state = self.state();
        if let Some(cached) = &state.cached {
            let due = state.failures >= REFRESH_AFTER_FAILURES
                || cached.refresh_at.is_some_and(|at| now >= at);
            if !due {
                return Decision::Use(cached.base.clone());
            }
        }
        match (&state.backoff, &state.cached) {
            (Some((at, _)), Some(cached)) if now < *at => Decision::Use(cached.base.clone()),
            (Some((at, cause)), None) if now < *at => Decision::Fail(Error::Resolve {
                cause: Box::new(cause.clone()),
                host: self.config_host().to_owned(),
                retry_in: *at - now,
                attempts: 1,
            }),
            _ => Decision::Fetch,
        }
    }

    /// The backend base URL (`https://host[:port]`), fetched if needed. A failure is an
    /// [`Error::Resolve`].
    pub(crate) async fn resolve(&self) -> Result<Arc<str>> {
        let (url, host, scheme, allow_insecure_http, ttl, transport, timeout) = match &self.source {
            Source::Fixed(base) => return Ok(base.clone()),
            Source::Config {
                url,
                host,
                scheme,
                allow_insecure_http,
                ttl,
                transport,
                timeout,
            } => (
                url,
                host,
                scheme,
                allow_insecure_http,
                ttl,
                transport,
                timeout,
            ),
        };
        match self.decide(Instant::now()) {
            Decision::Use(base) => return Ok(base),
            Decision::Fail(error) => return Err(error),
            Decision::Fetch => {}
        }
        // Single flight. While another call fetches, a stale backend is used rather than
        // waited for; without one, wait for that fetch and take its outcome.
        let _flight = match self.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some(cached) = &self.state().cached {
                    return Ok(cached.base.clone());
                }
                self.flight.lock().await
            }
        };
        match self.decide(Instant::now()) {
            Decision::Use(base) => return Ok(base),
            Decision::Fail(error) => return Err(error),
            Decision::Fetch => {}
        }

        tracing::debug!(url = %url, "fetching the company information");
        let fetched = async {
            let request = HttpRequest::new(Method::Get, url.clone(), None);
            let response =
                transport::exchange(&**transport, request, Endpoint::CompanyInfo, host, *timeout)
                    .await?;
            let backend = parse_company_info(&response.body)?;
            backend_base(scheme, &backend, *allow_insecure_http).map_err(|reason| {
                Error::InvalidBackend {
                    value: backend.to_string(),
                    reason,
                }
            })
        }
        .await;

        let now = Instant::now();
        let mut state = self.state();
        state.failures = 0;
        match fetched {
            Ok(base) => {
                if state.fetch_failures > 0 {
                    tracing::info!(
                        host = %host,
                        failures = state.fetch_failures,
                        backend = %base,
                        "the company information answers again"
                    );
                } else {
                    tracing::debug!(backend = %base, "resolved the backend");
                }
                state.cached = Some(Cached {
                    base: base.clone(),
                    refresh_at: finite(*ttl).and_then(|ttl| now.checked_add(ttl)),
                });
                state.fetch_failures = 0;
                state.backoff = None;
                Ok(base)
            }
            Err(cause) => {
                state.fetch_failures = state.fetch_failures.saturating_add(1);
                let stale = state.cached.as_ref().map(|c| c.base.clone());
                let mut retry_in = backoff(state.fetch_failures, cause.retry_after());
                if stale.is_some() {
                    // Calls are served meanwhile: refresh at least as often as the TTL asks.
                    retry_in = retry_in.min(*ttl);
                }
                state.backoff = Some((now + retry_in, cause.clone()));
                // One warning when a run of failures starts; the rest at debug level.
                if state.fetch_failures == 1 {
                    match &stale {
                        Some(base) => tracing::warn!(
                            error = %cause,
                            backend = %base,
                            ?retry_in,
                            "could not refresh the company information; keeping the last backend"
                        ),
                        None => tracing::warn!(
                            error = %cause,
                            ?retry_in,
                            "could not fetch the company information; calls fail until it answers"
                        ),
                    }
                } else {
                    tracing::debug!(
                        error = %cause,
                        failures = state.fetch_failures,
                        ?retry_in,
                        "the company information still fails"
                    );
                }
                match stale {
                    Some(base) => Ok(base),
                    None => Err(Error::Resolve {
                        cause: Box::new(cause),
                        host: host.clone(),
                        retry_in,
                        attempts: 1,
                    }),
                }
            }
        }
    }

    /// Notes a connection failure or timeout against the backend.
    pub(crate) fn report_failure(&self) {
        let mut state = self.state();
        state.failures = state.failures.saturating_add(1);
        if state.failures == REFRESH_AFTER_FAILURES && matches!(self.source, Source::Config { .. })
        {
            tracing::info!(
                failures = state.failures,
                "backend unreachable repeatedly; the company information will be fetched again"
            );
        }
    }

    /// Notes an answer from the backend (whatever its status).
    pub(crate) fn report_answer(&self) {
        self.state().failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hosts() {
        for (value, host, port, loopback) in [
            ("evbk.gamooga.com", "evbk.gamooga.com", None, false),
            ("EVBK.Gamooga.COM:443", "evbk.gamooga.com", Some(443), false),
            ("localhost", "localhost", None, true),
            ("localhost:8080", "localhost", Some(8080), true),
            ("127.0.0.1:65535", "127.0.0.1", Some(65535), true),
            ("10.1.2.3", "10.1.2.3", None, false),
            ("[::1]:8080", "[::1]", Some(8080), true),
            ("[2001:db8::1]", "[2001:db8::1]", None, false),
            ("2001:db8::1", "[2001:db8::1]", None, false),
            ("a-b.c1", "a-b.c1", None, false),
            ("x", "x", None, false),
        ] {
            let b = Backend::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(
                (b.host(), b.port(), b.is_loopback()),
                (host, port, loopback),
                "{value}"
            );
        }
        assert_eq!(Backend::parse("[::1]:80").unwrap().to_string(), "[::1]:80");
    }

    #[test]
    fn refuses_non_hosts() {
        for (value, reason) in [
            ("", "empty"),
            ("http://x", "scheme"),
            ("https://evbk.gamooga.com", "scheme"),
            ("x/y", "path"),
            ("x/", "path"),
            ("u@x", "user info"),
            ("u:p@x", "user info"),
            ("x?y", "query"),
            ("x#y", "fragment"),
            ("x y", "character"),
            (" x", "character"),
            ("x\n", "character"),
            ("x_y", "character"),
            ("é.com", "character"),
            ("x:", "port"),
            ("x:0", "port"),
            ("x:65536", "port"),
            ("x:8a", "port"),
            ("x:-1", "port"),
            ("a..b", "empty label"),
            (".a", "empty label"),
            ("a.", "empty label"),
            ("-a.b", "hyphen"),
            ("a-.b", "hyphen"),
            ("1.2.3.999", "neither"),
            ("[::1", "close"),
            ("[::g]", "IPv6"),
            ("[::1]x", "follow"),
            ("[127.0.0.1]", "IPv6"),
            ("x]", "brackets"),
            ("1:2:3", "IPv6"),
        ] {
            match Backend::parse(value) {
                Err(Error::InvalidBackend {
                    value: v,
                    reason: r,
                }) => {
                    assert_eq!(v, value);
                    assert!(r.contains(reason), "{value:?}: {r}");
                }
                other => panic!("{value:?} was not refused: {other:?}"),
            }
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(Backend::parse(&long).is_err());
        let too_long = "a.".repeat(200) + "com";
        match Backend::parse(&too_long) {
            Err(Error::InvalidBackend { value, .. }) => assert_eq!(value.len(), MAX_QUOTED),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn company_info_bodies() {
        assert_eq!(
            parse_company_info(br#"{"x":[1],"evbk":"a.b:81"}"#)
                .unwrap()
                .to_string(),
            "a.b:81"
        );
        for body in [
            &b"not json"[..],
            b"",
            b"[\"evbk\"]",
            b"\"a.b\"",
            br#"{"evbkx":"a.b"}"#,
        ] {
            assert!(
                matches!(
                    parse_company_info(body),
                    Err(Error::Decode {
                        call: Endpoint::CompanyInfo,
                        ..
                    })
                ),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [
            &br#"{"evbk":1}"#[..],
            br#"{"evbk":null}"#,
            br#"{"evbk":["a.b"]}"#,
            br#"{"evbk":""}"#,
            br#"{"evbk":"http://a.b"}"#,
        ] {
            assert!(
                matches!(parse_company_info(body), Err(Error::InvalidBackend { .. })),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        for failures in 1..40 {
            let ceiling = BACKOFF_INITIAL
                .saturating_mul(1 << (failures - 1).min(31))
                .min(BACKOFF_MAX);
            for _ in 0..20 {
                let wait = backoff(failures, None);
                assert!(
                    wait >= ceiling / 2 && wait <= ceiling,
                    "{failures}: {wait:?}"
                );
            }
        }
        assert_eq!(backoff(u32::MAX, None).max(BACKOFF_MAX), BACKOFF_MAX);
        // The server's Retry-After is a floor, up to the cap.
        assert!(backoff(1, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        assert_eq!(backoff(1, Some(Duration::MAX)), BACKOFF_MAX);
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let remote = Backend::parse("evbk.gamooga.com").unwrap();
        let local = Backend::parse("127.0.0.1:9").unwrap();
        assert!(backend_base("http", &remote, false)
            .unwrap_err()
            .contains("plain http"));
        assert_eq!(
            &*backend_base("http", &remote, true).unwrap(),
            "http://evbk.gamooga.com"
        );
        assert_eq!(
            &*backend_base("http", &local, false).unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            &*backend_base("https", &remote, false).unwrap(),
            "https://evbk.gamooga.com"
        );
    }
}
