//! Where results go: readable lines for people, or with `--json` one JSON object per line
//! for scripts (field names are stable; see the crate README).

use std::io::Write;

use serde_json::Value;

/// The output mode of a command.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Prints one result: `json` with `--json`, else the `human` text.
    pub fn result(&self, json: Value, human: impl FnOnce() -> String) {
        let mut out = std::io::stdout().lock();
        let written = if self.json {
            serde_json::to_writer(&mut out, &json)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            writeln!(out, "{}", human())
        };
        // A closed pipe (`gamooga ... | head`) is not an error worth a panic.
        let _ = written.and_then(|()| out.flush());
    }
}

/// `s` quoted for a POSIX shell when it needs it, to print commands a user can paste.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("orders.csv"), "orders.csv");
        assert_eq!(shell_quote("my file.csv"), "'my file.csv'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
