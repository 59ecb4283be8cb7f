//! Every client method against the emulator over HTTP: what arrives is exactly what was sent,
//! and nothing is rejected.

use std::time::Duration;

use gamooga_core::{
    Client, CustomEvent, Error, Event, EvwidMode, InvalidInput, Properties, Request, Timestamp,
    VisitorProperties,
};
use gamooga_emulator::{Emulator, RecordedProperty};

const TM: u64 = 1_764_150_000_000;

fn client(emu: &Emulator) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn purchase() -> CustomEvent {
    let props = Properties::new()
        .string("sku", "A&B c/é")
        .number("amount", 12.5)
        .expect("finite")
        .number("qty", 3)
        .expect("finite")
        .boolean("gift", true);
    CustomEvent::new("purchase", props).at(Timestamp::from_millis(TM).expect("tm"))
}

fn purchase_recorded() -> Vec<RecordedProperty> {
    vec![
        RecordedProperty::new("sku", "A&B c/é", 's'),
        RecordedProperty::new("amount", "12.5", 'n'),
        RecordedProperty::new("qty", "3", 'n'),
        RecordedProperty::new("gift", "true", 'b'),
    ]
}

#[tokio::test]
async fn track_sends_evwid_with_every_property() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    client.track("user 42+x", &purchase()).await.unwrap();

    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    let events = emu.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.endpoint, "evwid");
    assert_eq!(e.method, "GET");
    assert_eq!(e.company.as_deref(), Some("acme"));
    assert_eq!(e.user_id.as_deref(), Some("user 42+x"));
    assert_eq!(e.event.as_deref(), Some("purchase"));
    assert_eq!(e.event_properties, purchase_recorded());
    assert_eq!(e.tm, Some(TM));
    assert_eq!(emu.count("newnaconf"), 1);
}

#[tokio::test]
async fn track_goes_as_evwidj_past_the_get_limit_and_when_forced() {
    let emu = Emulator::start().await.unwrap();
    let small = Client::builder("acme")
        .config_url(emu.config_url())
        .get_limit(40)
        .build()
        .unwrap();
    small.track("u1", &purchase()).await.unwrap();
    let forced = Client::builder("acme")
        .config_url(emu.config_url())
        .evwid_mode(EvwidMode::Post)
        .build()
        .unwrap();
    forced.track("u2", &purchase()).await.unwrap();

    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    let events = emu.events();
    assert_eq!(events.len(), 2);
    for (e, user) in events.iter().zip(["u1", "u2"]) {
        assert_eq!(e.endpoint, "evwidj");
        assert_eq!(e.method, "POST");
        assert_eq!(e.user_id.as_deref(), Some(user));
        assert_eq!(e.event_properties, purchase_recorded());
        assert_eq!(e.tm, Some(TM));
    }
}

#[tokio::test]
async fn track_visitor_sends_ev() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    client
        .track_visitor("abcdef0123456789", &purchase())
        .await
        .unwrap();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    let events = emu.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].endpoint, "ev");
    assert_eq!(events[0].visitor_id.as_deref(), Some("abcdef0123456789"));
    assert_eq!(events[0].user_id, None);
    assert_eq!(events[0].event_properties, purchase_recorded());
    assert_eq!(events[0].tm, Some(TM));
}

#[tokio::test]
async fn track_with_sends_evvprwid_and_sets_the_visitor() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let visitor = Properties::new()
        .string("plan", "pro")
        .boolean("vip", false)
        .number("age", -7)
        .unwrap();
    client
        .track_with("user-7", &purchase(), &visitor)
        .await
        .unwrap();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    let events = emu.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.endpoint, "evvprwid");
    assert_eq!(e.user_id.as_deref(), Some("user-7"));
    assert_eq!(e.event_properties, purchase_recorded());
    let expected_visitor = vec![
        RecordedProperty::new("plan", "pro", 's'),
        RecordedProperty::new("vip", "false", 'b'),
        RecordedProperty::new("age", "-7", 'n'),
    ];
    assert_eq!(e.visitor_properties, expected_visitor);
    assert_eq!(e.tm, Some(TM));
    let vid = emu.visitor_of("user-7").expect("a visitor was created");
    assert_eq!(emu.visitor_properties(&vid), expected_visitor);
}

#[tokio::test]
async fn push_visitor_sends_vpr() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let props = Properties::new()
        .string("city", "東京")
        .number("score", 0.25)
        .unwrap();
    client
        .push_visitor("abcdef0123456789", &props)
        .await
        .unwrap();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    let calls: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.endpoint == "vpr")
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 200);
    let expected = vec![
        RecordedProperty::new("city", "東京", 's'),
        RecordedProperty::new("score", "0.25", 'n'),
    ];
    assert_eq!(calls[0].visitor_properties, expected);
    assert_eq!(emu.visitor_properties("abcdef0123456789"), expected);
}

#[tokio::test]
async fn identify_answers_the_emulators_visitor_and_link_maps() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let vid = client.identify("alice@example.com").await.unwrap();
    assert_eq!(vid.len(), 16);
    assert_eq!(emu.visitor_of("alice@example.com").as_deref(), Some(&*vid));
    // The same user gets the same visitor.
    assert_eq!(client.identify("alice@example.com").await.unwrap(), vid);

    client.link("bob", "zyxwvut987654321").await.unwrap();
    assert_eq!(emu.visitor_of("bob").as_deref(), Some("zyxwvut987654321"));
    assert_eq!(client.identify("bob").await.unwrap(), "zyxwvut987654321");

    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    assert_eq!(emu.count("id"), 4);
    let link = emu
        .calls()
        .into_iter()
        .find(|c| c.endpoint == "id" && c.user_id.as_deref() == Some("bob"))
        .unwrap();
    assert_eq!(link.visitor_id.as_deref(), Some("zyxwvut987654321"));
}

#[tokio::test]
async fn send_and_send_once_answer_the_body() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let request = client.calls().identify("carol").unwrap();
    let response = client.send(&request).await.unwrap();
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(json["result"], "success");
    assert_eq!(
        json["vid"].as_str(),
        emu.visitor_of("carol").as_deref(),
        "the body is the emulator's answer"
    );
    let again = client.send_once(&request).await.unwrap();
    assert_eq!(again.body(), response.body());
    // Company information can be sent too: it goes to the config host.
    let info = client.send(&client.calls().company_info()).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(info.body()).unwrap();
    assert_eq!(json["evbk"], emu.backend());
    assert!(emu.rejected().is_empty());
}

#[tokio::test]
async fn bad_input_fails_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let err = client.track("", &purchase()).await.unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InvalidInput::EmptyUserId)
    ));
    let err = client
        .push_visitor("abcdef0123456789", &Properties::new())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InvalidInput::NoProperties)
    ));
    let err = client.link("bob", "").await.unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InvalidInput::EmptyVisitorId)
    ));
    assert_eq!(emu.total_calls(), 0, "nothing reached the server");
}

#[tokio::test]
async fn fixed_backend_skips_resolution() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .backend(emu.backend())
        .build()
        .unwrap();
    client.track("u", &purchase()).await.unwrap();
    client
        .track_visitor("abcdef0123456789", &purchase())
        .await
        .unwrap();
    assert_eq!(emu.count("newnaconf"), 0);
    assert_eq!(emu.events().len(), 2);
    assert_eq!(
        client.backend().await.unwrap(),
        format!("http://{}", emu.backend())
    );
}

#[tokio::test]
async fn clones_share_the_resolved_backend() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let clone = client.clone();
    client.track("a", &purchase()).await.unwrap();
    clone.track("b", &purchase()).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.events().len(), 2);
}

/// Compile-time check: every future the client returns is `Send`, for generic events too,
/// so it can be awaited in a tokio/axum handler.
#[allow(dead_code)]
fn futures_are_send<E, P>(client: &Client, event: &E, visitor: &P, request: &Request)
where
    E: Event + ?Sized + Sync,
    P: VisitorProperties + ?Sized + Sync,
{
    fn is_send<T: Send>(_: T) {}
    is_send(client.send(request));
    is_send(client.send_once(request));
    is_send(client.track("u", event));
    is_send(client.track_visitor("v", event));
    is_send(client.track_with("u", event, visitor));
    is_send(client.push_visitor("v", visitor));
    is_send(client.identify("u"));
    is_send(client.link("u", "v"));
    is_send(client.backend());
}

#[tokio::test]
async fn calls_can_run_on_spawned_tasks() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let handle = tokio::spawn({
        let client = client.clone();
        async move { client.track("spawned", &purchase()).await }
    });
    handle.await.unwrap().unwrap();
    assert_eq!(emu.events()[0].user_id.as_deref(), Some("spawned"));
}
