//! Text to property values: datatype inference, explicit datatypes, and the
//! `NAME=VALUE[:s|n|b]` arguments of `send`.

use std::borrow::Cow;

use gamooga::{DataType, Number, Value};

/// Whether `text` is a plain decimal number: an optional `-`, an integer part without leading
/// zeros, an optional fraction. Only these are inferred as numbers: `007`, `1e5`, `+1`,
/// `.5` and `1.` stay text (a zip code or a version string must not become a number).
pub fn is_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = match int.as_bytes() {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        bytes => bytes.iter().all(u8::is_ascii_digit),
    };
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

/// The value of `text` with its datatype inferred: a plain decimal is a number (`n`),
/// `true`/`false` (any case) a boolean (`b`), anything else text (`s`).
pub fn infer(text: &str) -> Value<'_> {
    if is_plain_decimal(text) {
        Value::Text(Cow::Borrowed(text), DataType::Number)
    } else if text.eq_ignore_ascii_case("true") {
        Value::Bool(true)
    } else if text.eq_ignore_ascii_case("false") {
        Value::Bool(false)
    } else {
        Value::String(Cow::Borrowed(text))
    }
}

/// The value of `text` sent as `datatype`: text as it is; a number that parses as a finite
/// number (spaces around it ignored; a plain decimal is sent digit for digit, any other form
/// such as `1e3` or `+5` in plain decimal); a boolean `true` or `false` (any case).
pub fn typed(text: &str, datatype: DataType) -> Result<Value<'_>, String> {
    match datatype {
        DataType::String => Ok(Value::String(Cow::Borrowed(text))),
        DataType::Number => {
            let t = text.trim();
            if is_plain_decimal(t) {
                return Ok(Value::Text(Cow::Borrowed(t), DataType::Number));
            }
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::Number(Number::from(f))),
                _ => Err("not a number (datatype n)".into()),
            }
        }
        DataType::Boolean => {
            let t = text.trim();
            if t.eq_ignore_ascii_case("true") {
                Ok(Value::Bool(true))
            } else if t.eq_ignore_ascii_case("false") {
                Ok(Value::Bool(false))
            } else {
                Err("not true or false (datatype b)".into())
            }
        }
    }
}

/// One `NAME=VALUE[:s|n|b]` argument, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PropArg {
    pub name: String,
    pub value: Value<'static>,
}

/// Parses `NAME=VALUE[:s|n|b]`: split at the first `=`; a final `:s`, `:n` or `:b` is the
/// datatype (so a value that itself ends in one of these needs an explicit type:
/// `note=1:n:s` sends the text `1:n`); without one the datatype is inferred.
pub fn parse_prop(arg: &str) -> Result<PropArg, String> {
    let Some((name, rest)) = arg.split_once('=') else {
        return Err(format!(
            "`{arg}` is not NAME=VALUE (optionally with a type: NAME=VALUE:s, :n or :b)"
        ));
    };
    if name.is_empty() {
        return Err(format!("`{arg}` has an empty property name"));
    }
    let explicit = rest
        .rsplit_once(':')
        .and_then(|(value, code)| DataType::from_code(code).map(|datatype| (value, datatype)));
    let value = match explicit {
        Some((value, datatype)) => {
            typed(value, datatype).map_err(|reason| format!("the value of `{name}` is {reason}"))?
        }
        None => infer(rest),
    };
    Ok(PropArg {
        name: name.to_owned(),
        value: value.into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value<'static> {
        infer(text).into_owned()
    }

    #[test]
    fn only_plain_decimals_are_inferred_as_numbers() {
        for n in ["0", "-0", "12", "-12.5", "0.25", "12345678901234567890123"] {
            assert_eq!(v(n).datatype(), DataType::Number, "{n}");
        }
        for s in [
            "007", "1e5", "+1", ".5", "1.", "-", "", "1,5", "12 ", "0x10", "NaN", "inf",
        ] {
            assert_eq!(v(s).datatype(), DataType::String, "{s:?}");
        }
        assert_eq!(v("TRUE"), Value::Bool(true));
        assert_eq!(v("false"), Value::Bool(false));
        assert_eq!(v("yes").datatype(), DataType::String);
    }

    #[test]
    fn explicit_types_check_the_value() {
        assert_eq!(
            typed("1e3", DataType::Number),
            Ok(Value::Number(1000.0.into()))
        );
        assert_eq!(
            typed(" 42 ", DataType::Number),
            Ok(Value::Text("42".into(), DataType::Number))
        );
        assert!(typed("abc", DataType::Number).is_err());
        assert!(typed("inf", DataType::Number).is_err());
        assert_eq!(typed("False", DataType::Boolean), Ok(Value::Bool(false)));
        assert!(typed("1", DataType::Boolean).is_err());
        assert_eq!(
            typed("007", DataType::String),
            Ok(Value::String("007".into()))
        );
    }

    #[test]
    fn prop_args_split_at_the_first_equals_and_only_a_final_type_suffix() {
        let p = parse_prop("q=a=b").unwrap();
        assert_eq!(
            (p.name.as_str(), p.value),
            ("q", Value::String("a=b".into()))
        );
        let p = parse_prop("at=12:30").unwrap();
        assert_eq!(p.value, Value::String("12:30".into()));
        let p = parse_prop("amount=12:s").unwrap();
        assert_eq!(p.value, Value::String("12".into()));
        let p = parse_prop("note=1:n:s").unwrap();
        assert_eq!(p.value, Value::String("1:n".into()));
        // A value ending in `:n` is read as typed: an explicit `:s` keeps it text.
        assert!(parse_prop("url=http://x/?a=1:n").is_err());
        let p = parse_prop("url=http://x/?a=1:n:s").unwrap();
        assert_eq!(p.value, Value::String("http://x/?a=1:n".into()));
        assert!(parse_prop("vip=yes:b").is_err());
        assert!(parse_prop("novalue").is_err());
        assert!(parse_prop("=1").is_err());
        let p = parse_prop("empty=").unwrap();
        assert_eq!(p.value, Value::String("".into()));
    }
}
