//! Percent-encoding of query values and the property writers that encode straight into a
//! query or a JSON body.
//!
//! The percent-encoder is written by hand rather than taken from `percent-encoding`: it is
//! the hot path of every call, and a lookup table plus whole-run copies lets a query be
//! sized exactly in one pass and written in a second with a single allocation.

use crate::error::InvalidInput;
use crate::property::{number_text, DataType, PropertyWriter, Value};

/// Bytes sent as they are: the unreserved set `A-Z a-z 0-9 - . _ ~`.
const UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        i += 1;
    }
    t
};

/// `%00%01…%FF`: the escape of byte `b` is `ESCAPES[3 * b..3 * b + 3]`.
const ESCAPES: &str = {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const BYTES: [u8; 768] = {
        let mut t = [0u8; 768];
        let mut i = 0;
        while i < 256 {
            t[3 * i] = b'%';
            t[3 * i + 1] = HEX[i >> 4];
            t[3 * i + 2] = HEX[i & 0xF];
            i += 1;
        }
        t
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("escapes are ASCII"),
    }
};

/// The length of `s` once percent-encoded.
pub(crate) fn encoded_len(s: &str) -> usize {
    s.len() + 2 * s.bytes().filter(|&b| !UNRESERVED[b as usize]).count()
}

/// Appends `s` percent-encoded: every byte outside the unreserved set becomes `%XX`
/// (upper-case hex), so space is `%20` and `+` is `%2B`.
pub(crate) fn encode_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !UNRESERVED[b as usize] {
            if run < i {
                // `run..i` is a run of ASCII unreserved bytes, so both ends are char
                // boundaries; when `run == i` it may sit inside a multi-byte char, so skip.
                out.push_str(&s[run..i]);
            }
            let e = 3 * b as usize;
            out.push_str(&ESCAPES[e..e + 3]);
            run = i + 1;
        }
    }
    out.push_str(&s[run..]);
}

/// Bounds of a value's wire length in a query (after percent-encoding), for a value that was
/// validated: exact for text and booleans; for numbers at least one byte and at most
/// [`Number::decimal_len_max`](crate::Number), so that sizing a query never formats a number
/// (formatting floats twice was a quarter of the time of building a request); for a `Text`
/// number, its canonical text's length (all unreserved bytes).
fn value_len_bounds(name: &str, v: &Value<'_>) -> Result<(usize, usize), InvalidInput> {
    Ok(match v {
        Value::Text(s, DataType::Number) => {
            let n = number_text(name, s, str::len)?;
            (n, n)
        }
        Value::String(s) | Value::Text(s, _) => {
            let n = encoded_len(s);
            (n, n)
        }
        // Plain decimal is all unreserved bytes: digits, `-` and `.`.
        Value::Number(n) => (1, n.decimal_len_max()),
        Value::Bool(true) => (4, 4),
        Value::Bool(false) => (5, 5),
    })
}

/// The parameter names of one kind of property set.
#[derive(Clone, Copy)]
pub(crate) struct SetKeys {
    pub name: &'static str,
    pub value: &'static str,
    pub datatype: &'static str,
}

pub(crate) const EVENT_KEYS: SetKeys = SetKeys {
    name: "ky",
    value: "vl",
    datatype: "tp",
};
pub(crate) const EVVPR_EVENT_KEYS: SetKeys = SetKeys {
    name: "eky",
    value: "evl",
    datatype: "etp",
};
pub(crate) const EVVPR_VISITOR_KEYS: SetKeys = SetKeys {
    name: "vky",
    value: "vvl",
    datatype: "vtp",
};
pub(crate) const VPR_KEYS: SetKeys = SetKeys {
    name: "p",
    value: "vl",
    datatype: "tp",
};

/// First pass: validates properties and bounds the bytes their sets take in a query.
pub(crate) struct QuerySizer {
    keys: SetKeys,
    /// The fewest bytes the sets can take.
    pub min: usize,
    /// The most bytes the sets can take: the capacity to allocate.
    pub max: usize,
    pub count: usize,
}

impl QuerySizer {
    pub fn new(keys: SetKeys) -> Self {
        QuerySizer {
            keys,
            min: 0,
            max: 0,
            count: 0,
        }
    }
}

impl PropertyWriter for QuerySizer {
    fn property(&mut self, name: &str, value: Value<'_>) -> Result<(), InvalidInput> {
        value.validate(name)?;
        let k = self.keys;
        // "&ky=" + name + "&vl=" + value + "&tp=" + code
        let fixed = k.name.len() + k.value.len() + k.datatype.len() + 6 + encoded_len(name) + 1;
        let (min, max) = value_len_bounds(name, &value)?;
        self.min += fixed + min;
        self.max += fixed + max;
        self.count += 1;
        Ok(())
    }
}

/// Second pass: writes property sets into the query.
pub(crate) struct QueryProperties<'a> {
    keys: SetKeys,
    out: &'a mut String,
}

impl<'a> QueryProperties<'a> {
    pub fn new(keys: SetKeys, out: &'a mut String) -> Self {
        QueryProperties { keys, out }
    }
}

impl PropertyWriter for QueryProperties<'_> {
    fn property(&mut self, name: &str, value: Value<'_>) -> Result<(), InvalidInput> {
        value.validate(name)?;
        let k = self.keys;
        let out = &mut *self.out;
        out.push('&');
        out.push_str(k.name);
        out.push('=');
        encode_into(out, name);
        out.push('&');
        out.push_str(k.value);
        out.push('=');
        match &value {
            // The canonical plain decimal, as in a JSON body: digits, `-` and `.` only.
            Value::Text(s, DataType::Number) => number_text(name, s, |t| out.push_str(t))?,
            Value::String(s) | Value::Text(s, _) => encode_into(out, s),
            Value::Number(n) => n.write_decimal(out),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
        out.push('&');
        out.push_str(k.datatype);
        out.push('=');
        out.push_str(value.datatype().code());
        Ok(())
    }
}

/// Writes properties as a flat JSON object (the `evwidj` body), the JSON type carrying the
/// datatype. Refuses a name written twice, which a JSON object cannot carry.
pub(crate) struct JsonProperties {
    out: String,
    names: SeenNames,
}

/// The property names written so far, to refuse one written twice. Events carry a handful
/// of properties, where a scan of a short list beats hashing; past [`SeenNames::SCAN`] names
/// they move to a hash set, so a large body costs linear time, not quadratic.
enum SeenNames {
    Few(Vec<String>),
    Many(std::collections::HashSet<String>),
}

impl SeenNames {
    const SCAN: usize = 16;

    /// Records `name`; false if it was already there.
    fn insert(&mut self, name: &str) -> bool {
        match self {
            SeenNames::Few(names) => {
                if names.iter().any(|n| n == name) {
                    return false;
                }
                if names.len() < Self::SCAN {
                    names.push(name.to_owned());
                } else {
                    let mut set: std::collections::HashSet<String> =
                        std::mem::take(names).into_iter().collect();
                    set.insert(name.to_owned());
                    *self = SeenNames::Many(set);
                }
                true
            }
            SeenNames::Many(set) => {
                if set.contains(name) {
                    return false;
                }
                set.insert(name.to_owned())
            }
        }
    }
}

impl JsonProperties {
    pub fn new() -> Self {
        JsonProperties {
            out: String::from("{"),
            names: SeenNames::Few(Vec::new()),
        }
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

fn push_json_string(out: &mut String, s: &str) {
    // serde_json's escaping, written straight into our buffer.
    let json = serde_json::to_string(s).expect("a str always serializes");
    out.push_str(&json);
}

impl PropertyWriter for JsonProperties {
    fn property(&mut self, name: &str, value: Value<'_>) -> Result<(), InvalidInput> {
        value.validate(name)?;
        if !self.names.insert(name) {
            return Err(InvalidInput::DuplicateProperty {
                name: name.to_owned(),
            });
        }
        let out = &mut self.out;
        if out.len() > 1 {
            out.push(',');
        }
        push_json_string(out, name);
        out.push(':');
        match &value {
            Value::String(s) | Value::Text(s, DataType::String) => push_json_string(out, s),
            Value::Number(n) => n.write_decimal(out),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // Validated above: "true" or "false".
            Value::Text(s, DataType::Boolean) => out.push_str(s),
            // The same canonical plain decimal as in a query (a valid JSON number).
            Value::Text(s, DataType::Number) => number_text(name, s, |t| out.push_str(t))?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::property::Number;

    fn enc(s: &str) -> String {
        let mut out = String::new();
        encode_into(&mut out, s);
        assert_eq!(
            out.len(),
            encoded_len(s),
            "sizer and encoder agree for {s:?}"
        );
        out
    }

    #[test]
    fn encodes_everything_outside_unreserved() {
        assert_eq!(enc("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(enc("a b"), "a%20b");
        assert_eq!(
            enc("& = + % # ? /"),
            "%26%20%3D%20%2B%20%25%20%23%20%3F%20%2F"
        );
        assert_eq!(enc("é"), "%C3%A9");
        assert_eq!(enc("🎉"), "%F0%9F%8E%89");
        assert_eq!(enc(""), "");
    }

    #[test]
    fn query_sizer_matches_writer() {
        let mut out = String::new();
        let mut sizer = QuerySizer::new(EVENT_KEYS);
        let mut writer = QueryProperties::new(EVENT_KEYS, &mut out);
        let values = [
            ("sku", Value::String("A&B c".into())),
            ("amount", Value::Number(Number::from(12.5))),
            ("big", Value::Number(Number::from(u128::MAX))),
            ("tiny", Value::Number(Number::from(1e-300))),
            ("f32", Value::Number(Number::from(0.1f32))),
            ("ok", Value::Bool(false)),
            ("ü name", Value::Text("3".into(), DataType::Number)),
        ];
        for (n, v) in values {
            sizer.property(n, v.clone()).unwrap();
            writer.property(n, v).unwrap();
        }
        assert!(sizer.min <= out.len() && out.len() <= sizer.max, "{out}");
        assert!(out.contains("&ky=f32&vl=0.1&tp=n"), "{out}");
        assert!(out.contains("&vl=340282366920938463463374607431768211455&"));
    }

    #[test]
    fn query_sizer_is_exact_without_numbers() {
        let mut out = String::new();
        let mut sizer = QuerySizer::new(VPR_KEYS);
        let mut writer = QueryProperties::new(VPR_KEYS, &mut out);
        for (n, v) in [
            ("s", Value::String("ü & 🎉".into())),
            ("t", Value::Bool(true)),
            ("f", Value::Bool(false)),
            ("x", Value::Text("1.5".into(), DataType::Number)),
        ] {
            sizer.property(n, v.clone()).unwrap();
            writer.property(n, v).unwrap();
        }
        assert_eq!((sizer.min, sizer.max), (out.len(), out.len()), "{out}");
    }

    #[test]
    fn number_bounds_hold_across_magnitudes() {
        for f in [
            0.0,
            -0.0,
            1e-7,
            -1.2345678901234567e-7,
            0.1,
            1e16,
            -9.999999999999998e16,
            1e17,
            1e300,
            5e-324,
        ] {
            let n = Number::from(f);
            let text = n.to_string();
            assert!(text.len() <= n.decimal_len_max(), "{f:e}: {text}");
        }
        let n = Number::from(-1.0000001f32 * 1e-7);
        assert!(n.to_string().len() <= n.decimal_len_max());
        let n = Number::from(i128::MIN);
        assert!(n.to_string().len() <= n.decimal_len_max());
    }

    #[test]
    fn json_writer_types_and_duplicates() {
        let mut j = JsonProperties::new();
        j.property("s", Value::String("a\"b\n".into())).unwrap();
        j.property("n", Value::Number(Number::from(-3i64))).unwrap();
        j.property("b", Value::Bool(true)).unwrap();
        j.property("t", Value::Text("+1.5".into(), DataType::Number))
            .unwrap();
        let err = j.property("s", Value::Bool(true)).unwrap_err();
        assert!(matches!(err, InvalidInput::DuplicateProperty { .. }));
        let body = j.finish();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["s"], "a\"b\n");
        assert_eq!(parsed["n"], -3);
        assert_eq!(parsed["b"], true);
        assert_eq!(parsed["t"], 1.5);
        assert!(body.contains(r#""t":1.5"#), "{body}");
    }

    #[test]
    fn duplicates_are_found_among_many_names() {
        // Past SeenNames::SCAN the names move to a hash set: a duplicate of a name written
        // before, at or after the move is refused all the same, and nothing is lost.
        let mut j = JsonProperties::new();
        let n = 3 * SeenNames::SCAN;
        for i in 0..n {
            j.property(&format!("p{i}"), Value::Bool(true)).unwrap();
        }
        for i in [0, SeenNames::SCAN - 1, SeenNames::SCAN, n - 1] {
            let err = j
                .property(&format!("p{i}"), Value::Bool(false))
                .unwrap_err();
            assert!(
                matches!(err, InvalidInput::DuplicateProperty { name } if name == format!("p{i}"))
            );
        }
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&j.finish()).unwrap();
        assert_eq!(parsed.len(), n);
        assert!(parsed.values().all(|v| v == true));
    }
}
