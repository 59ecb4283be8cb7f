//! [`PropertyValue`] for the types of other crates people send, each behind the crate
//! feature of the same name: `chrono`, `time`, `uuid`, `rust_decimal`, `serde_json`.
//!
//! | type | datatype | sent as |
//! |---|---|---|
//! | `chrono::DateTime<Tz>`, `time::OffsetDateTime` | `s` | RFC 3339 in UTC with milliseconds: `2025-11-26T09:40:00.123Z` |
//! | `chrono::NaiveDateTime`, `time::PrimitiveDateTime` | `s` | the same without zone: `2025-11-26T09:40:00.123` |
//! | `chrono::NaiveDate`, `time::Date` | `s` | `2025-11-26` |
//! | `uuid::Uuid` | `s` | hyphenated lower case: `67e55044-10b1-426f-9247-bb680e5fe0c8` |
//! | `rust_decimal::Decimal` | `n` | exact plain decimal, trailing zeros dropped: `12.50` → `12.5` |
//! | `serde_json::Value` | its JSON type | a string as `s`, a number as `n`, a boolean as `b`; `null` is left out; an array or object is refused |
//!
//! A date or time outside the years 0000 to 9999 has no RFC 3339 form: refused with
//! [`InvalidInput::UnsupportedValue`]. Each of these values (but `Decimal`, a bool, a number
//! and a JSON string) is formatted into a `String` when it is written.
//!
//! The impls carry `#[diagnostic::do_not_recommend]`, so the compiler's list of accepted
//! types in an error is the same whichever features are on.

#[allow(unused_imports)]
use std::borrow::Cow;

#[allow(unused_imports)]
use super::{DataType, Number, PropertyValue, Value};
#[allow(unused_imports)]
use crate::error::InvalidInput;

/// Unix milliseconds to `YYYY-MM-DDTHH:MM:SS.mmm` (23 bytes), or `None` outside the years
/// 0000 to 9999. Written by hand (a civil-from-days conversion) so every date and time type
/// is formatted by the same few lines, whichever crate it comes from.
#[allow(dead_code)]
pub(crate) fn iso_millis(unix_ms: i64) -> Option<String> {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days)?;
    let (h, min, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}"
    ))
}

/// Days since 1970-01-01 to `YYYY-MM-DD`, or `None` outside the years 0000 to 9999.
#[allow(dead_code)]
pub(crate) fn iso_date(days: i64) -> Option<String> {
    let (y, m, d) = civil_from_days(days)?;
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count.
fn civil_from_days(days: i64) -> Option<(i64, i64, i64)> {
    // Past this the year is far outside 0..=9999 anyway; keeps the arithmetic in range.
    if !(-1_000_000_000..=1_000_000_000).contains(&days) {
        return None;
    }
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (0..=9999).contains(&y).then_some((y, m, d))
}

/// A date or time value as text, or the error for one outside the years 0000 to 9999.
#[allow(dead_code)]
fn date_text(name: &str, text: Option<String>) -> Result<Option<Value<'static>>, InvalidInput> {
    match text {
        Some(t) => Ok(Some(Value::String(Cow::Owned(t)))),
        None => Err(InvalidInput::UnsupportedValue {
            name: name.to_owned(),
            what: "a date outside the years 0000 to 9999",
        }),
    }
}

/// Implements [`PropertyValue`] for a date or time type through `text(&self) -> Option<String>`.
#[allow(unused_macros)]
macro_rules! date_impl {
    ([$($generics:tt)*] $t:ty, $text:expr) => {
        #[diagnostic::do_not_recommend]
        impl<$($generics)*> PropertyValue for $t {
            const DATATYPE: Option<DataType> = Some(DataType::String);
            /// The text, or `None` (left out) for a date outside the years 0000 to 9999;
            /// the derives use `try_to_value`, which refuses it instead.
            fn to_value(&self) -> Option<Value<'_>> {
                let text: fn(&Self) -> Option<String> = $text;
                text(self).map(|t| Value::String(Cow::Owned(t)))
            }
            fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
                let text: fn(&Self) -> Option<String> = $text;
                date_text(name, text(self))
            }
        }
    };
}

#[cfg(feature = "chrono")]
mod chrono_impls {
    use super::*;

    date_impl!([Tz: chrono::TimeZone] chrono::DateTime<Tz>, |t| iso_millis(t.timestamp_millis()).map(|s| s + "Z"));
    date_impl!([] chrono::NaiveDateTime, |t| iso_millis(t.and_utc().timestamp_millis()));
    date_impl!([] chrono::NaiveDate, |d| {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
        iso_date(d.signed_duration_since(epoch).num_days())
    });
}

#[cfg(feature = "time")]
mod time_impls {
    use super::*;

    /// Unix milliseconds of an `OffsetDateTime`, rounded down.
    pub(crate) fn millis(t: &time::OffsetDateTime) -> i64 {
        t.unix_timestamp_nanos().div_euclid(1_000_000) as i64
    }

    date_impl!([] time::OffsetDateTime, |t| iso_millis(millis(t)).map(|s| s + "Z"));
    date_impl!([] time::PrimitiveDateTime, |t| iso_millis(millis(&t.assume_utc())));
    date_impl!([] time::Date, |d| iso_date(
        i64::from(d.to_julian_day()) - 2_440_588
    ));
}

#[cfg(feature = "time")]
pub(crate) use time_impls::millis as time_millis;

#[cfg(feature = "uuid")]
#[diagnostic::do_not_recommend]
impl PropertyValue for uuid::Uuid {
    const DATATYPE: Option<DataType> = Some(DataType::String);
    fn to_value(&self) -> Option<Value<'_>> {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text: &str = self.hyphenated().encode_lower(&mut buf);
        Some(Value::String(Cow::Owned(text.to_owned())))
    }
}

#[cfg(feature = "rust_decimal")]
impl From<rust_decimal::Decimal> for Number {
    /// Exact: written as the decimal's own digits, trailing zeros dropped.
    fn from(d: rust_decimal::Decimal) -> Self {
        Number(super::NumberRepr::Decimal(d))
    }
}

#[cfg(feature = "rust_decimal")]
#[diagnostic::do_not_recommend]
impl PropertyValue for rust_decimal::Decimal {
    const DATATYPE: Option<DataType> = Some(DataType::Number);
    fn to_value(&self) -> Option<Value<'_>> {
        Some(Value::Number(Number::from(*self)))
    }
}

#[cfg(feature = "serde_json")]
impl From<&serde_json::Number> for Number {
    /// An integer exactly; any other number as the `f64` serde_json reads it as.
    fn from(n: &serde_json::Number) -> Self {
        if let Some(u) = n.as_u64() {
            Number::from(u)
        } else if let Some(i) = n.as_i64() {
            Number::from(i)
        } else {
            Number::from(n.as_f64().unwrap_or(f64::NAN))
        }
    }
}

#[cfg(feature = "serde_json")]
#[diagnostic::do_not_recommend]
impl PropertyValue for serde_json::Number {
    const DATATYPE: Option<DataType> = Some(DataType::Number);
    fn to_value(&self) -> Option<Value<'_>> {
        Some(Value::Number(Number::from(self)))
    }
}

#[cfg(feature = "serde_json")]
#[diagnostic::do_not_recommend]
impl PropertyValue for serde_json::Value {
    /// Each value brings its own: string `s`, number `n`, boolean `b`.
    const DATATYPE: Option<DataType> = None;
    /// `null` is left out, like `None`.
    const OPTIONAL: bool = true;
    /// A scalar's value; `None` for `null`, and for an array or object (which
    /// [`try_to_value`](PropertyValue::try_to_value), used by the derives, refuses).
    fn to_value(&self) -> Option<Value<'_>> {
        match self {
            serde_json::Value::String(s) => Some(Value::String(Cow::Borrowed(s))),
            serde_json::Value::Number(n) => Some(Value::Number(Number::from(n))),
            serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
            serde_json::Value::Null
            | serde_json::Value::Array(_)
            | serde_json::Value::Object(_) => None,
        }
    }
    fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
        let what = match self {
            serde_json::Value::Array(_) => "a JSON array",
            serde_json::Value::Object(_) => "a JSON object",
            _ => return Ok(self.to_value()),
        };
        Err(InvalidInput::UnsupportedValue {
            name: name.to_owned(),
            what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(iso_millis(0).as_deref(), Some("1970-01-01T00:00:00.000"));
        assert_eq!(
            iso_millis(1_764_150_000_123).as_deref(),
            Some("2025-11-26T09:40:00.123")
        );
        assert_eq!(iso_millis(-1).as_deref(), Some("1969-12-31T23:59:59.999"));
        // 2000-02-29 (a leap day of a century leap year) and 2100-03-01.
        assert_eq!(iso_date(11_016).as_deref(), Some("2000-02-29"));
        assert_eq!(iso_date(47_541).as_deref(), Some("2100-03-01"));
        assert_eq!(iso_date(-719_528).as_deref(), Some("0000-01-01"));
        assert_eq!(iso_date(-719_529), None);
        assert_eq!(iso_date(2_932_896).as_deref(), Some("9999-12-31"));
        assert_eq!(iso_date(2_932_897), None);
        assert_eq!(iso_millis(i64::MAX), None);
        assert_eq!(iso_millis(i64::MIN), None);
    }
}
