//! Regressions for what the fuzz targets (`fuzz/`) found, one test per finding. Each input
//! is the one the fuzzer reported, or its family.

use gamooga_core::resolve::Backend;
use gamooga_core::Error;

/// `Backend::parse` took `0x` for a DNS name, but the `url` crate (which the transport sends
/// with) reads it as the IPv4 address 0.0.0.0 (WHATWG hosts: a last label that is a hex or
/// octal number makes the host an IPv4 address). An `evbk` of `0x7f000001` was a "name"
/// that reached 127.0.0.1. Found by `company_info`.
#[test]
fn backends_that_url_reads_as_another_host_are_refused() {
    for value in [
        "0x",
        "0X",
        "0x7f000001",
        "0x7f000001:8080",
        "a.0x1",
        "evbk.example.0x0",
    ] {
        match Backend::parse(value) {
            Err(Error::InvalidBackend { reason, .. }) => {
                assert!(reason.contains("IPv4"), "{value}: {reason}")
            }
            other => panic!("{value:?}: {other:?}"),
        }
    }
    // Names that merely look hex-like stay names, reached as written.
    for value in [
        "0xg.example",
        "x0.example",
        "evbk.gamooga.com",
        "0x7f.example",
    ] {
        let backend = Backend::parse(value).unwrap();
        let url = url::Url::parse(&format!("https://{backend}/")).unwrap();
        assert_eq!(url.host_str(), Some(backend.host()), "{value}");
    }
}

/// `parse_identify` accepted a visitor id holding a control character (`"au00e=\rsult"`),
/// which every call taking a visitor id (`link`, `track_visitor`, `push_visitor`) then
/// refused: the id the server gave could not be used. It is now a decode error of the `id`
/// answer, where the problem is. Found by `identify_answer`.
#[test]
fn identify_refuses_a_visitor_id_with_a_control_character() {
    use gamooga_core::client::parse_identify;
    use gamooga_core::Endpoint;
    for body in [
        r#"{"result":"success","vid":"au00e=\rsult+udf89"}"#,
        r#"{"result":"success","vid":"\n"}"#,
        r#"{"result":"success","vid":"abc\u0000"}"#,
        r#"{"result":"success","vid":"abc\u0085"}"#,
    ] {
        match parse_identify(body.as_bytes()) {
            Err(Error::Decode {
                call: Endpoint::Id,
                reason,
                ..
            }) => assert!(reason.contains("control character"), "{body}: {reason}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    let vid = parse_identify(br#"{"result":"success","vid":"0123456789abcdef"}"#).unwrap();
    assert_eq!(vid, "0123456789abcdef");
}
