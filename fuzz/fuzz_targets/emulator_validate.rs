//! The emulator's request validation: `validate_request(method, path, query, content type,
//! body)`, the strict server's parser of every backend call (query and `evwidj` body).
//!
//! Input, so that seeds are readable and easy to write: four lines, then the body:
//!
//! ```text
//! GET                     method
//! /evwid/                 path
//!                         Content-Type (an empty line: none)
//! c=acme&u=u1&e=buy       raw query
//! {"body": "the rest"}    body bytes (everything after the fourth newline)
//! ```
//!
//! Checked: no panic; a refusal is a 4xx with a reason, and a named parameter is one the
//! query has; an accepted call is consistent: it has the endpoint's required parameters,
//! typed values that fit their types, a `tm` in range, and re-encoding what was decoded
//! (with `url::form_urlencoded`, and `serde_json` for an `evwidj` body) validates again to
//! the very same decoded call.
#![no_main]

use gamooga_emulator::{
    parameter_range, validate_request, Decoded, RecordedProperty, TM_END, TM_MIN,
};
use libfuzzer_sys::fuzz_target;
use url::form_urlencoded;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |&b| b == b'\n');
    let mut line = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let method = line();
    let path = line();
    let content_type = line();
    let query = line();
    let body = parts.next().unwrap_or_default();
    let content_type = (!content_type.is_empty()).then_some(content_type.as_str());

    match validate_request(&method, &path, &query, content_type, body) {
        Err(rejection) => {
            assert!(
                matches!(rejection.status, 400 | 404 | 405 | 413),
                "status {}",
                rejection.status
            );
            assert!(!rejection.reason.is_empty());
            if let Some(index) = rejection.parameter {
                let range = parameter_range(&query, index)
                    .unwrap_or_else(|| panic!("{rejection:?} names no parameter of {query:?}"));
                assert!(!query[range].is_empty());
            }
        }
        Ok(decoded) => check_accepted(&method, &path, &decoded),
    }
});

fn check_accepted(method: &str, path: &str, decoded: &Decoded) {
    if let Some(company) = path.strip_prefix("/newnaconf/") {
        assert_eq!(method, "GET");
        assert!(company.ends_with('/') && company.len() > 1);
        // The company segment percent-encoded again (every byte but unreserved ones) is the
        // same company.
        let company = decoded
            .company
            .as_deref()
            .expect("newnaconf names a company");
        let encoded: String = form_urlencoded::byte_serialize(company.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let again = validate_request("GET", &format!("/newnaconf/{encoded}/"), "", None, b"")
            .expect("a re-encoded company path validates again");
        assert_eq!(&again, decoded);
        return;
    }
    let endpoint = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .expect("an accepted backend path is /name/");
    let post = endpoint == "evwidj";
    assert_eq!(method, if post { "POST" } else { "GET" });

    let required: &[&str] = match endpoint {
        "evwid" | "evwidj" | "evvprwid" => &["c", "u", "e"],
        "ev" => &["c", "v", "e"],
        "vpr" => &["c", "v"],
        "id" => &["c", "u"],
        other => panic!("accepted an unknown endpoint {other:?}"),
    };
    let singles = [
        ("c", &decoded.company),
        ("u", &decoded.user_id),
        ("v", &decoded.visitor_id),
        ("e", &decoded.event),
    ];
    for (key, value) in singles {
        if required.contains(&key) {
            assert!(value.as_deref().is_some_and(|v| !v.is_empty()), "{key}");
        }
    }
    if let Some(tm) = decoded.tm {
        assert!((TM_MIN..TM_END).contains(&tm));
        assert!(matches!(endpoint, "evwid" | "evwidj" | "ev" | "evvprwid"));
    }
    for p in decoded
        .event_properties
        .iter()
        .chain(&decoded.visitor_properties)
    {
        check_property(p);
    }
    if endpoint == "vpr" {
        assert!(!decoded.visitor_properties.is_empty());
    }
    if post {
        let mut names: Vec<&str> = decoded.event_properties.iter().map(|p| &*p.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "evwidj property names are distinct");
    }

    // Re-encode what was decoded, in the spec's order, and validate it again.
    let mut q = form_urlencoded::Serializer::new(String::new());
    let mut single = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            q.append_pair(key, v);
        }
    };
    let tm = decoded.tm.map(|t| t.to_string());
    if endpoint == "evvprwid" {
        single("e", &decoded.event);
        single("c", &decoded.company);
        single("u", &decoded.user_id);
    } else {
        single("c", &decoded.company);
        single("u", &decoded.user_id);
        single("v", &decoded.visitor_id);
        single("e", &decoded.event);
    }
    let mut sets = |keys: [&str; 3], props: &[RecordedProperty]| {
        for p in props {
            q.append_pair(keys[0], &p.name);
            q.append_pair(keys[1], &p.value);
            q.append_pair(keys[2], &p.datatype.to_string());
        }
    };
    let mut body = Vec::new();
    match endpoint {
        "evwid" | "ev" => sets(["ky", "vl", "tp"], &decoded.event_properties),
        "evvprwid" => {
            sets(["eky", "evl", "etp"], &decoded.event_properties);
            sets(["vky", "vvl", "vtp"], &decoded.visitor_properties);
        }
        "vpr" => sets(["p", "vl", "tp"], &decoded.visitor_properties),
        "evwidj" => body = json_body(&decoded.event_properties),
        _ => {}
    }
    if let Some(tm) = &tm {
        q.append_pair("tm", tm);
    }
    let query = q.finish();
    let content_type = post.then_some("application/json");
    let again = validate_request(method, path, &query, content_type, &body)
        .unwrap_or_else(|r| panic!("re-encoded call refused: {r:?}\nquery: {query}"));
    assert_eq!(&again, decoded, "re-encoded query: {query}");
}

fn check_property(p: &RecordedProperty) {
    assert!(!p.name.is_empty());
    match p.datatype {
        's' => {}
        'n' => {
            let n: f64 = p.value.parse().expect("an accepted n value parses");
            assert!(n.is_finite(), "{:?}", p.value);
        }
        'b' => assert!(p.value == "true" || p.value == "false", "{:?}", p.value),
        other => panic!("datatype {other:?}"),
    }
}

/// The properties as a flat JSON object, in order, with their JSON types.
fn json_body(props: &[RecordedProperty]) -> Vec<u8> {
    let mut out = String::from("{");
    for (i, p) in props.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&p.name).unwrap());
        out.push(':');
        match p.datatype {
            's' => out.push_str(&serde_json::to_string(&p.value).unwrap()),
            // The number as serde_json printed it, and `true` / `false`: valid JSON tokens.
            _ => out.push_str(&p.value),
        }
    }
    out.push('}');
    out.into_bytes()
}
