//! Times on the command line and in files: RFC 3339 or Unix milliseconds.

use gamooga::Timestamp;

/// Parses RFC 3339 (`2025-11-26T10:00:00Z`, `2025-11-26T19:00:00.250+09:00`) or Unix
/// milliseconds (`1764150000000`) into a [`Timestamp`] (between 2001 and 2100, as the SDK
/// checks: a time in seconds or microseconds is refused with a hint).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = text
            .parse()
            .map_err(|_| format!("`{text}` is too large for Unix milliseconds"))?;
        return Timestamp::from_millis(ms).map_err(|e| e.to_string());
    }
    let parsed: jiff::Timestamp = text.parse().map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2025-11-26T10:00:00Z, \
             2025-11-26T19:00:00+09:00) nor Unix milliseconds (1764150000000)"
        )
    })?;
    let ms = parsed.as_millisecond();
    let ms = u64::try_from(ms).map_err(|_| format!("`{text}` is before 1970"))?;
    Timestamp::from_millis(ms).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_millis() {
        let ms = |t: &str| parse_time(t).map(Timestamp::as_millis);
        assert_eq!(ms("1764150000000"), Ok(1_764_150_000_000));
        assert_eq!(ms("2025-11-26T09:40:00Z"), Ok(1_764_150_000_000));
        assert_eq!(ms("2025-11-26T18:40:00.250+09:00"), Ok(1_764_150_000_250));
        assert!(ms("1764150000").unwrap_err().contains("seconds"));
        assert!(ms("2025-11-26").is_err());
        assert!(ms("yesterday").is_err());
        assert!(ms("1969-01-01T00:00:00Z").is_err());
        assert!(ms("2150-01-01T00:00:00Z").is_err());
    }
}
