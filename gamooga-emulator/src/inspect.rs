//! The inspection API over HTTP, for tools in any language:
//!
//! | request | answer |
//! |---|---|
//! | `GET /_emulator/calls` | JSON array of every recorded call ([`RecordedCall`] fields) |
//! | `GET /_emulator/events` | the accepted event calls |
//! | `GET /_emulator/rejected` | the rejected calls, each with its `rejection` |
//! | `GET /_emulator/counts` | JSON object endpoint → count (exact, faulted calls included) |
//! | `GET /_emulator/visitors/{visitor id}` | that visitor's current properties |
//! | `POST /_emulator/reset` | clears calls, counts, visitors and faults; `{"result":"success"}` |
//!
//! These requests are never recorded nor faulted.
//!
//! [`RecordedCall`]: crate::RecordedCall

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde::Serialize;

use crate::emulator::Shared;
use crate::record::{decode_path_segment, RecordedCall, StoredCall};
use crate::server::{failure, json};

/// Answers an inspection request; `rest` is the path after `/_emulator/`.
pub(crate) fn answer(shared: &Shared, method: &str, rest: &str) -> Response<Full<Bytes>> {
    let expects = |wanted: &str| -> Option<Response<Full<Bytes>>> {
        (method != wanted).then(|| {
            failure(
                405,
                &format!("/_emulator/{rest} expects {wanted}, got {method}"),
            )
        })
    };
    let calls = |keep: fn(&StoredCall) -> bool| {
        let selected: Vec<RecordedCall> = shared
            .state()
            .log
            .calls()
            .filter(|c| keep(c))
            .map(StoredCall::expand)
            .collect();
        to_json(&selected)
    };
    match rest {
        "calls" => expects("GET").unwrap_or_else(|| calls(|_| true)),
        "events" => expects("GET").unwrap_or_else(|| calls(StoredCall::is_accepted_event)),
        "rejected" => expects("GET").unwrap_or_else(|| calls(StoredCall::is_rejected)),
        "counts" => expects("GET").unwrap_or_else(|| to_json(shared.state().log.counts())),
        "reset" => expects("POST").unwrap_or_else(|| {
            shared.reset();
            json(200, r#"{"result":"success"}"#)
        }),
        _ => match rest.strip_prefix("visitors/") {
            Some(visitor) if !visitor.is_empty() => expects("GET").unwrap_or_else(|| {
                let visitor = decode_path_segment(visitor);
                to_json(&shared.state().visitors.properties(&visitor))
            }),
            _ => failure(
                404,
                &format!(
                    "unknown inspection path /_emulator/{rest} (calls, events, rejected, \
                     counts, visitors/{{id}}, reset)"
                ),
            ),
        },
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => json(200, body),
        Err(e) => failure(500, &format!("could not serialize: {e}")),
    }
}
