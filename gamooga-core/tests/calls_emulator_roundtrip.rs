//! Property-based round trip over real HTTP: arbitrary properties → our client → the
//! emulator's own parser → the same names, values and datatypes, in order, for both `evwid`
//! (query) and `evwidj` (JSON body), and for visitor properties (`vpr`).

use gamooga_core::{Client, CustomEvent, EvwidMode, Number, Properties, Timestamp, Value};
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
        "[ -~]{0,16}".prop_map(Prop::S),
        any::<i64>().prop_map(Prop::I),
        (-1e12f64..1e12).prop_map(Prop::F),
        any::<bool>().prop_map(Prop::B),
    ]
}

/// Distinct names (a JSON body cannot carry one twice).
fn props() -> impl Strategy<Value = Vec<(String, Prop)>> {
    proptest::collection::vec(("\\PC{1,10}", prop_value()), 1..8).prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        v.into_iter()
            .filter(|(n, _)| seen.insert(n.clone()))
            .collect()
    })
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
    proptest!(config, |(user in "\\PC{1,12}", name in "\\PC{1,12}", list in props())| {
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
