//! Call builders: pure functions from inputs to a [`Request`] (method, path, query, body),
//! exact on the wire. No I/O happens here, so every byte is unit-testable.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

mod encode;

use crate::counters::{ClientStats, Counters};
use crate::error::InvalidInput;
use crate::event::{Event, VisitorProperties};
use crate::hook::{self, Action, BeforeSendHook, Hooked, Outgoing, WriteVisitor};
use crate::property::Properties;
use crate::time::Timestamp;

use encode::{
    encode_into, encoded_len, JsonProperties, QueryProperties, QuerySizer, SetKeys, EVENT_KEYS,
    EVVPR_EVENT_KEYS, EVVPR_VISITOR_KEYS, VPR_KEYS,
};

/// The HTTP method of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: every call but `evwidj`.
    Get,
    /// `POST`: `evwidj`, with a JSON body.
    Post,
}

impl Method {
    /// `"GET"` or `"POST"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }

    /// The method named `name` (`"GET"`, `"POST"`), the inverse of [`as_str`](Self::as_str).
    pub fn from_name(name: &str) -> Option<Self> {
        [Method::Get, Method::Post]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// Which call of the API a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// Company information, `GET {config}/newnaconf/{company}/`: names the backend.
    CompanyInfo,
    /// Event by user id, query properties: `GET /evwid/`.
    Evwid,
    /// Event by user id, JSON body: `POST /evwidj/`.
    Evwidj,
    /// Event by visitor id: `GET /ev/`.
    Ev,
    /// Event and visitor properties by user id: `GET /evvprwid/`.
    Evvprwid,
    /// Visitor properties by visitor id: `GET /vpr/`.
    Vpr,
    /// Identify (look up or create a visitor id) or link a user id to a visitor id: `GET /id/`.
    Id,
}

impl Endpoint {
    /// The call's short name, as the spec writes it (`"evwid"`, `"newnaconf"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Endpoint::CompanyInfo => "newnaconf",
            Endpoint::Evwid => "evwid",
            Endpoint::Evwidj => "evwidj",
            Endpoint::Ev => "ev",
            Endpoint::Evvprwid => "evvprwid",
            Endpoint::Vpr => "vpr",
            Endpoint::Id => "id",
        }
    }

    /// Every call of the API.
    pub const ALL: [Endpoint; 7] = [
        Endpoint::CompanyInfo,
        Endpoint::Evwid,
        Endpoint::Evwidj,
        Endpoint::Ev,
        Endpoint::Evvprwid,
        Endpoint::Vpr,
        Endpoint::Id,
    ];

    /// The call named `name`, the inverse of [`name`](Self::name).
    ///
    /// ```
    /// use gamooga::Endpoint;
    /// assert_eq!(Endpoint::from_name("evwidj"), Some(Endpoint::Evwidj));
    /// assert!(Endpoint::ALL.iter().all(|e| Endpoint::from_name(e.name()) == Some(*e)));
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether the call goes to the company's backend (every call but company information,
    /// which goes to the configuration host).
    pub const fn is_backend(self) -> bool {
        !matches!(self, Endpoint::CompanyInfo)
    }
}

impl fmt::Display for Endpoint {
    /// The call's short name ([`name`](Endpoint::name)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A call ready to send: everything but the host, which the resolver supplies.
///
/// # Personal data
///
/// `Debug` shows the call, the method, the path, the company, the event name and the
/// property names: never the user id, the visitor id or a property value, so a request (or
/// an error or dead letter holding one) can be logged or `unwrap`ped safely. The full
/// request is in [`query`](Self::query), [`body`](Self::body) and
/// [`path_and_query`](Self::path_and_query).
///
/// ```
/// use gamooga::{Calls, CustomEvent, Properties};
/// let event = CustomEvent::new("purchase", Properties::new().string("email", "alice@example.com"));
/// let request = Calls::new("acme")?.track("user-42", &event)?;
/// let debug = format!("{request:?}");
/// assert!(debug.contains("\"purchase\"") && debug.contains("\"email\""));
/// assert!(!debug.contains("user-42") && !debug.contains("alice"));
/// assert!(request.query().contains("u=user-42")); // the full request, when asked for
/// # Ok::<(), gamooga::InvalidInput>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    endpoint: Endpoint,
    method: Method,
    path: Cow<'static, str>,
    query: String,
    body: Option<String>,
}

impl Request {
    /// Assembles a request from its parts (used by the spool to restore a stored request).
    pub(crate) fn from_parts(
        endpoint: Endpoint,
        method: Method,
        path: Cow<'static, str>,
        query: String,
        body: Option<String>,
    ) -> Self {
        Request {
            endpoint,
            method,
            path,
            query,
            body,
        }
    }

    /// Which call this is.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }
    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }
    /// The path, starting and ending with `/` (`/evwid/`).
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The encoded query, without the leading `?`.
    pub fn query(&self) -> &str {
        &self.query
    }
    /// The JSON body (`evwidj` only).
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }
    /// Path and query as they go on the request line: `/evwid/?c=...`.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.to_string()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// Whether this is a visitor property push by *user* id
    /// ([`Calls::push_visitor_for_user`]): a `vpr` whose query holds `u=` where Gamooga wants
    /// `v=`. The [`Client`](crate::Client) looks the visitor id up (`id`, cached) and sends
    /// the `vpr` with it; such a request is never sent as it is.
    ///
    /// ```
    /// use gamooga::{Calls, Properties};
    /// let calls = Calls::new("acme")?;
    /// let by_user = calls.push_visitor_for_user("user-42", &Properties::new().string("city", "Tokyo"))?;
    /// assert!(by_user.needs_visitor_id());
    /// assert_eq!(by_user.query(), "c=acme&u=user-42&p=city&vl=Tokyo&tp=s");
    /// let by_visitor = by_user.with_visitor_id("0123456789abcdef").unwrap();
    /// assert_eq!(by_visitor.query(), "c=acme&v=0123456789abcdef&p=city&vl=Tokyo&tp=s");
    /// assert!(!by_visitor.needs_visitor_id());
    /// # Ok::<(), gamooga::InvalidInput>(())
    /// ```
    pub fn needs_visitor_id(&self) -> bool {
        self.user_of_visitor_push().is_some()
    }

    /// For a push by user id, the `c=..&u=..` prefix of its query (the query of the `id`
    /// call that finds the visitor id) and the rest (`&p=..`).
    pub(crate) fn user_of_visitor_push(&self) -> Option<(&str, &str)> {
        if self.endpoint != Endpoint::Vpr {
            return None;
        }
        // `c=<company>&u=<user>&p=...`: values are percent-encoded, so `&` only separates.
        let company_end = self.query.find('&')?;
        let after = &self.query[company_end + 1..];
        let user = after.strip_prefix("u=")?;
        let user_end = company_end + 1 + 2 + user.find('&').unwrap_or(user.len());
        Some(self.query.split_at(user_end))
    }

    /// The encoded user id of a push by user id (the `u` value, as it is in the query).
    pub(crate) fn encoded_user_of_visitor_push(&self) -> Option<&str> {
        let (prefix, _) = self.user_of_visitor_push()?;
        prefix.split_once("&u=").map(|(_, user)| user)
    }

    /// A push by user id turned into the `vpr` Gamooga takes: `u=<user>` replaced by
    /// `v=<visitor_id>` (encoded). `None` for any other request, or an invalid visitor id.
    pub fn with_visitor_id(&self, visitor_id: &str) -> Option<Request> {
        let (prefix, rest) = self.user_of_visitor_push()?;
        check_visitor_id(visitor_id).ok()?;
        let company = prefix.split_once("&u=")?.0;
        let mut query =
            String::with_capacity(company.len() + 3 + encoded_len(visitor_id) + rest.len());
        query.push_str(company);
        query.push_str("&v=");
        encode_into(&mut query, visitor_id);
        query.push_str(rest);
        Some(Request::from_parts(
            Endpoint::Vpr,
            Method::Get,
            Cow::Borrowed("/vpr/"),
            query,
            None,
        ))
    }

    /// The `id` call that finds the visitor id of a push by user id.
    pub(crate) fn identify_of_visitor_push(&self) -> Option<Request> {
        let (prefix, _) = self.user_of_visitor_push()?;
        Some(Request::from_parts(
            Endpoint::Id,
            Method::Get,
            Cow::Borrowed("/id/"),
            prefix.to_owned(),
            None,
        ))
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut company = None;
        let mut event = None;
        let mut properties = Vec::new();
        let mut visitor_properties = Vec::new();
        // Only names are read from the query: `c`, `e` and the property-name keys.
        for (key, value) in url::form_urlencoded::parse(self.query.as_bytes()) {
            match &*key {
                "c" => company = Some(value),
                "e" => event = Some(value),
                "ky" | "eky" => properties.push(value),
                "vky" | "p" => visitor_properties.push(value),
                _ => {}
            }
        }
        let mut d = f.debug_struct("Request");
        d.field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("path", &self.path);
        if let Some(company) = &company {
            d.field("company", company);
        }
        if let Some(event) = &event {
            d.field("event", event);
        }
        match self.endpoint {
            Endpoint::Evwidj => {
                // The property names are the keys of the JSON body.
                let keys: Vec<String> = self
                    .body
                    .as_deref()
                    .and_then(|body| {
                        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(body)
                            .ok()
                    })
                    .map(|object| object.into_iter().map(|(k, _)| k).collect())
                    .unwrap_or_default();
                d.field("properties", &keys);
            }
            Endpoint::Evwid | Endpoint::Ev | Endpoint::Evvprwid => {
                d.field("properties", &properties);
            }
            _ => {}
        }
        if matches!(self.endpoint, Endpoint::Vpr | Endpoint::Evvprwid) {
            d.field("visitor_properties", &visitor_properties);
        }
        d.finish_non_exhaustive()
    }
}

/// How a user-id event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvwidMode {
    /// `evwid` (GET), or `evwidj` (POST) when the URL would pass the GET limit.
    #[default]
    Auto,
    /// Always `evwid` (GET), however long.
    Get,
    /// Always `evwidj` (POST with a JSON body).
    Post,
}

/// The call builders of one company.
///
/// ```
/// use gamooga::{Calls, CustomEvent, Properties, Timestamp};
/// let calls = Calls::new("acme")?;
/// let event = CustomEvent::new("purchase", Properties::new().string("sku", "A&B"))
///     .at(Timestamp::from_millis(1_764_150_000_000)?);
/// let request = calls.track("user 42", &event)?;
/// assert_eq!(
///     request.path_and_query(),
///     "/evwid/?c=acme&u=user%2042&e=purchase&ky=sku&vl=A%26B&tp=s&tm=1764150000000"
/// );
/// # Ok::<(), gamooga::InvalidInput>(())
/// ```
///
/// With a [before-send hook](Self::with_before_send), every event and visitor property push
/// goes through it as it is built (see [`hook`]).
#[derive(Clone)]
pub struct Calls {
    company: String,
    get_limit: usize,
    evwid_mode: EvwidMode,
    hook: Option<BeforeSendHook>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calls")
            .field("company", &self.company)
            .field("get_limit", &self.get_limit)
            .field("evwid_mode", &self.evwid_mode)
            .field(
                "before_send",
                &self.hook.as_ref().map(|_| "Fn(&mut Outgoing) -> Action"),
            )
            .finish()
    }
}

impl PartialEq for Calls {
    /// The same company and settings, and the same hook (or none).
    fn eq(&self, other: &Self) -> bool {
        self.company == other.company
            && self.get_limit == other.get_limit
            && self.evwid_mode == other.evwid_mode
            && match (&self.hook, &other.hook) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for Calls {}

impl Calls {
    /// The default limit, in bytes of path and query, past which a user-id event goes as
    /// `evwidj` (POST).
    pub const DEFAULT_GET_LIMIT: usize = 2000;

    /// The builders for company `company_id`. An empty id, or one with whitespace or a
    /// control character (`"ac me"`, `" acme"`), is refused: no account has such an id.
    ///
    /// ```
    /// use gamooga::{Calls, InvalidInput};
    /// assert!(Calls::new("acme").is_ok());
    /// assert!(matches!(Calls::new(" acme"), Err(InvalidInput::InvalidCompanyId { .. })));
    /// ```
    pub fn new(company_id: &str) -> Result<Self, InvalidInput> {
        check_company_id(company_id)?;
        Ok(Calls {
            company: company_id.to_owned(),
            get_limit: Self::DEFAULT_GET_LIMIT,
            evwid_mode: EvwidMode::Auto,
            hook: None,
            counters: Arc::default(),
        })
    }

    /// Sets the before-send hook: it sees each event's name and properties (and a visitor
    /// push's properties) as the call is built, can change them, or drop the call (see
    /// [`hook`]). A dropped call is counted
    /// ([`stats`](Self::stats)) and its builder returns [`InvalidInput::DroppedByHook`]; the
    /// client's and the queue's methods return `Ok` for it instead.
    ///
    /// ```
    /// use gamooga::{hook::Action, Calls, CustomEvent, Properties, InvalidInput};
    /// let calls = Calls::new("acme")?.with_before_send(|out| {
    ///     out.properties_mut().set("env", "staging");
    ///     Action::Keep
    /// });
    /// let request = calls.track("user-42", &CustomEvent::new("login", Properties::new()))?;
    /// assert!(request.query().contains("&ky=env&vl=staging&tp=s&"));
    /// # Ok::<(), InvalidInput>(())
    /// ```
    pub fn with_before_send<F>(self, hook: F) -> Self
    where
        F: Fn(&mut Outgoing<'_>) -> Action + Send + Sync + 'static,
    {
        self.with_hook(Some(Arc::new(hook)))
    }

    /// Sets or clears the hook (shared, as the client builder holds it).
    pub(crate) fn with_hook(mut self, hook: Option<BeforeSendHook>) -> Self {
        self.hook = hook;
        self
    }

    /// Whether a before-send hook is set.
    pub fn has_before_send(&self) -> bool {
        self.hook.is_some()
    }

    /// The calls these builders (and their clones) dropped with the hook. (The other counts
    /// of [`ClientStats`] are the client's: see [`Client::stats`](crate::Client::stats).)
    pub fn stats(&self) -> ClientStats {
        self.counters.snapshot()
    }

    /// The shared counters.
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The same builders with counters of their own (for a queue).
    pub(crate) fn with_fresh_counters(&self) -> Self {
        Calls {
            counters: Arc::default(),
            ..self.clone()
        }
    }

    /// Runs the hook, if any: `Ok(None)` without one, `Err(DroppedByHook)` (counted) when
    /// it drops the call.
    fn hooked<'a, E: Event + ?Sized>(
        &self,
        endpoint: Endpoint,
        event: Option<&'a E>,
        visitor: Option<WriteVisitor<'_>>,
    ) -> Result<Option<Hooked<'a>>, InvalidInput> {
        let Some(hook) = &self.hook else {
            return Ok(None);
        };
        match hook::run(hook, endpoint, event, visitor)? {
            Hooked::Drop => {
                self.counters.before_send_dropped();
                Err(InvalidInput::DroppedByHook {
                    call: endpoint,
                    event: event.map(|e| e.name().to_owned()),
                })
            }
            kept => Ok(Some(kept)),
        }
    }

    /// Sets the GET limit: a user-id event whose path and query would be longer goes as
    /// `evwidj`. (The host is not counted: it is not known until the backend is resolved.)
    pub fn with_get_limit(mut self, bytes: usize) -> Self {
        self.get_limit = bytes;
        self
    }

    /// Forces `evwid` or `evwidj` for user-id events, or restores the automatic choice.
    pub fn with_evwid_mode(mut self, mode: EvwidMode) -> Self {
        self.evwid_mode = mode;
        self
    }

    /// The company id.
    pub fn company_id(&self) -> &str {
        &self.company
    }

    /// The GET limit in bytes.
    pub fn get_limit(&self) -> usize {
        self.get_limit
    }

    /// The user-id event mode.
    pub fn evwid_mode(&self) -> EvwidMode {
        self.evwid_mode
    }

    /// Company information: `GET /newnaconf/{company}/` (on the configuration host).
    pub fn company_info(&self) -> Request {
        let mut path = String::with_capacity(12 + encoded_len(&self.company));
        path.push_str("/newnaconf/");
        encode_into(&mut path, &self.company);
        path.push('/');
        Request::from_parts(
            Endpoint::CompanyInfo,
            Method::Get,
            Cow::Owned(path),
            String::new(),
            None,
        )
    }

    /// An event by user id: `evwid`, or `evwidj` as [`EvwidMode`] and the GET limit say.
    /// `tm` is the event's own time, or now.
    pub fn track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> Result<Request, InvalidInput> {
        if self.hook.is_some() {
            check_user_id(user_id)?;
            if let Some(Hooked::Keep {
                event: Some(event), ..
            }) = self.hooked(Endpoint::Evwid, Some(event), None)?
            {
                return self.track_unhooked(user_id, &event);
            }
        }
        self.track_unhooked(user_id, event)
    }

    fn track_unhooked<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> Result<Request, InvalidInput> {
        let head = Head::new(self, "u", user_id, check_user_id, event)?;
        let sets = size(EVENT_KEYS, |w| event.write_properties(w))?;
        const PATH: &str = "/evwid/?";
        let fixed = PATH.len() + head.len + head.tm_len();
        let post = match self.evwid_mode {
            EvwidMode::Auto => fixed + sets.min > self.get_limit,
            EvwidMode::Get => false,
            EvwidMode::Post => true,
        };
        if !post {
            // Allocated once, at the upper bound; the exact length decides GET or POST.
            let mut query = String::with_capacity(head.len + sets.max + head.tm_len());
            head.write(&mut query);
            event.write_properties(&mut QueryProperties::new(EVENT_KEYS, &mut query))?;
            head.write_tm(&mut query);
            if self.evwid_mode == EvwidMode::Get || PATH.len() + query.len() <= self.get_limit {
                return Ok(Request::from_parts(
                    Endpoint::Evwid,
                    Method::Get,
                    Cow::Borrowed("/evwid/"),
                    query,
                    None,
                ));
            }
        }
        let mut json = JsonProperties::new();
        event.write_properties(&mut json)?;
        let mut query = String::with_capacity(head.len + head.tm_len());
        head.write(&mut query);
        head.write_tm(&mut query);
        Ok(Request::from_parts(
            Endpoint::Evwidj,
            Method::Post,
            Cow::Borrowed("/evwidj/"),
            query,
            Some(json.finish()),
        ))
    }

    /// An event by visitor id: `ev`.
    pub fn track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<Request, InvalidInput> {
        if self.hook.is_some() {
            check_visitor_id(visitor_id)?;
            if let Some(Hooked::Keep {
                event: Some(event), ..
            }) = self.hooked(Endpoint::Ev, Some(event), None)?
            {
                return self.track_visitor_unhooked(visitor_id, &event);
            }
        }
        self.track_visitor_unhooked(visitor_id, event)
    }

    fn track_visitor_unhooked<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<Request, InvalidInput> {
        let head = Head::new(self, "v", visitor_id, check_visitor_id, event)?;
        let sets = size(EVENT_KEYS, |w| event.write_properties(w))?;
        let mut query = String::with_capacity(head.len + sets.max + head.tm_len());
        head.write(&mut query);
        event.write_properties(&mut QueryProperties::new(EVENT_KEYS, &mut query))?;
        head.write_tm(&mut query);
        Ok(Request::from_parts(
            Endpoint::Ev,
            Method::Get,
            Cow::Borrowed("/ev/"),
            query,
            None,
        ))
    }

    /// An event and visitor properties by user id: `evvprwid`.
    pub fn track_with<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<Request, InvalidInput> {
        if self.hook.is_some() {
            check_user_id(user_id)?;
            let write = |p: &mut Properties| visitor.write_properties(p);
            if let Some(Hooked::Keep {
                event: Some(event),
                visitor: Some(visitor),
            }) = self.hooked(Endpoint::Evvprwid, Some(event), Some(&write))?
            {
                return self.track_with_unhooked(user_id, &event, &visitor);
            }
        }
        self.track_with_unhooked(user_id, event, visitor)
    }

    fn track_with_unhooked<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<Request, InvalidInput> {
        let head = Head::new(self, "u", user_id, check_user_id, event)?;
        let event_sets = size(EVVPR_EVENT_KEYS, |w| event.write_properties(w))?;
        let visitor_sets = size(EVVPR_VISITOR_KEYS, |w| visitor.write_properties(w))?;
        let mut query =
            String::with_capacity(head.len + event_sets.max + visitor_sets.max + head.tm_len());
        head.write_event_first(&mut query);
        event.write_properties(&mut QueryProperties::new(EVVPR_EVENT_KEYS, &mut query))?;
        visitor.write_properties(&mut QueryProperties::new(EVVPR_VISITOR_KEYS, &mut query))?;
        head.write_tm(&mut query);
        Ok(Request::from_parts(
            Endpoint::Evvprwid,
            Method::Get,
            Cow::Borrowed("/evvprwid/"),
            query,
            None,
        ))
    }

    /// Visitor properties by visitor id: `vpr` (at least one property).
    pub fn push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<Request, InvalidInput> {
        check_visitor_id(visitor_id)?;
        self.vpr("v", visitor_id, properties)
    }

    /// Visitor properties by *user* id, for a delivery queue: a `vpr` whose query holds
    /// `u=<user id>` where `v=` goes ([`Request::needs_visitor_id`]). Gamooga does not take
    /// it as it is: the [`Client`](crate::Client) that sends it (directly or as a queue's
    /// [`Deliver`](crate::queue::Deliver)) looks the visitor id up with `id` (cached per user
    /// id) and sends the `vpr` with it. Stored as an ordinary `vpr` row, it survives a spool
    /// restart.
    pub fn push_visitor_for_user<P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        properties: &P,
    ) -> Result<Request, InvalidInput> {
        check_user_id(user_id)?;
        self.vpr("u", user_id, properties)
    }

    /// `vpr` with `v=` (by visitor id) or `u=` (by user id, rewritten at delivery).
    fn vpr<P: VisitorProperties + ?Sized>(
        &self,
        id_key: &'static str,
        id: &str,
        properties: &P,
    ) -> Result<Request, InvalidInput> {
        if self.hook.is_some() {
            let write = |p: &mut Properties| properties.write_properties(p);
            if let Some(Hooked::Keep {
                visitor: Some(properties),
                ..
            }) = self.hooked::<crate::CustomEvent>(Endpoint::Vpr, None, Some(&write))?
            {
                return self.vpr_unhooked(id_key, id, &properties);
            }
        }
        self.vpr_unhooked(id_key, id, properties)
    }

    fn vpr_unhooked<P: VisitorProperties + ?Sized>(
        &self,
        id_key: &'static str,
        id: &str,
        properties: &P,
    ) -> Result<Request, InvalidInput> {
        let sets = size(VPR_KEYS, |w| properties.write_properties(w))?;
        if sets.count == 0 {
            return Err(InvalidInput::NoProperties);
        }
        let mut query = String::with_capacity(
            "c=&v=".len() + encoded_len(&self.company) + encoded_len(id) + sets.max,
        );
        query.push_str("c=");
        encode_into(&mut query, &self.company);
        query.push('&');
        query.push_str(id_key);
        query.push('=');
        encode_into(&mut query, id);
        properties.write_properties(&mut QueryProperties::new(VPR_KEYS, &mut query))?;
        Ok(Request::from_parts(
            Endpoint::Vpr,
            Method::Get,
            Cow::Borrowed("/vpr/"),
            query,
            None,
        ))
    }

    /// Identify: `id` with `u` alone, answering the visitor id mapped to the user id (created
    /// if there is none).
    pub fn identify(&self, user_id: &str) -> Result<Request, InvalidInput> {
        self.id(user_id, None)
    }

    /// Link: `id` with `u` and `v`, mapping the user id to the visitor id.
    pub fn link(&self, user_id: &str, visitor_id: &str) -> Result<Request, InvalidInput> {
        check_user_id(user_id)?;
        check_visitor_id(visitor_id)?;
        self.id(user_id, Some(visitor_id))
    }

    fn id(&self, user_id: &str, visitor_id: Option<&str>) -> Result<Request, InvalidInput> {
        check_user_id(user_id)?;
        let mut query = String::with_capacity(
            "c=&u=&v=".len()
                + encoded_len(&self.company)
                + encoded_len(user_id)
                + visitor_id.map_or(0, encoded_len),
        );
        query.push_str("c=");
        encode_into(&mut query, &self.company);
        query.push_str("&u=");
        encode_into(&mut query, user_id);
        if let Some(v) = visitor_id {
            query.push_str("&v=");
            encode_into(&mut query, v);
        }
        Ok(Request::from_parts(
            Endpoint::Id,
            Method::Get,
            Cow::Borrowed("/id/"),
            query,
            None,
        ))
    }
}

/// A company id: not empty, no whitespace, no control characters.
fn check_company_id(id: &str) -> Result<(), InvalidInput> {
    if id.is_empty() {
        return Err(InvalidInput::EmptyCompanyId);
    }
    let what = if id.chars().any(char::is_control) {
        "a control character"
    } else if id.chars().any(char::is_whitespace) {
        "whitespace"
    } else {
        return Ok(());
    };
    Err(InvalidInput::InvalidCompanyId {
        company_id: id.to_owned(),
        what,
    })
}

/// The byte offset of the first control character (a newline, a tab, DEL, C1) in an id.
fn control_character(id: &str) -> Option<usize> {
    id.char_indices()
        .find(|(_, c)| c.is_control())
        .map(|(i, _)| i)
}

/// A user id: not empty, no control characters.
fn check_user_id(id: &str) -> Result<(), InvalidInput> {
    if id.is_empty() {
        return Err(InvalidInput::EmptyUserId);
    }
    match control_character(id) {
        Some(position) => Err(InvalidInput::InvalidUserId { position }),
        None => Ok(()),
    }
}

/// A visitor id: not empty, no control characters.
fn check_visitor_id(id: &str) -> Result<(), InvalidInput> {
    if id.is_empty() {
        return Err(InvalidInput::EmptyVisitorId);
    }
    match control_character(id) {
        Some(position) => Err(InvalidInput::InvalidVisitorId { position }),
        None => Ok(()),
    }
}

/// Validates and bounds the property sets that `write` writes (an event's or a visitor's).
fn size(
    keys: SetKeys,
    write: impl FnOnce(&mut QuerySizer) -> Result<(), InvalidInput>,
) -> Result<QuerySizer, InvalidInput> {
    let mut sizer = QuerySizer::new(keys);
    write(&mut sizer)?;
    Ok(sizer)
}

/// The single parameters of an event call, validated and sized: `c`, `u` or `v`, `e`, `tm`.
struct Head<'a> {
    company: &'a str,
    id_key: &'static str,
    id: &'a str,
    event: &'a str,
    tm: u64,
    /// Bytes of `c=..&u=..&e=..` (no `tm`).
    len: usize,
}

impl<'a> Head<'a> {
    fn new<E: Event + ?Sized>(
        calls: &'a Calls,
        id_key: &'static str,
        id: &'a str,
        check_id: fn(&str) -> Result<(), InvalidInput>,
        event: &'a E,
    ) -> Result<Self, InvalidInput> {
        check_id(id)?;
        let name = event.name();
        if name.is_empty() {
            return Err(InvalidInput::EmptyEventName);
        }
        let tm = event
            .timestamp()?
            .unwrap_or_else(Timestamp::now)
            .as_millis();
        let len =
            "c=&u=&e=".len() + encoded_len(&calls.company) + encoded_len(id) + encoded_len(name);
        Ok(Head {
            company: &calls.company,
            id_key,
            id,
            event: name,
            tm,
            len,
        })
    }

    /// Bytes of `&tm=...`.
    fn tm_len(&self) -> usize {
        "&tm=".len() + itoa::Buffer::new().format(self.tm).len()
    }

    fn write(&self, out: &mut String) {
        out.push_str("c=");
        encode_into(out, self.company);
        out.push('&');
        out.push_str(self.id_key);
        out.push('=');
        encode_into(out, self.id);
        out.push_str("&e=");
        encode_into(out, self.event);
    }

    /// `e=..&c=..&u=..`: the order of `evvprwid`, which puts the event name first.
    fn write_event_first(&self, out: &mut String) {
        out.push_str("e=");
        encode_into(out, self.event);
        out.push_str("&c=");
        encode_into(out, self.company);
        out.push('&');
        out.push_str(self.id_key);
        out.push('=');
        encode_into(out, self.id);
    }

    fn write_tm(&self, out: &mut String) {
        out.push_str("&tm=");
        out.push_str(itoa::Buffer::new().format(self.tm));
    }
}
