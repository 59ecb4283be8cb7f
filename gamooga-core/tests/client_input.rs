//! Input checked at the edge: company, user and visitor ids, the config URL, and errors that
//! name the call and the host. (Attempt counts: `client_attempts.rs`.)

use std::sync::Arc;
use std::time::Duration;

use gamooga_core::queue::{EnqueueError, QueueConfig};
use gamooga_core::transport::DryRunTransport;
use gamooga_core::{
    Calls, Client, CustomEvent, Endpoint, Error, InvalidInput, Properties, RetryPolicy,
};
use gamooga_emulator::Emulator;

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new().string("method", "sso"))
}

fn props() -> Properties {
    Properties::new().string("city", "Tokyo")
}

#[test]
fn company_ids_with_whitespace_or_control_characters_are_refused() {
    for (id, what) in [
        ("ac me", "whitespace"),
        (" acme", "whitespace"),
        ("acme ", "whitespace"),
        ("ac\u{a0}me", "whitespace"),
        ("acme\n", "a control character"),
        ("ac\tme", "a control character"),
        ("ac\u{7f}me", "a control character"),
    ] {
        let expected = InvalidInput::InvalidCompanyId {
            company_id: id.to_owned(),
            what,
        };
        assert_eq!(Calls::new(id).unwrap_err(), expected, "{id:?}");
        match Client::builder(id).build() {
            Err(Error::InvalidInput(e)) => {
                assert_eq!(e, expected, "{id:?}");
                assert!(e.to_string().contains(what), "{e}");
            }
            other => panic!("{id:?}: {other:?}"),
        }
    }
    assert!(Calls::new("acme-2_x.y").is_ok());
}

#[tokio::test]
async fn ids_with_control_characters_are_refused_at_the_call_site() {
    let dry = Arc::new(DryRunTransport::new());
    let client = Client::builder("acme")
        .transport(dry.clone())
        .build()
        .unwrap();
    let user_err = |r: Result<(), Error>| match r {
        Err(Error::InvalidInput(InvalidInput::InvalidUserId { position })) => position,
        other => panic!("{other:?}"),
    };
    let visitor_err = |r: Result<(), Error>| match r {
        Err(Error::InvalidInput(InvalidInput::InvalidVisitorId { position })) => position,
        other => panic!("{other:?}"),
    };
    assert_eq!(user_err(client.track("user\n42", &event()).await), 4);
    assert_eq!(
        user_err(client.track_with("\ruser", &event(), &props()).await),
        0
    );
    assert_eq!(user_err(client.identify("us\0er").await.map(drop)), 2);
    assert_eq!(
        user_err(client.link("é\u{85}", "0123456789abcdef").await),
        2
    );
    assert_eq!(
        visitor_err(client.track_visitor("vid\t", &event()).await),
        3
    );
    assert_eq!(
        visitor_err(client.push_visitor("v\u{1b}[31m", &props()).await),
        1
    );
    assert_eq!(visitor_err(client.link("user-42", "v\nv").await), 1);
    assert!(dry.requests().is_empty(), "nothing was sent");

    // Spaces and non-ASCII letters are fine: only control characters are refused.
    client.track("user 42 ñ", &event()).await.unwrap();
    client.track_visitor("ab cd", &event()).await.unwrap();

    // The queue refuses them at enqueue, without the id in the message.
    let queue = client.queue(QueueConfig::default()).unwrap();
    match queue.try_track("user\n42", &event()) {
        Err(EnqueueError::Invalid(InvalidInput::InvalidUserId { position: 4 })) => {}
        other => panic!("{other:?}"),
    }
    queue.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn the_config_url_is_scheme_host_and_port_only() {
    let refused = |url: &str| match Client::builder("acme").config_url(url).build() {
        Err(Error::Config(message)) => message,
        other => panic!("{url}: {other:?}"),
    };
    let message = refused("http://127.0.0.1:8686/newnaconf/acme/");
    assert!(
        message.contains("path `/newnaconf/acme/`") && message.contains("scheme, host and port"),
        "{message}"
    );
    assert!(refused("https://cdn.example.com/v1").contains("path `/v1`"));
    assert!(refused("https://cdn.example.com/?company=acme").contains("query"));
    for schemeless in [
        "127.0.0.1:8686",
        "localhost:8686",
        "cdn-jp.gsecondscreen.com",
    ] {
        let message = refused(schemeless);
        assert!(
            message.contains("add http:// or https://"),
            "{schemeless}: {message}"
        );
    }
    for fine in [
        "http://127.0.0.1:8686",
        "http://127.0.0.1:8686/",
        "https://cdn-jp.gsecondscreen.com",
    ] {
        Client::builder("acme").config_url(fine).build().unwrap();
    }
}

async fn refused_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn network_errors_name_the_call_and_the_host_not_the_query() {
    // The configuration host is down: the resolution error names newnaconf and that host.
    let port = refused_port().await;
    let client = Client::builder("acme")
        .config_url(format!("http://127.0.0.1:{port}"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.identify("secret-user").await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("newnaconf at 127.0.0.1:{port}")),
        "{message}"
    );
    assert_eq!(err.call(), Some(Endpoint::CompanyInfo));
    assert!(
        matches!(err.cause(), Some(Error::Connection { .. })),
        "{err:?}"
    );

    // The backend answers an error: the call and the backend's host, no query.
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    for (call, run) in [
        (Endpoint::Evwid, 0),
        (Endpoint::Id, 1),
        (Endpoint::Vpr, 2),
        (Endpoint::Ev, 3),
    ] {
        emu.fail_next(1, 503);
        let result = match run {
            0 => client.track("secret-user", &event()).await,
            1 => client.identify("secret-user").await.map(drop),
            2 => client.push_visitor("secret-visitor", &props()).await,
            _ => client.track_visitor("secret-visitor", &event()).await,
        };
        let err = result.unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("{call} at {}", emu.backend())),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
        assert!(!message.contains("c=acme"), "{message}");
    }
}
