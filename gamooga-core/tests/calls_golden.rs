//! Golden tests: the exact path, query and body of every call builder.

use gamooga_core::{
    Calls, CustomEvent, DataType, Endpoint, EvwidMode, InvalidInput, Method, Properties, Timestamp,
    Value,
};

const TM: u64 = 1_764_150_000_123;

fn at() -> Timestamp {
    Timestamp::from_millis(TM).unwrap()
}

fn calls() -> Calls {
    Calls::new("acme").unwrap()
}

fn purchase() -> CustomEvent {
    let props = Properties::new()
        .string("sku", "A&B")
        .number("amount", 12.5)
        .unwrap()
        .boolean("first_order", true);
    CustomEvent::new("purchase", props).at(at())
}

#[test]
fn company_info() {
    let r = calls().company_info();
    assert_eq!(r.endpoint(), Endpoint::CompanyInfo);
    assert_eq!(r.method(), Method::Get);
    assert_eq!(r.path_and_query(), "/newnaconf/acme/");
    let r = Calls::new("a/b%c").unwrap().company_info();
    assert_eq!(r.path(), "/newnaconf/a%2Fb%25c/");
}

#[test]
fn evwid() {
    let r = calls().track("user-42", &purchase()).unwrap();
    assert_eq!(r.endpoint(), Endpoint::Evwid);
    assert_eq!(r.method(), Method::Get);
    assert_eq!(r.body(), None);
    assert_eq!(
        r.path_and_query(),
        "/evwid/?c=acme&u=user-42&e=purchase&ky=sku&vl=A%26B&tp=s&ky=amount&vl=12.5&tp=n\
         &ky=first_order&vl=true&tp=b&tm=1764150000123"
    );
}

#[test]
fn evwid_reserved_characters_non_ascii_and_emoji() {
    let props = Properties::new()
        .string("& = + % # ? /", "& = + % # ? /")
        .string("naïve name", "日本語 🎉");
    let event = CustomEvent::new("a b+c", props).at(at());
    let r = calls().track("u&ser=1", &event).unwrap();
    assert_eq!(
        r.query(),
        "c=acme&u=u%26ser%3D1&e=a%20b%2Bc\
         &ky=%26%20%3D%20%2B%20%25%20%23%20%3F%20%2F&vl=%26%20%3D%20%2B%20%25%20%23%20%3F%20%2F&tp=s\
         &ky=na%C3%AFve%20name&vl=%E6%97%A5%E6%9C%AC%E8%AA%9E%20%F0%9F%8E%89&tp=s&tm=1764150000123"
    );
}

#[test]
fn numbers_are_plain_decimal() {
    let props = Properties::new()
        .number("i", -42i32)
        .unwrap()
        .number("u", u64::MAX)
        .unwrap()
        .number("f", 0.1f32)
        .unwrap()
        .number("big", 1e21)
        .unwrap()
        .number("small", 1.5e-7)
        .unwrap()
        .number("whole", 3.0)
        .unwrap();
    let r = calls()
        .track_visitor("v1", &CustomEvent::new("n", props).at(at()))
        .unwrap();
    assert_eq!(
        r.query(),
        "c=acme&v=v1&e=n&ky=i&vl=-42&tp=n&ky=u&vl=18446744073709551615&tp=n&ky=f&vl=0.1&tp=n\
         &ky=big&vl=1000000000000000000000&tp=n&ky=small&vl=0.00000015&tp=n&ky=whole&vl=3&tp=n\
         &tm=1764150000123"
    );
}

#[test]
fn ev() {
    let r = calls().track_visitor("vis 1", &purchase()).unwrap();
    assert_eq!(r.endpoint(), Endpoint::Ev);
    assert_eq!(
        r.path_and_query(),
        "/ev/?c=acme&v=vis%201&e=purchase&ky=sku&vl=A%26B&tp=s&ky=amount&vl=12.5&tp=n\
         &ky=first_order&vl=true&tp=b&tm=1764150000123"
    );
}

#[test]
fn evvprwid() {
    let visitor = Properties::new()
        .string("plan", "gold")
        .boolean("vip", false);
    let r = calls()
        .track_with("user-42", &purchase(), &visitor)
        .unwrap();
    assert_eq!(r.endpoint(), Endpoint::Evvprwid);
    assert_eq!(
        r.path_and_query(),
        "/evvprwid/?e=purchase&c=acme&u=user-42&eky=sku&evl=A%26B&etp=s&eky=amount&evl=12.5&etp=n\
         &eky=first_order&evl=true&etp=b&vky=plan&vvl=gold&vtp=s&vky=vip&vvl=false&vtp=b\
         &tm=1764150000123"
    );
}

#[test]
fn vpr() {
    let visitor = Properties::new()
        .string("plan", "gold")
        .number("age", 41u8)
        .unwrap();
    let r = calls().push_visitor("vis-1", &visitor).unwrap();
    assert_eq!(r.endpoint(), Endpoint::Vpr);
    assert_eq!(
        r.path_and_query(),
        "/vpr/?c=acme&v=vis-1&p=plan&vl=gold&tp=s&p=age&vl=41&tp=n"
    );
    assert_eq!(
        calls().push_visitor("vis-1", &Properties::new()),
        Err(InvalidInput::NoProperties)
    );
}

#[test]
fn id_identify_and_link() {
    let r = calls().identify("user@example.com").unwrap();
    assert_eq!(r.endpoint(), Endpoint::Id);
    assert_eq!(r.path_and_query(), "/id/?c=acme&u=user%40example.com");
    let r = calls().link("user-42", "0123456789abcdef").unwrap();
    assert_eq!(
        r.path_and_query(),
        "/id/?c=acme&u=user-42&v=0123456789abcdef"
    );
}

#[test]
fn evwidj_when_forced_or_past_the_limit() {
    let r = calls()
        .with_evwid_mode(EvwidMode::Post)
        .track("user-42", &purchase())
        .unwrap();
    assert_eq!(r.endpoint(), Endpoint::Evwidj);
    assert_eq!(r.method(), Method::Post);
    assert_eq!(
        r.path_and_query(),
        "/evwidj/?c=acme&u=user-42&e=purchase&tm=1764150000123"
    );
    assert_eq!(
        r.body(),
        Some(r#"{"sku":"A&B","amount":12.5,"first_order":true}"#)
    );

    // A very long value: past 2,000 bytes the same event goes as evwidj.
    let long = "é".repeat(400); // 2,400 bytes once encoded
    let event = CustomEvent::new("long", Properties::new().string("text", long.clone())).at(at());
    let r = calls().track("user-42", &event).unwrap();
    assert_eq!(r.endpoint(), Endpoint::Evwidj);
    let body: serde_json::Value = serde_json::from_str(r.body().unwrap()).unwrap();
    assert_eq!(body["text"], long.as_str());

    // Forced GET keeps it a GET however long.
    let r = calls()
        .with_evwid_mode(EvwidMode::Get)
        .track("user-42", &event)
        .unwrap();
    assert_eq!(r.endpoint(), Endpoint::Evwid);
    assert!(r.path_and_query().len() > 2000);
}

#[test]
fn the_switch_happens_exactly_past_the_limit() {
    let event = purchase();
    let get = calls()
        .with_evwid_mode(EvwidMode::Get)
        .track("user-42", &event)
        .unwrap();
    let len = get.path_and_query().len();
    let at_limit = calls()
        .with_get_limit(len)
        .track("user-42", &event)
        .unwrap();
    assert_eq!(
        at_limit.endpoint(),
        Endpoint::Evwid,
        "exactly at the limit stays GET"
    );
    let below = calls()
        .with_get_limit(len - 1)
        .track("user-42", &event)
        .unwrap();
    assert_eq!(
        below.endpoint(),
        Endpoint::Evwidj,
        "one byte over switches to POST"
    );
}

#[test]
fn text_with_explicit_datatype() {
    let mut props = Properties::new();
    props
        .push(
            "n",
            Value::Text("12345678901234567890".into(), DataType::Number),
        )
        .unwrap();
    props
        .push("b", Value::Text("true".into(), DataType::Boolean))
        .unwrap();
    let event = CustomEvent::new("t", props).at(at());
    let r = calls().track("u", &event).unwrap();
    assert_eq!(
        r.query(),
        "c=acme&u=u&e=t&ky=n&vl=12345678901234567890&tp=n&ky=b&vl=true&tp=b&tm=1764150000123"
    );
    let r = calls()
        .with_evwid_mode(EvwidMode::Post)
        .track("u", &event)
        .unwrap();
    assert_eq!(r.body(), Some(r#"{"n":12345678901234567890,"b":true}"#));
    let mut bad = Properties::new();
    assert!(matches!(
        bad.push("n", Value::Text("12abc".into(), DataType::Number)),
        Err(InvalidInput::ValueDoesNotMatchType { .. })
    ));
}

#[test]
fn bad_input_is_refused_at_the_call_site() {
    let c = calls();
    let ev = purchase();
    assert_eq!(Calls::new("").unwrap_err(), InvalidInput::EmptyCompanyId);
    assert_eq!(c.track("", &ev).unwrap_err(), InvalidInput::EmptyUserId);
    assert_eq!(
        c.track_visitor("", &ev).unwrap_err(),
        InvalidInput::EmptyVisitorId
    );
    assert_eq!(c.identify("").unwrap_err(), InvalidInput::EmptyUserId);
    assert_eq!(c.link("u", "").unwrap_err(), InvalidInput::EmptyVisitorId);
    let unnamed = CustomEvent::new("", Properties::new());
    assert_eq!(
        c.track("u", &unnamed).unwrap_err(),
        InvalidInput::EmptyEventName
    );
    let empty_key = CustomEvent::new("e", Properties::new().string("", "x"));
    assert_eq!(
        c.track("u", &empty_key).unwrap_err(),
        InvalidInput::EmptyPropertyName
    );
    assert!(matches!(
        Properties::new().number("x", f64::NAN),
        Err(InvalidInput::NonFiniteNumber { .. })
    ));
    assert!(matches!(
        Properties::new().number("x", f64::NEG_INFINITY),
        Err(InvalidInput::NonFiniteNumber { .. })
    ));
    let dup = CustomEvent::new("e", Properties::new().string("k", "1").string("k", "2"));
    assert!(matches!(
        c.clone().with_evwid_mode(EvwidMode::Post).track("u", &dup),
        Err(InvalidInput::DuplicateProperty { .. })
    ));
}

#[test]
fn tm_is_stamped_at_build_time_when_the_event_has_none() {
    let before = Timestamp::now().as_millis();
    let r = calls()
        .track("u", &CustomEvent::new("e", Properties::new()))
        .unwrap();
    let after = Timestamp::now().as_millis();
    let tm: u64 = r.query().rsplit_once("&tm=").unwrap().1.parse().unwrap();
    assert!(before <= tm && tm <= after, "{before} <= {tm} <= {after}");
}
