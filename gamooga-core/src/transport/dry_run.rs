//! A transport that sends nothing: it records requests and answers 200.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::{BoxFuture, HttpRequest, HttpResponse, RedactedUrl, Transport, TransportError};
use crate::call::Method;

/// A request the [`DryRunTransport`] received.
///
/// Its `Debug` leaves out the query and body (they hold user ids and values); the fields and
/// [`query`](Self::query) give everything.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full URL, exactly as it would have gone on the wire.
    pub url: String,
    /// The JSON body, if any.
    pub body: Option<String>,
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("url", &RedactedUrl(&self.url))
            .field("body_len", &self.body.as_ref().map(String::len))
            .finish()
    }
}

impl RecordedRequest {
    /// The path of the URL (`/evwid/`).
    pub fn path(&self) -> &str {
        let after_scheme = self
            .url
            .split_once("://")
            .map_or(&*self.url, |(_, rest)| rest);
        let start = after_scheme.find('/').unwrap_or(after_scheme.len());
        let path = &after_scheme[start..];
        path.split_once('?').map_or(path, |(p, _)| p)
    }

    /// The encoded query, without the `?` (empty if there is none).
    pub fn query(&self) -> &str {
        self.url.split_once('?').map_or("", |(_, q)| q)
    }
}

/// A [`Transport`] for tests and debugging without network: it sends nothing, records every
/// request in memory, logs its exact URL at debug level and answers HTTP 200:
///
/// - `/newnaconf/...`: `{"evbk":"<evbk>"}` ([`DryRunTransport::DEFAULT_EVBK`] unless set);
/// - `/id/...`: `{"result":"success","vid":"<16 hex digits>"}`, the same id for the same `u`;
/// - anything else: an empty body.
///
/// ```
/// use std::sync::Arc;
/// use gamooga::{client::Client, transport::DryRunTransport, CustomEvent, Properties};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
/// let dry = Arc::new(DryRunTransport::new());
/// let client = Client::builder("acme").transport(dry.clone()).build()?;
/// client.track("user-42", &CustomEvent::new("login", Properties::new())).await?;
/// let sent = dry.requests();
/// assert_eq!(sent[0].path(), "/newnaconf/acme/");
/// assert_eq!(sent[1].path(), "/evwid/");
/// assert!(sent[1].url.starts_with("https://evbk.dry-run.invalid/evwid/?c=acme&u=user-42&e=login"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DryRunTransport {
    evbk: String,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Default for DryRunTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl DryRunTransport {
    /// The backend named in the `newnaconf` answer by default (`.invalid` never resolves).
    pub const DEFAULT_EVBK: &'static str = "evbk.dry-run.invalid";

    /// A dry-run transport answering `newnaconf` with [`Self::DEFAULT_EVBK`].
    pub fn new() -> Self {
        Self::with_evbk(Self::DEFAULT_EVBK)
    }

    /// A dry-run transport answering `newnaconf` with `evbk` (sent as given, not validated,
    /// so the client's validation can be tried with it).
    pub fn with_evbk(evbk: impl Into<String>) -> Self {
        DryRunTransport {
            evbk: evbk.into(),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn answer(&self, recorded: &RecordedRequest) -> Vec<u8> {
        let path = recorded.path();
        if path.starts_with("/newnaconf/") {
            serde_json::json!({ "evbk": self.evbk })
                .to_string()
                .into_bytes()
        } else if path == "/id/" {
            let user = recorded
                .query()
                .split('&')
                .find_map(|pair| pair.strip_prefix("u="))
                .unwrap_or("");
            serde_json::json!({ "result": "success", "vid": visitor_id_for(user) })
                .to_string()
                .into_bytes()
        } else {
            Vec::new()
        }
    }
}

impl Transport for DryRunTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        tracing::debug!(method = request.method.as_str(), url = %request.url, "dry run: not sent");
        let recorded = RecordedRequest {
            method: request.method,
            url: request.url,
            body: request.body,
        };
        let body = self.answer(&recorded);
        self.lock().push(recorded);
        Box::pin(async move { Ok(HttpResponse::new(200, body)) })
    }
}

/// A deterministic 16-hex-digit visitor id for an (encoded) user id: FNV-1a, 64 bits.
pub(crate) fn visitor_id_for(user: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(t: &DryRunTransport, url: &str) -> HttpResponse {
        let fut = t.send(HttpRequest::new(Method::Get, url, None));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fut)
            .unwrap()
    }

    #[test]
    fn answers_and_records() {
        let t = DryRunTransport::with_evbk("evbk.example.com");
        let conf = send(&t, "https://cdn.example/newnaconf/acme/");
        assert_eq!(conf.status, 200);
        assert_eq!(conf.body, br#"{"evbk":"evbk.example.com"}"#);

        let a = send(&t, "https://evbk.example.com/id/?c=acme&u=alice");
        let b = send(&t, "https://evbk.example.com/id/?c=acme&u=bob");
        let a2 = send(&t, "https://evbk.example.com/id/?c=acme&u=alice");
        assert_eq!(a.body, a2.body);
        assert_ne!(a.body, b.body);
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["result"], "success");
        let vid = v["vid"].as_str().unwrap();
        assert_eq!(vid.len(), 16);
        assert!(vid.bytes().all(|c| c.is_ascii_hexdigit()));

        let ev = send(&t, "https://evbk.example.com/ev/?c=acme&v=x&e=y");
        assert!(ev.body.is_empty());

        let recorded = t.requests();
        assert_eq!(recorded.len(), 5);
        assert_eq!(recorded[4].path(), "/ev/");
        assert_eq!(recorded[4].query(), "c=acme&v=x&e=y");
        assert_eq!(recorded[0].query(), "");
        t.clear();
        assert!(t.requests().is_empty());
    }
}
