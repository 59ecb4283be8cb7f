//! The default transport's keep-alive pool, counted where the emulator accepts connections:
//! a connection is reused as soon as its answer is read, no more are opened than requests
//! in flight at once, and one the server closed while idle is replaced without an error.

use gamooga_core::transport::{HttpRequest, HyperTransport, Transport};
use gamooga_core::{Client, CustomEvent, Method, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

fn client(emu: &Emulator) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .backend(emu.backend())
        // No retries: an error would show.
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn event(n: u32) -> CustomEvent {
    CustomEvent::new("view", Properties::new().number("n", n).unwrap())
}

#[tokio::test]
async fn one_connection_carries_calls_made_one_after_the_other() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    for n in 0..20 {
        client.track("user-1", &event(n)).await.unwrap();
    }
    assert_eq!(emu.count("evwid"), 20);
    assert_eq!(emu.connections_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_connections_than_requests_in_flight() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    for round in 0..10u32 {
        let sends: Vec<_> = (0..8)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move { client.track("user-1", &event(round * 8 + i)).await })
            })
            .collect();
        for send in sends {
            send.await.unwrap().unwrap();
        }
    }
    assert_eq!(emu.count("evwid"), 80);
    let opened = emu.connections_accepted();
    assert!(
        (1..=8).contains(&opened),
        "{opened} connections for 8 at once"
    );
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_replaced_without_an_error() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    client.track("user-1", &event(1)).await.unwrap();
    // Every open connection is closed by the server.
    emu.go_down().await;
    emu.come_up().await.unwrap();
    // Let the client's side see the close.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    client.track("user-1", &event(2)).await.unwrap();
    assert_eq!(emu.count("evwid"), 2);
    assert_eq!(emu.connections_accepted(), 2);
}

#[tokio::test]
async fn the_transport_answers_status_body_and_retry_after() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_next_with_retry_after(1, 429, 7);
    let transport = HyperTransport::new(std::time::Duration::from_secs(5), None).unwrap();
    let url = format!("http://{}/evwid/?c=acme&u=u1&e=login", emu.backend());
    let refused = transport
        .send(HttpRequest::new(Method::Get, url.clone(), None))
        .await
        .unwrap();
    assert_eq!(refused.status, 429);
    assert_eq!(refused.retry_after.as_deref(), Some("7"));
    let ok = transport
        .send(HttpRequest::new(Method::Get, url, None))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(body["result"], "success");
    // A 429 is an answer: its connection carried the next call.
    assert_eq!(emu.connections_accepted(), 1);
}

/// A keep-alive server on 127.0.0.1 that answers one request `200` and then reports when the
/// client closes the connection.
async fn one_answer_then_watch() -> (String, tokio::sync::oneshot::Receiver<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (closed, watch) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a whole request");
            seen.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        // Keep-alive: the next read ends only when the client closes.
        let n = stream.read(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "no second request was sent");
        let _ = closed.send(());
    });
    (addr, watch)
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout_even_with_no_more_requests() {
    let (addr, mut closed) = one_answer_then_watch().await;
    let transport = HyperTransport::new(std::time::Duration::from_secs(5), None).unwrap();
    let url = format!("http://{addr}/evwid/?c=acme&u=u1&e=login");
    let ok = transport
        .send(HttpRequest::new(Method::Get, url, None))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    // Tokio's clock, simulated from here: nothing closes the pooled connection before the
    // idle timeout (90 s) ...
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_secs(89)).await;
    tokio::task::yield_now().await;
    assert!(closed.try_recv().is_err(), "closed before the idle timeout");
    // ... and the transport closes it once the timeout passes, though no request came.
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    closed.await.unwrap();
    assert!(
        format!("{transport:?}").contains("idle: 0"),
        "{transport:?}"
    );
}
