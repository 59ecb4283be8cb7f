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
    for value in ["0xg.example", "x0.example", "evbk.gamooga.com", "0x7f.example"] {
        let backend = Backend::parse(value).unwrap();
        let url = url::Url::parse(&format!("https://{backend}/")).unwrap();
        assert_eq!(url.host_str(), Some(backend.host()), "{value}");
    }
}
