//! [`Transport`]: how one HTTP request reaches Gamooga.
//!
//! The [`Client`](crate::client::Client) resolves the backend, builds the full URL and hands
//! the request to a transport; the transport sends it once and answers the status and the
//! start of the body, or a [`TransportError`] that says whether the connection failed or the
//! answer did not come in time, and in which [`Phase`]: whether the request can have reached
//! Gamooga. Retries, timeouts over the whole attempt and error mapping are the client's job.
//!
//! # Reporting the phase from your own transport
//!
//! Say [`Phase::NotSent`] only when no byte of the request can have been written: the name
//! did not resolve, the connection was refused or timed out while connecting, the TLS
//! handshake failed. Anything later (a reset, a connection closed before the whole answer, a
//! timeout while waiting for the answer), or anything you cannot tell, is
//! [`Phase::Unknown`]. The delivery queue counts the `Unknown` ones as possible duplicates,
//! so a wrong `NotSent` hides a duplicate, while a wrong `Unknown` only over-counts. A
//! transport that is itself cut off by the client's per-attempt timeout is `Unknown`.
//! Messages must not include the URL: its query holds user ids.
//!
//! Three transports come with the crate:
//!
//! - [`HyperTransport`], the default: HTTP/1.1 over hyper's client connections and rustls,
//!   a keep-alive pool that reuses a connection as soon as its answer is read, a connect
//!   timeout, certificate checks always on, no redirects followed. The cheapest in CPU.
//! - [`ReqwestTransport`]: reqwest with rustls, for proxies (the client picks it when a
//!   proxy is set in the environment) or a reqwest client you configured yourself.
//! - [`DryRunTransport`]: sends nothing, records every request in memory and answers 200,
//!   for unit tests and debugging without network.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use crate::call::{Endpoint, Method};
use crate::retry::{finite, FOREVER};

pub use crate::error::Phase;

mod dry_run;
mod hyper;
mod reqwest;

pub(crate) use self::dry_run::visitor_id_for as made_up_visitor_id;
pub use self::dry_run::{DryRunTransport, RecordedRequest};
pub use self::hyper::HyperTransport;
pub use self::reqwest::ReqwestTransport;

/// The transport a client uses when it is given none: [`HyperTransport`], or
/// [`ReqwestTransport`] when a proxy is set in the environment (`HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY`, in either case), since reqwest goes through it (and honours
/// `NO_PROXY`) and `HyperTransport` does not.
pub(crate) fn default_transport(
    connect_timeout: Duration,
    timeout: Duration,
    user_agent_suffix: Option<&str>,
) -> crate::error::Result<std::sync::Arc<dyn Transport>> {
    let proxied = proxy_set(|name| std::env::var_os(name));
    transport_for(proxied, connect_timeout, timeout, user_agent_suffix)
}

/// Whether `var` (the environment) names a proxy.
fn proxy_set(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|name| var(name).is_some_and(|v| !v.is_empty()))
}

/// See [`default_transport`].
fn transport_for(
    proxied: bool,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent_suffix: Option<&str>,
) -> crate::error::Result<std::sync::Arc<dyn Transport>> {
    Ok(if proxied {
        std::sync::Arc::new(ReqwestTransport::new(
            connect_timeout,
            timeout,
            user_agent_suffix,
        )?)
    } else {
        std::sync::Arc::new(HyperTransport::new(connect_timeout, user_agent_suffix)?)
    })
}

/// The largest response body a transport reads, in bytes; the rest is discarded. Gamooga's
/// answers are a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A boxed, `Send` future, as [`Transport::send`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request and answers what came back.
///
/// Implement it to route calls through your own HTTP stack, or use [`DryRunTransport`] in
/// tests. The trait is object-safe: the client holds an `Arc<dyn Transport>`.
///
/// A failure without an answer is a [`TransportError`] with its [`Phase`]; see the
/// [module docs](self#reporting-the-phase-from-your-own-transport) for which phase to report.
///
/// ```
/// use gamooga::transport::{
///     BoxFuture, HttpRequest, HttpResponse, Phase, Transport, TransportError,
/// };
///
/// /// A transport that answers every request with HTTP 503.
/// #[derive(Debug)]
/// struct AlwaysDown;
///
/// impl Transport for AlwaysDown {
///     fn send(&self, _request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
///         Box::pin(async { Ok(HttpResponse::new(503, b"down".to_vec())) })
///     }
/// }
///
/// /// A transport whose connections are always refused: nothing is ever sent.
/// #[derive(Debug)]
/// struct Unplugged;
///
/// impl Transport for Unplugged {
///     fn send(&self, _request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
///         Box::pin(async { Err(TransportError::connection(Phase::NotSent, "unplugged")) })
///     }
/// }
/// ```
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` once. `Ok` for any HTTP answer, whatever its status; `Err` only when
    /// no answer could be had.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// One HTTP request, with the full URL.
///
/// Its `Debug` shows the method, scheme, host and path, and only the lengths of the query
/// and body (they hold user ids and values); the fields give everything.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full URL: scheme, host, path and encoded query.
    pub url: String,
    /// The JSON body, sent with `Content-Type: application/json` (`evwidj` only).
    pub body: Option<String>,
}

impl HttpRequest {
    /// A request for `url` with `method` and an optional JSON body.
    pub fn new(method: Method, url: impl Into<String>, body: Option<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            body,
        }
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &RedactedUrl(&self.url))
            .field("body_len", &self.body.as_ref().map(String::len))
            .finish()
    }
}

/// A URL shown without its query: `https://host/evwid/?<120 bytes>`.
pub(crate) struct RedactedUrl<'a>(pub(crate) &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once('?') {
            Some((head, query)) => write!(f, "\"{head}?<{} bytes>\"", query.len()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The start of the body, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
    /// The raw `Retry-After` header, if the server sent one.
    pub retry_after: Option<String>,
}

impl HttpResponse {
    /// An answer with `status` and `body` and no `Retry-After`.
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        HttpResponse {
            status,
            body,
            retry_after: None,
        }
    }

    /// Sets the raw `Retry-After` header value.
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }
}

/// Why a transport got no answer, and whether the request can have reached Gamooga.
///
/// ```
/// use gamooga::transport::{Phase, TransportError};
/// let refused = TransportError::connection(Phase::NotSent, "connection refused");
/// assert_eq!(refused.phase(), Phase::NotSent);
/// assert_eq!(TransportError::timeout(Phase::Unknown).phase(), Phase::Unknown);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The connection could not be made, or broke before the answer was read (refused,
    /// reset, closed, DNS failure, TLS failure, ...).
    #[error("connection failed, {phase}: {message}")]
    Connection {
        /// Whether the request can have reached Gamooga.
        phase: Phase,
        /// What went wrong, without the URL (its query holds user ids).
        message: String,
    },
    /// No answer within the transport's timeout: while connecting ([`Phase::NotSent`]) or
    /// after sending ([`Phase::Unknown`]).
    #[error("timed out, {phase}")]
    Timeout {
        /// Whether the request can have reached Gamooga.
        phase: Phase,
    },
}

impl TransportError {
    /// A connection failure in `phase`, with a message (without the URL).
    pub fn connection(phase: Phase, message: impl Into<String>) -> Self {
        TransportError::Connection {
            phase,
            message: message.into(),
        }
    }

    /// A timeout in `phase`.
    pub fn timeout(phase: Phase) -> Self {
        TransportError::Timeout { phase }
    }

    /// Whether the request can have reached Gamooga.
    pub fn phase(&self) -> Phase {
        match self {
            TransportError::Connection { phase, .. } | TransportError::Timeout { phase } => *phase,
        }
    }
}

/// Parses a `Retry-After` header value: delay-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), as a delay from `now`. A date in the past is a zero
/// delay; anything else (negative, fractional, garbage) is `None`. A delay longer than
/// [`FOREVER`] (`u64::MAX` seconds, say) is cut to it. The caller caps the result further
/// (see [`RetryPolicy::max_retry_after`](crate::retry::RetryPolicy::max_retry_after)).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use gamooga::transport::parse_retry_after;
/// assert_eq!(parse_retry_after("3", SystemTime::now()), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: an overflowing number is "very long", which the caller caps.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(FOREVER));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(FOREVER),
    )
}

/// The most bytes of a body quoted in an error.
pub(crate) const MAX_SNIPPET_BYTES: usize = 512;

/// The start of a body for an error message: at most [`MAX_SNIPPET_BYTES`] bytes, lossily
/// decoded, cut at a character boundary.
pub(crate) fn body_snippet(body: &[u8]) -> String {
    let head = &body[..body.len().min(MAX_SNIPPET_BYTES)];
    // Lossy decoding may grow the text (U+FFFD is 3 bytes): cut it again to the limit.
    truncate(&String::from_utf8_lossy(head), MAX_SNIPPET_BYTES).to_owned()
}

/// The longest start of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One attempt of call `call` to `host`: sends `request` with an overall `timeout` (none when
/// it is [`FOREVER`] or longer) and maps the outcome to the SDK's errors (attempt count 1).
/// `Ok` only for HTTP 200. The overall timeout cutting a transport off is
/// [`Phase::Unknown`]: the request may have been written.
pub(crate) async fn exchange(
    transport: &dyn Transport,
    request: HttpRequest,
    call: Endpoint,
    host: &str,
    timeout: Duration,
) -> crate::error::Result<HttpResponse> {
    use crate::error::Error;
    let sent = transport.send(request);
    let outcome = match finite(timeout) {
        Some(limit) => {
            tokio::time::timeout(limit, sent)
                .await
                .unwrap_or(Err(TransportError::Timeout {
                    phase: Phase::Unknown,
                }))
        }
        None => sent.await,
    };
    let response = match outcome {
        Ok(response) => response,
        Err(TransportError::Timeout { phase }) => {
            return Err(Error::Timeout {
                call,
                host: host.to_owned(),
                phase,
                timeout,
                attempts: 1,
            })
        }
        Err(TransportError::Connection { phase, message }) => {
            return Err(Error::Connection {
                call,
                host: host.to_owned(),
                phase,
                message,
                attempts: 1,
            })
        }
    };
    if response.status == 200 {
        return Ok(response);
    }
    let body = body_snippet(&response.body);
    // Answer bodies may echo what was sent: debug level only.
    tracing::debug!(call = call.name(), host, status = response.status, body = %body, "answer");
    Err(Error::Http {
        call,
        host: host.to_owned(),
        status: response.status,
        body,
        attempts: 1,
        retry_after: response
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, SystemTime::now())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_in_the_environment_picks_reqwest() {
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                set.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert!(!proxy_set(env(&[])));
        assert!(!proxy_set(env(&[("HTTPS_PROXY", ""), ("NO_PROXY", "*")])));
        for name in ["HTTPS_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            let set: &'static [(&str, &str)] = Box::leak(Box::new([(name, "http://proxy:3128")]));
            assert!(proxy_set(env(set)), "{name}");
        }
        let second = Duration::from_secs(1);
        let reqwest = transport_for(true, second, second, None).unwrap();
        assert!(
            format!("{reqwest:?}").starts_with("ReqwestTransport"),
            "{reqwest:?}"
        );
        let hyper = transport_for(false, second, second, None).unwrap();
        assert!(
            format!("{hyper:?}").starts_with("HyperTransport"),
            "{hyper:?}"
        );
    }

    #[test]
    fn debug_of_an_http_request_hides_the_query_and_body() {
        let request = HttpRequest::new(
            Method::Post,
            "https://evbk.gamooga.com/evwidj/?c=acme&u=secret-user&e=buy",
            Some(r#"{"email":"alice@example.com"}"#.into()),
        );
        let debug = format!("{request:?}");
        assert!(
            debug.contains("https://evbk.gamooga.com/evwidj/?<"),
            "{debug}"
        );
        assert!(debug.contains("Post"), "{debug}");
        for secret in ["secret-user", "alice", "acme"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn snippets_are_bounded_at_char_boundaries() {
        assert_eq!(body_snippet(b"oops"), "oops");
        let long = "é".repeat(400); // 800 bytes
        let s = body_snippet(long.as_bytes());
        assert!(s.len() <= MAX_SNIPPET_BYTES);
        assert_eq!(s, "é".repeat(256));
        let odd = format!("x{long}"); // the 512th byte splits a character
        let s = body_snippet(odd.as_bytes());
        assert!(s.len() <= MAX_SNIPPET_BYTES, "{}", s.len());
        assert!(s.starts_with("xé"));
        let bad = [0xffu8; 600];
        assert!(body_snippet(&bad).len() <= MAX_SNIPPET_BYTES);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // Obsolete RFC 850 and asctime forms are HTTP-dates too.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // Huge delays are cut to FOREVER, so `Instant + delay` cannot overflow.
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(FOREVER)
        );
        assert_eq!(parse_retry_after(&u64::MAX.to_string(), now), Some(FOREVER));
        assert!(std::time::Instant::now().checked_add(FOREVER).is_some());
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "1e3",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
