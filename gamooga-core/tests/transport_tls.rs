//! The default transport checks certificates: a server whose certificate no trusted root
//! signed (a self-signed one, made for `localhost` and `127.0.0.1`, valid until 2126, in
//! `tests/fixtures/`) is refused during the handshake, with an error that says so and that
//! the request was not sent, and the server never sees a byte of the request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gamooga_core::transport::{HttpRequest, HyperTransport, Phase, Transport, TransportError};
use gamooga_core::{Client, CustomEvent, Error, Method, Properties, RetryPolicy};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CERT: &[u8] = include_bytes!("fixtures/self_signed.cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/self_signed.key.pem");
const USER: &str = "secret-user-7713";

/// What a TLS server saw of one connection.
#[derive(Debug)]
enum Seen {
    /// The handshake failed (the client refused the certificate).
    HandshakeFailed,
    /// The handshake succeeded (this is what must not happen), with the request's first
    /// bytes.
    Request(#[allow(dead_code)] Vec<u8>),
}

/// A TLS server on 127.0.0.1 with the self-signed certificate; reports every connection.
async fn self_signed_server() -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let cert = CertificateDer::from_pem_slice(CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let seen = match acceptor.accept(stream).await {
                    Err(_) => Seen::HandshakeFailed,
                    Ok(mut tls) => {
                        let mut buf = vec![0u8; 4096];
                        let n = tls.read(&mut buf).await.unwrap_or(0);
                        buf.truncate(n);
                        Seen::Request(buf)
                    }
                };
                let _ = tx.send(seen);
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_before_anything_is_sent() {
    let (addr, mut seen) = self_signed_server().await;
    let client = Client::builder("acme")
        .config_url("https://127.0.0.1:1")
        .backend(addr.to_string())
        .timeout(Duration::from_secs(20))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let event = CustomEvent::new("login", Properties::new().string("method", "sso"));
    let err = client.track(USER, &event).await.unwrap_err();
    let Error::Connection { phase, message, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*phase, Phase::NotSent, "{err}");
    assert!(!err.may_have_been_sent());
    assert!(
        message.starts_with("TLS handshake failed: ") && message.contains("certificate"),
        "a clear error: {message}"
    );
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(!err.to_string().contains(USER), "{err}");
    match seen.recv().await.unwrap() {
        Seen::HandshakeFailed => {}
        other => panic!("the server saw {other:?}"),
    }
}

#[tokio::test]
async fn the_transport_alone_refuses_it_too_by_name_or_address() {
    let (addr, mut seen) = self_signed_server().await;
    let transport = HyperTransport::new(Duration::from_secs(5), None).unwrap();
    // The certificate is made for both: only its issuer is wrong.
    for host in [
        format!("localhost:{}", addr.port()),
        format!("127.0.0.1:{}", addr.port()),
    ] {
        let url = format!("https://{host}/evwid/?c=acme&u={USER}&e=login");
        let err = transport
            .send(HttpRequest::new(Method::Get, url, None))
            .await
            .unwrap_err();
        match &err {
            TransportError::Connection {
                phase: Phase::NotSent,
                message,
                ..
            } => assert!(message.contains("UnknownIssuer"), "{host}: {message}"),
            other => panic!("{host}: {other:?}"),
        }
        assert!(!err.to_string().contains(USER), "{err}");
        // `localhost` may try ::1 first, where nothing listens: the server sees one
        // connection per host either way.
        match seen.recv().await.unwrap() {
            Seen::HandshakeFailed => {}
            other => panic!("{host}: the server saw {other:?}"),
        }
    }
}
