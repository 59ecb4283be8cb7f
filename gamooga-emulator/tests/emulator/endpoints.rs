//! Every endpoint, accepted.

use gamooga_emulator::{Emulator, RecordedProperty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{client, get, post_json, send};

fn p(name: &str, value: &str, datatype: char) -> RecordedProperty {
    RecordedProperty::new(name, value, datatype)
}

#[tokio::test]
async fn newnaconf_answers_its_own_backend_with_unrelated_keys() {
    let emu = Emulator::start().await.unwrap();
    let (status, body) = send(client().get(format!("{}/newnaconf/acme/", emu.config_url()))).await;
    assert_eq!(status, 200);
    let conf: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(conf["evbk"], emu.backend());
    assert_eq!(emu.backend(), format!("127.0.0.1:{}", emu.addr().port()));
    assert!(conf.as_object().unwrap().len() > 1, "{body}");
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.calls()[0].company.as_deref(), Some("acme"));
}

#[tokio::test]
async fn newnaconf_knows_only_configured_companies() {
    let emu = Emulator::builder()
        .companies(["acme"])
        .start()
        .await
        .unwrap();
    let (ok, _) = send(client().get(format!("{}/newnaconf/acme/", emu.config_url()))).await;
    assert_eq!(ok, 200);
    let (status, body) = send(client().get(format!("{}/newnaconf/other/", emu.config_url()))).await;
    assert_eq!(status, 404);
    assert!(body.contains("unknown company 'other'"), "{body}");
    assert_eq!(emu.count("newnaconf"), 2);
    // Backend calls for an unknown company are refused too.
    let (status, _) = get(&emu, "/evwid/?c=other&u=x&e=buy").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn evwid_records_typed_properties_in_order() {
    let emu = Emulator::start().await.unwrap();
    let (status, body) = get(
        &emu,
        "/evwid/?c=acme&u=user-42&e=purchase&ky=amount&vl=12.5&tp=n&ky=sku&vl=A%26B%2B%20c&tp=s\
         &ky=vip&vl=true&tp=b&tm=1700000000123",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"result":"success"}"#));
    let events = emu.events();
    assert_eq!(events.len(), 1);
    let call = &events[0];
    assert_eq!(call.endpoint, "evwid");
    assert_eq!(call.method, "GET");
    assert_eq!(call.company.as_deref(), Some("acme"));
    assert_eq!(call.user_id.as_deref(), Some("user-42"));
    assert_eq!(call.event.as_deref(), Some("purchase"));
    assert_eq!(
        call.event_properties,
        vec![
            p("amount", "12.5", 'n'),
            p("sku", "A&B+ c", 's'),
            p("vip", "true", 'b')
        ]
    );
    assert_eq!(
        call.event_property("amount").and_then(|p| p.as_f64()),
        Some(12.5)
    );
    assert_eq!(
        call.event_property("vip").and_then(|p| p.as_bool()),
        Some(true)
    );
    assert_eq!(call.tm, Some(1_700_000_000_123));
    assert!(call
        .raw_query
        .starts_with("c=acme&u=user-42&e=purchase&ky=amount"));
    // The user got a visitor, and the call says which.
    assert_eq!(call.visitor_id, emu.visitor_of("user-42"));
    assert!(call.visitor_id.is_some());
}

#[tokio::test]
async fn a_raw_plus_decodes_as_a_space() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = get(&emu, "/evwid/?c=acme&u=a+b&e=buy&ky=k&vl=1+2&tp=s").await;
    assert_eq!(status, 200);
    let call = &emu.events()[0];
    assert_eq!(call.user_id.as_deref(), Some("a b"));
    assert_eq!(call.event_properties, vec![p("k", "1 2", 's')]);
}

#[tokio::test]
async fn evwid_without_tm_or_properties_is_accepted() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = get(&emu, "/evwid/?c=acme&u=u1&e=login").await;
    assert_eq!(status, 200);
    assert_eq!(emu.events()[0].tm, None);
    assert!(emu.events()[0].event_properties.is_empty());
}

#[tokio::test]
async fn single_parameters_may_come_in_any_order() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = get(
        &emu,
        "/evwid/?tm=1700000000000&e=buy&ky=a&vl=1&tp=n&u=u1&c=acme",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(emu.events()[0].event_properties, vec![p("a", "1", 'n')]);
}

#[tokio::test]
async fn evwidj_takes_datatypes_from_json_types() {
    let emu = Emulator::start().await.unwrap();
    let body = r#"{"sku":"A&B","amount":12.5,"qty":3,"vip":false,"neg":-1e3}"#;
    let (status, _) = post_json(
        &emu,
        "/evwidj/?c=acme&u=u1&e=purchase&tm=1700000000000",
        body,
    )
    .await;
    assert_eq!(status, 200);
    let call = &emu.events()[0];
    assert_eq!(call.endpoint, "evwidj");
    assert_eq!(call.method, "POST");
    assert_eq!(call.body.as_deref(), Some(body));
    assert_eq!(
        call.event_properties,
        vec![
            p("sku", "A&B", 's'),
            p("amount", "12.5", 'n'),
            p("qty", "3", 'n'),
            p("vip", "false", 'b'),
            p("neg", "-1000.0", 'n'),
        ]
    );
    assert_eq!(call.tm, Some(1_700_000_000_000));
}

#[tokio::test]
async fn evwidj_accepts_a_charset_and_an_empty_object() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = send(
        client()
            .post(format!(
                "http://{}/evwidj/?c=acme&u=u1&e=ping",
                emu.backend()
            ))
            .header("content-type", "application/json; charset=utf-8")
            .body("{}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(emu.events()[0].event_properties.is_empty());
}

#[tokio::test]
async fn ev_records_the_visitor_id() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = get(
        &emu,
        "/ev/?c=acme&v=abcdefgh12345678&e=view&ky=page&vl=%2Fhome&tp=s",
    )
    .await;
    assert_eq!(status, 200);
    let call = &emu.events()[0];
    assert_eq!(call.endpoint, "ev");
    assert_eq!(call.visitor_id.as_deref(), Some("abcdefgh12345678"));
    assert_eq!(call.user_id, None);
    assert_eq!(call.event_properties, vec![p("page", "/home", 's')]);
}

#[tokio::test]
async fn evvprwid_records_both_kinds_and_sets_visitor_properties() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = get(
        &emu,
        "/evvprwid/?e=signup&c=acme&u=u7&eky=plan&evl=gold&etp=s&vky=age&vvl=41&vtp=n\
         &vky=vip&vvl=true&vtp=b&tm=1700000000000",
    )
    .await;
    assert_eq!(status, 200);
    let call = &emu.events()[0];
    assert_eq!(call.event_properties, vec![p("plan", "gold", 's')]);
    assert_eq!(
        call.visitor_properties,
        vec![p("age", "41", 'n'), p("vip", "true", 'b')]
    );
    let visitor = emu.visitor_of("u7").expect("u7 has a visitor");
    assert_eq!(call.visitor_id.as_deref(), Some(visitor.as_str()));
    assert_eq!(
        emu.visitor_properties(&visitor),
        vec![p("age", "41", 'n'), p("vip", "true", 'b')]
    );
}

#[tokio::test]
async fn vpr_sets_visitor_properties_last_write_wins() {
    let emu = Emulator::start().await.unwrap();
    let (s1, _) = get(
        &emu,
        "/vpr/?c=acme&v=v1&p=city&vl=Tokyo&tp=s&p=score&vl=1&tp=n",
    )
    .await;
    let (s2, _) = get(
        &emu,
        "/vpr/?c=acme&v=v1&p=score&vl=2.5&tp=n&p=vip&vl=false&tp=b",
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(
        emu.visitor_properties("v1"),
        vec![
            p("city", "Tokyo", 's'),
            p("score", "2.5", 'n'),
            p("vip", "false", 'b')
        ]
    );
    assert_eq!(emu.count("vpr"), 2);
    assert!(emu.events().is_empty(), "vpr is not an event");
    assert!(emu.visitor_properties("nobody").is_empty());
}

#[tokio::test]
async fn id_creates_then_returns_the_same_visitor() {
    let emu = Emulator::start().await.unwrap();
    let (status, body) = get(&emu, "/id/?c=acme&u=user-1").await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["result"], "success");
    let vid = answer["vid"].as_str().unwrap().to_owned();
    assert_eq!(vid.len(), 16);
    assert!(
        vid.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{vid}"
    );
    let (_, again) = get(&emu, "/id/?c=acme&u=user-1").await;
    assert!(again.contains(&vid), "{again}");
    let (_, other) = get(&emu, "/id/?c=acme&u=user-2").await;
    assert!(!other.contains(&vid), "{other}");
    assert_eq!(emu.visitor_of("user-1"), Some(vid.clone()));
    assert_eq!(emu.calls()[0].visitor_id, Some(vid));
}

#[tokio::test]
async fn id_with_a_visitor_maps_the_user_to_it() {
    let emu = Emulator::start().await.unwrap();
    let (status, body) = get(&emu, "/id/?c=acme&u=user-9&v=0123456789abcdef").await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"result":"success","vid":"0123456789abcdef"}"#);
    assert_eq!(
        emu.visitor_of("user-9").as_deref(),
        Some("0123456789abcdef")
    );
    // Events by that user now land on that visitor.
    get(&emu, "/evvprwid/?e=x&c=acme&u=user-9&vky=k&vvl=v&vtp=s").await;
    assert_eq!(
        emu.visitor_properties("0123456789abcdef"),
        vec![p("k", "v", 's')]
    );
}

#[tokio::test]
async fn visitor_ids_follow_the_seed() {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let emu = Emulator::builder().seed(42).start().await.unwrap();
        let (_, body) = get(&emu, "/id/?c=acme&u=someone").await;
        ids.push(body);
    }
    let other = Emulator::builder().seed(43).start().await.unwrap();
    let (_, body) = get(&other, "/id/?c=acme&u=someone").await;
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], body);
}

#[tokio::test]
async fn keeps_connections_alive() {
    let emu = Emulator::start().await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let request = "GET /evwid/?c=acme&u=u1&e=a HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut answers = String::new();
    for i in 1..=2 {
        stream.write_all(request.as_bytes()).await.unwrap();
        while answers.matches(r#"{"result":"success"}"#).count() < i {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection was closed after {answers}");
            answers.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    assert_eq!(answers.matches("HTTP/1.1 200").count(), 2, "{answers}");
    assert_eq!(emu.count("evwid"), 2);
}
