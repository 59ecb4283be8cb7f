//! An axum 0.8 service that tracks through the delivery queue: a handler that enqueues a
//! derived event, a handler that pushes visitor properties by user id (the visitor id is
//! looked up in the background, so it works during an outage), and a graceful shutdown that
//! cannot hang.
//!
//! ```sh
//! cargo run --example axum_service          # on 127.0.0.1:3000, with an embedded emulator
//! curl -X POST localhost:3000/users/user-42/purchases -H 'content-type: application/json' \
//!      -d '{"sku":"A-1","amount":12.5}'
//! curl -X POST localhost:3000/users/user-42/profile -H 'content-type: application/json' \
//!      -d '{"city":"Tokyo","vip":true}'
//! ```
//!
//! With `GAMOOGA_COMPANY_ID` set (and optionally `GAMOOGA_CONFIG_URL`, `GAMOOGA_BACKEND`,
//! `GAMOOGA_DISABLED=1`) it sends to that Gamooga instead; `PORT` sets the port. Ctrl-C
//! stops it: the server stops taking requests, gives those under way up to 5 s, then the
//! queue up to 10 s to deliver; whatever Gamooga does, it exits within those 15 s.
//!
//! `tests/axum_service.rs` drives this service over HTTP against the emulator: it uses
//! [`router`] and [`serve`] from here.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use gamooga::prelude::*;
use gamooga::queue::ShutdownReport;

/// An event, from the request's JSON: each field a property.
#[derive(GamoogaEvent, serde::Deserialize)]
pub struct Purchase {
    pub sku: String,
    pub amount: f64,
}

/// Visitor properties, from the request's JSON.
#[derive(VisitorProps, serde::Deserialize)]
pub struct Profile {
    pub city: String,
    pub vip: bool,
}

/// `POST /users/{user_id}/purchases`: queues the event and answers 202 at once. The queue
/// delivers it in the background, with retries.
async fn purchase(
    State(queue): State<Queue>,
    Path(user_id): Path<String>,
    Json(purchase): Json<Purchase>,
) -> Result<StatusCode, AppError> {
    // `?` turns the queue's `EnqueueError` into `gamooga::Error`.
    purchase.enqueue(&queue, &user_id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /users/{user_id}/profile`: queues the visitor properties by user id. Nothing is
/// awaited from Gamooga here, not even the visitor id: the queue looks it up (`id`, cached)
/// when it delivers.
async fn profile(
    State(queue): State<Queue>,
    Path(user_id): Path<String>,
    Json(profile): Json<Profile>,
) -> Result<StatusCode, AppError> {
    profile.enqueue_for_user(&queue, &user_id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The routes, over a queue.
pub fn router(queue: Queue) -> Router {
    Router::new()
        .route("/users/{user_id}/purchases", post(purchase))
        .route("/users/{user_id}/profile", post(profile))
        .with_state(queue)
}

/// A `gamooga::Error` as an HTTP answer: bad input is the caller's (400, with the reason,
/// which never quotes a value or an id); a full or stopped queue is 503 (try again).
pub struct AppError(gamooga::Error);

impl From<gamooga::Error> for AppError {
    fn from(e: gamooga::Error) -> Self {
        AppError(e)
    }
}

impl From<EnqueueError> for AppError {
    fn from(e: EnqueueError) -> Self {
        AppError(e.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self.0 {
            gamooga::Error::InvalidInput(e) => {
                (StatusCode::BAD_REQUEST, e.to_string()).into_response()
            }
            other => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                other.to_string(),
            )
                .into_response(),
        }
    }
}

/// How long each phase of a shutdown may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// For the requests under way once the shutdown signal came.
    pub requests: Duration,
    /// For the queue to deliver what it holds ([`Queue::shutdown`]); then what is left is
    /// dead-lettered (or stays in the spool, with one).
    pub queue: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            requests: Duration::from_secs(5),
            queue: Duration::from_secs(10),
        }
    }
}

/// Serves `listener` until `signal` completes, then shuts down within
/// `deadlines.requests + deadlines.queue` (plus the dead-letter hooks' time), whatever
/// Gamooga does: no `flush()` (which waits as long as the retry policy allows), only
/// bounded waits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    queue: Queue,
    signal: impl Future<Output = ()> + Send + 'static,
    deadlines: Deadlines,
) -> std::io::Result<ShutdownReport> {
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = stop.clone();
    let server = axum::serve(listener, router(queue.clone()))
        .with_graceful_shutdown(async move { stopping.notified().await })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served?,
        () = signal => {
            // Stop taking requests; give those under way a bounded time.
            stop.notify_one();
            if tokio::time::timeout(deadlines.requests, &mut server).await.is_err() {
                eprintln!("requests still running after {:?}: not waited for", deadlines.requests);
            }
        }
    }
    // Bounded whatever Gamooga does. Handlers still waiting on the queue get `Closed`.
    Ok(queue.shutdown(deadlines.queue).await)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _emulator) = match std::env::var_os("GAMOOGA_COMPANY_ID") {
        Some(_) => (Client::from_env()?, None),
        None => {
            let emulator = gamooga_emulator::Emulator::start().await?;
            println!(
                "no GAMOOGA_COMPANY_ID: sending to an embedded emulator, {}",
                emulator.inspector_url()
            );
            let client = Client::builder("demo-company")
                .config_url(emulator.config_url())
                .build()?;
            (client, Some(emulator))
        }
    };
    let queue = client.queue(QueueConfig::default())?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = serve(listener, queue, ctrl_c, Deadlines::default()).await?;
    println!(
        "stopped: {} delivered, {} dead-lettered ({} at the deadline), {} still spooled",
        report.delivered, report.dead_lettered, report.abandoned, report.still_spooled
    );
    Ok(())
}
