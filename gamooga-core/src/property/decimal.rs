//! Plain-decimal text of numbers, written into a stack buffer.
//!
//! Floats are formatted by `ryu` (shortest round-trip digits, fast) and its scientific
//! output is rewritten as plain decimal, as Gamooga's `n` values are written: `1e21` becomes
//! `1000000000000000000000`, `1.5e-7` becomes `0.00000015`, `3.0` becomes `3`. The result is
//! the same text as std's `Display` for floats, at a fraction of the cost; this is the hot
//! path of every numeric property, formatted once to size the query and once to write it.

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

    fn push_zeros(&mut self, n: usize) {
        let end = (self.len + n).min(CAPACITY);
        self.bytes[self.len..end].fill(b'0');
        self.len = end;
    }

    /// Appends the plain decimal of a finite float given in `ryu`'s notation
    /// (`[-]d[.ddd][e[-]x]`).
    pub(crate) fn push_plain_from_scientific(&mut self, s: &str) {
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (mantissa, exp) = match s.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (s, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        // All significant digits, and where the decimal point falls among them.
        let digits_int = int.trim_start_matches('0');
        let leading = int.len() - digits_int.len();
        let mut point = int.len() as i32 + exp - leading as i32;
        let (digits_int, frac) = if digits_int.is_empty() {
            // 0.000ddd: skip the fraction's leading zeros too.
            let f = frac.trim_start_matches('0');
            point -= (frac.len() - f.len()) as i32;
            ("", f)
        } else {
            (digits_int, frac)
        };
        let frac = if digits_int.is_empty() {
            frac.trim_end_matches('0')
        } else {
            frac
        };
        let total = digits_int.len() + frac.len();
        // Trailing zeros of the digit string are not significant.
        let trailing = digits_int
            .bytes()
            .chain(frac.bytes())
            .rev()
            .take_while(|&b| b == b'0')
            .count();
        let significant = total - trailing;
        if significant == 0 {
            if negative {
                self.push_str("-");
            }
            self.push_str("0");
            return;
        }
        if negative {
            self.push_str("-");
        }
        let digit = |i: usize| -> &str {
            if i < digits_int.len() {
                &digits_int[i..i + 1]
            } else {
                &frac[i - digits_int.len()..i - digits_int.len() + 1]
            }
        };
        if point <= 0 {
            self.push_str("0.");
            self.push_zeros((-point) as usize);
            for i in 0..significant {
                self.push_str(digit(i));
            }
        } else if point as usize >= significant {
            for i in 0..significant {
                self.push_str(digit(i));
            }
            self.push_zeros(point as usize - significant);
        } else {
            for i in 0..significant {
                if i == point as usize {
                    self.push_str(".");
                }
                self.push_str(digit(i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(f: f64) -> String {
        let mut b = DecimalBuf::new();
        b.push_plain_from_scientific(ryu::Buffer::new().format_finite(f));
        b.as_str().to_owned()
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
            assert_eq!(plain(f), f.to_string(), "for {f:e}");
        }
    }
}
