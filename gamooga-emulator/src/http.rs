//! HTTP plumbing (hyper, HTTP/1.1 with keep-alive), knowing nothing of Gamooga: serving a
//! listener with a request handler, a switch that takes a listener down and up again on the
//! same port, response bodies (whole, or a stream for server-sent events) and helpers to
//! build answers.
//!
//! The emulator keeps hyper's own server rather than a framework (axum): a fault has to be
//! able to close a connection without any answer and `go_down` has to close every open
//! connection, both of which need the connection-level control hyper gives; the few
//! inspector routes are matched by hand.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The largest request body read (an `evwidj` body); larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A response body: whole, or a stream of chunks (server-sent events) that ends when its
/// sender is dropped. Hand-written rather than boxed so a whole answer costs no allocation
/// beyond its bytes.
#[derive(Debug)]
pub(crate) enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(chunks) => chunks.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// An answer.
pub(crate) type Answer = Response<Body>;

/// An answer with a body and a content type.
pub(crate) fn answer(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Body::Full(Some(body.into())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON answer.
pub(crate) fn json(status: u16, body: impl Into<Bytes>) -> Answer {
    answer(status, "application/json", body)
}

/// A JSON error answer `{"result":"failure","error":"<reason>"}`.
pub(crate) fn failure(status: u16, reason: &str) -> Answer {
    json(
        status,
        serde_json::json!({ "result": "failure", "error": reason }).to_string(),
    )
}

/// A value as a JSON answer.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Answer {
    match serde_json::to_vec(value) {
        Ok(body) => json(200, body),
        Err(e) => failure(500, &format!("could not serialize: {e}")),
    }
}

/// A server-sent events answer fed by `events` (each chunk one or more whole events).
pub(crate) fn event_stream(events: mpsc::Receiver<Bytes>) -> Answer {
    let mut response = Response::new(Body::Stream(events));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a request body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// The connection failed while reading it.
    Read(String),
}

/// Reads a whole request body, at most [`MAX_BODY_BYTES`].
pub(crate) async fn read_body(body: Incoming) -> Result<Bytes, BodyError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// Returned by a handler to make hyper close the connection without answering.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// What a listener does with each request.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Answers a request (or drops the connection).
    fn handle(
        &self,
        request: Request<Incoming>,
    ) -> impl Future<Output = Result<Answer, DropConnection>> + Send + use<Self>;
}

/// A listening server: its accept task and the signal that stops it and its connections.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops listening, closes the connections, and waits until the port is released.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stops without waiting (from `Drop`).
    pub(crate) fn abort(self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// Starts accepting on `listener`, answering with `handler`, counting each connection
/// accepted in `accepted`.
pub(crate) fn serve<H: Handler>(
    handler: Arc<H>,
    listener: TcpListener,
    accepted: Arc<AtomicU64>,
) -> Running {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(handler, listener, stopped, accepted));
    Running { stop, task }
}

async fn accept_loop<H: Handler>(
    handler: Arc<H>,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
    count: Arc<AtomicU64>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    count.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve_connection(Arc::clone(&handler), stream, stopped.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
        }
    }
    // `listener` is dropped here: connections are refused from now on.
}

async fn serve_connection<H: Handler>(
    handler: Arc<H>,
    stream: TcpStream,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| handler.handle(req));
    let connection = http1::Builder::new()
        .keep_alive(true)
        // Idle keep-alive connections stay open until the client closes them (or go_down).
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        // Dropping the connection closes the socket.
        _ = stopped.changed() => {}
    }
}

/// A boxed future, for [`Power`]'s object-safe methods.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Taking a listener down and up again, as an object the inspector can hold without knowing
/// the handler's type.
pub(crate) trait Power: Send + Sync {
    /// Whether it is listening.
    fn is_up(&self) -> bool;
    /// Stops listening and closes its connections; resolves once the port is released.
    fn go_down(&self) -> BoxFuture<'_, ()>;
    /// Listens again on the same address (a no-op when up).
    fn come_up(&self) -> BoxFuture<'_, std::io::Result<()>>;
}

/// A listener on a fixed address that can go down and come up: the API's.
pub(crate) struct Switch<H: Handler> {
    handler: Arc<H>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
    /// Connections accepted, over every time it was up.
    accepted: Arc<AtomicU64>,
}

impl<H: Handler> Switch<H> {
    /// Starts serving `listener` with `handler`.
    pub(crate) fn start(handler: Arc<H>, listener: TcpListener) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicU64::new(0));
        let running = serve(Arc::clone(&handler), listener, Arc::clone(&accepted));
        Ok(Switch {
            handler,
            addr,
            running: Mutex::new(Some(running)),
            accepted,
        })
    }

    /// Connections accepted since it started (every time it was up).
    pub(crate) fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops without waiting (from `Drop`).
    pub(crate) fn abort(&self) {
        if let Some(running) = self.slot().take() {
            running.abort();
        }
    }
}

impl<H: Handler> Power for Switch<H> {
    fn is_up(&self) -> bool {
        self.slot().is_some()
    }

    fn go_down(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let running = self.slot().take();
            if let Some(running) = running {
                running.stop().await;
            }
        })
    }

    fn come_up(&self) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(async move {
            if self.is_up() {
                return Ok(());
            }
            let listener = TcpListener::bind(self.addr).await?;
            let running = serve(
                Arc::clone(&self.handler),
                listener,
                Arc::clone(&self.accepted),
            );
            let mut slot = self.slot();
            match slot.as_ref() {
                // Someone else brought it up while we were binding: keep theirs.
                Some(_) => running.abort(),
                None => *slot = Some(running),
            }
            Ok(())
        })
    }
}
