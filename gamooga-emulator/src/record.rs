//! What reached the emulator: recorded calls, their properties, per-endpoint counts and the
//! visitor state (user id → visitor id, visitor properties) that accepted calls build up.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, Route};
use crate::validate::{self, RequestParts};

/// The default number of calls kept in memory (the oldest are dropped beyond it).
pub const DEFAULT_MAX_RECORDED: usize = 1_000_000;

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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.datatype != 's' {
            return write!(f, "{}={} ({})", self.name, self.value, self.datatype);
        }
        match self.value.char_indices().nth(DISPLAY_MAX_CHARS) {
            None => write!(f, "{}={:?} (s)", self.name, self.value),
            Some((cut, _)) => {
                let rest = self.value[cut..].chars().count();
                write!(
                    f,
                    "{}={:?}…+{rest} chars (s)",
                    self.name,
                    &self.value[..cut]
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
    /// `"newnaconf"`, `"evwid"`, `"evwidj"`, `"ev"`, `"evvprwid"`, `"vpr"`, `"id"`, or the
    /// request path when the path is not one the emulator serves.
    pub endpoint: String,
    /// The HTTP method (`"GET"`, `"POST"`, ...).
    pub method: String,
    /// The request path as sent (still percent-encoded).
    pub path: String,
    /// The query string as sent (without the `?`), byte for byte.
    pub raw_query: String,
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
    /// The injected fault that shaped the answer, e.g. `"fail 503"`, `"fail 429 retry-after 2"`,
    /// `"drop"`, `"delay 250ms"`, `"random 503"`, `"evbk other:1"`, `"garbage body"`.
    pub fault: Option<String>,
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
            endpoint: String::new(),
            method,
            path,
            raw_query,
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
            fault: None,
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
}

impl fmt::Display for RecordedCall {
    /// One readable line, e.g.
    /// `evwid  acme  u=user-42  purchase  amount=12.5 (n)  sku="A&B" (s)  -> 200`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.endpoint)?;
        if self.endpoint != "newnaconf" && !is_known_endpoint(&self.endpoint) {
            write!(f, "  {}", self.method)?;
            if !self.raw_query.is_empty() {
                write!(f, "  ?{}", self.raw_query)?;
            }
        }
        if let Some(c) = &self.company {
            write!(f, "  {c}")?;
        }
        if let Some(u) = &self.user_id {
            write!(f, "  u={u}")?;
        }
        // For calls by user id the visitor id is the one the emulator resolved: not shown.
        if let (None, Some(v)) = (&self.user_id, &self.visitor_id) {
            write!(f, "  v={v}")?;
        }
        if let Some(e) = &self.event {
            write!(f, "  {e}")?;
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
            write!(f, " {r}")?;
        }
        if let Some(fault) = &self.fault {
            write!(f, " [{fault}]")?;
        }
        Ok(())
    }
}

fn is_known_endpoint(name: &str) -> bool {
    matches!(name, "evwid" | "evwidj" | "ev" | "evvprwid" | "vpr" | "id")
}

/// Visitor state built by accepted calls.
#[derive(Debug, Default)]
pub(crate) struct Visitors {
    /// user id → visitor id.
    by_user: HashMap<String, String>,
    /// visitor id → current properties (last write wins, first-set order).
    properties: HashMap<String, Vec<RecordedProperty>>,
}

impl Visitors {
    /// Maps `user_id` to `visitor_id` (replacing an earlier mapping).
    pub(crate) fn map(&mut self, user_id: &str, visitor_id: &str) {
        self.by_user
            .insert(user_id.to_owned(), visitor_id.to_owned());
    }

    pub(crate) fn visitor_of(&self, user_id: &str) -> Option<String> {
        self.by_user.get(user_id).cloned()
    }

    /// Applies visitor properties: last write wins, a property keeps its first-set position.
    pub(crate) fn set_properties(&mut self, visitor_id: &str, props: &[RecordedProperty]) {
        let current = self.properties.entry(visitor_id.to_owned()).or_default();
        for p in props {
            match current.iter_mut().find(|c| c.name == p.name) {
                Some(c) => *c = p.clone(),
                None => current.push(p.clone()),
            }
        }
    }

    pub(crate) fn properties(&self, visitor_id: &str) -> Vec<RecordedProperty> {
        self.properties.get(visitor_id).cloned().unwrap_or_default()
    }

    pub(crate) fn clear(&mut self) {
        self.by_user.clear();
        self.properties.clear();
    }
}

/// Where a call went, as far as storing it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A backend endpoint: the recorded fields are re-read from the stored request.
    Backend(Endpoint),
    /// `newnaconf`: the company is re-read from the stored path.
    Newnaconf,
    /// Anything else: the endpoint is the stored path.
    Other,
}

/// What the server knows about a call beside its [`RecordedCall`], to store it compactly.
#[derive(Debug)]
pub(crate) struct Provenance {
    pub origin: Origin,
    /// Whether the request said `Content-Type: application/json`.
    pub json_body: bool,
    /// The raw request body, when not empty.
    pub body: Option<Box<[u8]>>,
}

/// A recorded call as kept in memory: the request itself plus the outcome, about a third of
/// the size of a [`RecordedCall`]. The decoded fields are re-read with the same validation
/// code when the call is looked at, so they are exactly what was decoded on arrival.
#[derive(Debug, Clone)]
pub(crate) struct StoredCall {
    seq: u64,
    origin: Origin,
    method: hyper::Method,
    /// The path, unless it follows from a backend origin.
    path: Option<Box<str>>,
    raw_query: Box<str>,
    json_body: bool,
    body: Option<Box<[u8]>>,
    /// The visitor the emulator resolved a user id to (not sent as `v`).
    resolved_visitor: Option<Box<str>>,
    status: u16,
    rejection: Option<Box<str>>,
    fault: Option<Box<str>>,
}

impl StoredCall {
    fn new(call: RecordedCall, provenance: Provenance, resolved_visitor: Option<String>) -> Self {
        StoredCall {
            seq: call.seq,
            origin: provenance.origin,
            method: hyper::Method::from_bytes(call.method.as_bytes()).unwrap_or_default(),
            path: match provenance.origin {
                Origin::Backend(_) => None,
                _ => Some(call.path.into_boxed_str()),
            },
            raw_query: call.raw_query.into_boxed_str(),
            json_body: provenance.json_body,
            body: provenance.body,
            resolved_visitor: resolved_visitor.map(String::into_boxed_str),
            status: call.status,
            rejection: call.rejection.map(String::into_boxed_str),
            fault: call.fault.map(String::into_boxed_str),
        }
    }

    pub(crate) fn is_accepted_event(&self) -> bool {
        self.status == 200
            && matches!(
                self.origin,
                Origin::Backend(
                    Endpoint::Evwid | Endpoint::Evwidj | Endpoint::Ev | Endpoint::Evvprwid
                )
            )
    }

    pub(crate) fn is_rejected(&self) -> bool {
        self.rejection.is_some()
    }

    /// The call with its decoded fields, as [`RecordedCall`].
    pub(crate) fn expand(&self) -> RecordedCall {
        let method = self.method.as_str();
        let mut call = RecordedCall::arrived(
            method.to_owned(),
            self.path.as_deref().unwrap_or_default().to_owned(),
            self.raw_query.to_string(),
            self.body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        );
        call.seq = self.seq;
        call.status = self.status;
        call.rejection = self.rejection.as_deref().map(str::to_owned);
        call.fault = self.fault.as_deref().map(str::to_owned);
        match self.origin {
            Origin::Backend(ep) => {
                call.endpoint = ep.name().to_owned();
                call.path = format!("/{}/", ep.name());
                let (data, _) = validate::validate(
                    ep,
                    &RequestParts {
                        method,
                        raw_query: &self.raw_query,
                        content_type: self.json_body.then_some("application/json"),
                        body: self.body.as_deref().unwrap_or_default(),
                    },
                );
                call.company = data.company;
                call.user_id = data.user_id;
                call.visitor_id = data
                    .visitor_id
                    .or_else(|| self.resolved_visitor.as_deref().map(str::to_owned));
                call.event = data.event;
                call.event_properties = data.event_properties;
                call.visitor_properties = data.visitor_properties;
                call.tm = data.tm;
            }
            Origin::Newnaconf => {
                call.endpoint = "newnaconf".to_owned();
                if let Route::Newnaconf(segment) = Route::of(&call.path) {
                    call.company = Some(decode_path_segment(&segment));
                }
            }
            Origin::Other => call.endpoint = call.path.clone(),
        }
        call
    }
}

/// A percent-decoded path segment (lossy for bytes that are not UTF-8).
pub(crate) fn decode_path_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The bounded call log plus exact counts.
#[derive(Debug)]
pub(crate) struct CallLog {
    calls: VecDeque<StoredCall>,
    max: usize,
    next_seq: u64,
    counts: HashMap<String, usize>,
}

impl CallLog {
    pub(crate) fn new(max: usize) -> Self {
        CallLog {
            calls: VecDeque::new(),
            max,
            next_seq: 1,
            counts: HashMap::new(),
        }
    }

    /// Gives `call` its sequence number and counts it (counts are exact whatever the bound).
    pub(crate) fn admit(&mut self, call: &mut RecordedCall) {
        call.seq = self.next_seq;
        self.next_seq += 1;
        match self.counts.get_mut(call.endpoint.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(call.endpoint.clone(), 1);
            }
        }
    }

    /// Keeps an admitted call, dropping the oldest beyond the bound.
    pub(crate) fn store(
        &mut self,
        call: RecordedCall,
        provenance: Provenance,
        resolved_visitor: Option<String>,
    ) {
        if self.max == 0 {
            return;
        }
        if self.calls.len() >= self.max {
            self.calls.pop_front();
        }
        self.calls
            .push_back(StoredCall::new(call, provenance, resolved_visitor));
    }

    pub(crate) fn calls(&self) -> impl Iterator<Item = &StoredCall> {
        self.calls.iter()
    }

    pub(crate) fn count(&self, endpoint: &str) -> usize {
        self.counts.get(endpoint).copied().unwrap_or(0)
    }

    pub(crate) fn counts(&self) -> &HashMap<String, usize> {
        &self.counts
    }

    pub(crate) fn total(&self) -> u64 {
        self.next_seq - 1
    }

    pub(crate) fn clear(&mut self) {
        self.calls.clear();
        self.counts.clear();
        self.next_seq = 1;
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
    fn log_is_bounded_but_counts_stay_exact() {
        let mut log = CallLog::new(3);
        let other = || Provenance {
            origin: Origin::Other,
            json_body: false,
            body: None,
        };
        for _ in 0..10 {
            let mut c = call("/x");
            log.admit(&mut c);
            log.store(c, other(), None);
        }
        let mut c = call("/y");
        log.admit(&mut c);
        log.store(c, other(), None);
        let seqs: Vec<u64> = log.calls().map(|c| c.expand().seq).collect();
        assert_eq!(seqs, vec![9, 10, 11]);
        assert_eq!(log.count("/x"), 10);
        assert_eq!(log.count("/y"), 1);
        assert_eq!(log.total(), 11);
    }

    #[test]
    fn visitor_properties_last_write_wins_in_first_set_order() {
        let mut v = Visitors::default();
        v.set_properties(
            "v1",
            &[
                RecordedProperty::new("a", "1", 'n'),
                RecordedProperty::new("b", "x", 's'),
            ],
        );
        v.set_properties("v1", &[RecordedProperty::new("a", "2", 'n')]);
        assert_eq!(
            v.properties("v1"),
            vec![
                RecordedProperty::new("a", "2", 'n'),
                RecordedProperty::new("b", "x", 's')
            ]
        );
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
