//! The public record of one call: [`RecordedCall`], its [`RecordedProperty`]s and the
//! [`PlanViolation`]s found in it, with the one-line display the binary prints.
//!
//! Pure data: this module depends on no other module of the crate.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// One property as the emulator decoded it from a call: a name, its value and its datatype.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedProperty {
    /// The property name, percent-decoded.
    pub name: String,
    /// The value as decoded text. For `evwidj` JSON numbers it is the number as `serde_json`
    /// prints it (`12`, `12.5`), for booleans `true` / `false`.
    pub value: String,
    /// The datatype: `'s'` string, `'n'` numeric or `'b'` boolean.
    pub datatype: char,
}

impl RecordedProperty {
    /// Builds a property (handy for comparing against what was recorded).
    pub fn new(name: impl Into<String>, value: impl Into<String>, datatype: char) -> Self {
        RecordedProperty {
            name: name.into(),
            value: value.into(),
            datatype,
        }
    }

    /// The value as a number when the datatype is `n` (the emulator only accepts finite
    /// numbers there), `None` otherwise.
    pub fn as_f64(&self) -> Option<f64> {
        if self.datatype != 'n' {
            return None;
        }
        self.value.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// The value as a boolean when the datatype is `b`, `None` otherwise.
    pub fn as_bool(&self) -> Option<bool> {
        if self.datatype != 'b' {
            return None;
        }
        match self.value.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

/// Values longer than this many characters are shortened when displayed (never when stored).
const DISPLAY_MAX_CHARS: usize = 60;

impl fmt::Display for RecordedProperty {
    /// `amount=12.5 (n)`, `sku="A&B" (s)`, `vip=true (b)`. A string longer than 60
    /// characters is shown as its start and its full length:
    /// `text="Lovely tea. Lov…"+2340 chars (s)`, so one call stays one readable line.
    /// Control characters (a newline in a name or value) are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Escaped(&self.name);
        if self.datatype != 's' {
            return write!(f, "{name}={} ({})", Escaped(&self.value), self.datatype);
        }
        match self.value.char_indices().nth(DISPLAY_MAX_CHARS) {
            None => write!(f, "{name}={:?} (s)", self.value),
            Some((cut, _)) => {
                let rest = self.value[cut..].chars().count();
                write!(f, "{name}={:?}…+{rest} chars (s)", &self.value[..cut])
            }
        }
    }
}

/// How a call departs from the loaded tracking plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanViolation {
    /// The event name is not in the plan.
    UnplannedEvent {
        /// The event name sent.
        event: String,
    },
    /// A property is not in the plan (for that event, or in any visitor property set).
    UnplannedProperty {
        /// The property name sent.
        property: String,
        /// Whether it is a visitor property.
        visitor: bool,
    },
    /// A property was sent with another datatype than planned.
    WrongDatatype {
        /// The property name sent.
        property: String,
        /// Whether it is a visitor property.
        visitor: bool,
        /// The planned datatype(s), e.g. `"n"` (more than one when visitor sets disagree).
        planned: String,
        /// The datatype sent.
        sent: char,
    },
    /// A property the plan does not mark optional is missing from the event.
    MissingProperty {
        /// The planned property name.
        property: String,
    },
}

impl fmt::Display for PlanViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = |visitor: &bool| {
            if *visitor {
                "visitor property"
            } else {
                "property"
            }
        };
        match self {
            PlanViolation::UnplannedEvent { event } => {
                write!(f, "event '{}' is not in the plan", Escaped(event))
            }
            PlanViolation::UnplannedProperty { property, visitor } => {
                write!(
                    f,
                    "{} '{}' is not in the plan",
                    kind(visitor),
                    Escaped(property)
                )
            }
            PlanViolation::WrongDatatype {
                property,
                visitor,
                planned,
                sent,
            } => write!(
                f,
                "{} '{}' is sent as {sent}, planned as {planned}",
                kind(visitor),
                Escaped(property)
            ),
            PlanViolation::MissingProperty { property } => {
                write!(
                    f,
                    "property '{}' is planned (not optional) but missing",
                    Escaped(property)
                )
            }
        }
    }
}

/// One HTTP call that reached the emulator, accepted, rejected or hit by a fault.
///
/// Fields the call did not carry (or that could not be decoded) are `None` / empty. Calls to
/// the inspection API (`/_emulator/...`) are not recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// Arrival number, starting at 1 (and again at 1 after [`reset`](crate::Emulator::reset)).
    pub seq: u64,
    /// When it arrived, in Unix milliseconds.
    #[serde(default)]
    pub received_ms: u64,
    /// `"newnaconf"`, `"evwid"`, `"evwidj"`, `"ev"`, `"evvprwid"`, `"vpr"`, `"id"`, or the
    /// request path when the path is not one the emulator serves.
    pub endpoint: String,
    /// The HTTP method (`"GET"`, `"POST"`, ...).
    pub method: String,
    /// The request path as sent (still percent-encoded).
    pub path: String,
    /// The query string as sent (without the `?`), byte for byte.
    pub raw_query: String,
    /// The request headers as sent (names in lowercase), but `Content-Length`, which follows
    /// from the body.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The request body as text when there was one (lossily decoded if not UTF-8).
    pub body: Option<String>,
    /// The company: `c`, or the path segment of `newnaconf`.
    pub company: Option<String>,
    /// The user id `u`.
    pub user_id: Option<String>,
    /// The visitor id: the `v` sent, or for an accepted call made by user id the visitor the
    /// emulator resolved that user to (for `id`, the `vid` it answered).
    pub visitor_id: Option<String>,
    /// The event name `e`.
    pub event: Option<String>,
    /// Event properties in the order sent (`ky`/`vl`/`tp`, `eky`/`evl`/`etp`, or the `evwidj`
    /// JSON body).
    pub event_properties: Vec<RecordedProperty>,
    /// Visitor properties in the order sent (`vky`/`vvl`/`vtp` or the `vpr` sets `p`/`vl`/`tp`).
    pub visitor_properties: Vec<RecordedProperty>,
    /// The `tm` parameter (Unix milliseconds) when sent and valid.
    pub tm: Option<u64>,
    /// The HTTP status answered; `0` when the connection was dropped without an answer.
    pub status: u16,
    /// Why the call was rejected (4xx), naming the problem; `None` when it was not.
    pub rejection: Option<String>,
    /// The byte range of the parameter the rejection is about within [`raw_query`], when it
    /// is about one (a repeated, empty or unknown parameter, a bad property set, `tm`, `c`).
    ///
    /// [`raw_query`]: RecordedCall::raw_query
    #[serde(default)]
    pub offending_range: Option<Range<usize>>,
    /// The injected fault that shaped the answer, e.g. `"fail 503"`, `"fail 429 retry-after 2"`,
    /// `"drop"`, `"delay 250ms"`, `"random 503"`, `"rate limit 429 retry-after 1"`,
    /// `"evbk other:1"`, `"newnaconf body"`.
    pub fault: Option<String>,
    /// How the call departs from the tracking plan, when one is loaded (empty otherwise, and
    /// for calls rejected by validation, which are not checked).
    #[serde(default)]
    pub plan_violations: Vec<PlanViolation>,
}

impl RecordedCall {
    /// A call as it arrived (method, path, query, body), before anything is decoded:
    /// endpoint empty, no decoded fields, status 200, no rejection or fault.
    pub(crate) fn arrived(
        method: String,
        path: String,
        raw_query: String,
        body: Option<String>,
    ) -> Self {
        RecordedCall {
            seq: 0,
            received_ms: 0,
            endpoint: String::new(),
            method,
            path,
            raw_query,
            headers: Vec::new(),
            body,
            company: None,
            user_id: None,
            visitor_id: None,
            event: None,
            event_properties: Vec::new(),
            visitor_properties: Vec::new(),
            tm: None,
            status: 200,
            rejection: None,
            offending_range: None,
            fault: None,
            plan_violations: Vec::new(),
        }
    }

    /// Whether this call was answered 200 (accepted, no failing fault).
    pub fn is_accepted(&self) -> bool {
        self.status == 200
    }

    /// Whether this is an accepted event call (`evwid`, `evwidj`, `ev`, `evvprwid`).
    pub fn is_accepted_event(&self) -> bool {
        self.is_accepted()
            && matches!(
                self.endpoint.as_str(),
                "evwid" | "evwidj" | "ev" | "evvprwid"
            )
    }

    /// The event property called `name` (the first one, if sent twice).
    pub fn event_property(&self, name: &str) -> Option<&RecordedProperty> {
        self.event_properties.iter().find(|p| p.name == name)
    }

    /// The visitor property called `name` sent with this call (the first one, if sent twice).
    pub fn visitor_property(&self, name: &str) -> Option<&RecordedProperty> {
        self.visitor_properties.iter().find(|p| p.name == name)
    }

    /// The value of a request header (name in any case), the first one if sent twice.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for RecordedCall {
    /// One readable line, e.g.
    /// `evwid  acme  u=user-42  purchase  amount=12.5 (n)  sku="A&B" (s)  -> 200`.
    /// Control characters anywhere (a user id with a newline) are escaped (`\n`), so a call
    /// is always exactly one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Escaped(&self.endpoint))?;
        if self.endpoint != "newnaconf" && !is_known_endpoint(&self.endpoint) {
            write!(f, "  {}", Escaped(&self.method))?;
            if !self.raw_query.is_empty() {
                write!(f, "  ?{}", Escaped(&self.raw_query))?;
            }
        }
        if let Some(c) = &self.company {
            write!(f, "  {}", Escaped(c))?;
        }
        if let Some(u) = &self.user_id {
            write!(f, "  u={}", Escaped(u))?;
        }
        // For calls by user id the visitor id is the one the emulator resolved: not shown.
        if let (None, Some(v)) = (&self.user_id, &self.visitor_id) {
            write!(f, "  v={}", Escaped(v))?;
        }
        if let Some(e) = &self.event {
            write!(f, "  {}", Escaped(e))?;
        }
        for p in &self.event_properties {
            write!(f, "  {p}")?;
        }
        if !self.visitor_properties.is_empty() {
            write!(f, "  | visitor:")?;
            for p in &self.visitor_properties {
                write!(f, "  {p}")?;
            }
        }
        if let Some(tm) = self.tm {
            write!(f, "  tm={tm}")?;
        }
        if self.status == 0 {
            write!(f, "  -> no answer")?;
        } else {
            write!(f, "  -> {}", self.status)?;
        }
        if let Some(r) = &self.rejection {
            write!(f, " {}", Escaped(r))?;
        }
        if let Some(fault) = &self.fault {
            write!(f, " [{}]", Escaped(fault))?;
        }
        for v in &self.plan_violations {
            write!(f, " (plan: {v})")?;
        }
        Ok(())
    }
}

pub(crate) fn is_known_endpoint(name: &str) -> bool {
    matches!(name, "evwid" | "evwidj" | "ev" | "evvprwid" | "vpr" | "id")
}

/// Displays text with its control characters escaped (`\n`, `\t`, `\u{1b}`), so text sent by
/// a client can never break a line of output or drive a terminal.
pub(crate) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(char::is_control) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(f, "{}", c.escape_debug())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_are_shortened_when_displayed_only() {
        let long = "é".repeat(100);
        let p = RecordedProperty::new("text", &long, 's');
        let shown = p.to_string();
        assert_eq!(shown, format!("text={:?}…+40 chars (s)", "é".repeat(60)));
        assert_eq!(p.value, long, "the stored value is whole");
        let short = RecordedProperty::new("sku", "A&B", 's');
        assert_eq!(short.to_string(), "sku=\"A&B\" (s)");
    }

    fn call(endpoint: &str) -> RecordedCall {
        let mut call = RecordedCall::arrived("GET".into(), endpoint.into(), String::new(), None);
        call.endpoint = endpoint.into();
        call
    }

    #[test]
    fn display_line_reads_like_the_binary_output() {
        let mut c = call("evwid");
        c.company = Some("acme".into());
        c.user_id = Some("user-42".into());
        c.visitor_id = Some("resolvedvisitor1".into());
        c.event = Some("purchase".into());
        c.event_properties = vec![
            RecordedProperty::new("amount", "12.5", 'n'),
            RecordedProperty::new("sku", "A&B", 's'),
        ];
        assert_eq!(
            c.to_string(),
            r#"evwid  acme  u=user-42  purchase  amount=12.5 (n)  sku="A&B" (s)  -> 200"#
        );
    }

    #[test]
    fn control_characters_never_break_the_line() {
        let mut c = call("evwid");
        c.company = Some("ac\rme".into());
        c.user_id = Some("user\n42".into());
        c.event = Some("buy\u{1b}[2J".into());
        c.event_properties = vec![
            RecordedProperty::new("na\tme", "a\nb", 's'),
            RecordedProperty::new("n\n", "1", 'n'),
        ];
        c.status = 400;
        c.rejection = Some("unknown parameter 'x\ny'".into());
        let line = c.to_string();
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert_eq!(
            line,
            r#"evwid  ac\rme  u=user\n42  buy\u{1b}[2J  na\tme="a\nb" (s)  n\n=1 (n)  -> 400 unknown parameter 'x\ny'"#
        );
    }

    #[test]
    fn typed_accessors_follow_the_datatype() {
        assert_eq!(RecordedProperty::new("a", "12.5", 'n').as_f64(), Some(12.5));
        assert_eq!(RecordedProperty::new("a", "12.5", 's').as_f64(), None);
        assert_eq!(
            RecordedProperty::new("a", "true", 'b').as_bool(),
            Some(true)
        );
        assert_eq!(RecordedProperty::new("a", "true", 's').as_bool(), None);
    }
}
