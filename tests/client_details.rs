//! Client details a command line needs: wrapping the default transport keeps the builder's
//! options (user agent, timeouts), where the backend comes from, and the URL a request goes
//! to. Checked against the emulator, which records the headers it received.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gamooga::client::BackendOrigin;
use gamooga::prelude::*;
use gamooga::transport::{
    BoxFuture, HttpRequest, HttpResponse, ReqwestTransport, Transport, TransportError,
};
use gamooga::CustomEvent;
use gamooga_emulator::Emulator;

#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Transport>,
    sent: Arc<AtomicUsize>,
}

impl Transport for Counting {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.inner.send(request)
    }
}

fn login() -> CustomEvent {
    CustomEvent::new("login", Properties::new())
}

#[tokio::test]
async fn a_wrapped_default_transport_keeps_the_builders_user_agent() {
    let emu = Emulator::start().await.unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .user_agent("my-cli/2.0")
        .connect_timeout(Duration::from_secs(3))
        .wrap_transport(move |inner| {
            Arc::new(Counting {
                inner,
                sent: counter.clone(),
            })
        })
        .build()
        .unwrap();
    client.track("user-42", &login()).await.unwrap();
    assert_eq!(
        sent.load(Ordering::SeqCst),
        2,
        "newnaconf and evwid, through the wrapper"
    );
    let agent = emu.events()[0].header("user-agent").unwrap().to_owned();
    assert!(
        agent.starts_with("gamooga-rust/") && agent.ends_with(" my-cli/2.0"),
        "{agent}"
    );

    // A transport given whole replaces the default, options and all (as documented).
    let plain = Client::builder("acme")
        .config_url(emu.config_url())
        .user_agent("ignored/1.0")
        .transport(Arc::new(
            ReqwestTransport::new(Duration::from_secs(3), Duration::from_secs(10), None).unwrap(),
        ))
        .build()
        .unwrap();
    plain.track("user-42", &login()).await.unwrap();
    let agent = emu.events()[1].header("user-agent").unwrap().to_owned();
    assert!(!agent.contains("ignored"), "{agent}");
}

#[tokio::test]
async fn the_backend_says_where_it_comes_from_and_url_for_shows_the_url() {
    let emu = Emulator::start().await.unwrap();
    let resolved = Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap();
    assert_eq!(
        resolved.backend_origin(),
        &BackendOrigin::CompanyInfo {
            url: format!("{}/newnaconf/acme/", emu.config_url())
        }
    );
    let fixed = Client::builder("acme")
        .config_url(emu.config_url())
        .backend(emu.backend())
        .build()
        .unwrap();
    let base = format!("http://{}", emu.backend());
    assert_eq!(
        fixed.backend_origin(),
        &BackendOrigin::Fixed { base: base.clone() }
    );
    assert_eq!(fixed.backend().await.unwrap(), base);

    let request = resolved.calls().identify("user 42").unwrap();
    let url = resolved.url_for(&request).await.unwrap();
    assert_eq!(url, format!("{base}/id/?c=acme&u=user%2042"));
    // The company information's own URL is on the config host.
    let info = resolved.calls().company_info();
    assert_eq!(
        resolved.url_for(&info).await.unwrap(),
        format!("{}/newnaconf/acme/", emu.config_url())
    );
    // The URL is where the request goes: the emulator answers it.
    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status(), 200);
}
