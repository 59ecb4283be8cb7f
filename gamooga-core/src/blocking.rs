//! The client and the delivery queue for code without an async runtime.
//!
//! A [`blocking::Client`](Client) owns a small tokio runtime (one worker thread) that runs
//! the queue's worker in the background; its call methods block the calling thread until
//! Gamooga answers. Do not call them from a thread of a tokio runtime: the client's calls
//! return an [`Error::Config`] there instead of blocking it, and the queue's waiting
//! [`enqueue`](Queue::enqueue) acts as [`try_enqueue`](Queue::try_enqueue). That includes
//! the runtime's blocking pool (`spawn_blocking`, `block_in_place`), which tokio does not let
//! a library tell apart; from there, use [`Client::as_async`] with `Handle::block_on`, or the
//! async API directly.
//!
//! Your own structs, derived as for the async client, take the blocking client and queue
//! under the same one-liners (`use gamooga::prelude::*`); they return the result instead of
//! a future, so there is no `.await`:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga::{blocking, transport::DryRunTransport};
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,
//!     amount: f64,
//! }
//!
//! #[derive(VisitorProps)]
//! struct Profile<'a> {
//!     city: &'a str,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A transport that records instead of sending, for this example; leave it out to send.
//! let dry = Arc::new(DryRunTransport::new());
//! let client = blocking::Client::new(Client::builder("acme").transport(dry.clone()))?;
//! let purchase = Purchase { sku: "A-1", amount: 12.5 };
//! purchase.track(&client, "user-42")?; // evwid: returns when Gamooga answered
//! let visitor_id = client.identify("user-42")?; // id
//! Profile { city: "Tokyo" }.push(&client, &visitor_id)?; // vpr
//!
//! let queue = client.queue(QueueConfig::default())?;
//! purchase.try_enqueue(&queue, "user-42")?; // never blocks: an error when full
//! purchase.enqueue(&queue, "user-7")?; // blocks while the queue is full
//! Profile { city: "Osaka" }.enqueue_for_user(&queue, "user-7")?; // the visitor id looked up later
//! let report = queue.shutdown(Duration::from_secs(5))?; // bounded
//! assert_eq!(report.delivered, 3);
//! assert!(dry.requests().iter().any(|r| r.query().starts_with("c=acme&u=user-7&e=purchase")));
//! # Ok(()) }
//! ```
//!
//! Code without a struct uses the client's and the queue's methods with a
//! [`CustomEvent`](crate::CustomEvent) or [`Properties`](crate::Properties):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gamooga::{blocking, CustomEvent, Properties, transport::DryRunTransport};
//! use gamooga::queue::QueueConfig;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = blocking::Client::new(
//!     gamooga::Client::builder("acme").transport(Arc::new(DryRunTransport::new())),
//! )?;
//! client.track("user-42", &CustomEvent::new("login", Properties::new()))?;
//!
//! let queue = client.queue(QueueConfig::default())?;
//! queue.try_track("user-42", &CustomEvent::new("purchase", Properties::new()))?;
//! let report = queue.shutdown(Duration::from_secs(5))?;
//! assert_eq!(report.delivered, 1);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::call::{Calls, Request};
use crate::client::{ClientBuilder, Response};
use crate::counters::ClientStats;
use crate::error::{Error, InvalidInput, Result};
use crate::event::{Event, VisitorProperties};
use crate::queue::{EnqueueError, QueueConfig, QueueStats, ShutdownReport};

/// The runtime behind the blocking types; shut down in the background when the last user
/// goes, so dropping never panics inside an async context.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn new() -> Result<Arc<Runtime>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gamooga-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the background runtime: {e}")))?;
        Ok(Arc::new(Runtime(Some(rt))))
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("present until dropped")
    }

    fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Config(
                "gamooga::blocking was called from inside an async runtime; use the async API there"
                    .into(),
            ));
        }
        Ok(self.rt().block_on(future))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A blocking [`Client`](crate::Client): the same calls, returning when Gamooga answered.
/// Cheap to clone.
#[derive(Clone)]
pub struct Client {
    client: crate::Client,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Client")
            .field("client", &self.client)
            .finish()
    }
}

impl Client {
    /// Builds the client from `builder` and starts its background runtime.
    pub fn new(builder: ClientBuilder) -> Result<Client> {
        let runtime = Runtime::new()?;
        let client = {
            let _entered = runtime.rt().enter();
            builder.build()?
        };
        Ok(Client { client, runtime })
    }

    /// The async client inside (usable from async code elsewhere in the program).
    pub fn as_async(&self) -> &crate::Client {
        &self.client
    }

    /// The call builders.
    pub fn calls(&self) -> &Calls {
        self.client.calls()
    }

    /// [`Client::send`](crate::Client::send), blocking.
    pub fn send(&self, request: &Request) -> Result<Response> {
        self.runtime.block_on(self.client.send(request))?
    }

    /// [`Client::track`](crate::Client::track), blocking.
    pub fn track<E: Event + ?Sized + Sync>(&self, user_id: &str, event: &E) -> Result<()> {
        self.runtime.block_on(self.client.track(user_id, event))?
    }

    /// [`Client::track_visitor`](crate::Client::track_visitor), blocking.
    pub fn track_visitor<E: Event + ?Sized + Sync>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<()> {
        self.runtime
            .block_on(self.client.track_visitor(visitor_id, event))?
    }

    /// [`Client::track_with`](crate::Client::track_with), blocking.
    pub fn track_with<E: Event + ?Sized + Sync, P: VisitorProperties + ?Sized + Sync>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<()> {
        self.runtime
            .block_on(self.client.track_with(user_id, event, visitor))?
    }

    /// [`Client::push_visitor`](crate::Client::push_visitor), blocking.
    pub fn push_visitor<P: VisitorProperties + ?Sized + Sync>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<()> {
        self.runtime
            .block_on(self.client.push_visitor(visitor_id, properties))?
    }

    /// [`Client::push_visitor_for_user`](crate::Client::push_visitor_for_user), blocking.
    pub fn push_visitor_for_user<P: VisitorProperties + ?Sized + Sync>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> Result<()> {
        self.runtime
            .block_on(self.client.push_visitor_for_user(user_id, properties))?
    }

    /// [`Client::stats`](crate::Client::stats).
    pub fn stats(&self) -> ClientStats {
        self.client.stats()
    }

    /// [`Client::for_company`](crate::Client::for_company): a client for another company on
    /// the same connection pool and background runtime.
    pub fn for_company(&self, company_id: impl Into<String>) -> Result<Client> {
        let _entered = self.runtime.rt().enter();
        Ok(Client {
            client: self.client.for_company(company_id)?,
            runtime: self.runtime.clone(),
        })
    }

    /// [`Client::identify`](crate::Client::identify), blocking.
    pub fn identify(&self, user_id: &str) -> Result<String> {
        self.runtime.block_on(self.client.identify(user_id))?
    }

    /// [`Client::link`](crate::Client::link), blocking.
    pub fn link(&self, user_id: &str, visitor_id: &str) -> Result<()> {
        self.runtime
            .block_on(self.client.link(user_id, visitor_id))?
    }

    /// Starts a delivery queue whose worker runs on this client's background runtime.
    pub fn queue(&self, config: QueueConfig) -> Result<Queue> {
        let _entered = self.runtime.rt().enter();
        Ok(Queue {
            queue: self.client.queue(config)?,
            runtime: self.runtime.clone(),
        })
    }
}

/// A blocking handle on a delivery [`Queue`](crate::queue::Queue); its worker runs on a
/// background thread. Cheap to clone. The `try_*` forms never block (without a spool).
#[derive(Clone)]
pub struct Queue {
    queue: crate::queue::Queue,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("blocking::Queue").field(&self.queue).finish()
    }
}

impl Queue {
    /// The async queue inside.
    pub fn as_async(&self) -> &crate::queue::Queue {
        &self.queue
    }

    /// [`Queue::try_enqueue`](crate::queue::Queue::try_enqueue).
    pub fn try_enqueue(&self, request: Request) -> Result<(), EnqueueError> {
        self.queue.try_enqueue(request)
    }

    /// [`Queue::try_track`](crate::queue::Queue::try_track).
    pub fn try_track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> Result<(), EnqueueError> {
        self.queue.try_track(user_id, event)
    }

    /// [`Queue::try_track_visitor`](crate::queue::Queue::try_track_visitor).
    pub fn try_track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<(), EnqueueError> {
        self.queue.try_track_visitor(visitor_id, event)
    }

    /// [`Queue::try_track_with`](crate::queue::Queue::try_track_with).
    pub fn try_track_with<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<(), EnqueueError> {
        self.queue.try_track_with(user_id, event, visitor)
    }

    /// [`Queue::try_push_visitor`](crate::queue::Queue::try_push_visitor).
    pub fn try_push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<(), EnqueueError> {
        self.queue.try_push_visitor(visitor_id, properties)
    }

    /// [`Queue::enqueue`](crate::queue::Queue::enqueue), blocking while the queue is full
    /// (under [`Overflow::Wait`](crate::queue::Overflow::Wait)). Called from inside an async
    /// runtime, where blocking would stall it, it acts as [`try_enqueue`](Self::try_enqueue).
    pub fn enqueue(&self, request: Request) -> Result<(), EnqueueError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return self.queue.try_enqueue(request);
        }
        self.runtime.rt().block_on(self.queue.enqueue(request))
    }

    /// [`Queue::track`](crate::queue::Queue::track), blocking while the queue is full.
    pub fn track<E: Event + ?Sized>(&self, user_id: &str, event: &E) -> Result<(), EnqueueError> {
        self.enqueue_built(self.queue.calls().track(user_id, event))
    }

    /// [`Queue::push_visitor_for_user`](crate::queue::Queue::push_visitor_for_user), blocking
    /// while the queue is full: the visitor id is looked up at delivery, never here.
    pub fn push_visitor_for_user<P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> Result<(), EnqueueError> {
        self.enqueue_built(
            self.queue
                .calls()
                .push_visitor_for_user(user_id, properties),
        )
    }

    /// [`Queue::try_push_visitor_for_user`](crate::queue::Queue::try_push_visitor_for_user).
    pub fn try_push_visitor_for_user<P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> Result<(), EnqueueError> {
        self.queue.try_push_visitor_for_user(user_id, properties)
    }

    /// [`Queue::enqueue_built`](crate::queue::Queue::enqueue_built), blocking while the
    /// queue is full: a call the before-send hook dropped is `Ok`.
    pub fn enqueue_built(&self, built: Result<Request, InvalidInput>) -> Result<(), EnqueueError> {
        match built {
            Ok(request) => self.enqueue(request),
            Err(e) if e.is_dropped_by_hook() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// [`Queue::try_enqueue_built`](crate::queue::Queue::try_enqueue_built).
    pub fn try_enqueue_built(
        &self,
        built: Result<Request, InvalidInput>,
    ) -> Result<(), EnqueueError> {
        self.queue.try_enqueue_built(built)
    }

    /// Waits until everything accepted so far is delivered or dead-lettered
    /// ([`Queue::flush`](crate::queue::Queue::flush)): during an outage, as long as the retry
    /// policy allows. Prefer [`flush_timeout`](Self::flush_timeout) where a bound matters.
    pub fn flush(&self) -> Result<()> {
        self.runtime.block_on(self.queue.flush())
    }

    /// [`flush`](Self::flush) for at most `timeout`: `Ok(true)` when everything accepted
    /// before the call was settled in time ([`Queue::flush_timeout`](crate::queue::Queue::flush_timeout)).
    pub fn flush_timeout(&self, timeout: Duration) -> Result<bool> {
        self.runtime.block_on(self.queue.flush_timeout(timeout))
    }

    /// Stops intake, delivers until `deadline`, and reports
    /// ([`Queue::shutdown`](crate::queue::Queue::shutdown)).
    pub fn shutdown(&self, deadline: Duration) -> Result<ShutdownReport> {
        self.runtime.block_on(self.queue.shutdown(deadline))
    }

    /// The live counters.
    pub fn stats(&self) -> QueueStats {
        self.queue.stats()
    }
}
