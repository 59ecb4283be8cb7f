//! One-line sends: `event.track(&client, "user-42")`, `profile.push(&client, &visitor_id)`,
//! and their queued forms `event.enqueue(&queue, "user-42")`, `profile.enqueue(&queue,
//! &visitor_id)`.
//!
//! The extension traits [`EventExt`] and [`VisitorPropsExt`] are implemented for every
//! [`Event`] and every [`VisitorProperties`] (derived or not) and are in the
//! [`prelude`](crate::prelude). Each method takes either kind of client or queue, under the
//! same name:
//!
//! | argument | the method returns |
//! |---|---|
//! | [`gamooga::Client`](gamooga_core::Client) | a future of `Result<()>`: add `.await` (it is `Send`, so it can be awaited inside `tokio::spawn`) |
//! | [`gamooga::blocking::Client`](gamooga_core::blocking::Client) | `Result<()>`, once Gamooga answered |
//! | [`gamooga::queue::Queue`](gamooga_core::queue::Queue) | `enqueue`: a future of `Result<(), EnqueueError>`; `try_enqueue`: that result at once |
//! | [`gamooga::blocking::Queue`](gamooga_core::blocking::Queue) | `enqueue` and `try_enqueue`: `Result<(), EnqueueError>` |
//!
//! Which one is decided by the sealed traits [`Tracker`] (the clients) and [`Enqueuer`] (the
//! queues). The async forms box their future (one allocation per call, next to the request
//! itself), which is what lets one method name serve both kinds.

use std::future::Future;
use std::pin::Pin;

use gamooga_core::queue::{EnqueueError, Queue};
use gamooga_core::{blocking, Client, Event, InvalidInput, Request, Result, VisitorProperties};

/// The future an async one-line method returns: boxed, `Send`, borrowing its arguments.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for gamooga_core::Client {}
    impl Sealed for gamooga_core::blocking::Client {}
    impl Sealed for gamooga_core::queue::Queue {}
    impl Sealed for gamooga_core::blocking::Queue {}
}

/// A client the one-line methods send through: [`gamooga::Client`](Client), whose methods
/// return a future, or [`gamooga::blocking::Client`](blocking::Client), whose methods return
/// the result. Sealed: implemented for these two only.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a gamooga client",
    label = "the one-line methods send through a gamooga client",
    note = "pass a `gamooga::Client` (the method returns a future: add `.await`) or a `gamooga::blocking::Client` (it returns a Result)"
)]
pub trait Tracker: sealed::Sealed {
    /// What a one-line method returns: `BoxFuture<'a, Result<()>>` for the async client,
    /// `Result<()>` for the blocking one.
    type Output<'a>
    where
        Self: 'a;

    #[doc(hidden)]
    fn __track<'a, E: Event + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        event: &'a E,
    ) -> Self::Output<'a>;

    #[doc(hidden)]
    fn __track_visitor<'a, E: Event + Sync + ?Sized>(
        &'a self,
        visitor_id: &'a str,
        event: &'a E,
    ) -> Self::Output<'a>;

    #[doc(hidden)]
    fn __track_with<'a, E: Event + Sync + ?Sized, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        event: &'a E,
        visitor: &'a V,
    ) -> Self::Output<'a>;

    #[doc(hidden)]
    fn __push<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        visitor_id: &'a str,
        properties: &'a V,
    ) -> Self::Output<'a>;

    #[doc(hidden)]
    fn __push_for_user<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        properties: &'a V,
    ) -> Self::Output<'a>;
}

impl Tracker for Client {
    type Output<'a> = BoxFuture<'a, Result<()>>;

    fn __track<'a, E: Event + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        event: &'a E,
    ) -> Self::Output<'a> {
        Box::pin(self.track(user_id, event))
    }

    fn __track_visitor<'a, E: Event + Sync + ?Sized>(
        &'a self,
        visitor_id: &'a str,
        event: &'a E,
    ) -> Self::Output<'a> {
        Box::pin(self.track_visitor(visitor_id, event))
    }

    fn __track_with<'a, E: Event + Sync + ?Sized, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        event: &'a E,
        visitor: &'a V,
    ) -> Self::Output<'a> {
        Box::pin(self.track_with(user_id, event, visitor))
    }

    fn __push<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        visitor_id: &'a str,
        properties: &'a V,
    ) -> Self::Output<'a> {
        Box::pin(self.push_visitor(visitor_id, properties))
    }

    fn __push_for_user<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        properties: &'a V,
    ) -> Self::Output<'a> {
        Box::pin(self.push_visitor_for_user(user_id, properties))
    }
}

impl Tracker for blocking::Client {
    type Output<'a> = Result<()>;

    fn __track<'a, E: Event + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        event: &'a E,
    ) -> Self::Output<'a> {
        self.track(user_id, event)
    }

    fn __track_visitor<'a, E: Event + Sync + ?Sized>(
        &'a self,
        visitor_id: &'a str,
        event: &'a E,
    ) -> Self::Output<'a> {
        self.track_visitor(visitor_id, event)
    }

    fn __track_with<'a, E: Event + Sync + ?Sized, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        event: &'a E,
        visitor: &'a V,
    ) -> Self::Output<'a> {
        self.track_with(user_id, event, visitor)
    }

    fn __push<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        visitor_id: &'a str,
        properties: &'a V,
    ) -> Self::Output<'a> {
        self.push_visitor(visitor_id, properties)
    }

    fn __push_for_user<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        user_id: &'a str,
        properties: &'a V,
    ) -> Self::Output<'a> {
        self.push_visitor_for_user(user_id, properties)
    }
}

/// A delivery queue the queued one-line methods put requests on: [`Queue`], whose `enqueue`
/// returns a future, or [`blocking::Queue`], whose `enqueue` blocks. Sealed: implemented for
/// these two only.
///
/// Either way the request is built (input checked, `tm` stamped) before anything waits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a gamooga delivery queue",
    label = "the queued one-line methods put requests on a gamooga queue",
    note = "pass a `gamooga::queue::Queue` (`enqueue` returns a future: add `.await`) or a `gamooga::blocking::Queue` (it returns a Result)"
)]
pub trait Enqueuer: sealed::Sealed {
    /// What `enqueue` returns: `BoxFuture<'q, Result<(), EnqueueError>>` for the async queue,
    /// `Result<(), EnqueueError>` for the blocking one.
    type Output<'q>
    where
        Self: 'q;

    #[doc(hidden)]
    fn __calls(&self) -> &gamooga_core::Calls;

    #[doc(hidden)]
    fn __enqueue(&self, built: Result<Request, InvalidInput>) -> Self::Output<'_>;

    #[doc(hidden)]
    fn __try_enqueue(&self, built: Result<Request, InvalidInput>) -> Result<(), EnqueueError>;
}

impl Enqueuer for Queue {
    type Output<'q> = BoxFuture<'q, Result<(), EnqueueError>>;

    fn __calls(&self) -> &gamooga_core::Calls {
        self.calls()
    }

    fn __enqueue(&self, built: Result<Request, InvalidInput>) -> Self::Output<'_> {
        Box::pin(self.enqueue_built(built))
    }

    fn __try_enqueue(&self, built: Result<Request, InvalidInput>) -> Result<(), EnqueueError> {
        self.try_enqueue_built(built)
    }
}

impl Enqueuer for blocking::Queue {
    type Output<'q> = Result<(), EnqueueError>;

    fn __calls(&self) -> &gamooga_core::Calls {
        self.as_async().calls()
    }

    fn __enqueue(&self, built: Result<Request, InvalidInput>) -> Self::Output<'_> {
        self.enqueue_built(built)
    }

    fn __try_enqueue(&self, built: Result<Request, InvalidInput>) -> Result<(), EnqueueError> {
        self.try_enqueue_built(built)
    }
}

/// Sends or queues an event in one line: `Purchase { .. }.track(&client, "user-42")`.
///
/// With the async client:
///
/// ```
/// use std::sync::Arc;
/// use gamooga::prelude::*;
/// use gamooga::{transport::DryRunTransport, Client};
///
/// #[derive(GamoogaEvent)]
/// struct Login<'a> {
///     method: &'a str,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
/// let dry = Arc::new(DryRunTransport::new());
/// let client = Client::builder("acme").transport(dry.clone()).build()?;
/// Login { method: "sso" }.track(&client, "user-42").await?;
/// let sent = dry.requests().pop().unwrap();
/// assert!(sent.query().starts_with("c=acme&u=user-42&e=login&ky=method&vl=sso&tp=s&tm="));
/// # Ok(()) }
/// ```
///
/// The same methods with [`gamooga::blocking::Client`](blocking::Client), in a program
/// without an async runtime, return the result directly:
///
/// ```
/// use std::sync::Arc;
/// use gamooga::prelude::*;
/// use gamooga::{blocking, transport::DryRunTransport, Client};
///
/// #[derive(GamoogaEvent)]
/// struct Login<'a> {
///     method: &'a str,
/// }
///
/// # fn main() -> gamooga::Result<()> {
/// let dry = Arc::new(DryRunTransport::new());
/// let client = blocking::Client::new(Client::builder("acme").transport(dry.clone()))?;
/// Login { method: "sso" }.track(&client, "user-42")?;
/// let sent = dry.requests().pop().unwrap();
/// assert!(sent.query().starts_with("c=acme&u=user-42&e=login&ky=method&vl=sso&tp=s&tm="));
/// # Ok(()) }
/// ```
pub trait EventExt: Event + Sync {
    /// Tracks the event by user id: `evwid`, or `evwidj` (POST) when the URL would be too
    /// long. See [`Client::track`].
    fn track<'a, C: Tracker>(&'a self, client: &'a C, user_id: &'a str) -> C::Output<'a> {
        client.__track(user_id, self)
    }

    /// Tracks the event by visitor id: `ev`. See [`Client::track_visitor`].
    fn track_visitor<'a, C: Tracker>(
        &'a self,
        client: &'a C,
        visitor_id: &'a str,
    ) -> C::Output<'a> {
        client.__track_visitor(visitor_id, self)
    }

    /// Tracks the event and sets visitor properties by user id in one call: `evvprwid`. See
    /// [`Client::track_with`].
    fn track_with<'a, C: Tracker, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        client: &'a C,
        user_id: &'a str,
        visitor: &'a V,
    ) -> C::Output<'a> {
        client.__track_with(user_id, self, visitor)
    }

    /// Queues the event by user id, waiting for room ([`Queue::track`]); with a
    /// [`blocking::Queue`], blocking for room.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use gamooga::prelude::*;
    /// use gamooga::{queue::QueueConfig, transport::DryRunTransport, Client};
    ///
    /// #[derive(GamoogaEvent)]
    /// struct Login<'a> {
    ///     method: &'a str,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let queue = client.queue(QueueConfig::default())?;
    /// Login { method: "sso" }.enqueue(&queue, "user-42").await?;
    /// Login { method: "password" }.try_enqueue(&queue, "user-43")?;
    /// assert_eq!(queue.shutdown(Duration::from_secs(5)).await.delivered, 2);
    /// # Ok(()) }
    /// ```
    fn enqueue<'q, Q: Enqueuer>(&self, queue: &'q Q, user_id: &str) -> Q::Output<'q> {
        queue.__enqueue(queue.__calls().track(user_id, self))
    }

    /// Queues the event by user id without waiting ([`Queue::try_track`]).
    fn try_enqueue<Q: Enqueuer>(&self, queue: &Q, user_id: &str) -> Result<(), EnqueueError> {
        queue.__try_enqueue(queue.__calls().track(user_id, self))
    }

    /// Queues the event by visitor id, waiting for room ([`Queue::track_visitor`]).
    fn enqueue_visitor<'q, Q: Enqueuer>(&self, queue: &'q Q, visitor_id: &str) -> Q::Output<'q> {
        queue.__enqueue(queue.__calls().track_visitor(visitor_id, self))
    }

    /// Queues the event by visitor id without waiting ([`Queue::try_track_visitor`]).
    fn try_enqueue_visitor<Q: Enqueuer>(
        &self,
        queue: &Q,
        visitor_id: &str,
    ) -> Result<(), EnqueueError> {
        queue.__try_enqueue(queue.__calls().track_visitor(visitor_id, self))
    }
}

impl<T: Event + Sync + ?Sized> EventExt for T {}

/// Sets visitor properties in one line: `profile.push(&client, &visitor_id)`, or queues them:
/// `profile.enqueue(&queue, &visitor_id)`.
///
/// ```
/// use std::sync::Arc;
/// use gamooga::prelude::*;
/// use gamooga::{transport::DryRunTransport, Client};
///
/// #[derive(VisitorProps)]
/// struct Profile {
///     city: String,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
/// let dry = Arc::new(DryRunTransport::new());
/// let client = Client::builder("acme").transport(dry.clone()).build()?;
/// Profile { city: "Tokyo".into() }.push(&client, "0123456789abcdef").await?;
/// let sent = dry.requests().pop().unwrap();
/// assert_eq!(sent.query(), "c=acme&v=0123456789abcdef&p=city&vl=Tokyo&tp=s");
/// # Ok(()) }
/// ```
pub trait VisitorPropsExt: VisitorProperties + Sync {
    /// Sets the properties on a visitor: `vpr`. See [`Client::push_visitor`].
    ///
    /// (A [`Properties`](gamooga_core::Properties) list has an inherent `push` that appends
    /// a property; send one with [`Client::push_visitor`] instead.)
    fn push<'a, C: Tracker>(&'a self, client: &'a C, visitor_id: &'a str) -> C::Output<'a> {
        client.__push(visitor_id, self)
    }

    /// Queues the properties for a visitor (`vpr`), waiting for room
    /// ([`Queue::push_visitor`]); with a [`blocking::Queue`], blocking for room.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use gamooga::prelude::*;
    /// use gamooga::{blocking, queue::QueueConfig, transport::DryRunTransport, Client};
    ///
    /// #[derive(VisitorProps)]
    /// struct Profile {
    ///     city: String,
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = blocking::Client::new(Client::builder("acme").transport(dry.clone()))?;
    /// let queue = client.queue(QueueConfig::default())?;
    /// Profile { city: "Tokyo".into() }.enqueue(&queue, "0123456789abcdef")?;
    /// Profile { city: "Osaka".into() }.try_enqueue(&queue, "fedcba9876543210")?;
    /// assert_eq!(queue.shutdown(Duration::from_secs(5))?.delivered, 2);
    /// # Ok(()) }
    /// ```
    fn enqueue<'q, Q: Enqueuer>(&self, queue: &'q Q, visitor_id: &str) -> Q::Output<'q> {
        queue.__enqueue(queue.__calls().push_visitor(visitor_id, self))
    }

    /// Queues the properties for a visitor without waiting ([`Queue::try_push_visitor`]).
    fn try_enqueue<Q: Enqueuer>(&self, queue: &Q, visitor_id: &str) -> Result<(), EnqueueError> {
        queue.__try_enqueue(queue.__calls().push_visitor(visitor_id, self))
    }

    /// Sets the properties on the visitor of a *user* id: `id` (cached per user id), then
    /// `vpr`. See [`Client::push_visitor_for_user`].
    fn push_for_user<'a, C: Tracker>(&'a self, client: &'a C, user_id: &'a str) -> C::Output<'a> {
        client.__push_for_user(user_id, self)
    }

    /// Queues the properties for the visitor of a *user* id, waiting for room
    /// ([`Queue::push_visitor_for_user`]): nothing is looked up in the handler, so it works
    /// during an outage; the queue finds the visitor id with `id` (cached per user id) when
    /// it delivers, retries a failed lookup with the push, and with a spool keeps the push
    /// across a restart.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use gamooga::prelude::*;
    /// use gamooga::{transport::DryRunTransport, Client};
    ///
    /// #[derive(VisitorProps)]
    /// struct Profile {
    ///     city: String,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dry = Arc::new(DryRunTransport::new());
    /// let client = Client::builder("acme").transport(dry.clone()).build()?;
    /// let queue = client.queue(QueueConfig::default())?;
    /// Profile { city: "Tokyo".into() }.enqueue_for_user(&queue, "user-42").await?;
    /// let report = queue.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!((report.delivered, report.stats.identify_lookups), (1, 1));
    /// let vpr = dry.requests().into_iter().find(|r| r.path() == "/vpr/").unwrap();
    /// assert!(vpr.query().starts_with("c=acme&v=")); // the visitor id, looked up
    /// # Ok(()) }
    /// ```
    fn enqueue_for_user<'q, Q: Enqueuer>(&self, queue: &'q Q, user_id: &str) -> Q::Output<'q> {
        queue.__enqueue(queue.__calls().push_visitor_for_user(user_id, self))
    }

    /// Queues the properties for the visitor of a user id without waiting
    /// ([`Queue::try_push_visitor_for_user`]).
    fn try_enqueue_for_user<Q: Enqueuer>(
        &self,
        queue: &Q,
        user_id: &str,
    ) -> Result<(), EnqueueError> {
        queue.__try_enqueue(queue.__calls().push_visitor_for_user(user_id, self))
    }
}

impl<T: VisitorProperties + Sync + ?Sized> VisitorPropsExt for T {}
