//! The encoder, checked against independent decoders: arbitrary company, user and visitor
//! ids, event names and properties go through the call builders (`track` in its three modes,
//! `track_visitor`, `track_with`, `push_visitor`, `identify`, `link`), and what they build is
//! read back with `url::form_urlencoded` (and `serde_json` for an `evwidj` body) and with the
//! emulator's strict validator.
//!
//! Checked: no panic; the builders accept exactly the inputs that are valid (a model written
//! here from the spec and the design: ids non-empty without control characters, a company id
//! also without whitespace, a non-empty event name, `tm` in 2001..2100, non-empty property
//! names, finite numbers, `tp=n` text that is a finite number, `tp=b` text `true`/`false`,
//! distinct names in a JSON body, at least one property for `vpr`) and refuse the others with
//! a typed `InvalidInput`; an accepted call's query holds only unreserved bytes, `%XX`
//! escapes, `&` and `=` (no `+`); it decodes to the same names, values and datatypes, in the
//! spec's order (`c`, `u`/`v`, `e`, the property sets, `tm` last; `e`, `c`, `u` for
//! `evvprwid`); integers come back exactly, floats as plain decimal parsing to the same
//! value; `evwid` or `evwidj` is chosen by the GET limit; and the emulator accepts the call
//! and reads the same call from it.
#![no_main]

use arbitrary::Arbitrary;
use gamooga_core::time::{MAX_MILLIS, MIN_MILLIS};
use gamooga_core::{
    Calls, DataType, Endpoint, Event, EvwidMode, InvalidInput, Method, Number, PropertyWriter,
    Request, Timestamp, Value, VisitorProperties,
};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

#[derive(Arbitrary, Debug, Clone)]
enum Val {
    Str(String),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F32(f32),
    F64(f64),
    Bool(bool),
    TextS(String),
    TextN(String),
    TextB(String),
}

#[derive(Arbitrary, Debug, Clone)]
struct Prop {
    name: String,
    value: Val,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Mode {
    Auto,
    Get,
    Post,
}

#[derive(Arbitrary, Debug)]
enum Call {
    Track { mode: Mode, get_limit: u16 },
    TrackVisitor,
    TrackWith,
    PushVisitor,
    Identify,
    Link,
}

#[derive(Arbitrary, Debug)]
struct Input {
    call: Call,
    company: String,
    user: String,
    visitor: String,
    event: String,
    tm: Option<u64>,
    props: Vec<Prop>,
    visitor_props: Vec<Prop>,
}

impl Val {
    fn value(&self) -> Value<'_> {
        match self {
            Val::Str(s) => Value::String(s.into()),
            Val::I64(v) => Value::Number(Number::from(*v)),
            Val::U64(v) => Value::Number(Number::from(*v)),
            Val::I128(v) => Value::Number(Number::from(*v)),
            Val::U128(v) => Value::Number(Number::from(*v)),
            Val::F32(v) => Value::Number(Number::from(*v)),
            Val::F64(v) => Value::Number(Number::from(*v)),
            Val::Bool(b) => Value::Bool(*b),
            Val::TextS(s) => Value::Text(s.into(), DataType::String),
            Val::TextN(s) => Value::Text(s.into(), DataType::Number),
            Val::TextB(s) => Value::Text(s.into(), DataType::Boolean),
        }
    }

    /// Whether the model says the value can be sent.
    fn valid(&self) -> bool {
        match self {
            Val::F32(v) => v.is_finite(),
            Val::F64(v) => v.is_finite(),
            Val::TextN(s) => s.parse::<f64>().is_ok_and(f64::is_finite),
            Val::TextB(s) => s == "true" || s == "false",
            _ => true,
        }
    }

    fn datatype(&self) -> &'static str {
        match self {
            Val::Str(_) | Val::TextS(_) => "s",
            Val::Bool(_) | Val::TextB(_) => "b",
            _ => "n",
        }
    }

    /// Checks a decoded value text (query value, or JSON token text for numbers and
    /// booleans) against what was given.
    fn check(&self, text: &str) {
        let plain_decimal = |t: &str| {
            let digits = t.strip_prefix('-').unwrap_or(t);
            let (int, frac) = digits.split_once('.').unwrap_or((digits, "1"));
            !int.is_empty()
                && !frac.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        };
        match self {
            Val::Str(s) | Val::TextS(s) | Val::TextB(s) => assert_eq!(text, s),
            Val::Bool(b) => assert_eq!(text, if *b { "true" } else { "false" }),
            Val::I64(v) => assert_eq!(text.parse::<i64>().ok(), Some(*v), "{text:?}"),
            Val::U64(v) => assert_eq!(text.parse::<u64>().ok(), Some(*v), "{text:?}"),
            Val::I128(v) => assert_eq!(text.parse::<i128>().ok(), Some(*v), "{text:?}"),
            Val::U128(v) => assert_eq!(text.parse::<u128>().ok(), Some(*v), "{text:?}"),
            Val::F32(v) => {
                assert!(plain_decimal(text), "{v:e} written {text:?}");
                assert_eq!(text.parse::<f32>().ok(), Some(*v), "{v:e} written {text:?}");
            }
            Val::F64(v) => {
                assert!(plain_decimal(text), "{v:e} written {text:?}");
                assert_eq!(text.parse::<f64>().ok(), Some(*v), "{v:e} written {text:?}");
            }
            Val::TextN(s) => {
                assert!(plain_decimal(text), "{s:?} written {text:?}");
                assert_eq!(
                    text.parse::<f64>().ok(),
                    s.parse::<f64>().ok(),
                    "{s:?} written {text:?}"
                );
            }
        }
    }
}

struct FuzzEvent<'a> {
    name: &'a str,
    tm: Option<u64>,
    props: &'a [Prop],
}

impl Event for FuzzEvent<'_> {
    fn name(&self) -> &str {
        self.name
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        self.tm.map(Timestamp::from_millis).transpose()
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        write(self.props, w)
    }
}

struct FuzzVisitor<'a>(&'a [Prop]);

impl VisitorProperties for FuzzVisitor<'_> {
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        write(self.0, w)
    }
}

fn write<W: PropertyWriter + ?Sized>(props: &[Prop], w: &mut W) -> Result<(), InvalidInput> {
    props
        .iter()
        .try_for_each(|p| w.property(&p.name, p.value.value()))
}

fn id_ok(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(char::is_control)
}

fn props_ok(props: &[Prop]) -> bool {
    props.iter().all(|p| !p.name.is_empty() && p.value.valid())
}

fn distinct_names(props: &[Prop]) -> bool {
    let mut names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.windows(2).all(|w| w[0] != w[1])
}

fuzz_target!(|input: Input| {
    let company_ok = !input.company.is_empty()
        && !input
            .company
            .chars()
            .any(|c| c.is_control() || c.is_whitespace());
    let calls = match Calls::new(&input.company) {
        Ok(calls) => {
            assert!(company_ok, "company {:?} accepted", input.company);
            calls
        }
        Err(e) => {
            assert!(!company_ok, "company {:?} refused: {e}", input.company);
            return;
        }
    };
    let event = FuzzEvent {
        name: &input.event,
        tm: input.tm,
        props: &input.props,
    };
    let visitor = FuzzVisitor(&input.visitor_props);
    let event_ok = !input.event.is_empty()
        && input
            .tm
            .is_none_or(|t| (MIN_MILLIS..MAX_MILLIS).contains(&t))
        && props_ok(&input.props);

    // (the built request or the refusal, whether the model says valid, the visitor
    // properties sent)
    let (built, valid) = match input.call {
        Call::Track { mode, get_limit } => {
            let mode = match mode {
                Mode::Auto => EvwidMode::Auto,
                Mode::Get => EvwidMode::Get,
                Mode::Post => EvwidMode::Post,
            };
            let calls = calls.with_evwid_mode(mode).with_get_limit(get_limit.into());
            let built = calls.track(&input.user, &event);
            let base = id_ok(&input.user) && event_ok;
            let distinct = distinct_names(&input.props);
            let valid = match (mode, &built) {
                (EvwidMode::Get, _) => base,
                (EvwidMode::Post, _) => base && distinct,
                // Auto: a duplicate name is refused only if the call went as JSON.
                (_, Ok(r)) if r.endpoint() == Endpoint::Evwidj => base && distinct,
                (_, Ok(_)) => base,
                (_, Err(InvalidInput::DuplicateProperty { .. })) => base && distinct,
                (_, Err(_)) => base,
            };
            if let (EvwidMode::Auto, Ok(r)) = (mode, &built) {
                // GET exactly when the GET form fits the limit.
                let get = calls
                    .clone()
                    .with_evwid_mode(EvwidMode::Get)
                    .track(&input.user, &event)
                    .expect("the GET form of an accepted event builds");
                let fits = get.path_and_query().len() <= usize::from(get_limit);
                assert_eq!(r.endpoint() == Endpoint::Evwid, fits, "limit {get_limit}");
                if fits {
                    // The same query, but for the `tm` stamped at build time when the event
                    // has none.
                    let untimed = |q: &str| q.rsplit_once("&tm=").map(|(head, _)| head.to_owned());
                    assert_eq!(untimed(r.query()), untimed(get.query()));
                }
            }
            (built, valid)
        }
        Call::TrackVisitor => (
            calls.track_visitor(&input.visitor, &event),
            id_ok(&input.visitor) && event_ok,
        ),
        Call::TrackWith => (
            calls.track_with(&input.user, &event, &visitor),
            id_ok(&input.user) && event_ok && props_ok(&input.visitor_props),
        ),
        Call::PushVisitor => (
            calls.push_visitor(&input.visitor, &visitor),
            id_ok(&input.visitor)
                && props_ok(&input.visitor_props)
                && !input.visitor_props.is_empty(),
        ),
        Call::Identify => (calls.identify(&input.user), id_ok(&input.user)),
        Call::Link => (
            calls.link(&input.user, &input.visitor),
            id_ok(&input.user) && id_ok(&input.visitor),
        ),
    };
    match built {
        Ok(request) => {
            assert!(valid, "accepted invalid input: {input:?}");
            check_request(&input, &request);
        }
        Err(e) => {
            assert!(!valid, "refused valid input ({e}): {input:?}");
            assert!(!e.to_string().is_empty());
        }
    }
});

/// What the request should decode to: the single parameters and property sets in order.
enum Expected<'a> {
    Single(&'static str, &'a str),
    Set([&'static str; 3], &'a Prop),
    Tm,
}

fn check_request(input: &Input, request: &Request) {
    use Expected::*;
    let query = request.query();
    // Only unreserved bytes, `%XX` escapes (upper-case hex), `&` and `=`.
    for piece in query.split('&') {
        let (key, value) = piece.split_once('=').expect("every parameter has `=`");
        assert!(
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase()),
            "{query}"
        );
        let mut bytes = value.bytes();
        while let Some(b) = bytes.next() {
            if b == b'%' {
                for _ in 0..2 {
                    let h = bytes.next().expect("two hex digits after %");
                    assert!(matches!(h, b'0'..=b'9' | b'A'..=b'F'), "{query}");
                }
            } else {
                assert!(
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'),
                    "byte {b:#x} in {query}"
                );
            }
        }
    }

    let endpoint = request.endpoint();
    let (c, u, v, e) = (
        &*input.company,
        &*input.user,
        &*input.visitor,
        &*input.event,
    );
    let mut expected: Vec<Expected<'_>> = Vec::new();
    match endpoint {
        Endpoint::Evwid | Endpoint::Ev => {
            let id = if endpoint == Endpoint::Ev {
                ("v", v)
            } else {
                ("u", u)
            };
            expected.extend([Single("c", c), Single(id.0, id.1), Single("e", e)]);
            expected.extend(input.props.iter().map(|p| Set(["ky", "vl", "tp"], p)));
            expected.push(Tm);
        }
        Endpoint::Evwidj => {
            expected.extend([Single("c", c), Single("u", u), Single("e", e), Tm]);
        }
        Endpoint::Evvprwid => {
            expected.extend([Single("e", e), Single("c", c), Single("u", u)]);
            expected.extend(input.props.iter().map(|p| Set(["eky", "evl", "etp"], p)));
            expected.extend(
                input
                    .visitor_props
                    .iter()
                    .map(|p| Set(["vky", "vvl", "vtp"], p)),
            );
            expected.push(Tm);
        }
        Endpoint::Vpr => {
            expected.extend([Single("c", c), Single("v", v)]);
            expected.extend(
                input
                    .visitor_props
                    .iter()
                    .map(|p| Set(["p", "vl", "tp"], p)),
            );
        }
        Endpoint::Id => {
            expected.extend([Single("c", c), Single("u", u)]);
            if matches!(input.call, Call::Link) {
                expected.push(Single("v", v));
            }
        }
        other => panic!("a builder made {other:?}"),
    }
    let path = format!("/{}/", endpoint.name());
    assert_eq!(request.path(), path);
    assert_eq!(
        request.method() == Method::Post,
        endpoint == Endpoint::Evwidj
    );

    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut at = pairs.iter();
    let mut next = |key: &str| -> String {
        let (k, v) = at
            .next()
            .unwrap_or_else(|| panic!("`{key}` missing: {query}"));
        assert_eq!(k, key, "{query}");
        v.clone()
    };
    let mut tm_sent = None;
    for item in &expected {
        match item {
            Single(key, value) => assert_eq!(&next(key), value, "{query}"),
            Set([kn, kv, kt], prop) => {
                assert_eq!(next(kn), prop.name);
                prop.value.check(&next(kv));
                assert_eq!(next(kt), prop.value.datatype());
            }
            Tm => {
                let tm: u64 = next("tm").parse().expect("tm is an integer");
                match input.tm {
                    Some(given) => assert_eq!(tm, given),
                    None => assert!((MIN_MILLIS..MAX_MILLIS).contains(&tm)),
                }
                tm_sent = Some(tm);
            }
        }
    }
    assert!(at.next().is_none(), "extra parameters: {query}");

    if endpoint == Endpoint::Evwidj {
        let body = request.body().expect("evwidj has a body");
        let entries = json_entries(body);
        assert_eq!(entries.len(), input.props.len(), "{body}");
        for ((name, raw), prop) in entries.iter().zip(&input.props) {
            assert_eq!(name, &prop.name);
            let raw = raw.get();
            let (datatype, text) = match raw.as_bytes()[0] {
                b'"' => ("s", serde_json::from_str::<String>(raw).unwrap()),
                b't' | b'f' => ("b", raw.to_owned()),
                _ => ("n", raw.to_owned()),
            };
            assert_eq!(datatype, prop.value.datatype(), "{body}");
            prop.value.check(&text);
        }
    } else {
        assert!(request.body().is_none());
    }

    // The strict emulator accepts the call and reads the same call from it.
    let content_type = request.body().map(|_| "application/json");
    let decoded = gamooga_emulator::validate_request(
        request.method().as_str(),
        request.path(),
        query,
        content_type,
        request.body().unwrap_or_default().as_bytes(),
    )
    .unwrap_or_else(|r| panic!("the emulator refuses a built call: {r:?}\n{query}"));
    let id_call = endpoint == Endpoint::Id;
    assert_eq!(decoded.company.as_deref(), Some(c));
    assert_eq!(decoded.tm, tm_sent);
    let (event_props, visitor_props): (&[Prop], &[Prop]) = match endpoint {
        Endpoint::Vpr => (&[], &input.visitor_props),
        Endpoint::Evvprwid => (&input.props, &input.visitor_props),
        Endpoint::Id => (&[], &[]),
        _ => (&input.props, &[]),
    };
    if !id_call && endpoint != Endpoint::Vpr {
        assert_eq!(decoded.event.as_deref(), Some(e));
    }
    let (want_user, want_visitor) = match endpoint {
        Endpoint::Ev | Endpoint::Vpr => (None, Some(v)),
        Endpoint::Id if matches!(input.call, Call::Link) => (Some(u), Some(v)),
        _ => (Some(u), None),
    };
    assert_eq!(decoded.user_id.as_deref(), want_user);
    assert_eq!(decoded.visitor_id.as_deref(), want_visitor);
    for (got, sent) in [
        (&decoded.event_properties, event_props),
        (&decoded.visitor_properties, visitor_props),
    ] {
        assert_eq!(got.len(), sent.len());
        for (g, p) in got.iter().zip(sent) {
            assert_eq!(g.name, p.name);
            assert_eq!(g.datatype.to_string(), p.value.datatype());
            if matches!(
                p.value,
                Val::Str(_) | Val::TextS(_) | Val::Bool(_) | Val::TextB(_)
            ) {
                p.value.check(&g.value);
            }
        }
    }
}

/// The members of a JSON object, in order, with each value's raw text.
fn json_entries(body: &str) -> Vec<(String, Box<RawValue>)> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, Box<RawValue>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(body);
    let entries = (&mut de)
        .deserialize_map(Entries)
        .expect("the body is a JSON object");
    de.end().expect("nothing after the object");
    entries
}
