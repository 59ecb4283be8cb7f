//! The errors of the SDK: [`InvalidInput`] for what the caller passed, [`Error`] for a call,
//! [`EnqueueError`] for an event a delivery queue did not take (it converts into [`Error`],
//! so `?` works in a function returning [`Result`]).
//!
//! # Personal data
//!
//! Neither `Display` nor `Debug` of these errors quotes a user id, a visitor id, a property
//! value or a server's answer body, so an error can be logged or `unwrap`ped anywhere. The
//! body of an answer stays reachable through [`Error::body`], for debugging.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::call::{Endpoint, Request};

/// Input refused at the call site, before anything is sent or queued.
///
/// Every variant names what was wrong, so a caller can fix it; none of them is retryable.
/// Messages name properties and datatypes, never a value or an id.
#[derive(Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// The company id is empty.
    #[error("the company id is empty: pass the id shown in your Gamooga account section")]
    EmptyCompanyId,
    /// The event name is empty.
    #[error("the event name is empty")]
    EmptyEventName,
    /// The user (unique) id is empty.
    #[error("the user id is empty")]
    EmptyUserId,
    /// The visitor id is empty.
    #[error("the visitor id is empty")]
    EmptyVisitorId,
    /// A property has an empty name.
    #[error("a property name is empty")]
    EmptyPropertyName,
    /// Two properties of one call have the same name where the wire format cannot carry both
    /// (the JSON body of `evwidj`).
    #[error("the property `{name}` appears twice; a JSON body (evwidj) cannot carry both")]
    DuplicateProperty {
        /// The repeated name.
        name: String,
    },
    /// A numeric property is NaN or infinite.
    #[error("the numeric property `{name}` is {value}: Gamooga accepts finite numbers only")]
    NonFiniteNumber {
        /// The property's name.
        name: String,
        /// The offending value, as text (`NaN`, `inf`, `-inf`).
        value: String,
    },
    /// A value sent with an explicit datatype (the `tp` escape hatch) does not fit that datatype.
    ///
    /// The message and `Debug` name the property and the datatype, not the value (which may
    /// be personal data); the field holds it for the caller.
    #[error("the property `{name}` is declared `{datatype}` ({}) but its value is not one", datatype_name(*.datatype))]
    ValueDoesNotMatchType {
        /// The property's name.
        name: String,
        /// The declared datatype code (`n` or `b`).
        datatype: char,
        /// The text that did not fit (left out of the message and of `Debug`).
        value: String,
    },
    /// A numeric property's plain decimal would be longer than the SDK sends (a value such
    /// as `1e-400` written out in full).
    #[error(
        "the numeric property `{name}` would take more than {max} characters in plain decimal"
    )]
    NumberTooLong {
        /// The property's name.
        name: String,
        /// The most characters a number may take.
        max: usize,
    },
    /// A property value of a type that can hold values Gamooga has no datatype for: a
    /// `serde_json::Value` array or object, a date outside the years 0000 to 9999.
    #[error("the property `{name}` is {what}, which Gamooga cannot store")]
    UnsupportedValue {
        /// The property's name.
        name: String,
        /// What the value was (`a JSON array`, ...), never the value itself.
        what: &'static str,
    },
    /// `vpr` needs at least one property.
    #[error("a visitor property push needs at least one property")]
    NoProperties,
    /// The company id contains whitespace or a control character: it would not match the id of
    /// the account, and goes into a URL path.
    #[error(
        "the company id {company_id:?} contains {what}: pass the id exactly as shown in your \
         Gamooga account section"
    )]
    InvalidCompanyId {
        /// The id given (a company id is not personal data).
        company_id: String,
        /// What is wrong with it (`"whitespace"`, `"a control character"`).
        what: &'static str,
    },
    /// The user id contains a control character (a newline, a tab, ...), which no real id
    /// holds and which breaks line-oriented logs.
    #[error("the user id contains a control character at byte {position}; remove it")]
    InvalidUserId {
        /// The byte offset of the first control character.
        position: usize,
    },
    /// The visitor id contains a control character (a newline, a tab, ...).
    #[error("the visitor id contains a control character at byte {position}; remove it")]
    InvalidVisitorId {
        /// The byte offset of the first control character.
        position: usize,
    },
    /// The before-send hook dropped the call ([`Action::Drop`](crate::hook::Action::Drop)):
    /// nothing was built. Only the pure builders of [`Calls`](crate::Calls) return it; the
    /// client's and the queue's methods return `Ok` for a dropped call (it is counted).
    #[error("the before-send hook dropped the {call} call{}", DroppedEvent(.event))]
    DroppedByHook {
        /// The call: `evwid` for an event by user id, `ev`, `evvprwid` or `vpr`.
        call: Endpoint,
        /// The event's name (`None` for a visitor property push).
        event: Option<String>,
    },
    /// A timestamp is not Unix milliseconds between 2001 and 2100.
    #[error("the timestamp {value} is not Unix time in milliseconds between 2001 and 2100{hint}")]
    TimestampOutOfRange {
        /// The value given, in the unit the caller used.
        value: i128,
        /// A hint on the likely mistake (seconds or microseconds), or empty.
        hint: &'static str,
    },
}

/// ` of the event `name``, or nothing.
struct DroppedEvent<'a>(&'a Option<String>);

impl fmt::Display for DroppedEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, " of the event `{name}`"),
            None => Ok(()),
        }
    }
}

impl InvalidInput {
    /// Whether this is [`DroppedByHook`](Self::DroppedByHook): nothing is wrong with the
    /// input, the before-send hook chose not to send it.
    pub fn is_dropped_by_hook(&self) -> bool {
        matches!(self, InvalidInput::DroppedByHook { .. })
    }
}

/// The name of a datatype code, for messages.
fn datatype_name(code: char) -> &'static str {
    match code {
        'n' => "a finite number",
        'b' => "`true` or `false`",
        's' => "a string",
        _ => "an unknown datatype",
    }
}

// Written by hand so that no value can reach a log through `{:?}`: the value of
// `ValueDoesNotMatchType` is left out. A variant added later shows its message.
impl fmt::Debug for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidInput::EmptyCompanyId => f.write_str("EmptyCompanyId"),
            InvalidInput::EmptyEventName => f.write_str("EmptyEventName"),
            InvalidInput::EmptyUserId => f.write_str("EmptyUserId"),
            InvalidInput::EmptyVisitorId => f.write_str("EmptyVisitorId"),
            InvalidInput::EmptyPropertyName => f.write_str("EmptyPropertyName"),
            InvalidInput::NoProperties => f.write_str("NoProperties"),
            InvalidInput::DuplicateProperty { name } => f
                .debug_struct("DuplicateProperty")
                .field("name", name)
                .finish(),
            InvalidInput::NonFiniteNumber { name, value } => f
                .debug_struct("NonFiniteNumber")
                .field("name", name)
                .field("value", value)
                .finish(),
            InvalidInput::ValueDoesNotMatchType { name, datatype, .. } => f
                .debug_struct("ValueDoesNotMatchType")
                .field("name", name)
                .field("datatype", datatype)
                .finish_non_exhaustive(),
            InvalidInput::InvalidCompanyId { company_id, what } => f
                .debug_struct("InvalidCompanyId")
                .field("company_id", company_id)
                .field("what", what)
                .finish(),
            InvalidInput::InvalidUserId { position } => f
                .debug_struct("InvalidUserId")
                .field("position", position)
                .finish(),
            InvalidInput::InvalidVisitorId { position } => f
                .debug_struct("InvalidVisitorId")
                .field("position", position)
                .finish(),
            InvalidInput::DroppedByHook { call, event } => f
                .debug_struct("DroppedByHook")
                .field("call", call)
                .field("event", event)
                .finish(),
            InvalidInput::TimestampOutOfRange { value, hint } => f
                .debug_struct("TimestampOutOfRange")
                .field("value", value)
                .field("hint", hint)
                .finish(),
            #[allow(unreachable_patterns)]
            other => write!(f, "InvalidInput({:?})", other.to_string()),
        }
    }
}

/// Whether a request that failed without an answer can have reached Gamooga.
///
/// A [`Transport`](crate::transport::Transport) says it with each
/// [`TransportError`](crate::transport::TransportError), and [`Error::Connection`] and
/// [`Error::Timeout`] carry it up to the caller and the delivery queue, which counts the
/// [`Unknown`](Phase::Unknown) ones as `ambiguous`: the upper bound of duplicates that
/// retrying can cause. When in doubt a transport says `Unknown`: over-counting possible
/// duplicates is safe, under-counting is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// It failed before any byte of the request was written: name resolution, the TCP
    /// connection, the TLS handshake, or a connect timeout. Gamooga cannot have received it,
    /// so a retry cannot store it twice.
    NotSent,
    /// It failed after the request was (or may have been) written: the connection was reset
    /// or closed before the whole answer came, or no answer came in time. Gamooga may have
    /// received and stored it.
    Unknown,
}

impl Phase {
    /// Whether the request may have reached Gamooga: `true` for [`Phase::Unknown`].
    pub const fn may_have_been_sent(self) -> bool {
        matches!(self, Phase::Unknown)
    }

    /// A short name: `not_sent` or `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::NotSent => "not_sent",
            Phase::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::NotSent => "before sending: nothing reached Gamooga",
            Phase::Unknown => "after sending: Gamooga may have received it",
        })
    }
}

/// The error of a Gamooga call.
///
/// Use the predicates ([`is_retryable`](Self::is_retryable),
/// [`may_have_been_sent`](Self::may_have_been_sent),
/// [`is_resolution_failure`](Self::is_resolution_failure)) and accessors instead of matching
/// messages. Network errors name the call and the host, never the query (which holds ids).
/// `Display` and `Debug` never include an answer's body: [`body`](Self::body) gives it.
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    /// Gamooga answered with a status other than 200.
    #[error("{call} at {host}: Gamooga answered HTTP {status} after {attempts} attempt(s)")]
    Http {
        /// Which call.
        call: Endpoint,
        /// The host (and port) it went to.
        host: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most 512 bytes, lossily decoded). Not part of
        /// the message: read it with [`Error::body`].
        body: String,
        /// How many attempts were made.
        attempts: u32,
        /// The delay the server asked for in `Retry-After`, if any (at most
        /// [`FOREVER`](crate::retry::FOREVER)).
        retry_after: Option<Duration>,
    },
    /// No answer could be had: the connection could not be made, or broke before the answer
    /// was read (refused, reset, closed, DNS or TLS failure, ...).
    #[error(
        "{call} at {host}: could not reach Gamooga after {attempts} attempt(s), {phase}: {message}"
    )]
    Connection {
        /// Which call.
        call: Endpoint,
        /// The host (and port) it went to.
        host: String,
        /// Whether the request can have reached Gamooga.
        phase: Phase,
        /// What went wrong (the transport's words; never the URL).
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// No answer came in time (the per-attempt timeout, or the transport's connect timeout).
    #[error("{call} at {host}: timed out after {attempts} attempt(s), {phase} (per-attempt timeout {timeout:?})")]
    Timeout {
        /// Which call.
        call: Endpoint,
        /// The host (and port) it went to.
        host: String,
        /// Whether the request can have reached Gamooga: [`Phase::NotSent`] for a connect
        /// timeout.
        phase: Phase,
        /// The per-attempt timeout.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A backend host named by the company information (`evbk`) that is not a plain host, or
    /// that would be reached over plain http without the opt-in. It is never followed.
    #[error(
        "the backend {value:?} given by the company information is not a valid host: {reason}"
    )]
    InvalidBackend {
        /// What the server sent (truncated); a host name, not personal data.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An answer of Gamooga could not be decoded.
    #[error("could not decode the answer to {call}: {reason}")]
    Decode {
        /// Which call ([`Endpoint::CompanyInfo`], [`Endpoint::Id`]).
        call: Endpoint,
        /// What was wrong.
        reason: String,
        /// The start of the body (at most 512 bytes). Not part of the message (an `id`
        /// answer holds a visitor id): read it with [`Error::body`].
        body: String,
    },
    /// The backend could not be resolved: the company information (`newnaconf`) failed
    /// (`cause`: an HTTP error, a connection error, a timeout, an answer that is not JSON or
    /// has no `evbk`, or an invalid `evbk`). Nothing of the call itself was sent.
    ///
    /// The resolver fetches the company information again after a backoff (250 ms doubling to
    /// 30 s, jittered), one fetch at a time; `retry_in` is what remains of that wait, and
    /// [`retry_after`](Error::retry_after) returns it, so a retry waits for the next fetch.
    ///
    /// Such a failure is transient ([`is_resolution_failure`](Error::is_resolution_failure)
    /// and [`is_retryable`](Error::is_retryable) are true) unless the configuration host
    /// refused the company with an HTTP status not worth retrying (a 404 for an unknown
    /// company id): then both are false and retrying does not help.
    ///
    /// A variant of its own rather than a flag on the others: the cause keeps its own type
    /// (and its phase describes the company information request, which carries no event),
    /// while callers need one test for "the event was not tried".
    #[error(
        "newnaconf at {host}: could not resolve the backend after {attempts} attempt(s): {}; \
         the company information is fetched again in {retry_in:?}",
        CauseText(cause)
    )]
    Resolve {
        /// Why the company information failed (its last fetch).
        cause: Box<Error>,
        /// The configuration host (and port) the company information comes from.
        host: String,
        /// How long until the resolver fetches again (from when the error was made).
        retry_in: Duration,
        /// How many attempts of the call were made.
        attempts: u32,
    },
    /// The client's configuration is invalid (bad URL, plain http to a remote host, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A spool file (feature `spool`) cannot be used; [`SpoolErrorKind`] says why, so a
    /// caller can tell a spool in use from a corrupt one without reading the message.
    #[error("the spool {} cannot be used: {message}", path.display())]
    Spool {
        /// The spool file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        kind: SpoolErrorKind,
        /// What is wrong with it, for people (no user data: it names rows, never values).
        message: String,
    },
    /// A delivery queue did not take the event (full, shut down, or its spool failed): an
    /// [`EnqueueError`] turned into an `Error` by `?`. The request that was not queued is
    /// still here: [`Error::request`] or [`Error::into_request`]. (An [`EnqueueError::Invalid`]
    /// becomes [`Error::InvalidInput`] instead.)
    ///
    /// In an `Arc` so that `Error` stays `Clone` and small.
    #[error(transparent)]
    Enqueue(Arc<EnqueueError>),
}

/// Why a spool file cannot be used ([`Error::Spool`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpoolErrorKind {
    /// There is no file at the path (only when opening an existing spool for inspection).
    NotFound,
    /// Another queue (in this or another process) holds the spool's writer lock.
    InUse,
    /// The file is not a gamooga spool: not SQLite, or SQLite holding something else.
    NotASpool,
    /// The file is a spool but damaged: SQLite's integrity check failed.
    Corrupt,
    /// The spool was written by a newer SDK (a format version this one does not know).
    UnknownVersion,
    /// Reading or writing it failed: permissions, a missing directory, a full disk, ...
    Io,
}

impl SpoolErrorKind {
    /// A short name: `not_found`, `in_use`, `not_a_spool`, `corrupt`, `unknown_version`, `io`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpoolErrorKind::NotFound => "not_found",
            SpoolErrorKind::InUse => "in_use",
            SpoolErrorKind::NotASpool => "not_a_spool",
            SpoolErrorKind::Corrupt => "corrupt",
            SpoolErrorKind::UnknownVersion => "unknown_version",
            SpoolErrorKind::Io => "io",
        }
    }
}

impl From<EnqueueError> for Error {
    /// [`EnqueueError::Invalid`] becomes [`Error::InvalidInput`]; every other variant
    /// [`Error::Enqueue`], keeping its request.
    ///
    /// ```
    /// use gamooga::{Calls, CustomEvent, Error, Properties};
    /// use gamooga::queue::EnqueueError;
    /// let request = Calls::new("acme")?.track("user-42", &CustomEvent::new("login", Properties::new()))?;
    /// let error: Error = EnqueueError::Closed { request: Box::new(request) }.into();
    /// assert!(matches!(error, Error::Enqueue(_)));
    /// assert_eq!(error.request().map(|r| r.endpoint().name()), Some("evwid"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(error: EnqueueError) -> Self {
        match error {
            EnqueueError::Invalid(invalid) => Error::InvalidInput(invalid),
            other => Error::Enqueue(Arc::new(other)),
        }
    }
}

// Written by hand to leave answer bodies out (an `id` answer holds a visitor id).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput(e) => f.debug_tuple("InvalidInput").field(e).finish(),
            Error::Http {
                call,
                host,
                status,
                body,
                attempts,
                retry_after,
            } => f
                .debug_struct("Http")
                .field("call", call)
                .field("host", host)
                .field("status", status)
                .field("attempts", attempts)
                .field("retry_after", retry_after)
                .field("body_len", &body.len())
                .finish_non_exhaustive(),
            Error::Connection {
                call,
                host,
                phase,
                message,
                attempts,
            } => f
                .debug_struct("Connection")
                .field("call", call)
                .field("host", host)
                .field("phase", phase)
                .field("message", message)
                .field("attempts", attempts)
                .finish(),
            Error::Timeout {
                call,
                host,
                phase,
                timeout,
                attempts,
            } => f
                .debug_struct("Timeout")
                .field("call", call)
                .field("host", host)
                .field("phase", phase)
                .field("timeout", timeout)
                .field("attempts", attempts)
                .finish(),
            Error::InvalidBackend { value, reason } => f
                .debug_struct("InvalidBackend")
                .field("value", value)
                .field("reason", reason)
                .finish(),
            Error::Decode { call, reason, body } => f
                .debug_struct("Decode")
                .field("call", call)
                .field("reason", reason)
                .field("body_len", &body.len())
                .finish_non_exhaustive(),
            Error::Resolve {
                cause,
                host,
                retry_in,
                attempts,
            } => f
                .debug_struct("Resolve")
                .field("cause", cause)
                .field("host", host)
                .field("retry_in", retry_in)
                .field("attempts", attempts)
                .finish(),
            Error::Config(message) => f.debug_tuple("Config").field(message).finish(),
            Error::Spool {
                path,
                kind,
                message,
            } => f
                .debug_struct("Spool")
                .field("path", path)
                .field("kind", kind)
                .field("message", message)
                .finish(),
            // `EnqueueError`'s `Debug` shows its request through `Request`'s safe `Debug`.
            Error::Enqueue(e) => f.debug_tuple("Enqueue").field(&**e).finish(),
        }
    }
}

impl Error {
    /// Whether trying the same call again could succeed: timeouts, connection errors,
    /// HTTP 408, 429 and 5xx except 501 and 505, and transient
    /// [resolution failures](Self::is_resolution_failure).
    ///
    /// ```
    /// use gamooga::{Endpoint, Error};
    /// let http = |status| Error::Http {
    ///     call: Endpoint::Evwid,
    ///     host: "evbk.gamooga.com".into(),
    ///     status,
    ///     body: String::new(),
    ///     attempts: 1,
    ///     retry_after: None,
    /// };
    /// assert!(http(503).is_retryable());
    /// assert!(!http(400).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { status, .. } => is_retryable_status(*status),
            Error::Connection { .. } | Error::Timeout { .. } => true,
            Error::Resolve { cause, .. } => resolution_is_transient(cause),
            _ => false,
        }
    }

    /// Whether the failed attempt's request may have reached Gamooga (and so may have been
    /// stored): its outcome is unknown. The delivery queue counts these attempts as
    /// `ambiguous`, the upper bound of duplicates a retry can cause.
    ///
    /// True only for a [`Connection`](Self::Connection) or [`Timeout`](Self::Timeout) error
    /// whose [`Phase`] is [`Unknown`](Phase::Unknown), as the transport reported it. False
    /// when nothing was sent (the connection could not be made, the backend could not be
    /// resolved, the input was refused) and when Gamooga answered (any HTTP status).
    pub fn may_have_been_sent(&self) -> bool {
        self.phase().is_some_and(Phase::may_have_been_sent)
    }

    /// The failure phase of a [`Connection`](Self::Connection) or [`Timeout`](Self::Timeout)
    /// error: whether the request can have reached Gamooga.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            Error::Connection { phase, .. } | Error::Timeout { phase, .. } => Some(*phase),
            _ => None,
        }
    }

    /// Whether the call failed before reaching the backend because the backend could not be
    /// resolved, for a transient reason ([`Error::Resolve`]): the company information
    /// (`newnaconf`) answered something that is not JSON or has no valid `evbk`, a retryable
    /// HTTP status, or no answer. Such a failure says nothing about the event itself, so the
    /// delivery queue keeps the event (without counting an attempt) and waits
    /// [`retry_after`](Self::retry_after), the resolver's own backoff.
    ///
    /// False for a company refused for good (HTTP 404 and other statuses not worth
    /// retrying): retrying cannot help there.
    pub fn is_resolution_failure(&self) -> bool {
        matches!(self, Error::Resolve { cause, .. } if resolution_is_transient(cause))
    }

    /// The same error, saying that `n` attempts were made in all (for HTTP, connection,
    /// timeout and resolution errors; others are returned as they are). The client and the
    /// delivery queue set it when they give up, so the count in the message agrees with
    /// theirs.
    pub fn with_attempts(mut self, n: u32) -> Error {
        match &mut self {
            Error::Http { attempts, .. }
            | Error::Connection { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Resolve { attempts, .. } => *attempts = n,
            _ => {}
        }
        self
    }

    /// How many attempts the error says were made (HTTP, connection, timeout and resolution
    /// errors).
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::Http { attempts, .. }
            | Error::Connection { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Resolve { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// How long to wait before trying again, if the error says: for an HTTP error, the
    /// server's `Retry-After`; for a [resolution failure](Self::is_resolution_failure), the
    /// time until the resolver fetches the company information again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Http { retry_after, .. } => *retry_after,
            Error::Resolve { retry_in, .. } => Some(*retry_in),
            _ => None,
        }
    }

    /// Which call failed, when the error comes from one.
    pub fn call(&self) -> Option<Endpoint> {
        match self {
            Error::Http { call, .. }
            | Error::Connection { call, .. }
            | Error::Timeout { call, .. }
            | Error::Decode { call, .. } => Some(*call),
            Error::Resolve { .. } => Some(Endpoint::CompanyInfo),
            _ => None,
        }
    }

    /// The host (and port) the failed call went to.
    pub fn host(&self) -> Option<&str> {
        match self {
            Error::Http { host, .. }
            | Error::Connection { host, .. }
            | Error::Timeout { host, .. }
            | Error::Resolve { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The HTTP status of an [`Http`](Self::Http) error (or of a resolution failure's cause).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            Error::Resolve { cause, .. } => cause.status(),
            _ => None,
        }
    }

    /// The start of the answer's body (at most 512 bytes), for an HTTP or decode error (or a
    /// resolution failure's cause). It is in no message: it may hold personal data (an `id`
    /// answer holds a visitor id), so log it at debug level only.
    pub fn body(&self) -> Option<&str> {
        match self {
            Error::Http { body, .. } | Error::Decode { body, .. } => Some(body),
            Error::Resolve { cause, .. } => cause.body(),
            _ => None,
        }
    }

    /// Why the company information failed, for a resolution failure.
    pub fn cause(&self) -> Option<&Error> {
        match self {
            Error::Resolve { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// The queue's error, for an [`Enqueue`](Self::Enqueue) error.
    pub fn enqueue_error(&self) -> Option<&EnqueueError> {
        match self {
            Error::Enqueue(e) => Some(e),
            _ => None,
        }
    }

    /// The request a queue did not take, for an [`Enqueue`](Self::Enqueue) error: send it
    /// another way, or keep it. (Its `Debug` shows no ids or values; its
    /// [`query`](Request::query) has them.)
    pub fn request(&self) -> Option<&Request> {
        self.enqueue_error().and_then(EnqueueError::request)
    }

    /// The request a queue did not take, owned (copied if the error was cloned).
    pub fn into_request(self) -> Option<Request> {
        match self {
            Error::Enqueue(e) => match Arc::try_unwrap(e) {
                Ok(e) => e.into_request(),
                Err(shared) => shared.request().cloned(),
            },
            _ => None,
        }
    }
}

/// A resolution failure's cause in its message: without the cause's own attempt count (the
/// resolution error says how many attempts the call made).
struct CauseText<'a>(&'a Error);

impl fmt::Display for CauseText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::Http { status, .. } => write!(f, "it answered HTTP {status}"),
            Error::Connection { phase, message, .. } => {
                write!(f, "it could not be reached, {phase}: {message}")
            }
            Error::Timeout { phase, timeout, .. } => {
                write!(f, "it timed out, {phase} (per-attempt timeout {timeout:?})")
            }
            Error::Decode { reason, .. } => write!(f, "its answer is not usable: {reason}"),
            other => write!(f, "{other}"),
        }
    }
}

/// Whether a company information failure may pass: anything but an HTTP status that is not
/// worth retrying (a 404 for an unknown company).
fn resolution_is_transient(cause: &Error) -> bool {
    match cause {
        Error::Http { status, .. } => is_retryable_status(*status),
        Error::Resolve { cause, .. } => resolution_is_transient(cause),
        Error::InvalidInput(_) | Error::Config(_) => false,
        _ => true,
    }
}

/// Whether an HTTP status is worth retrying: 408, 429 and 5xx except 501 and 505.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..600).contains(&status) && status != 501 && status != 505)
}

/// Why an event was not accepted by the queue. Where the event was built, it comes back.
///
/// The derived `Debug` prints the request through [`Request`]'s own `Debug`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The event was refused at the call site (see [`InvalidInput`]); nothing was queued.
    #[error("the event was not queued: {0}")]
    Invalid(#[from] InvalidInput),
    /// The queue is full: `try_enqueue` under [`Overflow::Wait`](crate::queue::Overflow::Wait), or any enqueue under
    /// [`Overflow::Refuse`](crate::queue::Overflow::Refuse). The request is returned.
    #[error("the queue is full ({capacity} events); the event was not queued")]
    Full {
        /// The request that was not queued.
        request: Box<Request>,
        /// The queue's capacity.
        capacity: usize,
    },
    /// The queue is shut down (or was dropped, or its runtime ended) and takes no more
    /// events. The request is returned.
    #[error("the queue is shut down; the event was not queued")]
    Closed {
        /// The request that was not queued.
        request: Box<Request>,
    },
    /// The spool could not store the event (its write rolled back), so it was not
    /// accepted. The request is returned; sending it again sends it once.
    #[error("the spool could not store the event, so it was not queued: {message}")]
    Spool {
        /// The request that was not queued.
        request: Box<Request>,
        /// What went wrong.
        message: String,
    },
    /// The spool's writer stopped before confirming the write: the event may be in the
    /// spool (then the next queue started on it delivers it) or not. Sending it again may
    /// send it twice; [`may_be_queued`](Self::may_be_queued) is true.
    #[error("the spool stopped before confirming the event; it may be stored and delivered later: {message}")]
    Unconfirmed {
        /// The request whose fate is unknown.
        request: Box<Request>,
        /// What went wrong.
        message: String,
    },
}

impl EnqueueError {
    /// The request that was not queued, if it was built.
    pub fn request(&self) -> Option<&Request> {
        match self {
            EnqueueError::Invalid(_) => None,
            EnqueueError::Full { request, .. }
            | EnqueueError::Closed { request }
            | EnqueueError::Spool { request, .. }
            | EnqueueError::Unconfirmed { request, .. } => Some(request),
        }
    }

    /// The request that was not queued, if it was built.
    pub fn into_request(self) -> Option<Request> {
        match self {
            EnqueueError::Invalid(_) => None,
            EnqueueError::Full { request, .. }
            | EnqueueError::Closed { request }
            | EnqueueError::Spool { request, .. }
            | EnqueueError::Unconfirmed { request, .. } => Some(*request),
        }
    }

    /// Whether the event may have been accepted after all ([`Unconfirmed`](Self::Unconfirmed)):
    /// then sending it again elsewhere may deliver it twice.
    pub fn may_be_queued(&self) -> bool {
        matches!(self, EnqueueError::Unconfirmed { .. })
    }
}

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
