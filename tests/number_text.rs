//! Numbers are written one way: a `#[gamooga(tp = "n")]` field's `Display` text is rewritten
//! to its canonical plain decimal, the same text in a GET query (`evwid`) and in a POST body
//! (`evwidj`), or refused at the call site with a typed error in both.
//!
//! The GET query is decoded with the `url` crate, the POST body with serde_json (its raw
//! value text), and both are sent to the emulator, whose validator holds Gamooga's grammar
//! for `n`: never with our own encoder.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use gamooga::prelude::*;
use gamooga::{Calls, Client, EvwidMode, InvalidInput, Request, Timestamp};
use gamooga_emulator::Emulator;
use proptest::prelude::*;

const TM: u64 = 1_764_150_000_000;

/// A value whose `Display` writes exactly the given text, as a user type might.
struct Shown(String);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(GamoogaEvent)]
struct Reading {
    #[gamooga(tp = "n")]
    value: Shown,
    #[gamooga(tp = "b")]
    flag: Shown,
    #[gamooga(timestamp)]
    at: Timestamp,
}

fn reading(value: &str) -> Reading {
    Reading {
        value: Shown(value.to_owned()),
        flag: Shown("true".to_owned()),
        at: Timestamp::from_millis(TM).unwrap(),
    }
}

fn build(mode: EvwidMode, event: &Reading) -> Result<Request, InvalidInput> {
    Calls::new("acme")
        .unwrap()
        .with_evwid_mode(mode)
        .track("user-42", event)
}

/// The `vl` of property `value` in a GET query, decoded by `url`.
fn get_text(request: &Request) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.query().as_bytes())
        .into_owned()
        .collect();
    let at = pairs
        .iter()
        .position(|(k, v)| k == "ky" && v == "value")
        .expect("the property");
    assert_eq!(pairs[at + 1].0, "vl");
    assert_eq!(pairs[at + 2], ("tp".into(), "n".into()));
    pairs[at + 1].1.clone()
}

/// The JSON text of property `value` in a POST body, as serde_json reads it.
fn post_text(request: &Request) -> String {
    let body = request.body().expect("evwidj has a body");
    let object: HashMap<String, &serde_json::value::RawValue> =
        serde_json::from_str(body).expect("a JSON object");
    let raw = object["value"].get();
    // A JSON number, not a string.
    assert!(
        serde_json::from_str::<serde_json::Value>(raw)
            .unwrap()
            .is_number(),
        "{raw}"
    );
    raw.to_owned()
}

/// What is written for `text`, by GET and by POST (which must agree).
fn written(text: &str) -> Result<String, InvalidInput> {
    let event = reading(text);
    let get = build(EvwidMode::Get, &event);
    let post = build(EvwidMode::Post, &event);
    match (get, post) {
        (Ok(get), Ok(post)) => {
            let (g, p) = (get_text(&get), post_text(&post));
            assert_eq!(g, p, "GET and POST write {text:?} differently");
            Ok(g)
        }
        (Err(g), Err(p)) => {
            assert_eq!(g, p, "GET and POST refuse {text:?} differently");
            Err(g)
        }
        (g, p) => panic!("GET and POST disagree on {text:?}: {g:?} / {p:?}"),
    }
}

/// The decisions, one row each: every form Rust's float grammar reads is rewritten to plain
/// decimal (ARCHITECTURE.md: "numbers in one plain decimal form"), digit for digit.
#[test]
fn every_decimal_form_is_written_as_plain_decimal_by_get_and_post() {
    for (text, want) in [
        (".5", "0.5"),
        ("+1", "1"),
        ("5.", "5"),
        // Negative zero is zero: `0`, as a float -0.0 is written.
        ("-0", "0"),
        ("-0.0", "0"),
        // An exponent is written out: Gamooga's numbers are plain decimal.
        ("1e3", "1000"),
        ("2.5E-3", "0.0025"),
        ("-1.250", "-1.25"),
        ("007", "7"),
        ("12.5", "12.5"),
        // Long decimals keep every digit: no trip through f64.
        (
            "12345678901234567890.000000000000000000001",
            "12345678901234567890.000000000000000000001",
        ),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
    ] {
        assert_eq!(written(text).as_deref(), Ok(want), "{text}");
    }
}

#[test]
fn text_that_is_not_a_finite_number_is_refused_by_get_and_post() {
    for text in ["NaN", "inf", "-Infinity", "1e400"] {
        assert!(
            matches!(written(text), Err(InvalidInput::NonFiniteNumber { ref name, .. }) if name == "value"),
            "{text}: {:?}",
            written(text)
        );
    }
    for text in ["", "abc", "1.2.3", "0x10", " 1", "1,5", "1e", "--1", "½"] {
        assert!(
            matches!(
                written(text),
                Err(InvalidInput::ValueDoesNotMatchType { datatype: 'n', .. })
            ),
            "{text}: {:?}",
            written(text)
        );
    }
    assert!(matches!(
        written("1e-400"),
        Err(InvalidInput::NumberTooLong { max: 400, .. })
    ));
}

#[test]
fn booleans_have_one_form_already_and_others_are_refused_by_both() {
    for flag in ["True", "1", "yes", " true"] {
        let mut event = reading("1");
        event.flag = Shown(flag.to_owned());
        for mode in [EvwidMode::Get, EvwidMode::Post] {
            assert!(
                matches!(
                    build(mode, &event),
                    Err(InvalidInput::ValueDoesNotMatchType { datatype: 'b', .. })
                ),
                "{flag} {mode:?}"
            );
        }
    }
    let event = reading("1");
    let get = build(EvwidMode::Get, &event).unwrap();
    assert!(
        get.query().contains("&ky=flag&vl=true&tp=b"),
        "{}",
        get.query()
    );
    let post = build(EvwidMode::Post, &event).unwrap();
    assert!(post.body().unwrap().contains(r#""flag":true"#));
}

fn client(emu: &Emulator, mode: EvwidMode) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .evwid_mode(mode)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Sends `text` by GET and by POST to the emulator; both must be accepted, and the emulator
/// must decode the same number from each.
async fn emulator_reads_the_same(emu: &Emulator, text: &str) {
    emu.reset();
    for mode in [EvwidMode::Get, EvwidMode::Post] {
        reading(text)
            .track(&client(emu, mode), "user-42")
            .await
            .unwrap_or_else(|e| panic!("{text:?} by {mode:?}: {e}"));
    }
    assert!(emu.rejected().is_empty(), "{text:?}: {:?}", emu.rejected());
    let events = emu.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].endpoint, "evwid");
    assert_eq!(events[1].endpoint, "evwidj");
    let decoded: Vec<f64> = events
        .iter()
        .map(|e| e.event_property("value").unwrap().as_f64().unwrap())
        .collect();
    assert_eq!(decoded[0], decoded[1], "{text:?}");
    assert_eq!(decoded[0], text.parse::<f64>().unwrap(), "{text:?}");
}

/// Before the rewrite, `.5`, `+1` and `5.` went raw into the GET query and the emulator
/// answered 400 (the queue dead-lettered them) while POST passed.
#[tokio::test]
async fn the_emulator_accepts_every_form_by_get_and_post() {
    let emu = Emulator::start().await.unwrap();
    for text in [".5", "+1", "5.", "-0", "1e3", "-2.5E-3", "007"] {
        emulator_reads_the_same(&emu, text).await;
    }
}

/// Decimal text in Rust's float grammar: a sign or none, digits around an optional point,
/// an optional exponent.
fn number_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just(""), Just("-"), Just("+")],
        "[0-9]{0,25}",
        proptest::option::of("[0-9]{0,25}"),
        proptest::option::of((
            prop_oneof![Just("e"), Just("E")],
            prop_oneof![Just(""), Just("-"), Just("+")],
            0u32..40,
        )),
    )
        .prop_filter_map("needs a digit", |(sign, int, frac, exp)| {
            if int.is_empty() && frac.as_deref().unwrap_or("").is_empty() {
                return None;
            }
            let mut s = format!("{sign}{int}");
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, es, x)) = exp {
                s.push_str(&format!("{e}{es}{x}"));
            }
            Some(s)
        })
}

/// Gamooga's `n`, as the emulator's validator reads it, without an exponent:
/// `-?digits[.digits]`, and the canonical form: no leading zeros, no trailing fraction zeros,
/// no negative zero.
fn is_canonical_plain_decimal(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(int)
        && (int == "0" || !int.starts_with('0'))
        && frac.is_none_or(|f| digits(f) && !f.ends_with('0'))
        && s != "-0"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// GET and POST write the same text; it is canonical plain decimal; and it is the same
    /// number as the text given (as f64, read by std).
    #[test]
    fn get_and_post_write_the_same_canonical_number(text in number_text()) {
        let out = written(&text).expect("every finite number in the grammar is sent");
        prop_assert!(is_canonical_plain_decimal(&out), "{text:?} -> {out:?}");
        let (given, sent) = (text.parse::<f64>().unwrap(), out.parse::<f64>().unwrap());
        prop_assert!(given == sent, "{text:?} -> {out:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The same through the emulator over HTTP: both accepted, both decoded to one number.
    #[test]
    fn the_emulator_decodes_the_same_number_from_get_and_post(text in number_text()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let emu = Emulator::start().await.unwrap();
            emulator_reads_the_same(&emu, &text).await;
        });
    }
}
