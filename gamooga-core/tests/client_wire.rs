//! What the default transport puts on the wire (headers, body) and reads back (bounded), and
//! the builder's configuration checks. Uses a one-shot raw TCP server to see the exact bytes.

use std::time::Duration;

use gamooga_core::{
    transport::MAX_BODY_BYTES, Client, CustomEvent, Error, EvwidMode, InvalidInput, Properties,
    RetryPolicy,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one connection: reads one request (head and `Content-Length` body), answers with
/// `answer`, and hands back the request's bytes.
async fn one_shot(answer: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending a whole request");
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    break;
                }
            }
        }
        // The client may stop reading (bounded body): a failed write is fine.
        let _ = stream.write_all(&answer).await;
        stream.shutdown().await.ok();
        String::from_utf8(seen).unwrap()
    });
    (backend, task)
}

fn ok_answer(body: &[u8]) -> Vec<u8> {
    let mut answer =
        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(body);
    answer
}

fn client_for(backend: &str) -> gamooga_core::ClientBuilder {
    Client::builder("acme")
        .config_url("http://127.0.0.1:1")
        .backend(backend)
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::none())
}

#[tokio::test]
async fn get_carries_the_user_agent_and_exact_path() {
    let (backend, server) = one_shot(ok_answer(b"")).await;
    let client = client_for(&backend)
        .user_agent("my-shop/1.4")
        .build()
        .unwrap();
    let event = CustomEvent::new("log in", Properties::new().string("k", "a b"));
    let request = client.calls().track("u", &event).unwrap();
    client.send(&request).await.unwrap();
    let seen = server.await.unwrap();
    let head = seen.to_ascii_lowercase();
    assert!(
        seen.starts_with(&format!("GET {} HTTP/1.1\r\n", request.path_and_query())),
        "{seen}"
    );
    let agent = format!(
        "user-agent: gamooga-rust/{} my-shop/1.4\r\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(head.contains(&agent), "{seen}");
    assert!(!head.contains("content-type"), "{seen}");
}

#[tokio::test]
async fn post_sends_the_json_body_with_its_content_type() {
    let (backend, server) = one_shot(ok_answer(b"")).await;
    let client = client_for(&backend)
        .evwid_mode(EvwidMode::Post)
        .build()
        .unwrap();
    let event = CustomEvent::new("buy", Properties::new().boolean("gift", true));
    let request = client.calls().track("u", &event).unwrap();
    client.send(&request).await.unwrap();
    let seen = server.await.unwrap();
    assert!(seen.starts_with("POST /evwidj/?"), "{seen}");
    assert!(
        seen.to_ascii_lowercase()
            .contains("content-type: application/json\r\n"),
        "{seen}"
    );
    assert!(seen.ends_with(request.body().unwrap()), "{seen}");
}

#[tokio::test]
async fn the_body_read_is_bounded() {
    let big = vec![b'x'; MAX_BODY_BYTES * 3];
    let (backend, server) = one_shot(ok_answer(&big)).await;
    let client = client_for(&backend).build().unwrap();
    let request = client.calls().link("u", "abcdef0123456789").unwrap();
    let response = client.send(&request).await.unwrap();
    assert_eq!(response.body().len(), MAX_BODY_BYTES);
    server.await.unwrap();
}

#[tokio::test]
async fn an_error_quotes_at_most_512_bytes_of_the_body() {
    let body = "e".repeat(5000);
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (backend, server) = one_shot(answer.into_bytes()).await;
    let client = client_for(&backend).build().unwrap();
    match client.link("u", "abcdef0123456789").await {
        Err(
            ref err @ Error::Http {
                status: 400,
                ref body,
                attempts: 1,
                ..
            },
        ) => {
            assert_eq!(body, &"e".repeat(512));
            assert_eq!(err.body(), Some(&*"e".repeat(512)));
            // Reachable, but in no message.
            assert!(!err.to_string().contains("eeee"), "{err}");
            assert!(!format!("{err:?}").contains("eeee"), "{err:?}");
        }
        other => panic!("{other:?}"),
    }
    server.await.unwrap();
}

#[tokio::test]
async fn garbage_answers_are_errors_not_panics() {
    #[derive(Debug, PartialEq)]
    enum Kind {
        Decode,
        Connection,
        Redirect,
    }
    for (answer, expected) in [
        (
            &b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n\xff\xfe{]"[..],
            Kind::Decode,
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            Kind::Decode,
        ),
        (b"not http at all\r\n\r\n", Kind::Connection),
        (
            b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n",
            Kind::Redirect,
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
            Kind::Connection,
        ),
    ] {
        let (backend, server) = one_shot(answer.to_vec()).await;
        let client = client_for(&backend).build().unwrap();
        let result = client.identify("u").await;
        let err = result.expect_err(&String::from_utf8_lossy(answer));
        let kind = match &err {
            Error::Decode {
                call: gamooga_core::Endpoint::Id,
                ..
            } => Kind::Decode,
            Error::Connection { .. } => Kind::Connection,
            Error::Http { status: 302, .. } => Kind::Redirect,
            other => panic!("{}: {other:?}", String::from_utf8_lossy(answer)),
        };
        assert_eq!(
            kind,
            expected,
            "{}: {err:?}",
            String::from_utf8_lossy(answer)
        );
        server.await.unwrap();
    }
}

#[tokio::test]
async fn the_builder_refuses_bad_configuration() {
    let config = |b: gamooga_core::ClientBuilder| match b.build() {
        Err(Error::Config(message)) => message,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        Client::builder("").build(),
        Err(Error::InvalidInput(InvalidInput::EmptyCompanyId))
    ));
    config(Client::builder("acme").timeout(Duration::ZERO));
    config(Client::builder("acme").connect_timeout(Duration::ZERO));
    assert!(config(Client::builder("acme").user_agent("bad\nagent")).contains("user agent"));
    assert!(config(Client::builder("acme").config_url("nope")).contains("add http:// or https://"));
    assert!(
        config(Client::builder("acme").config_url("http://conf.example")).contains("plain http")
    );
    assert!(config(Client::builder("acme").backend("x/y")).contains("path"));
    assert!(config(
        Client::builder("acme")
            .config_url("http://127.0.0.1:1")
            .backend("evbk.example.com")
    )
    .contains("plain http"));
    // Opting in allows plain http to remote hosts.
    let client = Client::builder("acme")
        .config_url("http://127.0.0.1:1")
        .backend("evbk.example.com:8080")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    assert_eq!(
        client.backend().await.unwrap(),
        "http://evbk.example.com:8080"
    );
    // https by default.
    let client = Client::builder("acme")
        .backend("evbk.example.com")
        .build()
        .unwrap();
    assert_eq!(client.backend().await.unwrap(), "https://evbk.example.com");
}
