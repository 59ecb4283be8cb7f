//! Company information (`newnaconf`) answers and backend validation.
//!
//! Input: the raw answer body, given to `parse_company_info`; the same bytes, when UTF-8, are
//! also given to `Backend::parse` directly (as a fixed backend or an `evbk` value would be).
//!
//! Checked: no panic; a refusal is a typed error (`Decode` or `InvalidBackend`); an accepted
//! backend has no scheme, path, query, fragment or user info, round-trips through `Display`
//! and `parse`, and names the same host, port and loopback-ness that the `url` crate (which
//! reqwest uses to send the call) reads from `https://{backend}/evwid/`.
#![no_main]

use gamooga_core::resolve::{parse_company_info, Backend};
use gamooga_core::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_company_info(data) {
        Ok(backend) => {
            // The answer was a JSON object whose `evbk` string is this backend.
            let value: serde_json::Value = serde_json::from_slice(data).expect("accepted JSON");
            let evbk = value["evbk"].as_str().expect("accepted evbk is a string");
            assert_eq!(Backend::parse(evbk).ok(), Some(backend.clone()));
            check_backend(&backend);
        }
        Err(Error::Decode { .. } | Error::InvalidBackend { .. }) => {}
        Err(other) => panic!("untyped refusal: {other:?}"),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        match Backend::parse(text) {
            Ok(backend) => check_backend(&backend),
            Err(Error::InvalidBackend { .. }) => {}
            Err(other) => panic!("untyped refusal: {other:?}"),
        }
    }
});

fn check_backend(backend: &Backend) {
    let shown = backend.to_string();
    assert!(!shown.is_empty());
    for forbidden in ["://", "/", "?", "#", "@", " "] {
        assert!(!shown.contains(forbidden), "{shown:?} holds {forbidden:?}");
    }
    assert_eq!(
        Backend::parse(&shown).ok().as_ref(),
        Some(backend),
        "Display → parse"
    );

    // What the transport will actually reach, read by an independent parser.
    let url = url::Url::parse(&format!("https://{shown}/evwid/"))
        .unwrap_or_else(|e| panic!("backend {shown:?} accepted but `url` refuses it: {e}"));
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.username(), "");
    assert_eq!(url.password(), None);
    assert_eq!(url.path(), "/evwid/");
    assert_eq!(url.query(), None);
    assert_eq!(url.fragment(), None);
    assert_eq!(
        url.port_or_known_default(),
        Some(backend.port().unwrap_or(443)),
        "{shown:?}"
    );
    let host = url.host().expect("an https URL has a host");
    let (url_host, url_loopback) = match &host {
        url::Host::Domain(d) => (d.to_string(), d.eq_ignore_ascii_case("localhost")),
        url::Host::Ipv4(ip) => (ip.to_string(), ip.is_loopback()),
        url::Host::Ipv6(ip) => (format!("[{ip}]"), ip.is_loopback()),
    };
    assert_eq!(url_host, backend.host(), "{shown:?}: the host reached");
    assert_eq!(url_loopback, backend.is_loopback(), "{shown:?}: loopback");
}
