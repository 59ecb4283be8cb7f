//! Strict parsing and validation of backend calls, with the emulator's own code:
//! `url::form_urlencoded` for queries and `serde_json` for `evwidj` bodies.
//!
//! Rules (each violation is a 4xx whose reason names the problem):
//!
//! * single parameters (`c`, `u`, `v`, `e`, `tm`) must be present when required, non-empty
//!   and sent once; they may come in any order relative to each other and to property sets;
//! * a parameter the endpoint does not know is rejected;
//! * a property set is three consecutive parameters, name, value, type (`ky`,`vl`,`tp`, ...);
//!   an incomplete or reordered set, or an empty name, is rejected;
//! * the type is `s`, `n` or `b`; an `n` value is a finite decimal number
//!   (`-?digits[.digits][(e|E)[+-]digits]`), a `b` value is `true` or `false`;
//! * `tm` (optional on event calls, absent elsewhere) is an integer of Unix milliseconds in
//!   `[978307200000, 4102444800000)`, i.e. 2001 up to 2100; a 10-digit seconds value is
//!   rejected;
//! * `evwidj` needs `Content-Type: application/json` and a flat JSON object whose values are
//!   strings (`s`), numbers (`n`) or booleans (`b`), with non-empty, distinct names;
//! * `vpr` needs at least one property;
//! * each endpoint accepts one method (`evwidj` POST, all others GET), else 405.
//!
//! Queries are decoded as `application/x-www-form-urlencoded`, so a raw `+` means a space
//! (the SDK always sends `%2B` for a plus sign and `%20` for a space).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use url::form_urlencoded;

use std::ops::Range;

use crate::call::RecordedProperty;
use crate::endpoint::{Endpoint, Route};

/// Lowest accepted `tm`: 2001-01-01T00:00:00Z in milliseconds.
pub const TM_MIN: u64 = 978_307_200_000;
/// First rejected `tm`: 2100-01-01T00:00:00Z in milliseconds.
pub const TM_END: u64 = 4_102_444_800_000;

/// What could be read from a call, even a rejected one.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decoded {
    /// `c`, or the company segment of `newnaconf`.
    pub company: Option<String>,
    /// `u`.
    pub user_id: Option<String>,
    /// `v`.
    pub visitor_id: Option<String>,
    /// `e`.
    pub event: Option<String>,
    /// The event property sets (or the `evwidj` body), in order.
    pub event_properties: Vec<RecordedProperty>,
    /// The visitor property sets, in order.
    pub visitor_properties: Vec<RecordedProperty>,
    /// `tm`, when valid.
    pub tm: Option<u64>,
}

/// Why a call is refused: the HTTP status and a reason naming the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status answered (400, 404, 405, 413).
    pub status: u16,
    /// What is wrong, naming the parameter.
    pub reason: String,
    /// The index of the offending parameter among the query's `&`-separated parameters
    /// (see [`parameter_range`]), when the problem is about one.
    pub parameter: Option<usize>,
}

impl Rejection {
    fn bad(reason: impl Into<String>) -> Self {
        Rejection {
            status: 400,
            reason: reason.into(),
            parameter: None,
        }
    }

    fn at(mut self, parameter: usize) -> Self {
        self.parameter = Some(parameter);
        self
    }
}

/// The request parts validation looks at.
pub(crate) struct RequestParts<'a> {
    pub method: &'a str,
    pub raw_query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Validates one request exactly as the server does, without a server: routes `path`, then
/// checks the method, query, `Content-Type` and body. `newnaconf` and unknown paths are
/// checked for their path and method only (the company list is the server's, not checked
/// here). A pure function, for fuzzing and for tools.
///
/// ```
/// use gamooga_emulator::validate_request;
///
/// let ok = validate_request("GET", "/evwid/", "c=acme&u=u1&e=buy&ky=a&vl=1&tp=n", None, b"")
///     .unwrap();
/// assert_eq!(ok.event.as_deref(), Some("buy"));
/// let bad = validate_request("GET", "/evwid/", "c=acme&u=u1&e=buy&ky=a&vl=x&tp=n", None, b"")
///     .unwrap_err();
/// assert_eq!(bad.status, 400);
/// assert_eq!(bad.parameter, Some(4)); // `vl=x`, the value that is not a number
/// ```
///
/// # Errors
/// The first problem found, as the server would answer it.
#[doc(hidden)]
pub fn validate_request(
    method: &str,
    path: &str,
    raw_query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Decoded, Rejection> {
    match Route::of(path) {
        Route::Backend(ep) => {
            let (data, problem) = validate(
                ep,
                &RequestParts {
                    method,
                    raw_query,
                    content_type,
                    body,
                },
            );
            problem.map_or(Ok(data), Err)
        }
        Route::Newnaconf(segment) if method == "GET" => Ok(Decoded {
            company: Some(
                percent_encoding::percent_decode_str(&segment)
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
            ..Decoded::default()
        }),
        Route::Newnaconf(_) => Err(Rejection {
            status: 405,
            reason: format!("newnaconf expects GET, got {method}"),
            parameter: None,
        }),
        Route::Unknown(reason) => Err(Rejection {
            status: 404,
            reason,
            parameter: None,
        }),
        // `Inspect` holds the rest of the path, not a reason (found by fuzzing, `fuzz/`).
        Route::Inspect(_) => Err(Rejection {
            status: 404,
            reason: format!("{path} is the emulator's inspection API, not a Gamooga call"),
            parameter: None,
        }),
    }
}

/// The byte range of parameter `index` in `raw_query`, counting the non-empty
/// `&`-separated pieces as `application/x-www-form-urlencoded` decoding does.
pub fn parameter_range(raw_query: &str, index: usize) -> Option<Range<usize>> {
    let mut start = 0;
    let mut seen = 0;
    for piece in raw_query.split('&') {
        let end = start + piece.len();
        if !piece.is_empty() {
            if seen == index {
                return Some(start..end);
            }
            seen += 1;
        }
        start = end + 1;
    }
    None
}

/// The index of the first parameter called `key` (percent-decoded), for problems found after
/// parsing (an unknown company is about `c`).
pub(crate) fn parameter_index(raw_query: &str, key: &str) -> Option<usize> {
    form_urlencoded::parse(raw_query.as_bytes()).position(|(k, _)| k == key)
}

#[derive(Clone, Copy)]
enum Single {
    C,
    U,
    V,
    E,
    Tm,
}

impl Single {
    fn key(self) -> &'static str {
        match self {
            Single::C => "c",
            Single::U => "u",
            Single::V => "v",
            Single::E => "e",
            Single::Tm => "tm",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Event,
    Visitor,
}

struct SetSpec {
    keys: [&'static str; 3],
    target: Target,
}

struct Spec {
    /// (parameter, required)
    singles: &'static [(Single, bool)],
    sets: &'static [SetSpec],
}

const EVENT_SETS: &[SetSpec] = &[SetSpec {
    keys: ["ky", "vl", "tp"],
    target: Target::Event,
}];

fn spec(ep: Endpoint) -> Spec {
    match ep {
        Endpoint::Evwid => Spec {
            singles: &[
                (Single::C, true),
                (Single::U, true),
                (Single::E, true),
                (Single::Tm, false),
            ],
            sets: EVENT_SETS,
        },
        Endpoint::Evwidj => Spec {
            singles: &[
                (Single::C, true),
                (Single::U, true),
                (Single::E, true),
                (Single::Tm, false),
            ],
            sets: &[],
        },
        Endpoint::Ev => Spec {
            singles: &[
                (Single::C, true),
                (Single::V, true),
                (Single::E, true),
                (Single::Tm, false),
            ],
            sets: EVENT_SETS,
        },
        Endpoint::Evvprwid => Spec {
            singles: &[
                (Single::E, true),
                (Single::C, true),
                (Single::U, true),
                (Single::Tm, false),
            ],
            sets: &[
                SetSpec {
                    keys: ["eky", "evl", "etp"],
                    target: Target::Event,
                },
                SetSpec {
                    keys: ["vky", "vvl", "vtp"],
                    target: Target::Visitor,
                },
            ],
        },
        Endpoint::Vpr => Spec {
            singles: &[(Single::C, true), (Single::V, true)],
            sets: &[SetSpec {
                keys: ["p", "vl", "tp"],
                target: Target::Visitor,
            }],
        },
        Endpoint::Id => Spec {
            singles: &[(Single::C, true), (Single::U, true), (Single::V, false)],
            sets: &[],
        },
    }
}

/// Parses and validates one backend call. Always returns what could be read; the rejection
/// is the first problem found (a wrong method comes first).
pub(crate) fn validate(ep: Endpoint, req: &RequestParts<'_>) -> (Decoded, Option<Rejection>) {
    let mut data = Decoded::default();
    let mut problem: Option<Rejection> = None;
    let note = |p: &mut Option<Rejection>, r: Rejection| {
        if p.is_none() {
            *p = Some(r);
        }
    };

    let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        form_urlencoded::parse(req.raw_query.as_bytes()).collect();
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}'))
        && !req.raw_query.to_ascii_uppercase().contains("%EF%BF%BD")
        && !req.raw_query.contains('\u{FFFD}')
    {
        note(
            &mut problem,
            Rejection::bad("the query is not valid UTF-8 once percent-decoded"),
        );
    }

    let spec = spec(ep);
    let mut seen: Vec<(Single, usize)> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let (key, value) = (&pairs[i].0, &pairs[i].1);
        if let Some(&(single, _)) = spec.singles.iter().find(|(s, _)| s.key() == key) {
            match seen.iter_mut().find(|(s, _)| s.key() == single.key()) {
                Some((_, n)) => {
                    *n += 1;
                    note(
                        &mut problem,
                        Rejection::bad(format!("parameter '{key}' is repeated")).at(i),
                    );
                }
                None => {
                    seen.push((single, 1));
                    if let Err(r) = store_single(&mut data, single, value) {
                        note(&mut problem, r.at(i));
                    }
                }
            }
            i += 1;
            continue;
        }
        if let Some(set) = spec.sets.iter().find(|s| s.keys[0] == key) {
            match read_set(set, &pairs, i) {
                Ok(prop) => {
                    match set.target {
                        Target::Event => data.event_properties.push(prop),
                        Target::Visitor => data.visitor_properties.push(prop),
                    }
                    i += 3;
                }
                Err(r) => {
                    // The set's own pair when read_set named one, else where the set starts.
                    let r = if r.parameter.is_some() { r } else { r.at(i) };
                    note(&mut problem, r);
                    i += 1;
                }
            }
            continue;
        }
        if let Some(set) = spec
            .sets
            .iter()
            .find(|s| s.keys[1..].contains(&key.as_ref()))
        {
            note(
                &mut problem,
                Rejection::bad(format!(
                    "parameter '{key}' (position {}) is not part of a property set: a set is \
                     '{}', '{}', '{}' in that order",
                    i + 1,
                    set.keys[0],
                    set.keys[1],
                    set.keys[2]
                ))
                .at(i),
            );
            i += 1;
            continue;
        }
        note(
            &mut problem,
            Rejection::bad(format!(
                "unknown parameter '{key}' for {} (accepted: {})",
                ep.name(),
                accepted(&spec)
            ))
            .at(i),
        );
        i += 1;
    }

    for &(single, required) in spec.singles {
        if required && !seen.iter().any(|(s, _)| s.key() == single.key()) {
            note(
                &mut problem,
                Rejection::bad(format!("missing parameter '{}'", single.key())),
            );
        }
    }

    if ep == Endpoint::Evwidj {
        if let Err(r) = read_json_body(req, &mut data) {
            note(&mut problem, r);
        }
    }
    if ep == Endpoint::Vpr && data.visitor_properties.is_empty() {
        note(
            &mut problem,
            Rejection::bad("vpr needs at least one property set ('p', 'vl', 'tp')"),
        );
    }

    if req.method != ep.method() {
        problem = Some(Rejection {
            status: 405,
            reason: format!("{} expects {}, got {}", ep.name(), ep.method(), req.method),
            parameter: None,
        });
    }
    (data, problem)
}

fn accepted(spec: &Spec) -> String {
    let mut names: Vec<&str> = spec.singles.iter().map(|(s, _)| s.key()).collect();
    for set in spec.sets {
        names.extend(set.keys);
    }
    names.join(", ")
}

fn store_single(data: &mut Decoded, single: Single, value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::bad(format!(
            "parameter '{}' is empty",
            single.key()
        )));
    }
    match single {
        Single::C => data.company = Some(value.to_owned()),
        Single::U => data.user_id = Some(value.to_owned()),
        Single::V => data.visitor_id = Some(value.to_owned()),
        Single::E => data.event = Some(value.to_owned()),
        Single::Tm => data.tm = Some(parse_tm(value)?),
    }
    Ok(())
}

/// `tm` must be an integer number of Unix milliseconds between 2001 and 2100.
pub(crate) fn parse_tm(value: &str) -> Result<u64, Rejection> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::bad(format!(
            "tm '{value}' is not an integer of Unix milliseconds"
        )));
    }
    let tm: u64 = value.parse().map_err(|_| {
        Rejection::bad(format!(
            "tm '{value}' is out of range: expected Unix milliseconds in [{TM_MIN}, {TM_END})"
        ))
    })?;
    if !(TM_MIN..TM_END).contains(&tm) {
        let hint = if (TM_MIN / 1000..TM_END / 1000).contains(&tm) {
            " (this looks like seconds; tm is in milliseconds)"
        } else {
            ""
        };
        return Err(Rejection::bad(format!(
            "tm {tm} is out of range: expected Unix milliseconds in [{TM_MIN}, {TM_END}){hint}"
        )));
    }
    Ok(tm)
}

fn read_set(
    set: &SetSpec,
    pairs: &[(Cow<'_, str>, Cow<'_, str>)],
    start: usize,
) -> Result<RecordedProperty, Rejection> {
    let [kn, kv, kt] = set.keys;
    let name = &pairs[start].1;
    let describe = |n: &str| format!("property set '{kn}={n}' (position {})", start + 1);
    let expect = |offset: usize, want: &str| -> Result<&str, Rejection> {
        match pairs.get(start + offset) {
            Some((k, v)) if k == want => Ok(v.as_ref()),
            Some((k, _)) if set.keys.contains(&k.as_ref()) => Err(Rejection::bad(format!(
                "{} is out of order: expected '{want}' next, got '{k}' (a set is '{kn}', '{kv}', \
                 '{kt}' in that order)",
                describe(name)
            ))),
            Some((k, _)) => Err(Rejection::bad(format!(
                "{} is incomplete: expected '{want}' next, got '{k}'",
                describe(name)
            ))),
            None => Err(Rejection::bad(format!(
                "{} is incomplete: expected '{want}' next, got the end of the query",
                describe(name)
            ))),
        }
    };
    // A set cut short by the end of the query is named at its last parameter, never past
    // the end (found by fuzzing, `fuzz/`).
    let at = |offset: usize| (start + offset).min(pairs.len() - 1);
    let value = expect(1, kv).map_err(|r| r.at(at(1)))?;
    let datatype = expect(2, kt).map_err(|r| r.at(at(2)))?;
    if name.is_empty() {
        return Err(Rejection::bad(format!(
            "property set at position {} has an empty name ('{kn}')",
            start + 1
        ))
        .at(start));
    }
    let datatype = check_typed_value(name, value, datatype).map_err(|r| {
        // A bad type names the type; a value that does not fit its type names the value.
        let at = if matches!(datatype, "s" | "n" | "b") {
            1
        } else {
            2
        };
        r.at(start + at)
    })?;
    Ok(RecordedProperty {
        name: name.to_string(),
        value: value.to_owned(),
        datatype,
    })
}

/// Checks a value against its declared type `s`, `n` or `b`.
fn check_typed_value(name: &str, value: &str, datatype: &str) -> Result<char, Rejection> {
    match datatype {
        "s" => Ok('s'),
        "n" => {
            if is_finite_number(value) {
                Ok('n')
            } else {
                Err(Rejection::bad(format!(
                    "property '{name}' has type n but value '{value}' is not a finite number"
                )))
            }
        }
        "b" => {
            if value == "true" || value == "false" {
                Ok('b')
            } else {
                Err(Rejection::bad(format!(
                    "property '{name}' has type b but value '{value}' is not true or false"
                )))
            }
        }
        other => Err(Rejection::bad(format!(
            "property '{name}' has unknown type '{other}' (expected s, n or b)"
        ))),
    }
}

/// `-?digits[.digits][(e|E)[+-]digits]` and finite as an `f64`.
pub(crate) fn is_finite_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len() && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A JSON object read in order, duplicates kept (so they can be refused).
struct FlatObject(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for FlatObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = FlatObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a flat JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlatObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(FlatObject(entries))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// Whether a `Content-Type` value is `application/json` (parameters such as a charset allowed).
pub(crate) fn is_json_content_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

fn read_json_body(req: &RequestParts<'_>, data: &mut Decoded) -> Result<(), Rejection> {
    if !req.content_type.is_some_and(is_json_content_type) {
        return Err(Rejection::bad(format!(
            "evwidj needs Content-Type: application/json, got {}",
            req.content_type
                .map_or_else(|| "none".to_owned(), |c| format!("'{c}'"))
        )));
    }
    let object: FlatObject = serde_json::from_slice(req.body)
        .map_err(|e| Rejection::bad(format!("evwidj body is not a flat JSON object: {e}")))?;
    // A set, not a scan of the properties kept so far: a body of many properties is checked
    // in linear time (a scan made the check quadratic).
    let mut names: std::collections::HashSet<String> =
        std::collections::HashSet::with_capacity(object.0.len());
    for (name, value) in object.0 {
        if name.is_empty() {
            return Err(Rejection::bad(
                "evwidj body has a property with an empty name",
            ));
        }
        if !names.insert(name.clone()) {
            return Err(Rejection::bad(format!(
                "evwidj body has property '{name}' twice"
            )));
        }
        let (value, datatype) = match value {
            serde_json::Value::String(s) => (s, 's'),
            serde_json::Value::Number(n) => (n.to_string(), 'n'),
            serde_json::Value::Bool(b) => (b.to_string(), 'b'),
            serde_json::Value::Null => return Err(json_kind(&name, "null")),
            serde_json::Value::Array(_) => return Err(json_kind(&name, "an array")),
            serde_json::Value::Object(_) => return Err(json_kind(&name, "an object")),
        };
        data.event_properties.push(RecordedProperty {
            name,
            value,
            datatype,
        });
    }
    Ok(())
}

fn json_kind(name: &str, kind: &str) -> Rejection {
    Rejection::bad(format!(
        "evwidj property '{name}' is {kind}: values must be strings, numbers or booleans"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(ep: Endpoint, q: &str) -> (Decoded, Option<Rejection>) {
        validate(
            ep,
            &RequestParts {
                method: ep.method(),
                raw_query: q,
                content_type: None,
                body: b"",
            },
        )
    }

    #[test]
    fn numbers_follow_the_decimal_grammar() {
        for ok in ["0", "-1", "12.5", "1e3", "1.5E-7", "007"] {
            assert!(is_finite_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "1.", ".5", "+1", "1e", "NaN", "inf", "1e400", "0x10", " 1",
        ] {
            assert!(!is_finite_number(bad), "{bad}");
        }
    }

    #[test]
    fn evwidj_bodies_refuse_a_name_twice_however_far_apart() {
        let post = |body: &str| {
            validate(
                Endpoint::Evwidj,
                &RequestParts {
                    method: Endpoint::Evwidj.method(),
                    raw_query: "c=acme&u=u1&e=wide",
                    content_type: Some("application/json"),
                    body: body.as_bytes(),
                },
            )
        };
        let names: Vec<String> = (0..500).map(|i| format!("p{i}")).collect();
        let object = |names: &[String]| {
            let fields: Vec<String> = names.iter().map(|n| format!("\"{n}\":1")).collect();
            format!("{{{}}}", fields.join(","))
        };
        let (d, r) = post(&object(&names));
        assert_eq!(r, None);
        let got: Vec<&str> = d.event_properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
        let mut twice = names.clone();
        twice.push("p3".into());
        let (_, r) = post(&object(&twice));
        let reason = r.expect("a repeated name is refused").reason;
        assert!(reason.contains("'p3' twice"), "{reason}");
    }

    #[test]
    fn tm_bounds() {
        assert!(parse_tm("978307200000").is_ok());
        assert!(parse_tm("4102444799999").is_ok());
        assert!(parse_tm("4102444800000").is_err());
        let secs = parse_tm("1700000000").unwrap_err();
        assert!(secs.reason.contains("seconds"), "{}", secs.reason);
        assert!(parse_tm("1.7e12").is_err());
        assert!(parse_tm("99999999999999999999999").is_err());
    }

    #[test]
    fn reads_sets_in_order() {
        let (d, r) = get(
            Endpoint::Evvprwid,
            "e=buy&c=acme&u=u1&eky=a&evl=1&etp=n&vky=tier&vvl=gold&vtp=s&tm=1700000000000",
        );
        assert_eq!(r, None);
        assert_eq!(
            d.event_properties,
            vec![RecordedProperty::new("a", "1", 'n')]
        );
        assert_eq!(
            d.visitor_properties,
            vec![RecordedProperty::new("tier", "gold", 's')]
        );
        assert_eq!(d.tm, Some(1_700_000_000_000));
    }

    #[test]
    fn the_offending_parameter_is_located_in_the_raw_query() {
        fn at(q: &str) -> &str {
            let (_, r) = get(Endpoint::Evwid, q);
            let i = r.unwrap().parameter.expect("a parameter");
            &q[parameter_range(q, i).unwrap()]
        }
        assert_eq!(at("c=a&u=b&e=x&ky=k&vl=abc&tp=n"), "vl=abc");
        assert_eq!(at("c=a&u=b&e=x&ky=k&vl=1&tp=q"), "tp=q");
        assert_eq!(at("c=a&&u=b&e=x&e=y"), "e=y");
        assert_eq!(at("c=a&u=b&e=x&zz=1"), "zz=1");
        assert_eq!(at("c=a&u=b&e=x&tm=1700000000"), "tm=1700000000");
        assert_eq!(at("c=a&u=b&e=x&ky=k&tp=s&vl=v"), "tp=s");
        assert_eq!(at("c=a&u=&e=x"), "u=");
        let (_, missing) = get(Endpoint::Evwid, "c=a&u=b");
        assert_eq!(missing.unwrap().parameter, None);
        assert_eq!(parameter_range("a=1&&b=2", 1), Some(5..8));
        assert_eq!(parameter_range("a=1", 1), None);
    }

    #[test]
    fn first_problem_is_reported() {
        let (_, r) = get(Endpoint::Evwid, "c=a&u=b&e=x&ky=k&tp=s&vl=v");
        assert!(r.unwrap().reason.contains("out of order"));
    }
}
