//! The HTTP/1.1 server (hyper, keep-alive): accepting connections, going down and up, and
//! answering each request by route.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::emulator::Shared;
use crate::endpoint::{Endpoint, Route};
use crate::fault::FaultAction;
use crate::inspect;
use crate::record::{decode_path_segment, Origin, Provenance, RecordedCall};
use crate::validate::{self, Rejection, RequestParts};

/// The largest request body read (an `evwidj` body); larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A listening server: its accept task and the signal that stops it and its connections.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops listening, closes the connections, and waits until the port is released.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stops without waiting (from `Drop`).
    pub(crate) fn abort(self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// Starts accepting on `listener`.
pub(crate) fn serve(shared: Arc<Shared>, listener: TcpListener) -> Running {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(shared, listener, stopped));
    Running { stop, task }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(Arc::clone(&shared), stream, stopped.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
        }
    }
    // `listener` is dropped here: connections are refused from now on.
}

async fn serve_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
    let connection = http1::Builder::new()
        .keep_alive(true)
        // Idle keep-alive connections stay open until the client closes them (or go_down).
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        // Dropping the connection closes the socket.
        _ = stopped.changed() => {}
    }
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

type Answer = Response<Full<Bytes>>;

/// A JSON answer.
pub(crate) fn json(status: u16, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON error answer `{"result":"failure","error":"<reason>"}`.
pub(crate) fn failure(status: u16, reason: &str) -> Answer {
    json(
        status,
        serde_json::json!({ "result": "failure", "error": reason }).to_string(),
    )
}

const SUCCESS: &str = r#"{"result":"success"}"#;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Answer, DropConnection> {
    let route = Route::of(req.uri().path());
    if let Route::Inspect(rest) = &route {
        return Ok(inspect::answer(&shared, req.method().as_str(), rest));
    }
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (body, body_problem) = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => (collected.to_bytes(), None),
        Err(e) => {
            let reason = if e.downcast_ref::<LengthLimitError>().is_some() {
                format!("request body is larger than {MAX_BODY_BYTES} bytes")
            } else {
                format!("request body could not be read: {e}")
            };
            (
                Bytes::new(),
                Some(Rejection {
                    status: 413,
                    reason,
                }),
            )
        }
    };
    let call = RecordedCall::arrived(
        method,
        path,
        raw_query,
        (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
    );
    let json_body = content_type
        .as_deref()
        .is_some_and(validate::is_json_content_type);
    let provenance = |origin| Provenance {
        origin,
        json_body,
        body: (!body.is_empty()).then(|| Box::from(&body[..])),
    };
    match route {
        Route::Newnaconf(company) => Ok(newnaconf(
            &shared,
            call,
            provenance(Origin::Newnaconf),
            &company,
        )),
        Route::Backend(ep) => {
            let request = BackendRequest {
                endpoint: ep,
                content_type: content_type.as_deref(),
                body: &body,
                body_problem,
            };
            backend(&shared, call, provenance(Origin::Backend(ep)), request).await
        }
        Route::Unknown(reason) | Route::Inspect(reason) => {
            let mut call = call;
            call.endpoint = call.path.clone();
            Ok(reject(
                &shared,
                call,
                provenance(Origin::Other),
                404,
                reason,
            ))
        }
    }
}

fn reject(
    shared: &Shared,
    mut call: RecordedCall,
    provenance: Provenance,
    status: u16,
    reason: String,
) -> Answer {
    let answer = failure(status, &reason);
    call.status = status;
    call.rejection = Some(reason);
    shared.record(call, provenance);
    answer
}

fn company_known(shared: &Shared, company: &str) -> bool {
    shared
        .companies
        .as_ref()
        .is_none_or(|known| known.contains(company))
}

fn newnaconf(
    shared: &Shared,
    mut call: RecordedCall,
    provenance: Provenance,
    segment: &str,
) -> Answer {
    call.endpoint = "newnaconf".to_owned();
    let company = decode_path_segment(segment);
    call.company = Some(company.clone());
    let (failure_status, evbk, body) = {
        let mut faults = shared.faults();
        (
            faults.next_newnaconf_failure(),
            faults.evbk().map(str::to_owned),
            faults.newnaconf_body().map(str::to_owned),
        )
    };
    if let Some(status) = failure_status {
        call.status = status;
        call.fault = Some(format!("fail {status}"));
        shared.record(call, provenance);
        return failure(status, "injected fault");
    }
    if call.method != "GET" {
        let reason = format!("newnaconf expects GET, got {}", call.method);
        return reject(shared, call, provenance, 405, reason);
    }
    if !company_known(shared, &company) {
        let reason = format!("unknown company '{company}'");
        return reject(shared, call, provenance, 404, reason);
    }
    if let Some(body) = body {
        call.fault = Some("newnaconf body".to_owned());
        shared.record(call, provenance);
        return json(200, body);
    }
    let answer = match evbk {
        Some(evbk) => {
            call.fault = Some(format!("evbk {evbk}"));
            evbk
        }
        None => shared.own_backend(),
    };
    shared.record(call, provenance);
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

/// The parts of a backend request validation needs.
struct BackendRequest<'a> {
    endpoint: Endpoint,
    content_type: Option<&'a str>,
    body: &'a [u8],
    /// A problem found while reading the body (too large).
    body_problem: Option<Rejection>,
}

async fn backend(
    shared: &Shared,
    mut call: RecordedCall,
    provenance: Provenance,
    request: BackendRequest<'_>,
) -> Result<Answer, DropConnection> {
    let ep = request.endpoint;
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
        (!company_known(shared, company)).then(|| Rejection {
            status: 404,
            reason: format!("unknown company '{company}'"),
        })
    });
    call.company = data.company;
    call.user_id = data.user_id;
    call.visitor_id = data.visitor_id;
    call.event = data.event;
    call.event_properties = data.event_properties;
    call.visitor_properties = data.visitor_properties;
    call.tm = data.tm;

    let fault = shared.faults().next_backend();
    call.fault = fault.describe();
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    match fault.action {
        Some(FaultAction::Drop) => {
            call.status = 0;
            shared.record(call, provenance);
            return Err(DropConnection);
        }
        Some(FaultAction::Fail {
            status,
            retry_after,
            ..
        }) => {
            call.status = status;
            shared.record(call, provenance);
            let mut answer = failure(status, "injected fault");
            if let Some(secs) = retry_after {
                answer
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            return Ok(answer);
        }
        None => {}
    }
    if let Some(rejection) = problem {
        return Ok(reject(
            shared,
            call,
            provenance,
            rejection.status,
            rejection.reason,
        ));
    }
    let visitor = shared.record_accepted(call, provenance, ep);
    if ep == Endpoint::Id {
        let vid = visitor.unwrap_or_default();
        return Ok(json(
            200,
            serde_json::json!({ "result": "success", "vid": vid }).to_string(),
        ));
    }
    Ok(json(200, SUCCESS))
}
