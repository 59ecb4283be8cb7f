//! [`Error`]: what can go wrong with the outbox, typed.

use std::fmt;

use gamooga_core::InvalidInput;

/// An outbox operation failed.
///
/// # Personal data
///
/// Neither `Display` nor `Debug` carries a user id, a visitor id or a property value. A
/// database error shows PostgreSQL's message and code only: its `DETAIL` (which for some
/// errors quotes the row) is left out; [`Error::database`] gives the full error when asked.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event was refused at the call site (see [`InvalidInput`]); nothing was written.
    #[error("the event was not enqueued: {0}")]
    Invalid(#[from] InvalidInput),
    /// The database refused or could not be reached. Inside a transaction, PostgreSQL
    /// aborts the transaction: roll it back (dropping it does).
    #[error("the outbox's database: {}", database_message(.0))]
    Database(#[source] sqlx::Error),
    /// The outbox's tables are missing, or were made by another version of this crate.
    #[error("the outbox's schema: {0}")]
    Schema(String),
    /// A setting or an argument is unusable.
    #[error("the outbox: {0}")]
    Config(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(e)
    }
}

impl Error {
    /// The database error, in full (PostgreSQL's `DETAIL` included), if this is one.
    pub fn database(&self) -> Option<&sqlx::Error> {
        match self {
            Error::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// PostgreSQL's message and code, without the detail: sqlx's own `Display` for the other
/// kinds of error (connection, pool, protocol), which quote no row.
pub(crate) fn database_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

// By hand: sqlx's `Debug` of a PostgreSQL error prints its DETAIL, which can quote a row.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(e) => f.debug_tuple("Invalid").field(e).finish(),
            Error::Database(e) => f
                .debug_tuple("Database")
                .field(&database_message(e))
                .finish(),
            Error::Schema(m) => f.debug_tuple("Schema").field(m).finish(),
            Error::Config(m) => f.debug_tuple("Config").field(m).finish(),
        }
    }
}
