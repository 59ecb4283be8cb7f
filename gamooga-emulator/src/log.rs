//! The bounded call log: every call kept compactly as it arrived, with exact per-endpoint
//! counts beyond the bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::call::{PlanViolation, RecordedCall};
use crate::endpoint::{Endpoint, Route};
use crate::validate::{self, parameter_range, RequestParts};

/// The default number of calls kept in memory (the oldest are dropped beyond it).
pub const DEFAULT_MAX_RECORDED: usize = 1_000_000;

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
    /// The index of the offending parameter of a rejection.
    pub offending: Option<usize>,
}

/// Headers as one text block, `name: value\n` each, `Content-Length` left out (it follows
/// from the body, and leaving it out lets consecutive calls of a client share one block).
pub(crate) fn header_block<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut block = String::new();
    for (name, value) in headers {
        if name == "content-length" {
            continue;
        }
        block.push_str(name);
        block.push_str(": ");
        block.push_str(&String::from_utf8_lossy(value));
        block.push('\n');
    }
    block
}

/// The headers of a block, as [`RecordedCall::headers`] holds them.
pub(crate) fn parse_header_block(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// A recorded call as kept in memory: the request itself plus the outcome, a fraction of the
/// size of a [`RecordedCall`]. The decoded fields are re-read with the same validation code
/// when the call is looked at, so they are exactly what was decoded on arrival.
#[derive(Debug, Clone)]
pub(crate) struct StoredCall {
    seq: u64,
    received_ms: u64,
    origin: Origin,
    method: hyper::Method,
    /// The path, unless it follows from a backend origin.
    path: Option<Box<str>>,
    raw_query: Box<str>,
    json_body: bool,
    body: Option<Box<[u8]>>,
    /// Shared with the calls before it when they are the same (one client, one block).
    headers: Arc<str>,
    /// The visitor the emulator resolved a user id to (not sent as `v`).
    resolved_visitor: Option<Box<str>>,
    status: u16,
    rejection: Option<Box<str>>,
    offending: Option<u32>,
    fault: Option<Box<str>>,
    violations: Option<Box<[PlanViolation]>>,
}

impl StoredCall {
    fn new(
        call: RecordedCall,
        provenance: Provenance,
        headers: Arc<str>,
        resolved_visitor: Option<String>,
    ) -> Self {
        StoredCall {
            seq: call.seq,
            received_ms: call.received_ms,
            origin: provenance.origin,
            method: hyper::Method::from_bytes(call.method.as_bytes()).unwrap_or_default(),
            path: match provenance.origin {
                Origin::Backend(_) => None,
                _ => Some(call.path.into_boxed_str()),
            },
            raw_query: call.raw_query.into_boxed_str(),
            json_body: provenance.json_body,
            body: provenance.body,
            headers,
            resolved_visitor: resolved_visitor.map(String::into_boxed_str),
            status: call.status,
            rejection: call.rejection.map(String::into_boxed_str),
            offending: provenance.offending.and_then(|i| u32::try_from(i).ok()),
            fault: call.fault.map(String::into_boxed_str),
            violations: (!call.plan_violations.is_empty())
                .then(|| call.plan_violations.into_boxed_slice()),
        }
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The endpoint name, without decoding anything (`None` for an unknown path).
    pub(crate) fn endpoint_name(&self) -> Option<&'static str> {
        match self.origin {
            Origin::Backend(ep) => Some(ep.name()),
            Origin::Newnaconf => Some("newnaconf"),
            Origin::Other => None,
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

    pub(crate) fn is_faulted(&self) -> bool {
        self.fault.is_some()
    }

    pub(crate) fn violates_plan(&self) -> bool {
        self.violations.is_some()
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
        call.received_ms = self.received_ms;
        call.headers = parse_header_block(&self.headers);
        call.status = self.status;
        call.rejection = self.rejection.as_deref().map(str::to_owned);
        call.offending_range = self
            .offending
            .and_then(|i| parameter_range(&self.raw_query, i as usize));
        call.fault = self.fault.as_deref().map(str::to_owned);
        call.plan_violations = self.violations.as_deref().unwrap_or_default().to_vec();
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
    /// Bumped by every [`clear`](CallLog::clear), so a reader can tell its cursor is stale.
    epoch: u64,
}

impl CallLog {
    pub(crate) fn new(max: usize) -> Self {
        CallLog {
            calls: VecDeque::new(),
            max,
            next_seq: 1,
            counts: HashMap::new(),
            epoch: 0,
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
        headers: Arc<str>,
        resolved_visitor: Option<String>,
    ) {
        if self.max == 0 {
            return;
        }
        if self.calls.len() >= self.max {
            self.calls.pop_front();
        }
        self.calls
            .push_back(StoredCall::new(call, provenance, headers, resolved_visitor));
    }

    pub(crate) fn calls(&self) -> impl DoubleEndedIterator<Item = &StoredCall> + '_ {
        self.calls.iter()
    }

    /// The kept calls after `seq`, oldest first.
    pub(crate) fn calls_after(
        &self,
        seq: u64,
    ) -> impl DoubleEndedIterator<Item = &StoredCall> + ExactSizeIterator + '_ {
        let start = self.calls.partition_point(|c| c.seq <= seq);
        self.calls.range(start..)
    }

    /// The kept call numbered `seq`.
    pub(crate) fn get(&self, seq: u64) -> Option<&StoredCall> {
        let i = self.calls.partition_point(|c| c.seq < seq);
        self.calls.get(i).filter(|c| c.seq == seq)
    }

    pub(crate) fn count(&self, endpoint: &str) -> usize {
        self.counts.get(endpoint).copied().unwrap_or(0)
    }

    pub(crate) fn counts(&self) -> &HashMap<String, usize> {
        &self.counts
    }

    /// Calls recorded since the start or the last clear, beyond the bound too: also the
    /// number of the last one.
    pub(crate) fn total(&self) -> u64 {
        self.next_seq - 1
    }

    /// How many calls are kept.
    pub(crate) fn kept(&self) -> usize {
        self.calls.len()
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(crate) fn clear(&mut self) {
        self.calls.clear();
        self.counts.clear();
        self.next_seq = 1;
        self.epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(endpoint: &str) -> RecordedCall {
        let mut call = RecordedCall::arrived("GET".into(), endpoint.into(), String::new(), None);
        call.endpoint = endpoint.into();
        call
    }

    fn other() -> Provenance {
        Provenance {
            origin: Origin::Other,
            json_body: false,
            body: None,
            offending: None,
        }
    }

    #[test]
    fn log_is_bounded_but_counts_stay_exact() {
        let mut log = CallLog::new(3);
        for _ in 0..10 {
            let mut c = call("/x");
            log.admit(&mut c);
            log.store(c, other(), Arc::from(""), None);
        }
        let mut c = call("/y");
        log.admit(&mut c);
        log.store(c, other(), Arc::from(""), None);
        let seqs: Vec<u64> = log.calls().map(|c| c.expand().seq).collect();
        assert_eq!(seqs, vec![9, 10, 11]);
        assert_eq!(log.count("/x"), 10);
        assert_eq!(log.count("/y"), 1);
        assert_eq!(log.total(), 11);
        let after: Vec<u64> = log.calls_after(9).map(StoredCall::seq).collect();
        assert_eq!(after, [10, 11]);
        assert_eq!(log.calls_after(2).count(), 3);
        assert_eq!(log.calls_after(11).count(), 0);
        assert_eq!(log.get(10).map(StoredCall::seq), Some(10));
        assert!(log.get(8).is_none());
        let epoch = log.epoch();
        log.clear();
        assert_eq!(log.epoch(), epoch + 1);
        assert_eq!(log.total(), 0);
    }

    #[test]
    fn headers_read_back_without_content_length() {
        let block = header_block(
            [
                ("user-agent", &b"gamooga-rust/0.1.0"[..]),
                ("content-length", b"12"),
                ("accept", b"*/*"),
            ]
            .into_iter(),
        );
        assert_eq!(block, "user-agent: gamooga-rust/0.1.0\naccept: */*\n");
        assert_eq!(
            parse_header_block(&block),
            [
                ("user-agent".to_owned(), "gamooga-rust/0.1.0".to_owned()),
                ("accept".to_owned(), "*/*".to_owned())
            ]
        );
    }
}
