//! [`Timestamp`]: the `tm` parameter, Unix time in milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::InvalidInput;

/// 2001-01-01T00:00:00Z in Unix milliseconds: the earliest `tm` accepted.
pub const MIN_MILLIS: u64 = 978_307_200_000;
/// 2100-01-01T00:00:00Z in Unix milliseconds: the first `tm` refused.
pub const MAX_MILLIS: u64 = 4_102_444_800_000;

/// When an event happened: Unix time in milliseconds, between 2001 and 2100.
///
/// The range catches the usual unit mistakes: a value in seconds is below it, one in
/// microseconds above it.
///
/// ```
/// use gamooga::Timestamp;
/// assert!(Timestamp::from_millis(1_764_150_000_000).is_ok());
/// assert!(Timestamp::from_millis(1_764_150_000).is_err()); // seconds, not milliseconds
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64;
        // A clock outside 2001..2100 is broken; clamp rather than refuse every event.
        Timestamp(ms.clamp(MIN_MILLIS, MAX_MILLIS - 1))
    }

    /// A timestamp from Unix milliseconds, checked to lie between 2001 and 2100.
    pub fn from_millis(ms: u64) -> Result<Self, InvalidInput> {
        Self::check(ms as i128)
    }

    /// A timestamp from a [`SystemTime`], checked to lie between 2001 and 2100.
    pub fn from_system_time(t: SystemTime) -> Result<Self, InvalidInput> {
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i128,
            Err(e) => -(e.duration().as_millis() as i128),
        };
        Self::check(ms)
    }

    fn check(ms: i128) -> Result<Self, InvalidInput> {
        if ms >= MIN_MILLIS as i128 && ms < MAX_MILLIS as i128 {
            return Ok(Timestamp(ms as u64));
        }
        let hint = if ms >= (MIN_MILLIS / 1000) as i128 && ms < (MAX_MILLIS / 1000) as i128 {
            " (it looks like seconds: multiply by 1000)"
        } else if ms >= MIN_MILLIS as i128 * 1000 && ms < MAX_MILLIS as i128 * 1000 {
            " (it looks like microseconds: divide by 1000)"
        } else {
            ""
        };
        Err(InvalidInput::TimestampOutOfRange { value: ms, hint })
    }

    /// The value in Unix milliseconds.
    pub fn as_millis(self) -> u64 {
        self.0
    }
}

/// A field type usable as an event's time (`#[gamooga(timestamp)]` in the derive):
/// [`SystemTime`], [`Timestamp`], integer Unix milliseconds, `chrono::DateTime<Tz>` (feature
/// `chrono`), `time::OffsetDateTime` (feature `time`), or an `Option` of one.
///
/// A time without a zone (`chrono::NaiveDateTime`, `time::PrimitiveDateTime`) is not one: it
/// names no instant. Convert it (`.and_utc()`, `.assume_utc()`) or give the field
/// `#[gamooga(timestamp, with = path::to::fn)]` with a function returning one of these.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event timestamp",
    label = "#[gamooga(timestamp)] needs a time",
    note = "use std::time::SystemTime, gamooga::Timestamp, integer Unix milliseconds (u64, i64, u128), chrono::DateTime<Tz> or time::OffsetDateTime (features `chrono`, `time`), optionally in an Option",
    note = "a time without a zone (NaiveDateTime, PrimitiveDateTime) names no instant: convert it (.and_utc(), .assume_utc()), or convert the field with #[gamooga(timestamp, with = path::to::fn)]"
)]
pub trait IntoTimestamp {
    /// The timestamp, `Ok(None)` when absent (the SDK then stamps the current time).
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput>;
}

impl IntoTimestamp for SystemTime {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::from_system_time(*self).map(Some)
    }
}

impl IntoTimestamp for Timestamp {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(Some(*self))
    }
}

impl IntoTimestamp for u64 {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::from_millis(*self).map(Some)
    }
}

impl IntoTimestamp for i64 {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::check(*self as i128).map(Some)
    }
}

impl IntoTimestamp for u128 {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::check(i128::try_from(*self).unwrap_or(i128::MAX)).map(Some)
    }
}

#[cfg(feature = "chrono")]
#[diagnostic::do_not_recommend]
impl<Tz: chrono::TimeZone> IntoTimestamp for chrono::DateTime<Tz> {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::check(i128::from(self.timestamp_millis())).map(Some)
    }
}

#[cfg(feature = "time")]
#[diagnostic::do_not_recommend]
impl IntoTimestamp for time::OffsetDateTime {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::check(i128::from(crate::property::external::time_millis(self))).map(Some)
    }
}

impl<T: IntoTimestamp> IntoTimestamp for Option<T> {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        match self {
            Some(t) => t.to_timestamp(),
            None => Ok(None),
        }
    }
}

impl<T: IntoTimestamp + ?Sized> IntoTimestamp for &T {
    fn to_timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        T::to_timestamp(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_hints() {
        assert_eq!(
            Timestamp::from_millis(MIN_MILLIS).unwrap().as_millis(),
            MIN_MILLIS
        );
        assert!(Timestamp::from_millis(MIN_MILLIS - 1).is_err());
        assert!(Timestamp::from_millis(MAX_MILLIS).is_err());
        match Timestamp::from_millis(1_700_000_000) {
            Err(InvalidInput::TimestampOutOfRange { hint, .. }) => {
                assert!(hint.contains("seconds"))
            }
            other => panic!("{other:?}"),
        }
        match Timestamp::from_millis(1_700_000_000_000_000) {
            Err(InvalidInput::TimestampOutOfRange { hint, .. }) => {
                assert!(hint.contains("microseconds"))
            }
            other => panic!("{other:?}"),
        }
        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert!(Timestamp::from_system_time(before_epoch).is_err());
    }
}
