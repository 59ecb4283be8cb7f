//! The default transport: hyper's HTTP/1.1 client connections over rustls, with a small
//! keep-alive pool of its own.
//!
//! Hand-written on purpose, on hyper's connection API rather than reqwest or hyper-util's
//! pooled client, because it is the hot path of every delivery: `benches/network.rs` measures
//! the CPU time per delivered event against a minimal hyper client (one connection per task,
//! pre-built requests), and on this project's machine reqwest cost about 2.5x that floor
//! (its `Url` parsing with IDNA and percent-encoding checks, header maps, a connector clone
//! and two timers per request) and hyper-util's pool about 1.4x (it hands a connection back
//! through a task it spawns per request, so a request that follows at once often opens
//! another connection). Here a connection goes back to the pool the moment its answer is
//! read, and a request costs a `Uri` parse, a header map and hyper's own work.
//!
//! What it does not do: HTTP/2, proxies (the client picks [`ReqwestTransport`] when a proxy
//! is set in the environment), redirects (never followed, on purpose), compression.
//!
//! [`ReqwestTransport`]: super::ReqwestTransport

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
// Tokio's clock, so the idle timeout and the task that closes idle connections agree.
use tokio::time::Instant;
use tokio_rustls::rustls;

use super::{
    BoxFuture, HttpRequest, HttpResponse, Phase, Transport, TransportError, MAX_BODY_BYTES,
};
use crate::call::Method;
use crate::error::{Error, Result};
use crate::retry::finite;

/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most idle connections kept (the queue's largest concurrency): a smaller pool would
/// close connections whenever the queue's adaptive limit dips, and open them again after.
const MAX_IDLE: usize = crate::queue::QueueConfig::MAX_CONCURRENCY;

/// The default [`Transport`]: HTTP/1.1 over hyper's client connections, rustls with the
/// webpki roots for `https` (certificate checks always on), keep-alive connections reused
/// as soon as an answer is read (idle ones closed after 90 s), a connect timeout, and a
/// `User-Agent` of `gamooga-rust/<version>`. Redirects are never followed (a 3xx is an HTTP
/// error, so an answer can't send calls elsewhere). The per-attempt timeout is the client's.
///
/// Failures carry their [`Phase`]: a failure to connect (DNS, TCP, TLS with its certificate
/// checks, the connect timeout) is [`Phase::NotSent`], and so is a connection that closed
/// before taking the request (hyper hands a request it did not write any of back); every
/// later one is [`Phase::Unknown`]. A pooled connection that the server closed while it was
/// idle is replaced before anything is written, so a quiet spell costs no error.
///
/// It has no timeout over the whole request of its own: the client's per-attempt
/// [`timeout`](crate::client::ClientBuilder::timeout) bounds every call it makes through it.
///
/// The [`Client`](crate::client::Client) builds one from its options (or a
/// [`ReqwestTransport`](super::ReqwestTransport) when `HTTPS_PROXY`, `HTTP_PROXY` or
/// `ALL_PROXY` is set, since this one does not go through proxies); build one yourself only
/// to share it between clients of several companies.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use gamooga::{client::Client, transport::HyperTransport};
/// let transport = HyperTransport::new(Duration::from_secs(5), Some("my-shop/1.4"))?;
/// let client = Client::builder("acme").transport(Arc::new(transport)).build()?;
/// # Ok::<(), gamooga::Error>(())
/// ```
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<Inner>,
}

struct Inner {
    tls: tokio_rustls::TlsConnector,
    user_agent: HeaderValue,
    connect_timeout: Option<Duration>,
    pool: Mutex<Pool>,
}

struct Pool {
    /// Idle connections, the longest-idle first.
    idle: Vec<Idle>,
    /// Whether a task is closing idle connections as they expire (one runs while any are
    /// idle, so a transport that goes quiet does not hold connections open for good).
    reaping: bool,
}

struct Idle {
    origin: Origin,
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

/// Where a connection goes.
#[derive(Clone)]
struct Origin {
    https: bool,
    authority: Authority,
}

impl PartialEq for Origin {
    /// Byte for byte (`Authority`'s own comparison ignores case, at several times the cost
    /// per request): the URLs come from the client's own resolver, written one way.
    fn eq(&self, other: &Self) -> bool {
        self.https == other.https && self.authority.as_str() == other.authority.as_str()
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("user_agent", &self.inner.user_agent)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("idle", &self.lock().idle.len())
            .finish()
    }
}

impl HyperTransport {
    /// A transport with this connect timeout (a [`FOREVER`](crate::retry::FOREVER) or longer,
    /// `Duration::MAX`, means none) and `User-Agent: gamooga-rust/<version>`, followed by
    /// ` {suffix}` when one is given. A suffix that is not a valid header value is an
    /// [`Error::Config`].
    pub fn new(connect_timeout: Duration, user_agent_suffix: Option<&str>) -> Result<Self> {
        let mut agent = format!("gamooga-rust/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = user_agent_suffix.filter(|s| !s.is_empty()) {
            agent.push(' ');
            agent.push_str(suffix);
        }
        let user_agent = HeaderValue::from_str(&agent).map_err(|_| {
            Error::Config(format!(
                "the user agent suffix {user_agent_suffix:?} is not a valid header value \
                 (use visible ASCII)"
            ))
        })?;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("could not set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(HyperTransport {
            inner: Arc::new(Inner {
                tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
                user_agent,
                connect_timeout: finite(connect_timeout),
                pool: Mutex::new(Pool {
                    idle: Vec::new(),
                    reaping: false,
                }),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        lock(&self.inner)
    }

    /// An idle connection to `origin`, the most recently used first; closed or expired ones
    /// are dropped on the way.
    fn checkout(&self, origin: &Origin) -> Option<SendRequest<Full<Bytes>>> {
        let mut pool = self.lock();
        let idle = &mut pool.idle;
        if idle
            .first()
            .is_some_and(|i| i.since.elapsed() >= IDLE_TIMEOUT)
        {
            drop_expired(idle, Instant::now());
        }
        while let Some(at) = idle.iter().rposition(|i| i.origin == *origin) {
            let Idle { sender, .. } = idle.remove(at);
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Puts a connection whose answer was read whole back in the pool.
    fn checkin(&self, origin: Origin, sender: SendRequest<Full<Bytes>>) {
        let since = Instant::now();
        let mut pool = self.lock();
        if pool.idle.len() >= MAX_IDLE {
            pool.idle.remove(0);
        }
        pool.idle.push(Idle {
            origin,
            sender,
            since,
        });
        if !pool.reaping {
            pool.reaping = true;
            tokio::spawn(reap(Arc::downgrade(&self.inner)));
        }
    }

    /// A new connection (TCP, TLS for `https`, the HTTP/1.1 handshake), its task spawned.
    async fn connect(
        &self,
        origin: &Origin,
    ) -> std::result::Result<SendRequest<Full<Bytes>>, TransportError> {
        let connecting = async {
            let host = origin.authority.host();
            let port = origin
                .authority
                .port_u16()
                .unwrap_or(if origin.https { 443 } else { 80 });
            // `[::1]` in a URL, `::1` to connect to.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let tcp = TcpStream::connect((bare, port)).await.map_err(not_sent)?;
            tcp.set_nodelay(true).map_err(not_sent)?;
            if origin.https {
                let name = rustls::pki_types::ServerName::try_from(bare.to_owned())
                    .map_err(|e| TransportError::connection(Phase::NotSent, e.to_string()))?;
                let tls = self.inner.tls.connect(name, tcp).await.map_err(|e| {
                    if e.kind() == std::io::ErrorKind::TimedOut {
                        return not_sent(e);
                    }
                    // Certificate checks are always on: an unknown issuer, a name that does
                    // not match or an expired certificate ends here, before anything is sent.
                    TransportError::connection(
                        Phase::NotSent,
                        format!("TLS handshake failed: {}", chain(&e)),
                    )
                })?;
                handshake(TokioIo::new(tls)).await
            } else {
                handshake(TokioIo::new(tcp)).await
            }
        };
        match self.inner.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting).await.unwrap_or(Err(
                TransportError::Timeout {
                    phase: Phase::NotSent,
                },
            )),
            None => connecting.await,
        }
    }

    async fn exchange(
        &self,
        request: HttpRequest,
    ) -> std::result::Result<HttpResponse, TransportError> {
        let invalid = || TransportError::connection(Phase::NotSent, "the URL is not valid");
        let uri = Uri::try_from(request.url).map_err(|_| invalid())?;
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return Err(invalid()),
        };
        let authority = uri.authority().cloned().ok_or_else(invalid)?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| invalid())?;
        // Origin form: `/path?query`, with the host in `Host`.
        let target = Uri::from(uri.into_parts().path_and_query.ok_or_else(invalid)?);
        let origin = Origin { https, authority };
        let mut builder = Request::builder()
            .method(match request.method {
                Method::Get => hyper::Method::GET,
                Method::Post => hyper::Method::POST,
            })
            .uri(target)
            .header(HOST, host)
            .header(USER_AGENT, self.inner.user_agent.clone());
        let body = match request.body {
            Some(body) => {
                builder =
                    builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Full::new(Bytes::from(body))
            }
            None => Full::default(),
        };
        let mut request = builder.body(body).map_err(|_| invalid())?;
        loop {
            let (mut sender, pooled) = match self.checkout(&origin) {
                Some(sender) => (sender, true),
                // Boxed: the TLS handshake's state would make every request's future
                // (moved into its box) several kilobytes.
                None => (Box::pin(self.connect(&origin)).await?, false),
            };
            if sender.ready().await.is_err() {
                // The connection closed before it took the request: nothing was written.
                if pooled {
                    continue; // closed while idle: another connection carries it
                }
                return Err(TransportError::connection(
                    Phase::NotSent,
                    "the connection closed as soon as it was made, before the request was \
                     written",
                ));
            }
            match sender.try_send_request(request).await {
                Ok(response) => return self.answer(response, origin, sender).await,
                Err(mut error) => match error.take_message() {
                    // hyper gives the request back when it failed before writing any of it
                    // (its documented contract): a pooled connection the server closed
                    // meanwhile, so another connection may carry it ...
                    Some(unsent) if pooled => request = unsent,
                    // ... or one just made, which the server closed at once: not sent.
                    Some(_) => {
                        return Err(TransportError::connection(
                            Phase::NotSent,
                            format!(
                                "the connection closed before the request was written: {}",
                                chain(error.error())
                            ),
                        ))
                    }
                    // Written, whole or in part: whether the server read it is unknown.
                    None => return Err(after_sending(error.error())),
                },
            }
        }
    }

    /// Reads the answer (the start of its body); the connection goes back to the pool once
    /// the body was read whole.
    async fn answer(
        &self,
        response: Response<Incoming>,
        origin: Origin,
        sender: SendRequest<Full<Bytes>>,
    ) -> std::result::Result<HttpResponse, TransportError> {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| after_sending(&e))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let room = MAX_BODY_BYTES - body.len();
            if data.len() >= room {
                // The rest is not read: the connection is dropped, not pooled.
                body.extend_from_slice(&data[..room]);
                return Ok(HttpResponse {
                    status,
                    body,
                    retry_after,
                });
            }
            body.extend_from_slice(&data);
        }
        self.checkin(origin, sender);
        Ok(HttpResponse {
            status,
            body,
            retry_after,
        })
    }
}

fn lock(inner: &Inner) -> MutexGuard<'_, Pool> {
    inner.pool.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drops the idle connections that have been idle for [`IDLE_TIMEOUT`] at `now` (dropping
/// its sender ends a connection's task, which closes it).
fn drop_expired(idle: &mut Vec<Idle>, now: Instant) {
    let expired = idle
        .iter()
        .take_while(|i| now.saturating_duration_since(i.since) >= IDLE_TIMEOUT)
        .count();
    idle.drain(..expired);
}

/// Closes idle connections as they expire, while any are idle and the transport lives.
async fn reap(inner: Weak<Inner>) {
    loop {
        let next = {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let mut pool = lock(&inner);
            drop_expired(&mut pool.idle, Instant::now());
            match pool.idle.first() {
                Some(oldest) => oldest.since + IDLE_TIMEOUT,
                None => {
                    // Under the lock: a check-in after it starts another task.
                    pool.reaping = false;
                    return;
                }
            }
        };
        tokio::time::sleep_until(next).await;
    }
}

/// The HTTP/1.1 handshake on a connected stream; the connection's task is spawned.
async fn handshake<T>(io: T) -> std::result::Result<SendRequest<Full<Bytes>>, TransportError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(io)
        .await
        .map_err(|e| TransportError::connection(Phase::NotSent, chain(&e)))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or every sender is dropped.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A failure while connecting: nothing was sent.
fn not_sent(error: std::io::Error) -> TransportError {
    if error.kind() == std::io::ErrorKind::TimedOut {
        return TransportError::Timeout {
            phase: Phase::NotSent,
        };
    }
    TransportError::connection(Phase::NotSent, chain(&error))
}

/// A failure once the request may have been written.
fn after_sending(error: &hyper::Error) -> TransportError {
    TransportError::connection(Phase::Unknown, chain(error))
}

/// `error` and its causes, `: `-separated (a cause the message already ends with is not
/// repeated). hyper's and io's messages never hold the URL.
fn chain(error: &dyn std::error::Error) -> String {
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

impl Transport for HyperTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> BoxFuture<'_, std::result::Result<HttpResponse, TransportError>> {
        Box::pin(self.exchange(request))
    }
}
