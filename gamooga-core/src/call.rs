//! Call builders: pure functions from inputs to a [`Request`] (method, path, query, body),
//! exact on the wire. No I/O happens here, so every byte is unit-testable.

use std::borrow::Cow;

use crate::error::InvalidInput;
use crate::event::{Event, VisitorProperties};

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

    /// Whether the call goes to the company's backend (every call but company information,
    /// which goes to the configuration host).
    pub const fn is_backend(self) -> bool {
        !matches!(self, Endpoint::CompanyInfo)
    }
}

/// A call ready to send: everything but the host, which the resolver supplies.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// use gamooga_core::{Calls, CustomEvent, Properties, Timestamp};
/// let calls = Calls::new("acme")?;
/// let event = CustomEvent::new("purchase", Properties::new().string("sku", "A&B"))
///     .at(Timestamp::from_millis(1_764_150_000_000)?);
/// let request = calls.track("user 42", &event)?;
/// assert_eq!(
///     request.path_and_query(),
///     "/evwid/?c=acme&u=user%2042&e=purchase&ky=sku&vl=A%26B&tp=s&tm=1764150000000"
/// );
/// # Ok::<(), gamooga_core::InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calls {
    company: String,
    get_limit: usize,
    evwid_mode: EvwidMode,
}

impl Calls {
    /// The default limit, in bytes of path and query, past which a user-id event goes as
    /// `evwidj` (POST).
    pub const DEFAULT_GET_LIMIT: usize = 2000;

    /// The builders for company `company_id`; an empty id is refused.
    pub fn new(company_id: &str) -> Result<Self, InvalidInput> {
        if company_id.is_empty() {
            return Err(InvalidInput::EmptyCompanyId);
        }
        Ok(Calls {
            company: company_id.to_owned(),
            get_limit: Self::DEFAULT_GET_LIMIT,
            evwid_mode: EvwidMode::Auto,
        })
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
        unimplemented!("call builders are being written")
    }

    /// An event by user id: `evwid`, or `evwidj` as [`EvwidMode`] and the GET limit say.
    /// `tm` is the event's own time, or now.
    pub fn track<E: Event + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
    ) -> Result<Request, InvalidInput> {
        let _ = (user_id, event);
        unimplemented!("call builders are being written")
    }

    /// An event by visitor id: `ev`.
    pub fn track_visitor<E: Event + ?Sized>(
        &self,
        visitor_id: &str,
        event: &E,
    ) -> Result<Request, InvalidInput> {
        let _ = (visitor_id, event);
        unimplemented!("call builders are being written")
    }

    /// An event and visitor properties by user id: `evvprwid`.
    pub fn track_with<E: Event + ?Sized, P: VisitorProperties + ?Sized>(
        &self,
        user_id: &str,
        event: &E,
        visitor: &P,
    ) -> Result<Request, InvalidInput> {
        let _ = (user_id, event, visitor);
        unimplemented!("call builders are being written")
    }

    /// Visitor properties by visitor id: `vpr` (at least one property).
    pub fn push_visitor<P: VisitorProperties + ?Sized>(
        &self,
        visitor_id: &str,
        properties: &P,
    ) -> Result<Request, InvalidInput> {
        let _ = (visitor_id, properties);
        unimplemented!("call builders are being written")
    }

    /// Identify: `id` with `u` alone, answering the visitor id mapped to the user id (created
    /// if there is none).
    pub fn identify(&self, user_id: &str) -> Result<Request, InvalidInput> {
        let _ = user_id;
        unimplemented!("call builders are being written")
    }

    /// Link: `id` with `u` and `v`, mapping the user id to the visitor id.
    pub fn link(&self, user_id: &str, visitor_id: &str) -> Result<Request, InvalidInput> {
        let _ = (user_id, visitor_id);
        unimplemented!("call builders are being written")
    }
}
