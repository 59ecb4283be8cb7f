//! Regressions for what the fuzz targets (`fuzz/`) found in the emulator, one test per
//! finding.

use gamooga_emulator::{parameter_range, validate_request};

/// A property set cut short by the end of the query (`...&ky=k&vl=1`) was refused with a
/// `parameter` index one or two past the last parameter, so `parameter_range` (and the
/// inspector's highlight) found nothing. It now names the set's last parameter. Found by
/// `emulator_validate`.
#[test]
fn a_set_cut_short_names_its_last_parameter() {
    for (query, last) in [
        ("c=acme&u=u1&e=buy&ky=k&vl=1", "vl=1"),
        ("c=acme&u=u1&e=buy&ky=k", "ky=k"),
        ("c=acme&u=u1&e=buy&ky=k&&vl=1&", "vl=1"),
    ] {
        let rejection = validate_request("GET", "/evwid/", query, None, b"").unwrap_err();
        assert!(rejection.reason.contains("incomplete"), "{rejection:?}");
        let index = rejection.parameter.expect("the set is named");
        let range = parameter_range(query, index).expect("the index names a parameter");
        assert_eq!(&query[range], last, "{query}");
    }
}

/// `validate_request` on an inspection path (`/_emulator/...`) answered 404 with the rest of
/// the path as its reason: `calls` for `/_emulator/calls`, an empty reason for
/// `/_emulator/`. Found by `emulator_validate`.
#[test]
fn an_inspection_path_is_refused_with_a_reason() {
    for path in ["/_emulator/", "/_emulator/calls"] {
        let rejection = validate_request("GET", path, "c=acme", None, b"").unwrap_err();
        assert_eq!(rejection.status, 404);
        assert!(
            rejection.reason.contains(path) && rejection.reason.contains("inspection"),
            "{path}: {:?}",
            rejection.reason
        );
    }
}
