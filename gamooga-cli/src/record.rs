//! A [`Transport`] that records what the SDK's client sends, so the command line can show the
//! exact requests (`send --dry-run`) and time the company-information fetch (`resolve`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gamooga::transport::{
    BoxFuture, HttpRequest, HttpResponse, ReqwestTransport, Transport, TransportError,
};
use gamooga::Method;

use crate::config::Settings;
use crate::error::CliError;

/// One exchange the client made (or, dry, would have made).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: Method,
    /// The full URL, exactly as the client built it.
    pub url: String,
    pub body: Option<String>,
    /// The HTTP status, or what went wrong; `None` for a request not sent (dry run).
    pub outcome: Option<Result<u16, String>>,
    pub elapsed: Duration,
}

impl Exchange {
    /// Whether this is the company-information call (to the configuration host).
    pub fn is_company_info(&self) -> bool {
        is_company_info(&self.url)
    }
}

fn is_company_info(url: &str) -> bool {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    path.contains("/newnaconf/")
}

/// Wraps the SDK's own reqwest transport: the company information is always fetched for
/// real; backend calls are sent too, or with `dry` only recorded and answered 200.
#[derive(Debug)]
pub struct Recorder {
    inner: ReqwestTransport,
    dry: bool,
    exchanges: Mutex<Vec<Exchange>>,
}

impl Recorder {
    pub fn new(settings: &Settings, dry: bool) -> Result<Arc<Self>, CliError> {
        let inner = ReqwestTransport::new(
            Duration::from_secs(5).min(settings.timeout),
            settings.timeout,
            Some(concat!("gamooga-cli/", env!("CARGO_PKG_VERSION"))),
        )?;
        Ok(Arc::new(Recorder {
            inner,
            dry,
            exchanges: Mutex::new(Vec::new()),
        }))
    }

    /// Every exchange so far, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, exchange: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(exchange);
    }
}

impl Transport for Recorder {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let (method, url, body) = (request.method, request.url.clone(), request.body.clone());
            if self.dry && !is_company_info(&url) {
                self.push(Exchange {
                    method,
                    url,
                    body,
                    outcome: None,
                    elapsed: Duration::ZERO,
                });
                return Ok(HttpResponse::new(200, br#"{"result":"success"}"#.to_vec()));
            }
            let start = Instant::now();
            let result = self.inner.send(request).await;
            self.push(Exchange {
                method,
                url,
                body,
                outcome: Some(match &result {
                    Ok(r) => Ok(r.status),
                    Err(e) => Err(e.to_string()),
                }),
                elapsed: start.elapsed(),
            });
            result
        })
    }
}
