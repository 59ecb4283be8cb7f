//! The inspector: a web page that shows every call live, and the JSON API that both the
//! page and CI use, all under `/_emulator/`. Served on the inspector's own port (which stays
//! up when the API goes down) and on the API's port too.
//!
//! | request | answer |
//! |---|---|
//! | `GET /_emulator/` | the page (HTML; `app.js` and `style.css` beside it, all embedded) |
//! | `GET /_emulator/stream?<filters>` | the live stream: server-sent events, one JSON message per batch |
//! | `GET /_emulator/calls?<filters>[&limit=N]` | JSON array of the recorded calls that match (the last `N`) |
//! | `GET /_emulator/calls/{seq}` | one call in full, with the visitor's properties right after it |
//! | `GET /_emulator/events`, `/rejected` | the accepted event calls; the rejected calls |
//! | `GET /_emulator/counts` | JSON object endpoint → count (exact, faulted calls included) |
//! | `GET /_emulator/summary` | accepted, rejected, faulted and plan-violating calls, in all and per event |
//! | `GET /_emulator/schema` | each event seen: counts, first and last seen, properties and datatypes seen, drift, planned or not |
//! | `GET /_emulator/visitors/{visitor id}` | that visitor's current properties |
//! | `GET`, `POST`, `DELETE /_emulator/plan` | the tracking plan: read, load (the body is `TrackingPlan::to_json()`), remove |
//! | `GET`, `POST /_emulator/faults` | the fault state; change it (a [`FaultCommand`] as JSON) |
//! | `POST /_emulator/compose` | send a call through the API as a client would: `{"method", "path", "query", "body"}` |
//! | `POST /_emulator/reset` | clears calls, counts, visitors and faults; `{"result":"success"}` |
//!
//! Filters are query parameters: `endpoint`, `company`, `event`, `id` (user or visitor id),
//! `status` (`accepted`, `rejected`, `violation`, `faulted`) and `q` (free text). These
//! requests are never recorded nor faulted.
//!
//! [`FaultCommand`]: crate::FaultCommand

mod filter;
mod stream;

use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, LOCATION, RETRY_AFTER};
use hyper::{Method, Request};
use serde::{Deserialize, Serialize};

use crate::api::{self, ApiRequest};
use crate::call::RecordedCall;
use crate::fault::{FaultCommand, FaultState};
use crate::http::{answer, failure, json, read_body, to_json, Answer, Body, Power};
use crate::log::{decode_path_segment, StoredCall};
use crate::plan::Plan;
use crate::state::{now_ms, Shared};
use filter::Filter;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The inspector: the state it shows and the API listener's power switch.
pub(crate) struct Inspector {
    shared: Arc<Shared>,
    /// Set once the API listener exists; weak, since that listener's handler holds the
    /// inspector.
    power: OnceLock<Weak<dyn Power>>,
}

impl Inspector {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Inspector {
            shared,
            power: OnceLock::new(),
        }
    }

    /// Gives the inspector the API listener's switch (for going down and up from the page).
    pub(crate) fn connect_power(&self, power: Weak<dyn Power>) {
        let _ = self.power.set(power);
    }

    fn power(&self) -> Option<Arc<dyn Power>> {
        self.power.get().and_then(Weak::upgrade)
    }

    /// The fault state with whether the API is up.
    fn fault_state(&self) -> FaultState {
        let mut state = self.shared.fault_state();
        state.up = self.power().is_none_or(|p| p.is_up());
        state
    }

    /// Answers a request under `/_emulator/` (`path` is the whole path).
    pub(crate) async fn answer(&self, req: Request<Incoming>) -> Answer {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let Some(rest) = path.strip_prefix("/_emulator/") else {
            return failure(404, &format!("unknown inspector path {path}"));
        };
        let expects = |wanted: Method| -> Option<Answer> {
            (method != wanted).then(|| {
                failure(
                    405,
                    &format!("/_emulator/{rest} expects {wanted}, got {method}"),
                )
            })
        };
        match rest {
            "" | "index.html" => expects(Method::GET)
                .unwrap_or_else(|| asset("text/html; charset=utf-8", INDEX_HTML)),
            "app.js" => expects(Method::GET)
                .unwrap_or_else(|| asset("text/javascript; charset=utf-8", APP_JS)),
            "style.css" => {
                expects(Method::GET).unwrap_or_else(|| asset("text/css; charset=utf-8", STYLE_CSS))
            }
            "stream" => expects(Method::GET).unwrap_or_else(|| match Filter::parse(&query) {
                Ok(filter) => {
                    stream::start(Arc::clone(&self.shared), self.power.get().cloned(), filter)
                }
                Err(e) => failure(400, &e),
            }),
            "calls" => expects(Method::GET).unwrap_or_else(|| self.calls(&query, |_| true)),
            "events" => expects(Method::GET)
                .unwrap_or_else(|| self.calls(&query, StoredCall::is_accepted_event)),
            "rejected" => {
                expects(Method::GET).unwrap_or_else(|| self.calls(&query, StoredCall::is_rejected))
            }
            "counts" => expects(Method::GET)
                .unwrap_or_else(|| self.shared.read(|s| to_json(s.log().counts()))),
            "summary" => {
                expects(Method::GET).unwrap_or_else(|| self.shared.read(|s| to_json(&s.summary())))
            }
            "schema" => expects(Method::GET)
                .unwrap_or_else(|| self.shared.read(|s| to_json(&s.stats().schema(s.plan())))),
            "reset" => expects(Method::POST).unwrap_or_else(|| {
                self.shared.reset();
                json(200, r#"{"result":"success"}"#)
            }),
            "plan" => self.plan(req).await,
            "faults" => self.faults(req).await,
            "compose" => match expects(Method::POST) {
                Some(refused) => refused,
                None => self.compose(req).await,
            },
            _ => {
                if let Some(seq) = rest.strip_prefix("calls/") {
                    return expects(Method::GET).unwrap_or_else(|| self.detail(seq));
                }
                match rest.strip_prefix("visitors/") {
                    Some(visitor) if !visitor.is_empty() => {
                        expects(Method::GET).unwrap_or_else(|| {
                            let visitor = decode_path_segment(visitor);
                            self.shared
                                .read(|s| to_json(&s.visitors().properties(&visitor)))
                        })
                    }
                    _ => failure(
                        404,
                        &format!(
                            "unknown inspection path /_emulator/{rest} (calls, events, rejected, \
                             counts, summary, schema, visitors/{{id}}, plan, faults, compose, \
                             stream, reset)"
                        ),
                    ),
                }
            }
        }
    }

    /// The calls that `keep` and the query's filters select, oldest first; with `limit=N`
    /// the last `N` of them.
    fn calls(&self, query: &str, keep: fn(&StoredCall) -> bool) -> Answer {
        let filter = match Filter::parse(query) {
            Ok(f) => f,
            Err(e) => return failure(400, &e),
        };
        let limit = match limit(query) {
            Ok(l) => l,
            Err(e) => return failure(400, &e),
        };
        let mut selected: Vec<RecordedCall> = self.shared.read(|s| {
            let mut newest_first: Vec<RecordedCall> = s
                .log()
                .calls()
                .rev()
                .filter(|c| keep(c) && filter.matches(c))
                .take(limit.unwrap_or(usize::MAX))
                .map(StoredCall::expand)
                .collect();
            newest_first.reverse();
            newest_first
        });
        selected.shrink_to_fit();
        to_json(&selected)
    }

    /// One call in full.
    fn detail(&self, seq: &str) -> Answer {
        let Ok(seq) = seq.parse::<u64>() else {
            return failure(400, &format!("'{seq}' is not a call number"));
        };
        #[derive(Serialize)]
        struct Detail {
            call: RecordedCall,
            /// The visitor's properties right after the call (`null` when no longer kept).
            visitor_properties_after: Option<Vec<crate::RecordedProperty>>,
        }
        self.shared.read(|s| match s.log().get(seq) {
            None => failure(
                404,
                &format!("call {seq} is not kept (reset, or beyond max_recorded)"),
            ),
            Some(stored) => {
                let call = stored.expand();
                let after = match &call.visitor_id {
                    Some(v) if call.status == 200 => s.visitors().properties_after(v, seq),
                    _ => Some(Vec::new()),
                };
                to_json(&Detail {
                    call,
                    visitor_properties_after: after,
                })
            }
        })
    }

    async fn plan(&self, req: Request<Incoming>) -> Answer {
        match *req.method() {
            Method::GET => self.shared.read(|s| to_json(&s.plan().map(Plan::to_value))),
            Method::POST | Method::PUT => {
                let body = match read_body(req.into_body()).await {
                    Ok(b) => b,
                    Err(e) => return failure(413, &format!("{e:?}")),
                };
                let text = String::from_utf8_lossy(&body);
                match Plan::from_json(&text) {
                    Ok(plan) => {
                        let value = plan.to_value();
                        self.shared.set_plan(Some(plan));
                        to_json(&value)
                    }
                    Err(e) => failure(400, &e.to_string()),
                }
            }
            Method::DELETE => {
                self.shared.set_plan(None);
                json(200, "null")
            }
            ref m => failure(
                405,
                &format!("/_emulator/plan expects GET, POST or DELETE, got {m}"),
            ),
        }
    }

    async fn faults(&self, req: Request<Incoming>) -> Answer {
        match *req.method() {
            Method::GET => to_json(&self.fault_state()),
            Method::POST => {
                let body = match req.into_body().collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) => return failure(400, &format!("cannot read the body: {e}")),
                };
                let command: FaultCommand = match serde_json::from_slice(&body) {
                    Ok(c) => c,
                    Err(e) => return failure(400, &format!("not a fault command: {e}")),
                };
                match command {
                    FaultCommand::GoDown => {
                        if let Some(power) = self.power() {
                            power.go_down().await;
                        }
                    }
                    FaultCommand::ComeUp => {
                        if let Some(power) = self.power() {
                            if let Err(e) = power.come_up().await {
                                return failure(500, &format!("cannot listen again: {e}"));
                            }
                        }
                    }
                    other => self
                        .shared
                        .change_faults(|f| f.apply(&other, std::time::Instant::now())),
                }
                // Wake the streams: the page shows the new state at once.
                self.shared.change_faults(|_| ());
                to_json(&self.fault_state())
            }
            ref m => failure(
                405,
                &format!("/_emulator/faults expects GET or POST, got {m}"),
            ),
        }
    }

    /// Sends a call through the API exactly as a client's would go (validation, faults,
    /// recording), and answers what the API answered.
    async fn compose(&self, req: Request<Incoming>) -> Answer {
        #[derive(Deserialize)]
        struct Compose {
            #[serde(default)]
            method: Option<String>,
            path: String,
            #[serde(default)]
            query: String,
            #[serde(default)]
            body: Option<String>,
        }
        #[derive(Serialize)]
        struct Composed {
            status: u16,
            body: Option<String>,
            retry_after: Option<String>,
            dropped: bool,
        }
        let body = match read_body(req.into_body()).await {
            Ok(b) => b,
            Err(e) => return failure(413, &format!("{e:?}")),
        };
        let compose: Compose = match serde_json::from_slice(&body) {
            Ok(c) => c,
            Err(e) => return failure(400, &format!("not a call to compose: {e}")),
        };
        if self.power().is_some_and(|p| !p.is_up()) {
            return failure(
                503,
                "the emulator is down: a client's connection would be refused (come up first)",
            );
        }
        let path = if compose.path.starts_with('/') {
            compose.path
        } else {
            format!("/{}", compose.path)
        };
        let body = compose.body.filter(|b| !b.is_empty());
        let method = compose
            .method
            .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_owned())
            .to_ascii_uppercase();
        let content_type = body.as_ref().map(|_| "application/json".to_owned());
        let mut headers = String::from("user-agent: gamooga-emulator inspector (composer)\n");
        if let Some(ct) = &content_type {
            headers.push_str(&format!("content-type: {ct}\n"));
        }
        let request = ApiRequest {
            method,
            path,
            raw_query: compose.query.trim_start_matches('?').to_owned(),
            content_type,
            headers,
            body: Ok(body.map(Bytes::from).unwrap_or_default()),
            received_ms: now_ms(),
        };
        let composed = match api::answer(&self.shared, request).await {
            Err(_) => Composed {
                status: 0,
                body: None,
                retry_after: None,
                dropped: true,
            },
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = match response.into_body() {
                    Body::Full(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
                    _ => None,
                };
                Composed {
                    status,
                    body,
                    retry_after,
                    dropped: false,
                }
            }
        };
        to_json(&composed)
    }
}

/// Redirects `/` to the page (on the inspector's own port).
pub(crate) fn redirect_to_page() -> Answer {
    let mut response = answer(302, "text/plain", "see /_emulator/");
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/_emulator/"));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Answer {
    let mut response = answer(200, content_type, Bytes::from_static(body.as_bytes()));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn limit(query: &str) -> Result<Option<usize>, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "limit")
        .filter(|(_, v)| !v.is_empty())
        .map(|(_, v)| {
            v.parse::<usize>()
                .map_err(|_| format!("limit '{v}' is not a number"))
        })
        .transpose()
}
