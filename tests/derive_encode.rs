//! What the derives write, checked without a server: into a `Properties` list, into the call
//! builders, and the `const SCHEMA` they generate.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gamooga::prelude::*;
use gamooga::schema::PropertySchema;
use gamooga::{
    Calls, DataType, Endpoint, Event, EvwidMode, InvalidInput, Method, Properties, PropertyValue,
    Timestamp, Value, VisitorProperties,
};

const TM: u64 = 1_764_150_000_123;

#[derive(GamoogaValue, Debug, Clone, Copy, PartialEq)]
#[gamooga(rename_all = "snake_case")]
enum Plan {
    Free,
    ProMonthly,
    #[gamooga(rename = "ENT")]
    Enterprise,
}

#[derive(GamoogaValue)]
enum Raw {
    AsWritten,
}

#[derive(GamoogaEvent)]
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
    request_id: u128,
}

fn purchase(coupon: Option<&str>) -> Purchase<'static> {
    Purchase {
        sku: "A&B",
        amount: 12.5,
        first_order: true,
        coupon: coupon.map(str::to_owned),
        plan: Plan::ProMonthly,
        at: UNIX_EPOCH + Duration::from_millis(TM),
        request_id: 99,
    }
}

fn written<E: Event>(event: &E) -> Vec<(String, Value<'static>)> {
    let mut props = Properties::new();
    event.write_properties(&mut props).unwrap();
    props
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect()
}

fn s(v: &str) -> Value<'static> {
    Value::String(Cow::Owned(v.to_owned()))
}

#[test]
fn event_name_defaults_to_snake_case_struct_name_and_timestamp_is_tm() {
    let p = purchase(None);
    assert_eq!(p.name(), "purchase");
    assert_eq!(
        p.timestamp().unwrap().map(Timestamp::as_millis),
        Some(TM),
        "the struct's time becomes tm"
    );
    assert_eq!(p.request_id, 99);
}

#[test]
fn fields_are_written_in_order_with_their_datatypes_and_none_is_left_out() {
    let without = written(&purchase(None));
    assert_eq!(
        without,
        vec![
            ("sku".into(), s("A&B")),
            ("amount".into(), Value::Number(12.5.into())),
            ("first_order".into(), Value::Bool(true)),
            ("plan".into(), s("pro_monthly")),
        ]
    );
    let with = written(&purchase(Some("WELCOME")));
    assert_eq!(with[3], ("coupon_code".into(), s("WELCOME")));
    assert_eq!(with.len(), 5);
}

#[test]
fn exact_wire_form_of_a_derived_event() {
    let calls = Calls::new("acme").unwrap();
    let r = calls.track("user-42", &purchase(Some("X1"))).unwrap();
    assert_eq!(r.endpoint(), Endpoint::Evwid);
    assert_eq!(
        r.path_and_query(),
        "/evwid/?c=acme&u=user-42&e=purchase&ky=sku&vl=A%26B&tp=s&ky=amount&vl=12.5&tp=n\
         &ky=first_order&vl=true&tp=b&ky=coupon_code&vl=X1&tp=s&ky=plan&vl=pro_monthly&tp=s\
         &tm=1764150000123"
    );
    // Forced POST: the same properties as a JSON body with JSON types.
    let r = calls
        .clone()
        .with_evwid_mode(EvwidMode::Post)
        .track("user-42", &purchase(None))
        .unwrap();
    assert_eq!(r.method(), Method::Post);
    let body: serde_json::Value = serde_json::from_str(r.body().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"sku": "A&B", "amount": 12.5, "first_order": true, "plan": "pro_monthly"})
    );
}

#[test]
fn gamooga_value_enums_are_strings() {
    assert_eq!(<Plan as PropertyValue>::DATATYPE, Some(DataType::String));
    assert_eq!(Plan::Free.to_value(), Some(s("free")));
    assert_eq!(Plan::Enterprise.to_value(), Some(s("ENT")));
    assert_eq!(Raw::AsWritten.to_value(), Some(s("AsWritten")));
    assert_eq!(Some(Plan::Free).to_value(), Some(s("free")));
}

#[derive(GamoogaEvent)]
#[gamooga(rename_all = "SCREAMING-KEBAB-CASE")]
struct AllTypes<'a> {
    a_string: String,
    a_str: &'a str,
    a_cow: Cow<'a, str>,
    a_char: char,
    a_box: Box<str>,
    an_arc: Arc<str>,
    an_i8: i8,
    a_u64: u64,
    an_i128: i128,
    a_usize: usize,
    a_nonzero: NonZeroU32,
    an_f32: f32,
    a_bool: bool,
    an_option: Option<Option<u8>>,
    #[gamooga(rename = "r#type")]
    r#type: &'a str,
}

#[test]
fn every_accepted_type_and_rename_all() {
    let e = AllTypes {
        a_string: "s".into(),
        a_str: "t",
        a_cow: Cow::Borrowed("c"),
        a_char: 'é',
        a_box: "b".into(),
        an_arc: "a".into(),
        an_i8: -8,
        a_u64: u64::MAX,
        an_i128: i128::MIN,
        a_usize: 3,
        a_nonzero: NonZeroU32::new(5).unwrap(),
        an_f32: 0.1,
        a_bool: false,
        an_option: Some(None),
        r#type: "raw",
    };
    assert_eq!(e.name(), "all_types");
    let r = Calls::new("acme").unwrap().track("u", &e).unwrap();
    let q = r.query();
    for part in [
        "ky=A-STRING&vl=s&tp=s",
        "ky=A-CHAR&vl=%C3%A9&tp=s",
        "ky=AN-I8&vl=-8&tp=n",
        "ky=A-U64&vl=18446744073709551615&tp=n",
        "ky=AN-I128&vl=-170141183460469231731687303715884105728&tp=n",
        "ky=A-NONZERO&vl=5&tp=n",
        "ky=AN-F32&vl=0.1&tp=n",
        "ky=A-BOOL&vl=false&tp=b",
        "ky=r%23type&vl=raw&tp=s",
    ] {
        assert!(q.contains(part), "{part} missing from {q}");
    }
    assert!(!q.contains("AN-OPTION"), "Some(None) is left out: {q}");
    let schema = <AllTypes as HasEventSchema>::SCHEMA;
    let opt = schema.properties().find(|p| p.name == "AN-OPTION").unwrap();
    assert_eq!(
        *opt,
        PropertySchema {
            name: "AN-OPTION",
            datatype: Some(DataType::Number),
            optional: true
        }
    );
}

struct OrderId(u32);
impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ORD-{}", self.0)
    }
}

struct Score(&'static str);
impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

fn cents(v: &i64) -> f64 {
    *v as f64 / 100.0
}

fn first_tag(v: &[String]) -> Option<&str> {
    v.first().map(String::as_str)
}

fn display<T: std::fmt::Display>(v: &T) -> String {
    v.to_string()
}

#[derive(GamoogaEvent)]
#[gamooga(name = "hatches")]
struct Hatches {
    #[gamooga(tp = "s")]
    order: OrderId,
    #[gamooga(tp = "n")]
    score: Score,
    #[gamooga(tp = "b")]
    flag: Option<Score>,
    #[gamooga(with = cents)]
    amount: i64,
    #[gamooga(with = first_tag)]
    tags: Vec<String>,
    #[gamooga(with = "display")]
    shown: OrderId,
}

fn hatches(score: &'static str, tags: &[&str]) -> Hatches {
    Hatches {
        order: OrderId(7),
        score: Score(score),
        flag: Some(Score("true")),
        amount: 1250,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        shown: OrderId(8),
    }
}

#[test]
fn tp_and_with_escape_hatches() {
    let got = written(&hatches("4.5", &["vip", "x"]));
    assert_eq!(
        got,
        vec![
            (
                "order".into(),
                Value::Text("ORD-7".into(), DataType::String)
            ),
            ("score".into(), Value::Text("4.5".into(), DataType::Number)),
            ("flag".into(), Value::Text("true".into(), DataType::Boolean)),
            ("amount".into(), Value::Number(12.5.into())),
            ("tags".into(), s("vip")),
            ("shown".into(), s("ORD-8")),
        ]
    );
    // with returning None leaves the property out.
    let got = written(&hatches("1", &[]));
    assert!(got.iter().all(|(n, _)| n != "tags"));

    let schema: Vec<PropertySchema> = Hatches::SCHEMA.properties().copied().collect();
    let dt: Vec<(&str, DataType, bool)> = schema
        .iter()
        .map(|p| (p.name, p.datatype.expect("a fixed datatype"), p.optional))
        .collect();
    assert_eq!(
        dt,
        [
            ("order", DataType::String, false),
            ("score", DataType::Number, false),
            ("flag", DataType::Boolean, true),
            ("amount", DataType::Number, false),
            ("tags", DataType::String, true),
            ("shown", DataType::String, false),
        ]
    );
}

#[test]
fn tp_value_that_does_not_fit_its_datatype_is_refused_at_the_call_site() {
    let err = Calls::new("acme")
        .unwrap()
        .track("u", &hatches("not a number", &[]))
        .unwrap_err();
    assert_eq!(
        err,
        InvalidInput::ValueDoesNotMatchType {
            name: "score".into(),
            datatype: 'n',
            value: "not a number".into()
        }
    );
}

#[derive(GamoogaEvent)]
struct InSeconds {
    #[gamooga(timestamp)]
    at: u64,
}

#[derive(GamoogaEvent)]
struct MaybeTimed {
    #[gamooga(timestamp)]
    at: Option<i64>,
}

#[test]
fn integer_and_optional_timestamps() {
    let err = Calls::new("acme")
        .unwrap()
        .track("u", &InSeconds { at: 1_764_150_000 })
        .unwrap_err();
    assert!(
        matches!(err, InvalidInput::TimestampOutOfRange { hint, .. } if hint.contains("seconds")),
        "{err:?}"
    );
    let ok = InSeconds { at: TM };
    assert_eq!(ok.timestamp().unwrap().map(Timestamp::as_millis), Some(TM));
    assert_eq!(MaybeTimed { at: None }.timestamp(), Ok(None));
    assert_eq!(
        MaybeTimed {
            at: Some(TM as i64)
        }
        .timestamp()
        .unwrap()
        .map(Timestamp::as_millis),
        Some(TM)
    );
    assert!(
        MaybeTimed::SCHEMA.items.is_empty(),
        "a timestamp is not a property"
    );
}

#[derive(GamoogaEvent)]
struct Device<'a> {
    os: &'a str,
    version: Option<u32>,
}

#[derive(GamoogaEvent)]
struct Context<'a> {
    #[gamooga(flatten)]
    device: Device<'a>,
    locale: &'a str,
}

#[derive(GamoogaEvent)]
#[gamooga(name = "page_view")]
struct PageView<'a, T> {
    url: &'a str,
    #[gamooga(flatten)]
    context: Context<'a>,
    load_ms: T,
}

#[test]
fn nested_flatten_and_generics() {
    let e = PageView {
        url: "/home",
        context: Context {
            device: Device {
                os: "ios",
                version: Some(17),
            },
            locale: "ja",
        },
        load_ms: 12u16,
    };
    let names: Vec<String> = written(&e).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["url", "os", "version", "locale", "load_ms"]);
    let schema = <PageView<'_, f32> as HasEventSchema>::SCHEMA;
    assert_eq!(schema.name, "page_view");
    let props: Vec<(&str, DataType, bool)> = schema
        .properties()
        .map(|p| (p.name, p.datatype.expect("a fixed datatype"), p.optional))
        .collect();
    assert_eq!(
        props,
        [
            ("url", DataType::String, false),
            ("os", DataType::String, false),
            ("version", DataType::Number, true),
            ("locale", DataType::String, false),
            ("load_ms", DataType::Number, false),
        ]
    );
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
    #[gamooga(flatten)]
    address: Address,
    #[gamooga(skip)]
    password_hash: String,
}

#[test]
fn visitor_props_write_and_push() {
    let profile = Profile {
        full_name: "Ann".into(),
        vip: true,
        plan: Plan::Free,
        address: Address {
            city: "Tokyo".into(),
            zip: None,
        },
        password_hash: "secret".into(),
    };
    assert_eq!(profile.password_hash, "secret");
    let mut props = Properties::new();
    profile.write_properties(&mut props).unwrap();
    let names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["fullName", "vip", "plan", "city"]);
    let r = Calls::new("acme")
        .unwrap()
        .push_visitor("0123456789abcdef", &profile)
        .unwrap();
    assert_eq!(
        r.query(),
        "c=acme&v=0123456789abcdef&p=fullName&vl=Ann&tp=s&p=vip&vl=true&tp=b&p=plan&vl=free&tp=s\
         &p=city&vl=Tokyo&tp=s"
    );
    assert_eq!(Profile::SCHEMA.name, "Profile");
    assert_eq!(Profile::SCHEMA.properties().count(), 5);
}

#[derive(GamoogaEvent)]
struct Heartbeat;

#[derive(GamoogaEvent)]
struct Empty {}

#[test]
fn events_without_properties() {
    assert_eq!(Heartbeat.name(), "heartbeat");
    assert_eq!(Empty {}.name(), "empty");
    assert!(written(&Heartbeat).is_empty());
    let r = Calls::new("acme").unwrap().track("u", &Heartbeat).unwrap();
    assert!(r.query().starts_with("c=acme&u=u&e=heartbeat&tm="));
}

#[test]
fn tracking_plan_json() {
    let json = TrackingPlan::new()
        .event::<Purchase>()
        .event::<PageView<u32>>()
        .visitor::<Profile>()
        .to_json();
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Sorted by name: page_view before purchase.
    assert_eq!(plan["events"][0]["name"], "page_view");
    assert_eq!(plan["events"][1]["name"], "purchase");
    assert_eq!(
        plan["events"][1]["properties"],
        serde_json::json!([
            {"name": "sku", "datatype": "s", "optional": false},
            {"name": "amount", "datatype": "n", "optional": false},
            {"name": "first_order", "datatype": "b", "optional": false},
            {"name": "coupon_code", "datatype": "s", "optional": true},
            {"name": "plan", "datatype": "s", "optional": false},
        ])
    );
    assert_eq!(
        plan["events"][0]["properties"][1],
        serde_json::json!({"name": "os", "datatype": "s", "optional": false}),
        "flattened properties are listed in place"
    );
    assert_eq!(plan["visitor_properties"][0]["name"], "Profile");
    assert_eq!(
        plan["visitor_properties"][0]["properties"][4],
        serde_json::json!({"name": "zip", "datatype": "s", "optional": true})
    );
}
