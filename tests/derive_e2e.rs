//! End to end: derived events and visitor properties sent with the one-line methods to the
//! local emulator over HTTP, checked against what the emulator recorded.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gamooga::prelude::*;
use gamooga::Client;
use gamooga_emulator::{Emulator, RecordedCall, RecordedProperty};

const TM: u64 = 1_764_150_000_000;

#[derive(GamoogaValue, Debug, Clone, Copy)]
#[gamooga(rename_all = "snake_case")]
enum Plan {
    Free,
    ProMonthly,
}

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
    first_order: bool,
    #[gamooga(rename = "coupon_code")]
    coupon: Option<String>,
    plan: Plan,
    #[gamooga(timestamp)]
    at: SystemTime,
    #[gamooga(skip)]
    request_id: uuid::Uuid,
}

fn purchase(coupon: Option<&str>) -> Purchase<'static> {
    Purchase {
        sku: "A&B c/é",
        amount: 12.5,
        first_order: true,
        coupon: coupon.map(str::to_owned),
        plan: Plan::ProMonthly,
        at: UNIX_EPOCH + Duration::from_millis(TM),
        request_id: uuid::Uuid::from_u128(42),
    }
}

#[derive(VisitorProps)]
struct Address {
    city: String,
    zip: Option<String>,
}

#[derive(VisitorProps)]
#[gamooga(rename_all = "camelCase")]
struct Profile {
    full_name: String,
    vip: bool,
    plan: Plan,
    #[gamooga(tp = "s")]
    account: uuid::Uuid,
    #[gamooga(flatten)]
    address: Address,
}

fn profile() -> Profile {
    Profile {
        full_name: "Ann Lee".into(),
        vip: true,
        plan: Plan::Free,
        account: uuid::Uuid::from_u128(7),
        address: Address {
            city: "Tokyo".into(),
            zip: None,
        },
    }
}

fn prop(name: &str, value: &str, datatype: char) -> RecordedProperty {
    RecordedProperty::new(name, value, datatype)
}

fn client(emu: &Emulator) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn only_event(emu: &Emulator) -> RecordedCall {
    assert!(emu.rejected().is_empty(), "rejected: {:?}", emu.rejected());
    let mut events = emu.events();
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

#[tokio::test]
async fn track_sends_evwid_with_struct_time_as_tm_and_leaves_none_out() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let event = purchase(None);
    assert_eq!(event.request_id.as_u128(), 42);
    event.track(&client, "user-42").await.unwrap();

    let e = only_event(&emu);
    assert_eq!(e.endpoint, "evwid");
    assert_eq!(e.method, "GET");
    assert_eq!(e.user_id.as_deref(), Some("user-42"));
    assert_eq!(e.event.as_deref(), Some("purchase"));
    assert_eq!(e.tm, Some(TM), "the struct's time arrives as tm");
    assert_eq!(
        e.event_properties,
        vec![
            prop("sku", "A&B c/é", 's'),
            prop("amount", "12.5", 'n'),
            prop("first_order", "true", 'b'),
            prop("plan", "pro_monthly", 's'),
        ]
    );
}

#[tokio::test]
async fn renamed_optional_field_arrives_under_its_key_when_set() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    purchase(Some("WELCOME"))
        .track(&client, "user-42")
        .await
        .unwrap();
    let e = only_event(&emu);
    assert_eq!(
        e.event_property("coupon_code"),
        Some(&prop("coupon_code", "WELCOME", 's'))
    );
    assert_eq!(e.event_property("coupon"), None);
}

#[tokio::test]
async fn track_visitor_sends_ev_and_push_sends_vpr() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let visitor_id = client.identify("user-42").await.unwrap();

    purchase(None)
        .track_visitor(&client, &visitor_id)
        .await
        .unwrap();
    let e = only_event(&emu);
    assert_eq!(e.endpoint, "ev");
    assert_eq!(e.visitor_id.as_deref(), Some(visitor_id.as_str()));
    assert_eq!(e.tm, Some(TM));
    assert_eq!(e.event_properties.len(), 4);

    profile().push(&client, &visitor_id).await.unwrap();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    assert_eq!(emu.count("vpr"), 1);
    assert_eq!(emu.visitor_properties(&visitor_id), profile_props());
}

/// What `profile()` sends, in order, as the emulator records it.
fn profile_props() -> Vec<RecordedProperty> {
    vec![
        prop("fullName", "Ann Lee", 's'),
        prop("vip", "true", 'b'),
        prop("plan", "free", 's'),
        prop("account", "00000000-0000-0000-0000-000000000007", 's'),
        prop("city", "Tokyo", 's'),
    ]
}

#[tokio::test]
async fn track_with_sends_evvprwid_with_flattened_visitor_properties() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let mut profile = profile();
    profile.address.zip = Some("100-0001".into());
    purchase(None)
        .track_with(&client, "user-42", &profile)
        .await
        .unwrap();
    let e = only_event(&emu);
    assert_eq!(e.endpoint, "evvprwid");
    assert_eq!(e.user_id.as_deref(), Some("user-42"));
    assert_eq!(e.tm, Some(TM));
    assert_eq!(e.event_properties.len(), 4);
    let mut expected = profile_props();
    expected.push(prop("zip", "100-0001", 's'));
    assert_eq!(e.visitor_properties, expected);
}

#[derive(GamoogaEvent)]
struct ReviewPosted {
    body: String,
    stars: u8,
    verified: bool,
    #[gamooga(timestamp)]
    at: u64,
}

#[tokio::test]
async fn a_long_event_switches_to_evwidj_post() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let body = "a long review & more ".repeat(150);
    let review = ReviewPosted {
        body: body.clone(),
        stars: 5,
        verified: false,
        at: TM,
    };
    review.track(&client, "user-42").await.unwrap();
    let e = only_event(&emu);
    assert_eq!(e.endpoint, "evwidj");
    assert_eq!(e.method, "POST");
    assert_eq!(e.event.as_deref(), Some("review_posted"));
    assert_eq!(e.tm, Some(TM));
    assert_eq!(
        e.event_properties,
        vec![
            prop("body", &body, 's'),
            prop("stars", "5", 'n'),
            prop("verified", "false", 'b'),
        ]
    );

    // The same struct, short, goes as GET.
    let short = ReviewPosted {
        body: "ok".into(),
        ..review
    };
    short.track(&client, "user-42").await.unwrap();
    assert_eq!(emu.events()[1].endpoint, "evwid");
}

#[tokio::test]
async fn the_exported_schema_matches_what_the_emulator_recorded() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    purchase(Some("X")).track(&client, "user-42").await.unwrap();
    let profile = profile();
    let visitor_id = client.identify("user-42").await.unwrap();
    profile.push(&client, &visitor_id).await.unwrap();

    let plan: serde_json::Value = serde_json::from_str(
        &TrackingPlan::new()
            .event::<Purchase>()
            .visitor::<Profile>()
            .to_json(),
    )
    .unwrap();
    let schema_props = |v: &serde_json::Value| -> Vec<(String, char)> {
        v["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let dt = p["datatype"].as_str().unwrap().chars().next().unwrap();
                (p["name"].as_str().unwrap().to_owned(), dt)
            })
            .collect()
    };
    let recorded = |props: &[RecordedProperty]| -> Vec<(String, char)> {
        props.iter().map(|p| (p.name.clone(), p.datatype)).collect()
    };

    let event = only_event(&emu);
    assert_eq!(plan["events"][0]["name"], event.event.clone().unwrap());
    assert_eq!(
        schema_props(&plan["events"][0]),
        recorded(&event.event_properties),
        "every property sent is in the schema, with the datatype it arrived with"
    );
    // The schema lists the optional zip too; what arrived is the schema without it.
    let mut expected = schema_props(&plan["visitor_properties"][0]);
    assert_eq!(expected.pop(), Some(("zip".to_owned(), 's')));
    assert_eq!(expected, recorded(&emu.visitor_properties(&visitor_id)));
}

#[tokio::test]
async fn one_liner_futures_are_send() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let task = tokio::spawn({
        let client = client.clone();
        async move {
            purchase(None).track(&client, "user-1").await?;
            purchase(None)
                .track_with(&client, "user-1", &profile())
                .await?;
            profile().push(&client, "0123456789abcdef").await
        }
    });
    task.await.unwrap().unwrap();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    assert_eq!(emu.events().len(), 2);
    assert_eq!(emu.count("vpr"), 1);
}
