//! The types of other crates, each behind its feature: what goes on the wire, decoded by the
//! emulator over HTTP (or by `url` and serde_json) and read back with the type's own crate,
//! never with our encoder. `cargo test --all-features` runs them all.

#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::time::Duration;

use gamooga::prelude::*;
use gamooga::{Calls, Client, EvwidMode, InvalidInput, Request, Timestamp};
use gamooga_emulator::{Emulator, RecordedCall, RecordedProperty};

const TM: u64 = 1_764_150_000_123;

fn client(emu: &Emulator, mode: EvwidMode) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .evwid_mode(mode)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Sends `event` by GET and by POST; both accepted; returns what the emulator recorded.
async fn send_both<E: gamooga::Event + Sync>(event: &E) -> (RecordedCall, RecordedCall) {
    let emu = Emulator::start().await.unwrap();
    event
        .track(&client(&emu, EvwidMode::Get), "user-42")
        .await
        .unwrap();
    event
        .track(&client(&emu, EvwidMode::Post), "user-42")
        .await
        .unwrap();
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    let mut events = emu.events();
    assert_eq!(events.len(), 2);
    let post = events.pop().unwrap();
    let get = events.pop().unwrap();
    assert_eq!(
        (get.endpoint.as_str(), post.endpoint.as_str()),
        ("evwid", "evwidj")
    );
    (get, post)
}

fn prop<'a>(call: &'a RecordedCall, name: &str) -> &'a RecordedProperty {
    call.event_property(name)
        .unwrap_or_else(|| panic!("no property {name} in {call:?}"))
}

/// The JSON text of each property of an `evwidj` body, as serde_json reads it.
fn body_texts(request: &Request) -> HashMap<String, String> {
    let object: HashMap<String, &serde_json::value::RawValue> =
        serde_json::from_str(request.body().expect("a body")).unwrap();
    object
        .into_iter()
        .map(|(k, v)| (k, v.get().to_owned()))
        .collect()
}

/// The `(value, type)` of each property of a GET query, decoded by `url`.
fn query_values(request: &Request) -> HashMap<String, (String, String)> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.query().as_bytes())
        .into_owned()
        .collect();
    pairs
        .windows(3)
        .filter(|w| w[0].0 == "ky" && w[1].0 == "vl" && w[2].0 == "tp")
        .map(|w| (w[0].1.clone(), (w[1].1.clone(), w[2].1.clone())))
        .collect()
}

/// `#[gamooga(timestamp, with = path)]` (no feature needed): the function's result is the time.
mod with_timestamp {
    use super::*;

    struct Clock {
        epoch_seconds: u64,
        millis: u64,
    }

    fn clock_millis(c: &Clock) -> u64 {
        c.epoch_seconds * 1000 + c.millis
    }

    fn maybe_millis(c: &Option<Clock>) -> Option<u64> {
        c.as_ref().map(clock_millis)
    }

    #[derive(GamoogaEvent)]
    struct Tick {
        n: u32,
        #[gamooga(timestamp, with = clock_millis)]
        at: Clock,
    }

    #[derive(GamoogaEvent)]
    struct MaybeTick {
        #[gamooga(timestamp, with = maybe_millis)]
        at: Option<Clock>,
    }

    #[test]
    fn the_converted_time_is_tm_and_a_bad_one_is_refused() {
        let calls = Calls::new("acme").unwrap();
        let tick = Tick {
            n: 1,
            at: Clock {
                epoch_seconds: TM / 1000,
                millis: TM % 1000,
            },
        };
        let request = calls.track("u", &tick).unwrap();
        let tm: Vec<String> = url::form_urlencoded::parse(request.query().as_bytes())
            .filter(|(k, _)| k == "tm")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(tm, [TM.to_string()]);
        assert!(Tick::SCHEMA.properties().all(|p| p.name != "at"));

        let in_seconds = Tick {
            n: 1,
            at: Clock {
                epoch_seconds: 1_764_150,
                millis: 0,
            },
        };
        assert!(matches!(
            calls.track("u", &in_seconds),
            Err(InvalidInput::TimestampOutOfRange { .. })
        ));
        // None: stamped when the call is built.
        let request = calls.track("u", &MaybeTick { at: None }).unwrap();
        assert!(request.query().contains("&tm="));
    }
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use super::*;
    use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

    #[derive(GamoogaEvent)]
    struct Flight {
        departs: DateTime<FixedOffset>,
        booked: DateTime<Utc>,
        local: NaiveDateTime,
        day: NaiveDate,
        returns: Option<DateTime<Utc>>,
        #[gamooga(timestamp)]
        at: DateTime<Utc>,
    }

    fn utc(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    fn flight() -> Flight {
        let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
        Flight {
            departs: utc(TM as i64 + 3_600_000).with_timezone(&tokyo),
            // Sub-millisecond digits are cut, as `tm` cuts them.
            booked: utc(TM as i64) + chrono::Duration::microseconds(456),
            local: NaiveDate::from_ymd_opt(2025, 11, 26)
                .unwrap()
                .and_hms_milli_opt(18, 40, 0, 5)
                .unwrap(),
            day: NaiveDate::from_ymd_opt(2025, 12, 24).unwrap(),
            returns: None,
            at: utc(TM as i64),
        }
    }

    #[tokio::test]
    async fn chrono_values_are_rfc3339_strings_and_the_timestamp_is_tm() {
        let f = flight();
        let (get, post) = send_both(&f).await;
        for call in [&get, &post] {
            assert_eq!(call.tm, Some(TM));
            assert_eq!(prop(call, "departs").datatype, 's');
            // Read back by chrono: the same instant, to the millisecond, in UTC.
            let departs = DateTime::parse_from_rfc3339(&prop(call, "departs").value).unwrap();
            assert_eq!(departs, f.departs);
            assert_eq!(departs.offset().local_minus_utc(), 0, "sent in UTC");
            assert_eq!(prop(call, "departs").value, "2025-11-26T10:40:00.123Z");
            let booked = DateTime::parse_from_rfc3339(&prop(call, "booked").value).unwrap();
            assert_eq!(booked.timestamp_millis(), TM as i64);
            assert_eq!(booked.timestamp_subsec_micros(), 123_000);
            let local: NaiveDateTime = prop(call, "local").value.parse().unwrap();
            assert_eq!(local, f.local);
            assert_eq!(prop(call, "local").value, "2025-11-26T18:40:00.005");
            let day: NaiveDate = prop(call, "day").value.parse().unwrap();
            assert_eq!(day, f.day);
            assert!(call.event_property("returns").is_none());
            assert!(call.event_property("at").is_none());
        }
    }

    #[test]
    fn years_outside_rfc3339_are_refused_at_the_call_site() {
        let mut f = flight();
        f.booked = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            Calls::new("acme").unwrap().track("u", &f).unwrap_err(),
            InvalidInput::UnsupportedValue {
                name: "booked".into(),
                what: "a date outside the years 0000 to 9999"
            }
        );
        // As a timestamp, the 2001..2100 range applies.
        let mut f = flight();
        f.at = Utc.with_ymd_and_hms(1999, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            Calls::new("acme").unwrap().track("u", &f),
            Err(InvalidInput::TimestampOutOfRange { .. })
        ));
    }

    fn assume_utc(t: &NaiveDateTime) -> DateTime<Utc> {
        t.and_utc()
    }

    #[derive(GamoogaEvent)]
    struct Legacy {
        #[gamooga(timestamp, with = assume_utc)]
        at: NaiveDateTime,
    }

    #[test]
    fn a_naive_time_is_a_timestamp_through_with() {
        let at = utc(TM as i64).naive_utc();
        let request = Calls::new("acme")
            .unwrap()
            .track("u", &Legacy { at })
            .unwrap();
        assert!(request.query().ends_with(&format!("&tm={TM}")));
    }
}

#[cfg(feature = "time")]
mod time_types {
    use super::*;
    use time::format_description::well_known::Rfc3339;
    use time::macros::{date, datetime, offset};
    use time::{Date, OffsetDateTime, PrimitiveDateTime};

    #[derive(GamoogaEvent)]
    struct Shift {
        starts: OffsetDateTime,
        local: PrimitiveDateTime,
        day: Date,
        #[gamooga(timestamp)]
        at: OffsetDateTime,
    }

    #[tokio::test]
    async fn time_values_are_rfc3339_strings_and_the_timestamp_is_tm() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(TM as i128 * 1_000_000 + 999).unwrap();
        let shift = Shift {
            starts: datetime!(2025-11-26 18:40:00.5 +09:00),
            local: datetime!(2025-11-26 18:40:00.123),
            day: date!(2025 - 12 - 24),
            at,
        };
        let (get, post) = send_both(&shift).await;
        for call in [&get, &post] {
            assert_eq!(call.tm, Some(TM));
            // Read back by time: the same instant, sent in UTC.
            let starts = OffsetDateTime::parse(&prop(call, "starts").value, &Rfc3339).unwrap();
            assert_eq!(starts, shift.starts);
            assert_eq!(starts.offset(), offset!(UTC));
            assert_eq!(prop(call, "starts").value, "2025-11-26T09:40:00.500Z");
            assert_eq!(prop(call, "local").value, "2025-11-26T18:40:00.123");
            assert_eq!(prop(call, "day").value, "2025-12-24");
            assert_eq!(prop(call, "day").datatype, 's');
        }
    }

    #[test]
    fn years_outside_rfc3339_are_refused_at_the_call_site() {
        let shift = Shift {
            starts: datetime!(2025-11-26 18:40:00 UTC),
            local: datetime!(2025-11-26 18:40:00),
            day: Date::MIN,
            at: OffsetDateTime::from_unix_timestamp(1_764_150_000).unwrap(),
        };
        assert!(matches!(
            Calls::new("acme").unwrap().track("u", &shift),
            Err(InvalidInput::UnsupportedValue { ref name, .. }) if name == "day"
        ));
    }
}

#[cfg(feature = "uuid")]
mod uuid_types {
    use super::*;

    #[derive(VisitorProps)]
    struct Account {
        id: uuid::Uuid,
        parent: Option<uuid::Uuid>,
    }

    #[tokio::test]
    async fn a_uuid_is_a_hyphenated_lower_case_string() {
        let id = uuid::Uuid::from_u128(0x67E5_5044_10B1_426F_9247_BB68_0E5F_E0C8);
        let emu = Emulator::start().await.unwrap();
        let c = client(&emu, EvwidMode::Auto);
        Account { id, parent: None }
            .push(&c, "0123456789abcdef")
            .await
            .unwrap();
        let props = emu.visitor_properties("0123456789abcdef");
        assert_eq!(
            props,
            vec![RecordedProperty::new(
                "id",
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
                's'
            )]
        );
        assert_eq!(uuid::Uuid::parse_str(&props[0].value).unwrap(), id);
    }
}

#[cfg(feature = "rust_decimal")]
mod decimal_types {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[derive(GamoogaEvent)]
    struct Invoice {
        total: Decimal,
        tax: Decimal,
        credit: Decimal,
        precise: Decimal,
        zero: Decimal,
        #[gamooga(timestamp)]
        at: Timestamp,
    }

    fn invoice() -> Invoice {
        Invoice {
            total: Decimal::from_str("12.50").unwrap(),
            tax: Decimal::from_str("0.0000001").unwrap(),
            credit: Decimal::from_str("-3").unwrap(),
            precise: Decimal::from_str("7.9228162514264337593543950335").unwrap(),
            zero: Decimal::from_str("-0.00").unwrap(),
            at: Timestamp::from_millis(TM).unwrap(),
        }
    }

    #[test]
    fn a_decimal_is_an_exact_number_the_same_in_get_and_post() {
        let calls = Calls::new("acme").unwrap();
        let inv = invoice();
        let get = calls
            .clone()
            .with_evwid_mode(EvwidMode::Get)
            .track("u", &inv)
            .unwrap();
        let post = calls
            .with_evwid_mode(EvwidMode::Post)
            .track("u", &inv)
            .unwrap();
        let (query, body) = (query_values(&get), body_texts(&post));
        for (name, want) in [
            ("total", "12.5"),
            ("tax", "0.0000001"),
            ("credit", "-3"),
            ("precise", "7.9228162514264337593543950335"),
            ("zero", "0"),
        ] {
            assert_eq!(query[name], (want.to_owned(), "n".to_owned()), "{name}");
            assert_eq!(body[name], want, "{name}");
        }
        // Every digit survives: rust_decimal reads back the same value.
        assert_eq!(Decimal::from_str(&body["precise"]).unwrap(), inv.precise);
    }

    #[tokio::test]
    async fn the_emulator_accepts_decimals_by_get_and_post() {
        let (get, post) = send_both(&invoice()).await;
        for call in [&get, &post] {
            assert_eq!(prop(call, "total").as_f64(), Some(12.5));
            assert_eq!(prop(call, "tax").as_f64(), Some(1e-7));
            assert_eq!(prop(call, "credit").datatype, 'n');
        }
        assert_eq!(
            prop(&get, "precise").value,
            "7.9228162514264337593543950335"
        );
    }

    #[test]
    fn properties_take_decimals_too() {
        let props = gamooga::Properties::new()
            .number("total", Decimal::from_str("1.10").unwrap())
            .unwrap();
        let request = Calls::new("acme")
            .unwrap()
            .push_visitor("0123456789abcdef", &props)
            .unwrap();
        assert_eq!(
            request.query(),
            "c=acme&v=0123456789abcdef&p=total&vl=1.1&tp=n"
        );
    }
}

#[cfg(feature = "serde_json")]
mod json_types {
    use super::*;
    use serde_json::json;

    #[derive(GamoogaEvent)]
    struct Webhook {
        source: serde_json::Value,
        attempt: serde_json::Value,
        retried: serde_json::Value,
        note: serde_json::Value,
        ratio: serde_json::Number,
        #[gamooga(timestamp)]
        at: Timestamp,
    }

    fn webhook(note: serde_json::Value) -> Webhook {
        Webhook {
            source: json!("stripe & co"),
            attempt: json!(3),
            retried: json!(true),
            note,
            ratio: serde_json::Number::from_f64(0.25).unwrap(),
            at: Timestamp::from_millis(TM).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_json_scalar_goes_out_with_its_json_type_and_null_is_left_out() {
        let (get, post) = send_both(&webhook(json!(null))).await;
        for call in [&get, &post] {
            assert_eq!(
                call.event_properties,
                vec![
                    RecordedProperty::new("source", "stripe & co", 's'),
                    RecordedProperty::new("attempt", "3", 'n'),
                    RecordedProperty::new("retried", "true", 'b'),
                    RecordedProperty::new("ratio", "0.25", 'n'),
                ]
            );
        }
    }

    #[tokio::test]
    async fn an_array_or_object_is_a_typed_error_at_the_call_site() {
        for (note, what) in [
            (json!([1, 2]), "a JSON array"),
            (json!({"a": 1}), "a JSON object"),
        ] {
            let err = Calls::new("acme")
                .unwrap()
                .track("u", &webhook(note.clone()))
                .unwrap_err();
            assert_eq!(
                err,
                InvalidInput::UnsupportedValue {
                    name: "note".into(),
                    what
                }
            );
            // Through the client: refused before anything is sent.
            let emu = Emulator::start().await.unwrap();
            let result = webhook(note)
                .track(&client(&emu, EvwidMode::Auto), "u")
                .await;
            assert!(matches!(
                result,
                Err(gamooga::Error::InvalidInput(
                    InvalidInput::UnsupportedValue { .. }
                ))
            ));
            assert_eq!(emu.total_calls(), 0);
        }
    }

    #[test]
    fn the_schema_says_a_json_value_brings_its_own_datatype() {
        let props: Vec<_> = Webhook::SCHEMA.properties().collect();
        assert_eq!(
            (props[0].name, props[0].datatype, props[0].optional),
            ("source", None, true)
        );
        assert_eq!(props[4].datatype, Some(gamooga::DataType::Number));
        let plan: serde_json::Value =
            serde_json::from_str(&TrackingPlan::new().event::<Webhook>().to_json()).unwrap();
        assert_eq!(
            plan["events"][0]["properties"][0],
            json!({"name": "source", "datatype": null, "optional": true})
        );
    }
}
