//! The errors of the SDK: [`InvalidInput`] for what the caller passed, [`Error`] for a call.

use std::time::Duration;

/// Input refused at the call site, before anything is sent or queued.
///
/// Every variant names what was wrong, so a caller can fix it; none of them is retryable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    #[error("the property `{name}` is declared `{datatype}` but its value {value:?} is not one")]
    ValueDoesNotMatchType {
        /// The property's name.
        name: String,
        /// The declared datatype code (`n` or `b`).
        datatype: char,
        /// The text that did not fit.
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
    /// A timestamp is not Unix milliseconds between 2001 and 2100.
    #[error("the timestamp {value} is not Unix time in milliseconds between 2001 and 2100{hint}")]
    TimestampOutOfRange {
        /// The value given, in the unit the caller used.
        value: i128,
        /// A hint on the likely mistake (seconds or microseconds), or empty.
        hint: &'static str,
    },
}

/// The error of a Gamooga call.
///
/// Use [`Error::is_retryable`] instead of matching messages.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    /// Gamooga answered with a status other than 200.
    #[error("Gamooga answered HTTP {status} after {attempts} attempt(s): {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most 512 bytes, lossily decoded).
        body: String,
        /// How many attempts were made.
        attempts: u32,
        /// The delay the server asked for in `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The request could not be sent or its answer not read (connection refused, reset, ...).
    #[error("could not reach Gamooga after {attempts} attempt(s): {message}")]
    Connection {
        /// What went wrong.
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// No answer came within the configured timeout.
    #[error("no answer from Gamooga within {timeout:?} after {attempts} attempt(s)")]
    Timeout {
        /// The per-request timeout.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The company information (`newnaconf`) named a backend that is not a plain host.
    #[error(
        "the backend {value:?} given by the company information is not a valid host: {reason}"
    )]
    InvalidBackend {
        /// What the server sent (truncated).
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An answer of Gamooga could not be decoded.
    #[error("could not decode the answer to {call}: {reason}; the body was {body:?}")]
    Decode {
        /// Which call (`newnaconf`, `id`).
        call: &'static str,
        /// What was wrong.
        reason: String,
        /// The start of the body (at most 512 bytes).
        body: String,
    },
    /// The client's configuration is invalid (bad URL, plain http to a remote host, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether trying the same call again could succeed: timeouts, connection errors,
    /// HTTP 408, 429 and 5xx except 501 and 505.
    ///
    /// ```
    /// use gamooga_core::Error;
    /// let e = Error::Http { status: 503, body: String::new(), attempts: 1, retry_after: None };
    /// assert!(e.is_retryable());
    /// let e = Error::Http { status: 400, body: String::new(), attempts: 1, retry_after: None };
    /// assert!(!e.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { status, .. } => is_retryable_status(*status),
            Error::Connection { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
    }
}

impl Error {
    /// Whether the failed attempt's request may have reached Gamooga (and so may have been
    /// stored): its outcome is unknown. The delivery queue counts these attempts as
    /// `ambiguous`, the upper bound of duplicates a retry can cause.
    ///
    /// False when nothing was sent (the connection could not be made, the backend could not
    /// be resolved, the input was refused) and when Gamooga answered (any HTTP status).
    pub fn may_have_been_sent(&self) -> bool {
        // Interim rule, to be replaced by the transport's typed failure phase.
        match self {
            Error::Timeout { .. } => true,
            Error::Connection { message, .. } => {
                let m = message.to_ascii_lowercase();
                !(m.contains("refused")
                    || m.contains("connect error")
                    || m.contains("(connect)")
                    || m.contains("dns"))
            }
            _ => false,
        }
    }

    /// Whether the call failed before reaching the backend because the backend could not be
    /// resolved: the company information (`newnaconf`) failed or named an invalid backend.
    /// Such a failure says nothing about the event itself, so the delivery queue keeps the
    /// event (without counting an attempt) while the resolver retries.
    pub fn is_resolution_failure(&self) -> bool {
        // Interim rule, to be replaced by a typed resolution error.
        matches!(
            self,
            Error::InvalidBackend { .. }
                | Error::Decode {
                    call: "newnaconf",
                    ..
                }
        )
    }

    /// The same error, saying that `n` attempts were made in all (for HTTP, connection and
    /// timeout errors; others are returned as they are). The client and the delivery queue
    /// set it when they give up, so the count in the message agrees with theirs.
    pub fn with_attempts(mut self, n: u32) -> Error {
        match &mut self {
            Error::Http { attempts, .. }
            | Error::Connection { attempts, .. }
            | Error::Timeout { attempts, .. } => *attempts = n,
            _ => {}
        }
        self
    }

    /// The delay the server asked for in `Retry-After`, if this is an HTTP error with one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether an HTTP status is worth retrying: 408, 429 and 5xx except 501 and 505.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..600).contains(&status) && status != 501 && status != 505)
}

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
