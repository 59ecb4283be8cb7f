//! Gamooga's API as the emulator answers it: `newnaconf` and the backend endpoints, each
//! call validated, faulted as scripted, and recorded.
//!
//! [`answer`] takes a request already read ([`ApiRequest`]), so the page's composer sends
//! its calls through exactly the same path as a client's.

use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::Request;

use crate::call::RecordedCall;
use crate::endpoint::{Endpoint, Route};
use crate::fault::FaultAction;
use crate::http::{failure, json, read_body, Answer, BodyError, DropConnection, MAX_BODY_BYTES};
use crate::log::{decode_path_segment, header_block, Origin, Provenance};
use crate::state::{now_ms, Effect, Shared};
use crate::validate::{self, parameter_index, Rejection, RequestParts};

const SUCCESS: &str = r#"{"result":"success"}"#;

/// A request to the API, read whole.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub content_type: Option<String>,
    /// The headers as a block (see [`header_block`]).
    pub headers: String,
    pub body: Result<Bytes, BodyError>,
    /// Arrival, Unix milliseconds.
    pub received_ms: u64,
}

impl ApiRequest {
    /// Reads a request from a connection (its body at most [`MAX_BODY_BYTES`]).
    pub(crate) async fn read(req: Request<Incoming>) -> Self {
        let received_ms = now_ms();
        let (parts, body) = req.into_parts();
        ApiRequest {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            raw_query: parts.uri.query().unwrap_or("").to_owned(),
            content_type: parts
                .headers
                .get(CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            headers: header_block(
                parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_bytes())),
            ),
            body: read_body(body).await,
            received_ms,
        }
    }
}

/// Answers one API request (or drops the connection, as a fault).
pub(crate) async fn answer(shared: &Shared, req: ApiRequest) -> Result<Answer, DropConnection> {
    let (body, body_problem) = match req.body {
        Ok(body) => (body, None),
        Err(e) => {
            let reason = match e {
                BodyError::TooLarge => {
                    format!("request body is larger than {MAX_BODY_BYTES} bytes")
                }
                BodyError::Read(e) => format!("request body could not be read: {e}"),
            };
            (
                Bytes::new(),
                Some(Rejection {
                    status: 413,
                    reason,
                    parameter: None,
                }),
            )
        }
    };
    let route = Route::of(&req.path);
    let mut call = RecordedCall::arrived(
        req.method,
        req.path,
        req.raw_query,
        (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
    );
    call.received_ms = req.received_ms;
    let json_body = req
        .content_type
        .as_deref()
        .is_some_and(validate::is_json_content_type);
    let arrival = Arrival {
        shared,
        headers: req.headers,
        json_body,
        body: (!body.is_empty()).then(|| Box::from(&body[..])),
    };
    match route {
        Route::Newnaconf(company) => Ok(newnaconf(arrival, call, &company)),
        Route::Backend(ep) => {
            let request = BackendRequest {
                endpoint: ep,
                content_type: req.content_type.as_deref(),
                body: &body,
                body_problem,
            };
            backend(arrival, call, request).await
        }
        Route::Unknown(reason) | Route::Inspect(reason) => {
            call.endpoint = call.path.clone();
            let rejection = Rejection {
                status: 404,
                reason,
                parameter: None,
            };
            Ok(arrival.reject(call, Origin::Other, rejection))
        }
    }
}

/// A call being answered: what recording it needs beside the [`RecordedCall`].
struct Arrival<'a> {
    shared: &'a Shared,
    headers: String,
    json_body: bool,
    body: Option<Box<[u8]>>,
}

impl Arrival<'_> {
    fn provenance(&mut self, origin: Origin, offending: Option<usize>) -> Provenance {
        Provenance {
            origin,
            json_body: self.json_body,
            body: self.body.take(),
            offending,
        }
    }

    fn record(mut self, call: RecordedCall, origin: Origin, effect: Effect) -> Option<String> {
        let provenance = self.provenance(origin, None);
        self.shared.record(call, provenance, self.headers, effect)
    }

    fn reject(mut self, mut call: RecordedCall, origin: Origin, rejection: Rejection) -> Answer {
        let answer = failure(rejection.status, &rejection.reason);
        call.status = rejection.status;
        call.rejection = Some(rejection.reason);
        let provenance = self.provenance(origin, rejection.parameter);
        self.shared
            .record(call, provenance, self.headers, Effect::None);
        answer
    }
}

fn newnaconf(arrival: Arrival<'_>, mut call: RecordedCall, segment: &str) -> Answer {
    let shared = arrival.shared;
    call.endpoint = "newnaconf".to_owned();
    let company = decode_path_segment(segment);
    call.company = Some(company.clone());
    let (failure_status, evbk, body) = shared.newnaconf_faults();
    if let Some(status) = failure_status {
        call.status = status;
        call.fault = Some(format!("fail {status}"));
        arrival.record(call, Origin::Newnaconf, Effect::None);
        return failure(status, "injected fault");
    }
    if call.method != "GET" {
        let reason = format!("newnaconf expects GET, got {}", call.method);
        return arrival.reject(call, Origin::Newnaconf, Rejection::status(405, reason));
    }
    if !shared.company_known(&company) {
        let reason = format!("unknown company '{company}'");
        return arrival.reject(call, Origin::Newnaconf, Rejection::status(404, reason));
    }
    if let Some(body) = body {
        call.fault = Some("newnaconf body".to_owned());
        arrival.record(call, Origin::Newnaconf, Effect::None);
        return json(200, body);
    }
    let answer = match evbk {
        Some(evbk) => {
            call.fault = Some(format!("evbk {evbk}"));
            evbk
        }
        None => shared.own_backend(),
    };
    arrival.record(call, Origin::Newnaconf, Effect::None);
    json(
        200,
        serde_json::json!({
            "cid": company,
            "evbk": answer,
            "wsbk": "127.0.0.1",
            "cdn": "cdn-jp.gsecondscreen.com",
            "ver": 3,
        })
        .to_string(),
    )
}

impl Rejection {
    fn status(status: u16, reason: String) -> Self {
        Rejection {
            status,
            reason,
            parameter: None,
        }
    }
}

/// The parts of a backend request validation needs.
struct BackendRequest<'a> {
    endpoint: Endpoint,
    content_type: Option<&'a str>,
    body: &'a [u8],
    /// A problem found while reading the body (too large).
    body_problem: Option<Rejection>,
}

async fn backend(
    arrival: Arrival<'_>,
    mut call: RecordedCall,
    request: BackendRequest<'_>,
) -> Result<Answer, DropConnection> {
    let shared = arrival.shared;
    let ep = request.endpoint;
    let origin = Origin::Backend(ep);
    call.endpoint = ep.name().to_owned();
    let (data, problem) = validate::validate(
        ep,
        &RequestParts {
            method: &call.method,
            raw_query: &call.raw_query,
            content_type: request.content_type,
            body: request.body,
        },
    );
    let problem = request.body_problem.or(problem).or_else(|| {
        let company = data.company.as_deref()?;
        (!shared.company_known(company)).then(|| Rejection {
            status: 404,
            reason: format!("unknown company '{company}'"),
            parameter: parameter_index(&call.raw_query, "c"),
        })
    });
    call.company = data.company;
    call.user_id = data.user_id;
    call.visitor_id = data.visitor_id;
    call.event = data.event;
    call.event_properties = data.event_properties;
    call.visitor_properties = data.visitor_properties;
    call.tm = data.tm;

    let fault = shared.next_backend_fault(Instant::now());
    call.fault = fault.describe();
    if let Some(wait) = fault.wait() {
        tokio::time::sleep(wait).await;
    }
    match fault.action {
        Some(FaultAction::Drop) => {
            call.status = 0;
            arrival.record(call, origin, Effect::None);
            return Err(DropConnection);
        }
        Some(FaultAction::Fail {
            status,
            retry_after,
            ..
        }) => {
            call.status = status;
            arrival.record(call, origin, Effect::None);
            let mut answer = failure(status, "injected fault");
            if let Some(secs) = retry_after {
                answer
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            return Ok(answer);
        }
        Some(FaultAction::RateLimited { retry_after }) => {
            call.status = 429;
            arrival.record(call, origin, Effect::None);
            let mut answer = failure(429, "rate limit exceeded");
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after));
            return Ok(answer);
        }
        None => {}
    }
    if let Some(rejection) = problem {
        return Ok(arrival.reject(call, origin, rejection));
    }
    let visitor = arrival.record(call, origin, Effect::Accepted(ep));
    if ep == Endpoint::Id {
        let vid = visitor.unwrap_or_default();
        return Ok(json(
            200,
            serde_json::json!({ "result": "success", "vid": vid }).to_string(),
        ));
    }
    Ok(json(200, SUCCESS))
}
