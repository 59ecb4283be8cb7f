//! Plain-decimal text of numbers, written into a stack buffer.
//!
//! Floats are formatted by `ryu` (shortest round-trip digits, fast) and its scientific
//! output is rewritten as plain decimal, as Gamooga's `n` values are written: `1e21` becomes
//! `1000000000000000000000`, `1.5e-7` becomes `0.00000015`, `3.0` becomes `3`. The result is
//! the same text as std's `Display` for floats (but `-0` is written `0`), at a fraction of
//! the cost; this is the hot path of every numeric property, formatted once to size the
//! query and once to write it.
//!
//! [`normalize_into`] is the one rewrite every number's text goes through: ryu's output, a
//! `#[gamooga(tp = "n")]` field's `Display` text, a `rust_decimal::Decimal`. So a number is
//! written the same way in a query (`evwid`, `ev`, ...) and in a JSON body (`evwidj`).

/// Room for the longest plain decimal of a finite `f64` (about 330 bytes for `-5e-324`) or a
/// 128-bit integer.
const CAPACITY: usize = 400;

/// A stack buffer holding one number's plain-decimal text.
pub(crate) struct DecimalBuf {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl DecimalBuf {
    pub(crate) fn new() -> Self {
        DecimalBuf {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, `-` and `.` are ever pushed.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        let end = (self.len + s.len()).min(CAPACITY);
        self.bytes[self.len..end].copy_from_slice(&s.as_bytes()[..end - self.len]);
        self.len = end;
    }

    fn push_byte(&mut self, b: u8) {
        if self.len < CAPACITY && b.is_ascii() {
            self.bytes[self.len] = b;
            self.len += 1;
        }
    }

    fn push_zeros(&mut self, n: usize) {
        let end = (self.len + n).min(CAPACITY);
        self.bytes[self.len..end].fill(b'0');
        self.len = end;
    }
}

/// Why a number's text cannot be sent as `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextNumberError {
    /// Not a decimal number at all (`abc`, `1.2.3`, `0x10`, ` 1`, empty).
    NotANumber,
    /// `NaN`, an infinity, or a value beyond `f64`'s range (`1e400`): Gamooga refuses them.
    NonFinite,
    /// Finite, but its plain decimal would take more than [`CAPACITY`] bytes (`1e-400`).
    TooLong,
}

/// The most bytes a number's plain decimal may take; longer numbers are refused.
pub(crate) const MAX_PLAIN_LEN: usize = CAPACITY;

/// Writes the canonical plain decimal of the number written in `text` into `out`.
///
/// `text` follows the decimal grammar Rust's `f64::from_str` reads: an optional sign (`+`
/// or `-`), digits with an optional `.` (digits on at least one side), an optional exponent
/// (`e` or `E`, optional sign, digits). The result is the one way Gamooga's `n` values are
/// written, the same for every request format: no `+`, no exponent, no leading zeros in
/// the integer part, no trailing zeros in the fraction, no `.` without digits after it, and
/// no negative zero. The digits are rewritten, never rounded (no trip through `f64`), so a
/// long decimal keeps its precision: `.5` → `0.5`, `+1` → `1`, `5.` → `5`, `-0` → `0`,
/// `1e3` → `1000`, `1.50` → `1.5`, `007` → `7`.
///
/// Hand-written rather than taken from a big-decimal crate: it is a lexical rewrite of a
/// few dozen bytes on the stack, on the path of every float written.
pub(crate) fn normalize_into(text: &str, out: &mut DecimalBuf) -> Result<(), TextNumberError> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if ["nan", "inf", "infinity"]
        .iter()
        .any(|w| rest.eq_ignore_ascii_case(w))
    {
        return Err(TextNumberError::NonFinite);
    }
    let b = rest.as_bytes();
    let digits_from = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits_from(0);
    let int = &rest[..int_end];
    let mut i = int_end;
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        frac = &rest[i + 1..end];
        i = end;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(TextNumberError::NotANumber);
    }
    // The exponent, saturated far beyond any representable number.
    const EXP_CAP: i64 = 1 << 40;
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let end = digits_from(i);
        if end == i {
            return Err(TextNumberError::NotANumber);
        }
        for &d in &b[i..end] {
            exp = (exp * 10 + i64::from(d - b'0')).min(EXP_CAP);
        }
        if exp_negative {
            exp = -exp;
        }
        i = end;
    }
    if i != b.len() {
        return Err(TextNumberError::NotANumber);
    }
    // The digits int ++ frac, with the decimal point after `int.len()` of them, moved by
    // the exponent; leading and trailing zeros carry no value.
    let n = int.len() + frac.len();
    let digit = |k: usize| -> u8 {
        if k < int.len() {
            int.as_bytes()[k]
        } else {
            frac.as_bytes()[k - int.len()]
        }
    };
    let leading = (0..n).take_while(|&k| digit(k) == b'0').count();
    if leading == n {
        out.push_str("0");
        return Ok(());
    }
    let trailing = (0..n).rev().take_while(|&k| digit(k) == b'0').count();
    let significant = n - leading - trailing;
    // Where the point falls, counted in significant digits from the first one.
    let point = int.len() as i64 + exp - leading as i64;
    if point >= 309 && !text.parse::<f64>().is_ok_and(f64::is_finite) {
        // At least 1e308: only exact parsing tells whether it passes f64::MAX.
        return Err(TextNumberError::NonFinite);
    }
    let sig = significant as i64;
    let len = i64::from(negative)
        + if point <= 0 {
            2 - point + sig
        } else if point >= sig {
            point
        } else {
            sig + 1
        };
    if len > MAX_PLAIN_LEN as i64 {
        return Err(TextNumberError::TooLong);
    }
    if negative {
        out.push_str("-");
    }
    let digits = (leading..n - trailing).map(digit);
    if point <= 0 {
        out.push_str("0.");
        out.push_zeros((-point) as usize);
        digits.for_each(|d| out.push_byte(d));
    } else if point >= sig {
        digits.for_each(|d| out.push_byte(d));
        out.push_zeros((point - sig) as usize);
    } else {
        for (k, d) in digits.enumerate() {
            if k as i64 == point {
                out.push_byte(b'.');
            }
            out.push_byte(d);
        }
    }
    Ok(())
}

impl std::fmt::Write for DecimalBuf {
    /// Appends `s`; fails rather than truncate when it does not fit.
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > CAPACITY {
            return Err(std::fmt::Error);
        }
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(f: f64) -> String {
        let mut b = DecimalBuf::new();
        normalize_into(ryu::Buffer::new().format_finite(f), &mut b).unwrap();
        b.as_str().to_owned()
    }

    fn norm(s: &str) -> Result<String, TextNumberError> {
        let mut b = DecimalBuf::new();
        normalize_into(s, &mut b).map(|()| b.as_str().to_owned())
    }

    #[test]
    fn text_is_rewritten_one_way() {
        for (text, want) in [
            (".5", "0.5"),
            ("+1", "1"),
            ("5.", "5"),
            ("-0", "0"),
            ("-0.000e5", "0"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("1.50", "1.5"),
            ("007", "7"),
            ("-1.5e-2", "-0.015"),
            ("12.5", "12.5"),
            ("100", "100"),
            ("0.001", "0.001"),
            ("1234.5678e2", "123456.78"),
            ("1e-0000000000000000000000003", "0.001"),
            (
                "12345678901234567890.123456789012345678901",
                "12345678901234567890.123456789012345678901",
            ),
        ] {
            assert_eq!(norm(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn text_that_is_not_a_finite_number_is_refused() {
        use TextNumberError::*;
        for (text, why) in [
            ("NaN", NonFinite),
            ("-inf", NonFinite),
            ("+Infinity", NonFinite),
            ("1e400", NonFinite),
            ("1e99999999999999999999", NonFinite),
            ("1e-400", TooLong),
            ("", NotANumber),
            (".", NotANumber),
            ("-", NotANumber),
            ("1e", NotANumber),
            ("1.2.3", NotANumber),
            ("0x10", NotANumber),
            (" 1", NotANumber),
            ("1 ", NotANumber),
            ("1_000", NotANumber),
            ("--1", NotANumber),
        ] {
            assert_eq!(norm(text), Err(why), "{text:?}");
        }
        // The largest finite f64 in full passes; one more in its last place does not.
        let max = format!("{}", f64::MAX);
        assert_eq!(norm(&max).as_deref(), Ok(max.as_str()));
        assert_eq!(norm("1.8e308"), Err(NonFinite));
    }

    #[test]
    fn matches_std_display() {
        for f in [
            0.0,
            -0.0,
            1.0,
            3.0,
            12.5,
            0.15,
            0.1,
            100.0,
            1e21,
            1e22,
            1.5e-7,
            123456.789,
            -42.25,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            1e16,
            1e15,
            9007199254740993.0,
            0.000001,
            1234.5e10,
        ] {
            // std's Display, except that negative zero is written `0`.
            let want = if f == 0.0 {
                "0".to_owned()
            } else {
                f.to_string()
            };
            assert_eq!(plain(f), want, "for {f:e}");
        }
    }
}
