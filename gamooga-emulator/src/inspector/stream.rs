//! The page's live stream (`GET /_emulator/stream?<filters>`): server-sent events, one
//! message per batch of calls.
//!
//! It keeps up with any rate without slowing the server: a stream wakes when calls are
//! recorded, waits [`BATCH_INTERVAL`] so calls arriving meanwhile go in the same message,
//! and sends at most [`BATCH_ROWS`] rows a message, the newest; the message counts the
//! matching calls it left out. Calls are looked at under the state lock in chunks of
//! [`CHUNK`], and only the rows sent are decoded (unless the filter needs decoding to
//! match), so the work per recorded call is a comparison or none at all.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::filter::Filter;
use crate::call::RecordedCall;
use crate::fault::FaultState;
use crate::http::{event_stream, Answer, Power};
use crate::state::Shared;

/// How long a stream waits after a change before sending, to batch calls.
pub(crate) const BATCH_INTERVAL: Duration = Duration::from_millis(150);
/// The most rows one message carries.
pub(crate) const BATCH_ROWS: usize = 200;
/// A message is sent at least this often (with the fault state), to keep the page current.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Calls looked at per lock.
const CHUNK: usize = 4096;

/// One row of the live table.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    seq: u64,
    received_ms: u64,
    endpoint: String,
    method: String,
    company: Option<String>,
    user_id: Option<String>,
    visitor_id: Option<String>,
    event: Option<String>,
    /// The properties, shortened, as the one-line log shows them.
    properties: String,
    status: u16,
    rejection: Option<String>,
    fault: Option<String>,
    violations: Vec<String>,
}

impl Row {
    pub(crate) fn of(call: RecordedCall) -> Row {
        let mut properties: Vec<String> = call
            .event_properties
            .iter()
            .map(ToString::to_string)
            .collect();
        properties.extend(
            call.visitor_properties
                .iter()
                .map(|p| format!("visitor {p}")),
        );
        Row {
            seq: call.seq,
            received_ms: call.received_ms,
            properties: properties.join("  "),
            violations: call
                .plan_violations
                .iter()
                .map(ToString::to_string)
                .collect(),
            endpoint: call.endpoint,
            method: call.method,
            company: call.company,
            user_id: call.user_id,
            visitor_id: call.visitor_id,
            event: call.event,
            status: call.status,
            rejection: call.rejection,
            fault: call.fault,
        }
    }
}

/// One message of the stream.
#[derive(Debug, Serialize)]
struct Message {
    /// The page replaces its rows (first message, or after a reset).
    replace: bool,
    /// Newest first.
    rows: Vec<Row>,
    /// Matching calls this message stands for (`rows` plus the ones left out).
    matched: u64,
    /// Calls recorded in all (the last call's number).
    total: u64,
    /// Calls kept in memory, and the bound.
    kept: usize,
    max_recorded: usize,
    faults: FaultState,
    accepted: u64,
    rejected: u64,
    faulted: u64,
    plan_violations: u64,
    plan_loaded: bool,
}

/// Where a stream is in the log.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    epoch: u64,
    seq: u64,
}

/// Starts a stream for `filter`.
pub(crate) fn start(shared: Arc<Shared>, power: Option<Weak<dyn Power>>, filter: Filter) -> Answer {
    let (send, receive) = mpsc::channel(4);
    tokio::spawn(run(shared, power, filter, send));
    event_stream(receive)
}

async fn run(
    shared: Arc<Shared>,
    power: Option<Weak<dyn Power>>,
    filter: Filter,
    send: mpsc::Sender<Bytes>,
) {
    // Tell the browser how long to wait before reconnecting.
    if send
        .send(Bytes::from_static(b"retry: 1000\n\n"))
        .await
        .is_err()
    {
        return;
    }
    let mut cursor: Option<Cursor> = None;
    loop {
        let changed = shared.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let message = batch(&shared, &power, &filter, &mut cursor);
        let mut event = Vec::with_capacity(256);
        event.extend_from_slice(b"data: ");
        if serde_json::to_writer(&mut event, &message).is_err() {
            return;
        }
        event.extend_from_slice(b"\n\n");
        if send.send(Bytes::from(event)).await.is_err() {
            return; // The page went away.
        }
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = send.closed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(BATCH_INTERVAL) => {}
            _ = send.closed() => return,
        }
    }
}

/// The next message: the calls after `cursor` (all kept calls the first time, or after a
/// reset), the newest [`BATCH_ROWS`] matching ones as rows.
fn batch(
    shared: &Shared,
    power: &Option<Weak<dyn Power>>,
    filter: &Filter,
    cursor: &mut Option<Cursor>,
) -> Message {
    let (epoch, replace, mut from) = shared.read(|s| {
        let epoch = s.log().epoch();
        match *cursor {
            Some(c) if c.epoch == epoch => (epoch, false, c.seq),
            _ => (epoch, true, 0),
        }
    });
    let mut newest: VecDeque<u64> = VecDeque::with_capacity(BATCH_ROWS);
    let mut matched = 0u64;
    loop {
        let (done, last) = shared.read(|s| {
            let log = s.log();
            if log.epoch() != epoch {
                return (true, from); // Reset meanwhile: the next message starts again.
            }
            let mut last = from;
            let mut seen = 0;
            if filter.is_empty() {
                let n = log.calls_after(from).len();
                matched += n as u64;
                for c in log.calls_after(from).skip(n.saturating_sub(BATCH_ROWS)) {
                    keep(&mut newest, c.seq());
                }
                last = log.total();
                return (true, last);
            }
            for c in log.calls_after(from).take(CHUNK) {
                seen += 1;
                last = c.seq();
                if filter.matches(c) {
                    matched += 1;
                    keep(&mut newest, c.seq());
                }
            }
            (seen < CHUNK, last)
        });
        from = last;
        if done {
            break;
        }
    }
    let faults = {
        let mut state = shared.fault_state();
        state.up = power
            .as_ref()
            .and_then(Weak::upgrade)
            .is_none_or(|p| p.is_up());
        state
    };
    shared.read(|s| {
        let log = s.log();
        *cursor = Some(Cursor { epoch, seq: from });
        let rows: Vec<Row> = newest
            .iter()
            .rev()
            .filter_map(|seq| log.get(*seq))
            .map(|c| Row::of(c.expand()))
            .collect();
        let totals = s.totals();
        Message {
            replace,
            rows,
            matched,
            total: log.total(),
            kept: log.kept(),
            max_recorded: log.max(),
            faults,
            accepted: totals.accepted,
            rejected: totals.rejected,
            faulted: totals.faulted,
            plan_violations: totals.violating,
            plan_loaded: s.plan().is_some(),
        }
    })
}

fn keep(newest: &mut VecDeque<u64>, seq: u64) {
    if newest.len() == BATCH_ROWS {
        newest.pop_front();
    }
    newest.push_back(seq);
}
