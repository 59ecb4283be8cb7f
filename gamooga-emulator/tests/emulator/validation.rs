//! Every rejection rule: each bad call is answered 4xx, recorded, and names its reason.

use gamooga_emulator::Emulator;

use crate::support::{client, last_rejection, post_json, rejected, send};

async fn reason(query: &str) -> String {
    let emu = Emulator::start().await.unwrap();
    let reason = rejected(&emu, query, 400).await;
    assert_eq!(emu.rejected().len(), 1);
    assert!(emu.events().is_empty());
    reason
}

fn has(reason: &str, words: &[&str]) {
    for w in words {
        assert!(reason.contains(w), "reason {reason:?} lacks {w:?}");
    }
}

#[tokio::test]
async fn missing_parameters() {
    has(
        &reason("/evwid/?c=acme&u=u1").await,
        &["missing parameter 'e'"],
    );
    has(
        &reason("/evwid/?u=u1&e=x").await,
        &["missing parameter 'c'"],
    );
    has(&reason("/ev/?c=acme&e=x").await, &["missing parameter 'v'"]);
    has(
        &reason("/evvprwid/?c=acme&u=u&vky=a&vvl=b&vtp=s").await,
        &["missing parameter 'e'"],
    );
    has(&reason("/id/?c=acme").await, &["missing parameter 'u'"]);
    has(
        &reason("/vpr/?c=acme&p=a&vl=b&tp=s").await,
        &["missing parameter 'v'"],
    );
}

#[tokio::test]
async fn empty_parameters() {
    has(
        &reason("/evwid/?c=acme&u=&e=x").await,
        &["parameter 'u' is empty"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e").await,
        &["parameter 'e' is empty"],
    );
    has(
        &reason("/id/?c=acme&u=u1&v=").await,
        &["parameter 'v' is empty"],
    );
}

#[tokio::test]
async fn repeated_parameters() {
    has(
        &reason("/evwid/?c=acme&c=acme&u=u1&e=x").await,
        &["parameter 'c' is repeated"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&tm=1700000000000&tm=1700000000000").await,
        &["parameter 'tm' is repeated"],
    );
}

#[tokio::test]
async fn unknown_parameters() {
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&debug=1").await,
        &["unknown parameter 'debug'"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&v=abc").await,
        &["unknown parameter 'v'"],
    );
    has(
        &reason("/vpr/?c=acme&v=v1&p=a&vl=b&tp=s&tm=1700000000000").await,
        &["unknown parameter 'tm'"],
    );
    has(
        &reason("/id/?c=acme&u=u1&e=x").await,
        &["unknown parameter 'e'"],
    );
    // evwidj carries its properties in the body, never as sets.
    let emu = Emulator::start().await.unwrap();
    let (status, body) = post_json(&emu, "/evwidj/?c=acme&u=u1&e=x&ky=a&vl=1&tp=n", "{}").await;
    assert_eq!(status, 400);
    has(&last_rejection(&emu, &body), &["unknown parameter 'ky'"]);
}

#[tokio::test]
async fn incomplete_property_sets() {
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a&vl=1").await,
        &["'ky=a'", "incomplete", "'tp'"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a&vl=1&tm=1700000000000").await,
        &["incomplete", "got 'tm'"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a").await,
        &["incomplete", "'vl'"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&vl=1&tp=n").await,
        &["'vl'", "not part of a property set"],
    );
    has(
        &reason("/vpr/?c=acme&v=v1&p=a&vl=1").await,
        &["'p=a'", "incomplete"],
    );
}

#[tokio::test]
async fn out_of_order_property_sets() {
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a&tp=n&vl=1").await,
        &["out of order"],
    );
    has(
        &reason("/evvprwid/?e=x&c=acme&u=u1&vky=a&vtp=s&vvl=b").await,
        &["out of order"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&tp=n&ky=a&vl=1").await,
        &["'tp'", "not part of a property set"],
    );
}

#[tokio::test]
async fn empty_property_names() {
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=&vl=1&tp=n").await,
        &["empty name"],
    );
    has(
        &reason("/vpr/?c=acme&v=v1&p=&vl=1&tp=n").await,
        &["empty name"],
    );
}

#[tokio::test]
async fn unknown_datatypes() {
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a&vl=1&tp=i").await,
        &["'a'", "unknown type 'i'"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a&vl=1&tp=").await,
        &["unknown type ''"],
    );
    has(
        &reason("/evwid/?c=acme&u=u1&e=x&ky=a&vl=1&tp=S").await,
        &["unknown type 'S'"],
    );
}

#[tokio::test]
async fn numbers_must_be_finite_decimals() {
    for bad in [
        "abc", "NaN", "inf", "-inf", "1e400", "", "1%2C5", "0x1F", "%2B1",
    ] {
        let r = reason(&format!("/evwid/?c=acme&u=u1&e=x&ky=amount&vl={bad}&tp=n")).await;
        has(&r, &["'amount'", "not a finite number"]);
    }
}

#[tokio::test]
async fn booleans_must_be_true_or_false() {
    for bad in ["yes", "1", "True", "FALSE", ""] {
        let r = reason(&format!("/evwid/?c=acme&u=u1&e=x&ky=vip&vl={bad}&tp=b")).await;
        has(&r, &["'vip'", "not true or false"]);
    }
}

#[tokio::test]
async fn tm_must_be_integer_milliseconds() {
    let seconds = reason("/evwid/?c=acme&u=u1&e=x&tm=1700000000").await;
    has(&seconds, &["tm 1700000000", "seconds"]);
    for bad in [
        "1700000000000.5",
        "-1700000000000",
        "1.7e12",
        "abc",
        "%201700000000000",
    ] {
        let r = reason(&format!("/evwid/?c=acme&u=u1&e=x&tm={bad}")).await;
        has(&r, &["tm", "not an integer of Unix milliseconds"]);
    }
    for out in ["978307199999", "4102444800000", "99999999999999999999999"] {
        let r = reason(&format!("/ev/?c=acme&v=v1&e=x&tm={out}")).await;
        has(&r, &["out of range"]);
    }
    has(
        &reason("/evvprwid/?e=x&c=acme&u=u1&tm=12").await,
        &["out of range"],
    );
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let emu = Emulator::start().await.unwrap();
    let (status, body) =
        send(client().post(format!("http://{}/evwid/?c=acme&u=u1&e=x", emu.backend()))).await;
    assert_eq!(status, 405);
    has(
        &last_rejection(&emu, &body),
        &["evwid expects GET, got POST"],
    );
    let reason = rejected(&emu, "/evwidj/?c=acme&u=u1&e=x", 405).await;
    has(&reason, &["evwidj expects POST, got GET"]);
    let (status, body) =
        send(client().delete(format!("{}/newnaconf/acme/", emu.config_url()))).await;
    assert_eq!(status, 405);
    has(&last_rejection(&emu, &body), &["newnaconf expects GET"]);
    assert_eq!(emu.rejected().len(), 3);
}

#[tokio::test]
async fn evwidj_needs_a_json_content_type() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("http://{}/evwidj/?c=acme&u=u1&e=x", emu.backend());
    let (status, body) = send(client().post(&url).body(r#"{"a":1}"#)).await;
    assert_eq!(status, 400);
    has(
        &last_rejection(&emu, &body),
        &["Content-Type: application/json", "none"],
    );
    let (status, body) = send(
        client()
            .post(&url)
            .header("content-type", "text/plain")
            .body(r#"{"a":1}"#),
    )
    .await;
    assert_eq!(status, 400);
    has(&last_rejection(&emu, &body), &["'text/plain'"]);
}

#[tokio::test]
async fn evwidj_body_must_be_a_flat_object_of_scalars() {
    let cases: &[(&str, &[&str])] = &[
        ("", &["not a flat JSON object"]),
        ("not json", &["not a flat JSON object"]),
        (r#"[1,2]"#, &["not a flat JSON object"]),
        (r#""text""#, &["not a flat JSON object"]),
        (r#"{"a":1"#, &["not a flat JSON object"]),
        (r#"{"a":null}"#, &["'a' is null"]),
        (r#"{"a":[1]}"#, &["'a' is an array"]),
        (r#"{"a":{"b":1}}"#, &["'a' is an object"]),
        (r#"{"":1}"#, &["empty name"]),
        (r#"{"a":1,"a":2}"#, &["'a' twice"]),
    ];
    for (body, words) in cases {
        let emu = Emulator::start().await.unwrap();
        let (status, answer) = post_json(&emu, "/evwidj/?c=acme&u=u1&e=x", body).await;
        assert_eq!(status, 400, "{body}");
        has(&last_rejection(&emu, &answer), words);
        assert_eq!(
            emu.rejected()[0].body.as_deref(),
            (!body.is_empty()).then_some(*body)
        );
    }
}

#[tokio::test]
async fn vpr_needs_a_property() {
    has(
        &reason("/vpr/?c=acme&v=v1").await,
        &["at least one property"],
    );
}

#[tokio::test]
async fn invalid_utf8_is_rejected() {
    has(
        &reason("/evwid/?c=acme&u=%FF%FE&e=x").await,
        &["not valid UTF-8"],
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_recorded() {
    let emu = Emulator::start().await.unwrap();
    let reason = rejected(&emu, "/evwid?c=acme&u=u1&e=x", 404).await;
    has(&reason, &["/evwid", "trailing slash"]);
    let reason = rejected(&emu, "/nothing/here", 404).await;
    has(&reason, &["unknown path /nothing/here"]);
    assert_eq!(emu.count("/nothing/here"), 1);
    assert_eq!(emu.rejected()[1].endpoint, "/nothing/here");
}

#[tokio::test]
async fn rejected_calls_keep_what_could_be_read() {
    let emu = Emulator::start().await.unwrap();
    rejected(
        &emu,
        "/evwid/?c=acme&u=u1&e=buy&ky=a&vl=1&tp=n&ky=b&vl=x&tp=n",
        400,
    )
    .await;
    let call = &emu.rejected()[0];
    assert_eq!(call.status, 400);
    assert_eq!(call.company.as_deref(), Some("acme"));
    assert_eq!(call.user_id.as_deref(), Some("u1"));
    assert_eq!(call.event.as_deref(), Some("buy"));
    assert_eq!(call.event_properties.len(), 1);
    assert_eq!(
        emu.visitor_of("u1"),
        None,
        "a rejected call changes no state"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let emu = Emulator::start().await.unwrap();
    let big = format!(
        r#"{{"a":"{}"}}"#,
        "x".repeat(gamooga_emulator::MAX_BODY_BYTES)
    );
    let (status, body) = post_json(&emu, "/evwidj/?c=acme&u=u1&e=x", &big).await;
    assert_eq!(status, 413);
    has(&last_rejection(&emu, &body), &["larger than 1048576 bytes"]);
    assert_eq!(emu.rejected()[0].user_id.as_deref(), Some("u1"));
}
