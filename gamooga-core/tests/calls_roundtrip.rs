//! Property-based round trips: arbitrary properties → our request → an independent parser
//! (`url::form_urlencoded` and `serde_json`, or the emulator's own over real HTTP) → the same
//! names, values and datatypes, in order. Never decoded with our own encoder.

use gamooga_core::{Calls, Client, CustomEvent, EvwidMode, Number, Properties, Timestamp, Value};
use gamooga_emulator::Emulator;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Prop {
    S(String),
    I(i64),
    F(f64),
    B(bool),
}

fn prop_value() -> impl Strategy<Value = Prop> {
    prop_oneof![
        any::<String>().prop_map(Prop::S),
        "[ -~]{0,20}".prop_map(Prop::S),
        any::<i64>().prop_map(Prop::I),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Prop::F),
        any::<bool>().prop_map(Prop::B),
    ]
}

fn props() -> impl Strategy<Value = Vec<(String, Prop)>> {
    proptest::collection::vec(("\\PC{1,12}", prop_value()), 0..12)
}

fn expected(p: &Prop) -> (String, &'static str) {
    match p {
        Prop::S(s) => (s.clone(), "s"),
        Prop::I(i) => (i.to_string(), "n"),
        // Checked separately: any shortest round-trip text is right.
        Prop::F(_) => (String::new(), "n"),
        Prop::B(b) => (b.to_string(), "b"),
    }
}

fn build(list: &[(String, Prop)]) -> Properties {
    let mut props = Properties::new();
    for (name, p) in list {
        let v = match p {
            Prop::S(s) => Value::String(s.clone().into()),
            Prop::I(i) => Value::Number(Number::from(*i)),
            Prop::F(f) => Value::Number(Number::from(*f)),
            Prop::B(b) => Value::Bool(*b),
        };
        props.push(name.clone(), v).unwrap();
    }
    props
}

proptest! {
    #[test]
    fn evwid_query_decodes_to_the_same_properties(
        user in "\\PC{1,20}", event in "\\PC{1,20}", list in props()
    ) {
        let calls = Calls::new("acme").unwrap().with_evwid_mode(EvwidMode::Get);
        let ev = CustomEvent::new(event.clone(), build(&list))
            .at(Timestamp::from_millis(1_764_150_000_000).unwrap());
        let req = calls.track(&user, &ev).unwrap();
        // Nothing but unreserved characters and escapes on the wire.
        prop_assert!(req
            .query()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b)));
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        prop_assert_eq!(&pairs[0], &("c".to_string(), "acme".to_string()));
        prop_assert_eq!(&pairs[1], &("u".to_string(), user));
        prop_assert_eq!(&pairs[2], &("e".to_string(), event));
        prop_assert_eq!(pairs.len(), 3 + 3 * list.len() + 1);
        for (i, (name, p)) in list.iter().enumerate() {
            let (value, tp) = expected(p);
            let set = &pairs[3 + 3 * i..6 + 3 * i];
            prop_assert_eq!(&set[0], &("ky".to_string(), name.clone()));
            prop_assert_eq!(&set[1].0, "vl");
            prop_assert_eq!(&set[2], &("tp".to_string(), tp.to_string()));
            if let Prop::F(f) = p {
                // Plain decimal that parses back to the very same float, with no more
                // significant digits than std's shortest form.
                let text = &set[1].1;
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.'), "{}", text);
                prop_assert_eq!(text.parse::<f64>().unwrap(), *f);
                let significant = |s: &str| s.trim_start_matches(['-', '0', '.']).replace('.', "").trim_end_matches('0').len();
                prop_assert!(significant(text) <= significant(&f.to_string()), "{} vs {}", text, f);
            } else {
                prop_assert_eq!(&set[1].1, &value);
            }
        }
        prop_assert_eq!(pairs.last().unwrap(), &("tm".to_string(), "1764150000000".to_string()));
    }

    #[test]
    fn evwidj_body_decodes_to_the_same_properties(list in props()) {
        // JSON objects cannot carry a name twice: keep the first of each.
        let mut seen = std::collections::HashSet::new();
        let list: Vec<_> = list.into_iter().filter(|(n, _)| seen.insert(n.clone())).collect();
        let calls = Calls::new("acme").unwrap().with_evwid_mode(EvwidMode::Post);
        let ev = CustomEvent::new("e", build(&list));
        let req = calls.track("u", &ev).unwrap();
        let body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(req.body().unwrap()).unwrap();
        prop_assert_eq!(body.len(), list.len());
        for (name, p) in &list {
            let got = &body[name.as_str()];
            match p {
                Prop::S(s) => prop_assert_eq!(got.as_str(), Some(s.as_str())),
                Prop::I(i) => prop_assert_eq!(got.as_i64(), Some(*i)),
                Prop::F(f) => prop_assert_eq!(got.as_f64(), Some(*f)),
                Prop::B(b) => prop_assert_eq!(got.as_bool(), Some(*b)),
            }
        }
    }
}

/// Distinct names (a JSON body cannot carry one twice).
fn distinct_props() -> impl Strategy<Value = Vec<(String, Prop)>> {
    proptest::collection::vec(("\\PC{1,10}", prop_value()), 1..8).prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        v.into_iter()
            .filter(|(n, _)| seen.insert(n.clone()))
            .collect()
    })
}

/// Checks what the emulator recorded against what was sent, comparing numbers by value.
fn check(
    recorded: &[gamooga_emulator::RecordedProperty],
    sent: &[(String, Prop)],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(recorded.len(), sent.len());
    for (r, (name, p)) in recorded.iter().zip(sent) {
        prop_assert_eq!(&r.name, name);
        match p {
            Prop::S(s) => {
                prop_assert_eq!(r.datatype, 's');
                prop_assert_eq!(&r.value, s);
            }
            Prop::I(i) => {
                prop_assert_eq!(r.datatype, 'n');
                prop_assert_eq!(r.value.parse::<i64>().ok(), Some(*i));
            }
            Prop::F(f) => {
                prop_assert_eq!(r.datatype, 'n');
                prop_assert_eq!(r.value.parse::<f64>().ok(), Some(*f));
            }
            Prop::B(b) => {
                prop_assert_eq!(r.datatype, 'b');
                prop_assert_eq!(r.as_bool(), Some(*b));
            }
        }
    }
    Ok(())
}

#[test]
fn arbitrary_properties_reach_the_emulator_unchanged() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let client = |mode| {
        Client::builder("acme")
            .config_url(emu.config_url())
            .evwid_mode(mode)
            .build()
            .unwrap()
    };
    let get = client(EvwidMode::Get);
    let post = client(EvwidMode::Post);
    let tm = Timestamp::from_millis(1_764_150_000_000).unwrap();

    let config = ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    };
    proptest!(config, |(user in "\\PC{1,12}", name in "\\PC{1,12}", list in distinct_props())| {
        let event = CustomEvent::new(name.clone(), build(&list)).at(tm);
        for c in [&get, &post] {
            emu.reset();
            rt.block_on(c.track(&user, &event)).unwrap();
            let calls = emu.calls();
            prop_assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
            let ev = calls.iter().find(|c| c.endpoint.starts_with("evwid")).unwrap();
            prop_assert_eq!(ev.user_id.as_deref(), Some(user.as_str()));
            prop_assert_eq!(ev.event.as_deref(), Some(name.as_str()));
            prop_assert_eq!(ev.tm, Some(tm.as_millis()));
            check(&ev.event_properties, &list)?;
        }
        emu.reset();
        rt.block_on(get.push_visitor("visitor-1", &build(&list))).unwrap();
        prop_assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
        let vpr = emu.calls().into_iter().find(|c| c.endpoint == "vpr").unwrap();
        check(&vpr.visitor_properties, &list)?;
    });
}
