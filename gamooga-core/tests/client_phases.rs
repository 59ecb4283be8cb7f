//! Failure phases over real sockets on 127.0.0.1: whether a failed request can have reached
//! the server is decided by typed errors (where the transport failed: connecting, or a
//! request hyper hands back unwritten, or reqwest's `is_connect`; the client's timeout), never
//! by words in a message, and it is what the delivery queue counts as `ambiguous`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gamooga_core::queue::QueueConfig;
use gamooga_core::transport::{
    BoxFuture, HttpRequest, HttpResponse, Phase, Transport, TransportError,
};
use gamooga_core::{Client, CustomEvent, Endpoint, Error, Properties, RetryPolicy};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const USER: &str = "secret-user-5521";

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new().string("method", "sso"))
}

/// A client whose fixed backend is `addr` (no company information is fetched).
fn client_for(addr: SocketAddr) -> gamooga_core::ClientBuilder {
    Client::builder("acme")
        .config_url("http://127.0.0.1:1")
        .backend(addr.to_string())
        .timeout(Duration::from_secs(20))
        .retry(RetryPolicy::none())
}

/// A port on 127.0.0.1 where nothing listens.
async fn refused_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// Reads one request head (up to the blank line).
async fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before sending a request");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// What a test server does with each connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Close at once, before reading anything.
    CloseBeforeReading,
    /// Read the request, then close without answering.
    CloseAfterReading,
    /// Read the request and never answer (the connection stays open).
    NeverAnswer,
}

/// Serves every connection with `behaviour`; answers its address.
async fn server(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                match behaviour {
                    Behaviour::CloseBeforeReading => drop(stream),
                    Behaviour::CloseAfterReading => {
                        read_head(&mut stream).await;
                        drop(stream);
                    }
                    Behaviour::NeverAnswer => {
                        read_head(&mut stream).await;
                        std::future::pending::<()>().await;
                    }
                }
            });
        }
    });
    addr
}

/// Checks what every network error must say: the call and the host, never the query.
fn assert_names_call_and_host(err: &Error, addr: SocketAddr) {
    let message = err.to_string();
    assert!(
        message.contains(&format!("evwid at {addr}")),
        "the call and the host: {message}"
    );
    assert_eq!(err.call(), Some(Endpoint::Evwid));
    assert_eq!(err.host(), Some(&*addr.to_string()));
    for text in [message, format!("{err:?}")] {
        assert!(!text.contains(USER), "no user id: {text}");
        assert!(!text.contains("c=acme"), "no query: {text}");
    }
}

#[tokio::test]
async fn a_refused_connection_was_not_sent() {
    let addr = refused_port().await;
    let client = client_for(addr).build().unwrap();
    let err = client.track(USER, &event()).await.unwrap_err();
    match &err {
        Error::Connection { phase, .. } => assert_eq!(*phase, Phase::NotSent, "{err}"),
        other => panic!("{other:?}"),
    }
    assert!(!err.may_have_been_sent());
    assert!(err.is_retryable());
    assert_names_call_and_host(&err, addr);
}

#[tokio::test]
async fn a_connection_closed_before_the_request_was_read_is_not_sent_or_unknown() {
    let addr = server(Behaviour::CloseBeforeReading).await;
    let client = client_for(addr).build().unwrap();
    for _ in 0..5 {
        let err = client.track(USER, &event()).await.unwrap_err();
        // Two outcomes, by who is first. The client saw the close before it wrote anything
        // (hyper hands the request back unwritten, a typed fact): not sent. Or it wrote the
        // request and then saw the close: whether the server read it cannot be told, so
        // unknown. Never a timeout, never a success.
        match &err {
            Error::Connection {
                phase: Phase::NotSent,
                message,
                ..
            } => {
                assert!(message.contains("before the request was written"), "{err}");
                assert!(!err.may_have_been_sent());
            }
            Error::Connection {
                phase: Phase::Unknown,
                ..
            } => assert!(err.may_have_been_sent()),
            other => panic!("{other:?}"),
        }
        assert_names_call_and_host(&err, addr);
    }
}

#[tokio::test]
async fn a_connection_closed_after_the_request_was_read_is_unknown() {
    let addr = server(Behaviour::CloseAfterReading).await;
    let client = client_for(addr).build().unwrap();
    let err = client.track(USER, &event()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connection {
                phase: Phase::Unknown,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.may_have_been_sent());
    assert_names_call_and_host(&err, addr);
}

#[tokio::test]
async fn no_answer_in_time_is_a_timeout_of_unknown_outcome() {
    let addr = server(Behaviour::NeverAnswer).await;
    let client = client_for(addr)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.track(USER, &event()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: Phase::Unknown,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.may_have_been_sent());
    assert!(err.is_retryable());
    assert_names_call_and_host(&err, addr);
}

/// A listener whose accept queue is full: Linux drops further SYNs, so a connect hangs until
/// its timeout. The queue is filled by connecting until one connection does not complete.
async fn full_backlog() -> (SocketAddr, Vec<std::net::TcpStream>, TcpListener) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let fill = tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for _ in 0..16 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => held.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Some(held),
                Err(e) => panic!("filling the backlog: {e}"),
            }
        }
        None
    })
    .await
    .unwrap();
    let held = fill.expect("the accept queue never filled: connects did not hang");
    (addr, held, listener)
}

#[tokio::test]
async fn a_connect_timeout_was_not_sent() {
    let (addr, _held, _listener) = full_backlog().await;
    let client = client_for(addr)
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let err = client.track(USER, &event()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: Phase::NotSent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.may_have_been_sent());
    assert!(err.is_retryable());
    assert_names_call_and_host(&err, addr);
}

/// A user transport that fails with the phase it is given and a message chosen to mislead
/// any rule that reads words.
#[derive(Debug)]
struct Scripted {
    phase: Phase,
    message: &'static str,
    calls: AtomicU32,
}

impl Transport for Scripted {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let config = request.url.contains("/newnaconf/");
        if !config {
            self.calls.fetch_add(1, Ordering::Relaxed);
        }
        Box::pin(async move {
            if config {
                return Ok(HttpResponse::new(
                    200,
                    br#"{"evbk":"evbk.example.com"}"#.to_vec(),
                ));
            }
            Err(TransportError::connection(self.phase, self.message))
        })
    }
}

#[tokio::test]
async fn a_user_transport_decides_the_phase_not_its_words() {
    for (phase, message, sent) in [
        (
            Phase::Unknown,
            "connection refused (connect error, dns)",
            true,
        ),
        (
            Phase::NotSent,
            "reset by peer after the request was written",
            false,
        ),
    ] {
        let transport = Arc::new(Scripted {
            phase,
            message,
            calls: AtomicU32::new(0),
        });
        let client = Client::builder("acme")
            .transport(transport.clone())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let err = client.track(USER, &event()).await.unwrap_err();
        assert_eq!(err.phase(), Some(phase), "{err}");
        assert_eq!(err.may_have_been_sent(), sent, "{err}");
        assert!(err.to_string().contains(message), "{err}");
        assert!(
            err.to_string().contains("evwid at evbk.example.com"),
            "{err}"
        );
    }
}

/// A transport that never answers: the client's own timeout cuts it off.
#[derive(Debug)]
struct Silent;

impl Transport for Silent {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            if request.url.contains("/newnaconf/") {
                return Ok(HttpResponse::new(
                    200,
                    br#"{"evbk":"evbk.example.com"}"#.to_vec(),
                ));
            }
            std::future::pending().await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_clients_timeout_over_a_transport_is_unknown() {
    let client = Client::builder("acme")
        .transport(Arc::new(Silent))
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.track(USER, &event()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: Phase::Unknown,
                timeout,
                ..
            } if timeout == Duration::from_secs(10)
        ),
        "{err:?}"
    );
}

// The queue's `ambiguous` count follows the typed phase: attempts that never left (refused)
// are not counted, attempts whose outcome is unknown (closed after reading) all are.
#[tokio::test]
async fn the_queue_counts_only_unknown_outcomes_as_ambiguous() {
    let retry = RetryPolicy::default()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5));
    let refused = refused_port().await;
    let closing = server(Behaviour::CloseAfterReading).await;
    for (addr, ambiguous) in [(refused, 0), (closing, 3)] {
        let client = client_for(addr).build().unwrap();
        let queue = client
            .queue(QueueConfig::default().retry(retry.clone()))
            .unwrap();
        queue.try_track(USER, &event()).unwrap();
        let report = queue.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.dead_lettered, 1, "{addr}");
        assert_eq!(report.ambiguous, ambiguous, "{addr}");
    }
}
