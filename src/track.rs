//! One-line sends: `event.track(&client, "user-42").await?` and
//! `profile.push(&client, &visitor_id).await?`.
//!
//! These extension traits are implemented for every [`Event`] and every
//! [`VisitorProperties`] (derived or not) and are in the [`prelude`](crate::prelude). Each
//! method calls the [`Client`] method of the same meaning; the returned futures are `Send`, so
//! they can be awaited inside `tokio::spawn`.

use std::future::Future;

use gamooga_core::{Client, Event, Result, VisitorProperties};

/// Sends an event in one line: `Purchase { .. }.track(&client, "user-42").await?`.
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
pub trait EventExt: Event + Sync {
    /// Tracks the event by user id: `evwid`, or `evwidj` (POST) when the URL would be too
    /// long. See [`Client::track`].
    fn track<'a>(
        &'a self,
        client: &'a Client,
        user_id: &'a str,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        client.track(user_id, self)
    }

    /// Tracks the event by visitor id: `ev`. See [`Client::track_visitor`].
    fn track_visitor<'a>(
        &'a self,
        client: &'a Client,
        visitor_id: &'a str,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        client.track_visitor(visitor_id, self)
    }

    /// Tracks the event and sets visitor properties by user id in one call: `evvprwid`. See
    /// [`Client::track_with`].
    fn track_with<'a, V: VisitorProperties + Sync + ?Sized>(
        &'a self,
        client: &'a Client,
        user_id: &'a str,
        visitor: &'a V,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        client.track_with(user_id, self, visitor)
    }
}

impl<T: Event + Sync + ?Sized> EventExt for T {}

/// Sets visitor properties in one line: `profile.push(&client, &visitor_id).await?`.
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
    fn push<'a>(
        &'a self,
        client: &'a Client,
        visitor_id: &'a str,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        client.push_visitor(visitor_id, self)
    }
}

impl<T: VisitorProperties + Sync + ?Sized> VisitorPropsExt for T {}
