//! Enqueueing in the caller's transaction: [`Outbox`] and the one-line forms
//! [`EventOutboxExt`] and [`VisitorPropsOutboxExt`].
//!
//! # Why an [`Outbox`] handle
//!
//! A request is built by the company's call builders ([`Calls`]: the company id, the GET
//! length limit past which an event goes as `evwidj`, the `evwid` mode). A transaction does
//! not know them, so `purchase.enqueue_in(&mut *tx, "user-42")` cannot build the right
//! request on its own. The handle carries them, as the queue does for `enqueue`:
//! `purchase.enqueue_in(&outbox, &mut *tx, "user-42")`, the same shape as
//! `purchase.enqueue(&queue, "user-42")`. Make one per company with
//! [`Outbox::for_client`] (same rules as the client that delivers) and share it (`Clone`).

use std::future::Future;

use gamooga_core::{Calls, Client, Endpoint, Event, Request, VisitorProperties};
use sqlx::{Executor, Postgres};

use crate::error::Error;

/// The id of an outbox row: what [`Outbox::dead_letters`] lists and the replay and removal
/// calls take. Not personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub i64);

impl EventId {
    /// The row's `id`.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A company's outbox: builds requests with its [`Calls`] and writes them as rows of
/// `gamooga_outbox` through any sqlx executor (a transaction, a connection, a pool).
///
/// An event is checked when the call is made (before any await), like every other path of
/// the SDK: bad input is an [`Error::Invalid`] and writes nothing. Written inside a
/// transaction, the event exists if and only if that transaction commits; relays deliver
/// it after the commit (a committed event survives the process dying right after).
///
/// ```no_run
/// use gamooga::prelude::*;
/// use gamooga::outbox::{prelude::*, Outbox};
///
/// #[derive(GamoogaEvent)]
/// struct Purchase<'a> { sku: &'a str, amount: f64 }
///
/// # async fn demo(pool: gamooga::outbox::sqlx::PgPool, client: gamooga::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let outbox = Outbox::for_client(&client);
/// let mut tx = pool.begin().await?;
/// // ... the order's own rows, in the same transaction ...
/// Purchase { sku: "A-1", amount: 12.5 }.enqueue_in(&outbox, &mut *tx, "user-42").await?;
/// tx.commit().await?; // now, and only now, the event exists
/// # Ok(()) }
/// ```
///
/// `Debug` shows the company id and the call settings only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    calls: Calls,
}

const INSERT: &str = "INSERT INTO gamooga_outbox (company, endpoint, method, query, body)
                      VALUES ($1, $2, $3, $4, $5) RETURNING id";

const INSERT_MANY: &str = "INSERT INTO gamooga_outbox (company, endpoint, method, query, body)
                           SELECT $1, e, m, q, b
                           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
                                WITH ORDINALITY AS r(e, m, q, b, n)
                           ORDER BY n";

impl Outbox {
    /// An outbox building requests with `calls`.
    pub fn new(calls: Calls) -> Self {
        Outbox { calls }
    }

    /// An outbox with the client's call builders (company, GET limit, `evwid` mode), which
    /// is what a relay built on that client delivers.
    pub fn for_client(client: &Client) -> Self {
        Outbox::new(client.calls().clone())
    }

    /// The call builders.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        self.calls.company_id()
    }

    /// Writes a built request (made by this company's [`Calls`]). Refused with
    /// [`Error::Config`] when it is a company-information call or belongs to another
    /// company.
    pub fn enqueue_in<'c, E>(
        &self,
        executor: E,
        request: Request,
    ) -> impl Future<Output = Result<EventId, Error>> + Send + use<'c, E>
    where
        E: Executor<'c, Database = Postgres> + 'c,
    {
        let checked = self.check(request);
        insert(executor, self.company_id().to_owned(), checked)
    }

    /// Writes many built requests in one statement (an import, a batch job): all or none.
    /// Returns how many rows were written.
    pub async fn enqueue_many_in<'c, E>(
        &self,
        executor: E,
        requests: &[Request],
    ) -> Result<u64, Error>
    where
        E: Executor<'c, Database = Postgres>,
    {
        for request in requests {
            self.check_ref(request)?;
        }
        let column = |f: fn(&Request) -> Option<&str>| -> Vec<Option<&str>> {
            requests.iter().map(f).collect()
        };
        let done = sqlx::query(INSERT_MANY)
            .bind(self.company_id())
            .bind(column(|r| Some(r.endpoint().name())))
            .bind(column(|r| Some(r.method().as_str())))
            .bind(column(|r| Some(r.query())))
            .bind(column(|r| r.body()))
            .execute(executor)
            .await?;
        Ok(done.rows_affected())
    }

    /// Builds an event by user id ([`Calls::track`]: `evwid`, or `evwidj` when long) and
    /// writes it. The input is checked now, before any await.
    pub fn track_in<'c, E, Ev>(
        &self,
        executor: E,
        user_id: &str,
        event: &Ev,
    ) -> impl Future<Output = Result<EventId, Error>> + Send + use<'c, E, Ev>
    where
        E: Executor<'c, Database = Postgres> + 'c,
        Ev: Event + ?Sized,
    {
        self.built(executor, self.calls.track(user_id, event))
    }

    /// Builds an event by visitor id ([`Calls::track_visitor`]: `ev`) and writes it.
    pub fn track_visitor_in<'c, E, Ev>(
        &self,
        executor: E,
        visitor_id: &str,
        event: &Ev,
    ) -> impl Future<Output = Result<EventId, Error>> + Send + use<'c, E, Ev>
    where
        E: Executor<'c, Database = Postgres> + 'c,
        Ev: Event + ?Sized,
    {
        self.built(executor, self.calls.track_visitor(visitor_id, event))
    }

    /// Builds an event with visitor properties by user id ([`Calls::track_with`]:
    /// `evvprwid`) and writes it.
    pub fn track_with_in<'c, E, Ev, P>(
        &self,
        executor: E,
        user_id: &str,
        event: &Ev,
        visitor: &P,
    ) -> impl Future<Output = Result<EventId, Error>> + Send + use<'c, E, Ev, P>
    where
        E: Executor<'c, Database = Postgres> + 'c,
        Ev: Event + ?Sized,
        P: VisitorProperties + ?Sized,
    {
        self.built(executor, self.calls.track_with(user_id, event, visitor))
    }

    /// Builds a visitor property push ([`Calls::push_visitor`]: `vpr`) and writes it.
    pub fn push_visitor_in<'c, E, P>(
        &self,
        executor: E,
        visitor_id: &str,
        properties: &P,
    ) -> impl Future<Output = Result<EventId, Error>> + Send + use<'c, E, P>
    where
        E: Executor<'c, Database = Postgres> + 'c,
        P: VisitorProperties + ?Sized,
    {
        self.built(executor, self.calls.push_visitor(visitor_id, properties))
    }

    fn built<'c, E>(
        &self,
        executor: E,
        built: Result<Request, gamooga_core::InvalidInput>,
    ) -> impl Future<Output = Result<EventId, Error>> + Send + use<'c, E>
    where
        E: Executor<'c, Database = Postgres> + 'c,
    {
        let checked = built.map_err(Error::from).and_then(|r| self.check(r));
        insert(executor, self.company_id().to_owned(), checked)
    }

    /// A request this outbox may store: a backend call of this company.
    fn check(&self, request: Request) -> Result<Request, Error> {
        self.check_ref(&request).map(|()| request)
    }

    fn check_ref(&self, request: &Request) -> Result<(), Error> {
        if request.endpoint() == Endpoint::CompanyInfo {
            return Err(Error::Config(
                "a company-information call is not an event: it cannot be enqueued".into(),
            ));
        }
        let company = url::form_urlencoded::parse(request.query().as_bytes())
            .find(|(k, _)| k == "c")
            .map(|(_, v)| v);
        if company.as_deref() != Some(self.company_id()) {
            return Err(Error::Config(format!(
                "the {} request was not built for company {:?}, whose outbox this is",
                request.endpoint(),
                self.company_id()
            )));
        }
        Ok(())
    }
}

/// Writes one row; `checked` is the request, or why it was refused at the call site.
async fn insert<'c, E>(
    executor: E,
    company: String,
    checked: Result<Request, Error>,
) -> Result<EventId, Error>
where
    E: Executor<'c, Database = Postgres>,
{
    let request = checked?;
    let (id,): (i64,) = sqlx::query_as(INSERT)
        .bind(company)
        .bind(request.endpoint().name())
        .bind(request.method().as_str())
        .bind(request.query())
        .bind(request.body())
        .fetch_one(executor)
        .await?;
    Ok(EventId(id))
}

/// One-line enqueues for every [`Event`]: `purchase.enqueue_in(&outbox, &mut *tx, "user-42")`.
/// In [`prelude`](crate::prelude).
///
/// Each method checks the event at once and returns a future that writes the row; the row
/// exists if and only if the transaction commits.
pub trait EventOutboxExt: Event {
    /// By user id ([`Outbox::track_in`]): `evwid`, or `evwidj` when long.
    fn enqueue_in<'c, E>(
        &self,
        outbox: &Outbox,
        executor: E,
        user_id: &str,
    ) -> impl Future<Output = Result<EventId, Error>> + Send
    where
        E: Executor<'c, Database = Postgres> + 'c,
    {
        outbox.track_in(executor, user_id, self)
    }

    /// By visitor id ([`Outbox::track_visitor_in`]): `ev`.
    fn enqueue_visitor_in<'c, E>(
        &self,
        outbox: &Outbox,
        executor: E,
        visitor_id: &str,
    ) -> impl Future<Output = Result<EventId, Error>> + Send
    where
        E: Executor<'c, Database = Postgres> + 'c,
    {
        outbox.track_visitor_in(executor, visitor_id, self)
    }

    /// With visitor properties, by user id ([`Outbox::track_with_in`]): `evvprwid`.
    fn enqueue_with_in<'c, E, P>(
        &self,
        outbox: &Outbox,
        executor: E,
        user_id: &str,
        visitor: &P,
    ) -> impl Future<Output = Result<EventId, Error>> + Send
    where
        E: Executor<'c, Database = Postgres> + 'c,
        P: VisitorProperties + ?Sized,
    {
        outbox.track_with_in(executor, user_id, self, visitor)
    }
}

impl<T: Event + ?Sized> EventOutboxExt for T {}

/// One-line visitor property pushes: `profile.push_in(&outbox, &mut *tx, &visitor_id)`.
/// In [`prelude`](crate::prelude).
pub trait VisitorPropsOutboxExt: VisitorProperties {
    /// [`Outbox::push_visitor_in`]: `vpr`.
    fn push_in<'c, E>(
        &self,
        outbox: &Outbox,
        executor: E,
        visitor_id: &str,
    ) -> impl Future<Output = Result<EventId, Error>> + Send
    where
        E: Executor<'c, Database = Postgres> + 'c,
    {
        outbox.push_visitor_in(executor, visitor_id, self)
    }
}

impl<T: VisitorProperties + ?Sized> VisitorPropsOutboxExt for T {}
