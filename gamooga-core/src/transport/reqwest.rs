//! The transport for proxies: reqwest with rustls.

use std::error::Error as _;
use std::time::Duration;

use super::{
    BoxFuture, HttpRequest, HttpResponse, Phase, Transport, TransportError, MAX_BODY_BYTES,
};
use crate::call::Method;
use crate::error::{Error, Result};
use crate::retry::finite;

/// A [`Transport`] over reqwest and rustls (webpki roots), the default when a proxy is set
/// in the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`: reqwest goes through it and
/// honours `NO_PROXY`; [`HyperTransport`](super::HyperTransport), the default otherwise,
/// does not), or around a reqwest client you configured yourself. It has a keep-alive
/// connection pool, connect and request timeouts, and a `User-Agent` of
/// `gamooga-rust/<version>`. Certificate checks are never turned off, and redirects are not
/// followed (a 3xx is an HTTP error, so an answer can't send calls elsewhere).
///
/// Failures carry their [`Phase`], from reqwest's typed predicates: an error while
/// connecting ([`reqwest::Error::is_connect`]: DNS, TCP, TLS handshake, proxy, or the connect
/// timeout) is [`Phase::NotSent`]; every other failure is [`Phase::Unknown`].
///
/// The [`Client`](crate::client::Client) builds one from its options; build one yourself only
/// to share it between clients of several companies.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use gamooga::{client::Client, transport::ReqwestTransport};
/// let transport = ReqwestTransport::new(Duration::from_secs(5), Duration::from_secs(10), None)?;
/// let client = Client::builder("acme").transport(Arc::new(transport)).build()?;
/// # Ok::<(), gamooga::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with these timeouts and `User-Agent: gamooga-rust/<version>`, followed by
    /// ` {suffix}` when one is given. A suffix that is not a valid header value is an
    /// [`Error::Config`]. A timeout of [`FOREVER`](crate::retry::FOREVER) or longer
    /// (`Duration::MAX`) means no limit.
    pub fn new(
        connect_timeout: Duration,
        timeout: Duration,
        user_agent_suffix: Option<&str>,
    ) -> Result<Self> {
        let mut agent = format!("gamooga-rust/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = user_agent_suffix.filter(|s| !s.is_empty()) {
            agent.push(' ');
            agent.push_str(suffix);
        }
        let agent = reqwest::header::HeaderValue::from_str(&agent).map_err(|_| {
            Error::Config(format!(
                "the user agent suffix {user_agent_suffix:?} is not a valid header value \
                 (use visible ASCII)"
            ))
        })?;
        let mut builder = reqwest::Client::builder().user_agent(agent);
        if let Some(limit) = finite(connect_timeout) {
            builder = builder.connect_timeout(limit);
        }
        if let Some(limit) = finite(timeout) {
            builder = builder.timeout(limit);
        }
        let client = builder
            .pool_idle_timeout(Duration::from_secs(90))
            // As many idle connections as a queue may have requests in flight: a smaller
            // pool closes connections whenever the adaptive limit dips (a pause, a shrink)
            // and opens them again after. Idle ones still close after 90 s.
            .pool_max_idle_per_host(crate::queue::QueueConfig::MAX_CONCURRENCY)
            .tcp_keepalive(Duration::from_secs(60))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(ReqwestTransport { client })
    }

    /// Wraps a reqwest client you configured yourself (proxies, extra roots, ...).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let mut builder = match request.method {
                Method::Get => self.client.get(&request.url),
                Method::Post => self.client.post(&request.url),
            };
            if let Some(body) = request.body {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
            }
            let mut response = builder.send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                let room = MAX_BODY_BYTES - body.len();
                if chunk.len() >= room {
                    body.extend_from_slice(&chunk[..room]);
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                body,
                retry_after,
            })
        })
    }
}

/// Maps a reqwest error to a timeout or a connection error, with its phase and its causes in
/// the message (never the URL).
///
/// The phase comes from typed predicates only: [`reqwest::Error::is_connect`] walks the
/// source chain for hyper-util's connect error (DNS, TCP connect, TLS handshake, proxy
/// tunnel, and reqwest's connect timeout, which is inside the connector), and
/// [`reqwest::Error::is_builder`] means the request could not even be built. Both happen
/// before any byte is written. Everything else (hyper's "connection closed before message
/// completed", a reset, the total timeout, a broken body) may come after the request was
/// written, so it is unknown.
fn classify(error: reqwest::Error) -> TransportError {
    // The URL holds user ids: keep it out of messages that may be logged.
    let error = error.without_url();
    let phase = if error.is_connect() || error.is_builder() {
        Phase::NotSent
    } else {
        Phase::Unknown
    };
    if error.is_timeout() {
        return TransportError::Timeout { phase };
    }
    TransportError::Connection {
        phase,
        message: chain(&error),
    }
}

/// `error` and its causes, `: `-separated; a cause whose text the message already ends with
/// (some errors print their source) is not repeated.
fn chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
