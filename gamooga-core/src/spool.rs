//! The spool (feature `spool`): an on-disk outbox in SQLite under the delivery queue, so a
//! crash or restart loses no accepted event.
//!
//! Turn it on with [`QueueConfig::spool`](crate::queue::QueueConfig::spool). Then:
//!
//! - **Durability.** An event is written before `enqueue`/`try_enqueue` returns. The file is
//!   in WAL mode with `synchronous = FULL`: each commit is fsynced, so an accepted event
//!   survives a process crash (SIGKILL) and a power loss. Concurrent enqueues share a commit
//!   (group commit on a dedicated writer thread), so throughput does not pay one fsync per
//!   event. The queue takes the event in as soon as its row is committed, on the writer
//!   thread, whether or not the enqueuing future is still there to hear about it.
//! - **Removal.** A row is deleted only after Gamooga answered 200. Deletes need no commit of
//!   their own: they wait (up to 50 ms, or 4,096 of them) for the next transaction the
//!   writer commits anyway (the inserts of new events), and a range of consecutive rows is
//!   deleted by one statement. A crash between the 200 and the committed delete means that
//!   event is sent again: at-least-once. [`Queue::flush`](crate::queue::Queue::flush) and
//!   [`Queue::shutdown`](crate::queue::Queue::shutdown) return once the deletes of what they
//!   waited for are committed.
//! - **Replay.** Rows still pending when the queue starts are delivered first, keeping their
//!   original `tm`. They are read in pages that fit the queue's capacity (the first page when
//!   the queue starts, the next ones as room frees up), never all at once. A stored request is
//!   rebuilt from its endpoint, method, query and body: the URL path comes from the endpoint,
//!   never from the file, and a row that does not decode ([`decode_row`]) is marked dead as
//!   `undecodable` and logged, not sent.
//! - **Privacy.** The file and its companions (`-wal`, `-shm`, `-lock`) hold user ids and
//!   property values, so they are created readable and writable by their owner only (0600,
//!   whatever the umask). An existing one that other users can read is used, with a warning
//!   naming it.
//! - **Dead letters** stay in the file, marked with their reason and last error, up to a
//!   bound ([`DeadLetterRetention`]: 10,000 rows and 30 days by default; the oldest go first,
//!   counted in [`QueueStats::dead_letters_pruned`](crate::queue::QueueStats::dead_letters_pruned)).
//!   List them with [`Spool::dead_letters`], send them again with
//!   [`Spool::replay_dead_letters`] (the next queue started on the file delivers them) or drop
//!   them with [`Spool::remove_dead_letters`].
//! - **Tags and cursors.** An event enqueued with a [`Tag`]
//!   ([`Queue::enqueue_tagged`](crate::queue::Queue::enqueue_tagged)) keeps it in its row, and
//!   the spool keeps per tag source a [`Cursor`]: the greatest position written, committed in
//!   the same transaction as the rows, with how many tagged events were accepted and delivered.
//!   Rows are committed in the order their writes started, so a caller that enqueues in
//!   position order can start again after the cursor, after a crash too, losing nothing.
//! - **Errors.** A file that cannot be created or written, is in use by another queue, is not
//!   a spool, is corrupt or was written by a newer SDK is an [`Error::Spool`] naming the file
//!   and its [`SpoolErrorKind`] when the queue starts: never a silent fallback to memory.
//! - **Format.** Version 2 (tags and cursors); a version 1 file is migrated in place when a
//!   queue (or [`Spool::open`]) opens it. [`Spool::open_existing`] reads either as it is.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};

use std::collections::{BTreeMap, HashMap};

use crate::call::{Endpoint, Method, Request};
use crate::dead_letter::DeadLetterReason;
use crate::error::{Error, SpoolErrorKind};
pub use crate::tag::Tag;

/// The format this SDK writes: 2 (tags and cursors). Version 1 files are migrated.
const SCHEMA_VERSION: i64 = 2;
/// Commands applied in one transaction at most.
const BATCH: usize = 4096;
/// Deletes of delivered rows held back at most, waiting for a transaction to ride in.
const DEFERRED_DELETES: usize = 4096;
/// How long deletes of delivered rows wait at most for a transaction to ride in.
const DELETE_DELAY: Duration = Duration::from_millis(50);
/// The `dead_reason` of a row that could not be decoded at replay.
const UNDECODABLE: &str = "undecodable";
/// How often dead letters are pruned at most while they keep coming (and at every sync).
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// A spool problem: [`Error::Spool`] naming the file, the kind and what is wrong.
fn spool_error_kind(path: &Path, kind: SpoolErrorKind, message: impl std::fmt::Display) -> Error {
    Error::Spool {
        path: path.to_path_buf(),
        kind,
        message: message.to_string(),
    }
}

/// A spool problem from SQLite's error: its kind from SQLite's error code.
fn spool_error(path: &Path, e: rusqlite::Error) -> Error {
    spool_error_kind(path, sqlite_kind(&e), e)
}

/// A spool problem from an I/O error or a message: [`SpoolErrorKind::Io`].
fn io_error(path: &Path, message: impl std::fmt::Display) -> Error {
    spool_error_kind(path, SpoolErrorKind::Io, message)
}

fn sqlite_kind(e: &rusqlite::Error) -> SpoolErrorKind {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => SpoolErrorKind::NotASpool,
        Some(ErrorCode::DatabaseCorrupt) => SpoolErrorKind::Corrupt,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => SpoolErrorKind::InUse,
        _ => SpoolErrorKind::Io,
    }
}

/// A position as an SQLite integer (saturating at `i64::MAX`).
fn sql_position(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// How many dead letters a spool keeps: the oldest (by row, that is by when they were
/// enqueued) are deleted past `max_count` rows, and any enqueued more than `max_age` ago.
///
/// ```
/// use std::time::Duration;
/// use gamooga::spool::DeadLetterRetention;
/// let keep = DeadLetterRetention::default().max_count(Some(1_000)).max_age(Some(Duration::from_secs(7 * 86_400)));
/// assert_eq!(keep.max_count, Some(1_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterRetention {
    /// The most dead letters kept (`None`: no bound).
    pub max_count: Option<u64>,
    /// The oldest dead letter kept, counted from when the event was enqueued (`None`: no bound).
    pub max_age: Option<Duration>,
}

impl Default for DeadLetterRetention {
    /// 10,000 dead letters, 30 days.
    fn default() -> Self {
        DeadLetterRetention {
            max_count: Some(10_000),
            max_age: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

impl DeadLetterRetention {
    /// Keeps every dead letter until removed with [`Spool::remove_dead_letters`].
    pub fn unbounded() -> Self {
        DeadLetterRetention {
            max_count: None,
            max_age: None,
        }
    }
    /// Sets [`max_count`](Self::max_count).
    pub fn max_count(mut self, n: Option<u64>) -> Self {
        self.max_count = n;
        self
    }
    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, d: Option<Duration>) -> Self {
        self.max_age = d;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Files: created private, checked when they already exist.

/// `<path><suffix>`: the spool's companion files (`-wal`, `-shm`, `-lock`).
fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Creates `path` empty with mode 0600 if it does not exist; true when it was created.
fn create_private(path: &Path) -> std::io::Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes a file this spool created private (SQLite gives `-wal` and `-shm` the database
/// file's mode; this holds whatever the umask), or warns about an existing one that other
/// users can open.
fn secure(file: &Path, created: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(file) else {
            return; // not created yet (SQLite makes -wal and -shm on demand)
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return;
        }
        if created {
            if let Err(e) = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!(file = %file.display(), error = %e, "gamooga spool: cannot make the file private (chmod 600)");
            }
        } else {
            tracing::warn!(
                file = %file.display(),
                mode = format_args!("{mode:o}"),
                "gamooga spool: the file can be read by other users, and it holds user ids and property values; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (file, created);
}

/// Takes the exclusive writer lock of the spool at `path` (on the file `<path>-lock`).
fn lock_spool(path: &Path) -> Result<std::fs::File, Error> {
    let lock_path = companion(path, "-lock");
    let created = create_private(&lock_path)
        .map_err(|e| io_error(path, format!("cannot create its lock file ({e})")))?;
    secure(&lock_path, created);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_error(path, format!("cannot open its lock file ({e})")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(spool_error_kind(
            path,
            SpoolErrorKind::InUse,
            "it is in use by another queue (in this or another process); one queue per spool",
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(io_error(path, format!("cannot lock it ({e})")))
        }
    }
}

/// How [`connect`] opens a file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OpenMode {
    /// Create it (privately) if missing, create or migrate the schema: a queue, [`Spool::open`].
    Create,
    /// Only an existing spool, read as it is (no schema change): [`Spool::open_existing`].
    Existing,
}

/// The version 2 schema. `tag_*`: the event's [`Tag`], if any. `gamooga_cursor`: per tag
/// source, the greatest position written (and its extra), and counts of tagged events.
const CREATE_V2: &str = "
    CREATE TABLE gamooga_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        query TEXT NOT NULL,
        body TEXT,
        enqueued_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        dead_reason TEXT,
        last_error TEXT,
        tag_source TEXT,
        tag_position INTEGER,
        tag_extra INTEGER
    );
    CREATE TABLE gamooga_cursor (
        source TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        extra INTEGER NOT NULL,
        accepted INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        marked INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL
    );";

/// Version 1 to 2: the tag columns (NULL for the rows already there) and the cursor table.
const MIGRATE_V1_V2: &str = "
    ALTER TABLE gamooga_outbox ADD COLUMN tag_source TEXT;
    ALTER TABLE gamooga_outbox ADD COLUMN tag_position INTEGER;
    ALTER TABLE gamooga_outbox ADD COLUMN tag_extra INTEGER;
    CREATE TABLE gamooga_cursor (
        source TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        extra INTEGER NOT NULL,
        accepted INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        marked INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL
    );";

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Creates the schema of an empty file, or migrates a version 1 file, in one immediate
/// transaction (so two processes opening one file at once do it once). Returns the version.
fn create_or_migrate(conn: &mut Connection, path: &Path) -> Result<i64, Error> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| spool_error(path, e))?;
    let version = user_version(&tx).map_err(|e| spool_error(path, e))?;
    match version {
        0 => {
            let tables: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| spool_error(path, e))?;
            if tables > 0 {
                return Err(spool_error_kind(
                    path,
                    SpoolErrorKind::NotASpool,
                    "the file is an SQLite database but not a gamooga spool",
                ));
            }
            tx.execute_batch(CREATE_V2)
                .map_err(|e| io_error(path, format!("cannot create the spool ({e})")))?;
        }
        1 => {
            tx.execute_batch(MIGRATE_V1_V2).map_err(|e| {
                io_error(
                    path,
                    format!("cannot migrate it from format version 1 ({e})"),
                )
            })?;
            tracing::info!(file = %path.display(), "gamooga spool: migrated from format version 1 to 2");
        }
        SCHEMA_VERSION => return Ok(version),
        _ => return Err(unknown_version(path, version)),
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| spool_error(path, e))?;
    tx.commit().map_err(|e| spool_error(path, e))?;
    Ok(SCHEMA_VERSION)
}

fn unknown_version(path: &Path, version: i64) -> Error {
    spool_error_kind(
        path,
        SpoolErrorKind::UnknownVersion,
        format!("unknown spool format version {version} (this SDK reads 1 and 2, writes {SCHEMA_VERSION})"),
    )
}

/// Opens and checks a spool file; returns the connection and the file's format version.
/// `Create` creates a missing file (privately) and brings the schema to the current version;
/// `Existing` refuses a missing file and changes nothing.
fn connect(path: &Path, mode: OpenMode) -> Result<(Connection, i64), Error> {
    let flags = match mode {
        OpenMode::Create => {
            let created = create_private(path)
                .map_err(|e| io_error(path, format!("cannot create it ({e})")))?;
            secure(path, created);
            rusqlite::OpenFlags::default()
        }
        OpenMode::Existing => {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => {
                    return Err(spool_error_kind(
                        path,
                        SpoolErrorKind::NotASpool,
                        "it is not a file",
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(spool_error_kind(
                        path,
                        SpoolErrorKind::NotFound,
                        "there is no such file",
                    ))
                }
                Err(e) => return Err(io_error(path, e)),
            }
            rusqlite::OpenFlags::default() - rusqlite::OpenFlags::SQLITE_OPEN_CREATE
        }
    };
    // SQLite makes the WAL and shared-memory files with the database's mode: the ones it
    // makes now are ours to make private, whatever the database's mode.
    let companions = ["-wal", "-shm"].map(|suffix| companion(path, suffix));
    let existed = companions.each_ref().map(|p| p.exists());
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| spool_error(path, e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| spool_error(path, e))?;
    // An existing spool is in WAL mode already: reading the mode changes nothing.
    let pragma = match mode {
        OpenMode::Create => "PRAGMA journal_mode = WAL",
        OpenMode::Existing => "PRAGMA journal_mode",
    };
    let journal: String =
        conn.query_row(pragma, [], |r| r.get(0))
            .map_err(|e| match sqlite_kind(&e) {
                SpoolErrorKind::Io => io_error(path, format!("not a usable SQLite file ({e})")),
                SpoolErrorKind::NotASpool => spool_error_kind(
                    path,
                    SpoolErrorKind::NotASpool,
                    format!("the file is not a gamooga spool ({e})"),
                ),
                kind => spool_error_kind(path, kind, format!("not a usable SQLite file ({e})")),
            })?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(match mode {
            OpenMode::Create => io_error(
                path,
                format!("could not switch to WAL mode (journal mode is {journal:?})"),
            ),
            OpenMode::Existing => spool_error_kind(
                path,
                SpoolErrorKind::NotASpool,
                format!("the file is not a gamooga spool (journal mode {journal:?}, not WAL)"),
            ),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| spool_error(path, e))?;
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| match sqlite_kind(&e) {
            SpoolErrorKind::Io => spool_error_kind(
                path,
                SpoolErrorKind::Corrupt,
                format!("integrity check failed ({e})"),
            ),
            kind => spool_error_kind(path, kind, format!("integrity check failed ({e})")),
        })?;
    if check != "ok" {
        return Err(spool_error_kind(
            path,
            SpoolErrorKind::Corrupt,
            format!("the file is corrupt: {check}"),
        ));
    }
    for (file, existed) in companions.iter().zip(existed) {
        secure(file, !existed);
    }
    let version = match mode {
        OpenMode::Create => create_or_migrate(&mut conn, path)?,
        OpenMode::Existing => {
            let version = user_version(&conn).map_err(|e| spool_error(path, e))?;
            match version {
                1 | SCHEMA_VERSION => version,
                0 => {
                    return Err(spool_error_kind(
                        path,
                        SpoolErrorKind::NotASpool,
                        "the file is not a gamooga spool",
                    ))
                }
                _ => return Err(unknown_version(path, version)),
            }
        }
    };
    if mode == OpenMode::Create {
        // Dead letters are listed and pruned by id; pending rows (most of the table) stay
        // out of this index, so inserts do not pay for it.
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS gamooga_outbox_dead ON gamooga_outbox (id)
             WHERE dead_reason IS NOT NULL",
        )
        .map_err(|e| io_error(path, format!("cannot index the dead letters ({e})")))?;
    }
    Ok((conn, version))
}

// ---------------------------------------------------------------------------------------
// Rows: a small pure decoder, so it can be fuzzed.

/// The columns of a spool row that replay reads. The stored `path` column is not among
/// them: the path is rebuilt from the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// The row id.
    pub id: i64,
    /// The endpoint's name (`evwid`, `evwidj`, ...).
    pub endpoint: String,
    /// `GET` or `POST`.
    pub method: String,
    /// The encoded query.
    pub query: String,
    /// The JSON body (`evwidj` only).
    pub body: Option<String>,
    /// When the event was enqueued, Unix milliseconds.
    pub enqueued_ms: i64,
}

/// Why a spool row could not be turned back into a request. Names the row, never its values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// The endpoint column names no call this SDK knows.
    #[error("row {id}: unknown endpoint")]
    UnknownEndpoint {
        /// The row id.
        id: i64,
    },
    /// The endpoint is not a call the queue delivers (company information).
    #[error("row {id}: the endpoint {endpoint} is not a queued call")]
    NotQueued {
        /// The row id.
        id: i64,
        /// The endpoint's name.
        endpoint: &'static str,
    },
    /// The method is not the one the endpoint uses.
    #[error("row {id}: {endpoint} is not sent with that method")]
    WrongMethod {
        /// The row id.
        id: i64,
        /// The endpoint's name.
        endpoint: &'static str,
    },
    /// A body on a call without one, or none on `evwidj`.
    #[error("row {id}: {endpoint} {}", if *.expected { "needs a body" } else { "takes no body" })]
    WrongBody {
        /// The row id.
        id: i64,
        /// The endpoint's name.
        endpoint: &'static str,
        /// Whether the endpoint needs a body.
        expected: bool,
    },
    /// The query holds a byte the encoder never writes (outside `A-Z a-z 0-9 - . _ ~ % & =`).
    #[error("row {id}: the query is not an encoded query")]
    BadQuery {
        /// The row id.
        id: i64,
    },
    /// The enqueue time is before 1970 or not representable.
    #[error("row {id}: the enqueue time is out of range")]
    BadTime {
        /// The row id.
        id: i64,
    },
}

/// The path a queued call is sent to, from its endpoint (never from the file).
fn endpoint_path(endpoint: Endpoint) -> Option<&'static str> {
    Some(match endpoint {
        Endpoint::CompanyInfo => return None,
        Endpoint::Evwid => "/evwid/",
        Endpoint::Evwidj => "/evwidj/",
        Endpoint::Ev => "/ev/",
        Endpoint::Evvprwid => "/evvprwid/",
        Endpoint::Vpr => "/vpr/",
        Endpoint::Id => "/id/",
    })
}

/// Turns a spool row back into the request it stored and when it was enqueued. Pure: the
/// path comes from the endpoint, the method must be the endpoint's, and the query must
/// hold only what the encoder writes, so a tampered row cannot send anything else.
///
/// ```
/// use gamooga::spool::{decode_row, RawRow, RowError};
/// let row = RawRow {
///     id: 1,
///     endpoint: "evwid".into(),
///     method: "GET".into(),
///     query: "c=acme&u=user-1&e=login&tm=1764150000000".into(),
///     body: None,
///     enqueued_ms: 1_764_150_000_000,
/// };
/// let (request, _enqueued_at) = decode_row(row.clone())?;
/// assert_eq!(request.path(), "/evwid/");
/// let bad = RawRow { query: "c=acme#x".into(), ..row };
/// assert_eq!(decode_row(bad).unwrap_err(), RowError::BadQuery { id: 1 });
/// # Ok::<(), RowError>(())
/// ```
pub fn decode_row(row: RawRow) -> Result<(Request, SystemTime), RowError> {
    let id = row.id;
    let endpoint = Endpoint::from_name(&row.endpoint).ok_or(RowError::UnknownEndpoint { id })?;
    let path = endpoint_path(endpoint).ok_or(RowError::NotQueued {
        id,
        endpoint: endpoint.name(),
    })?;
    let expected = if endpoint == Endpoint::Evwidj {
        Method::Post
    } else {
        Method::Get
    };
    if Method::from_name(&row.method) != Some(expected) {
        return Err(RowError::WrongMethod {
            id,
            endpoint: endpoint.name(),
        });
    }
    if row.body.is_some() != (expected == Method::Post) {
        return Err(RowError::WrongBody {
            id,
            endpoint: endpoint.name(),
            expected: expected == Method::Post,
        });
    }
    let encoded = |b: u8| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b);
    if !row.query.bytes().all(encoded) {
        return Err(RowError::BadQuery { id });
    }
    let ms = u64::try_from(row.enqueued_ms).map_err(|_| RowError::BadTime { id })?;
    let enqueued_at = UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .ok_or(RowError::BadTime { id })?;
    let request = Request::from_parts(
        endpoint,
        expected,
        std::borrow::Cow::Borrowed(path),
        row.query,
        row.body,
    );
    Ok((request, enqueued_at))
}

/// A pending row read back from the spool.
pub(crate) struct SpooledRow {
    pub(crate) id: i64,
    pub(crate) request: Request,
    pub(crate) enqueued_at: SystemTime,
    pub(crate) tag: Option<Arc<Tag>>,
}

/// A page of pending rows read for replay.
pub(crate) struct Page {
    pub(crate) rows: Vec<SpooledRow>,
    /// The highest row id looked at (the next page starts after it).
    pub(crate) last: i64,
    /// No pending row is left in the range.
    pub(crate) exhausted: bool,
}

/// The pending rows left for replay when the spool was opened: ids in `(after, through]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backlog {
    /// How many.
    pub(crate) count: u64,
    /// The highest id among them (rows written later have higher ids: AUTOINCREMENT).
    pub(crate) through: i64,
}

const PAGE_SELECT: &str = "SELECT id, endpoint, method, query, body, enqueued_ms,
            tag_source, tag_position, tag_extra
     FROM gamooga_outbox
     WHERE dead_reason IS NULL AND id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3";

/// The tag columns of a select: the real ones from version 2, NULLs for a version 1 file.
fn tag_columns(version: i64) -> &'static str {
    if version >= 2 {
        "tag_source, tag_position, tag_extra"
    } else {
        "NULL, NULL, NULL"
    }
}

/// Reads tags, sharing one `Arc<str>` per source among the rows read together.
#[derive(Default)]
struct Tags {
    last: Option<Arc<str>>,
}

impl Tags {
    /// The tag in the three columns from `first` (source, position, extra), if any.
    fn read(&mut self, r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Option<Tag>> {
        let source = match r.get_ref(first)? {
            rusqlite::types::ValueRef::Text(text) => std::str::from_utf8(text)?,
            _ => return Ok(None),
        };
        let position: Option<i64> = r.get(first + 1)?;
        let extra: Option<i64> = r.get(first + 2)?;
        let source = match &self.last {
            Some(last) if &**last == source => last.clone(),
            _ => {
                let shared: Arc<str> = Arc::from(source);
                self.last = Some(shared.clone());
                shared
            }
        };
        let non_negative = |n: Option<i64>| n.map_or(0, |n| u64::try_from(n).unwrap_or(0));
        Ok(Some(
            Tag::new(source, non_negative(position)).with_extra(non_negative(extra)),
        ))
    }
}

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        endpoint: r.get(1)?,
        method: r.get(2)?,
        query: r.get(3)?,
        body: r.get(4)?,
        enqueued_ms: r.get(5)?,
    })
}

/// Reads the pending rows with ids in `(after, through]`, at most `limit`; marks the rows
/// that do not decode dead (`undecodable`) and logs them.
fn read_page(conn: &Connection, after: i64, through: i64, limit: usize) -> rusqlite::Result<Page> {
    let mut stmt = conn.prepare_cached(PAGE_SELECT)?;
    let mut tags = Tags::default();
    let raw = stmt
        .query_map(params![after, through, limit as i64], |r| {
            Ok((raw_row(r)?, tags.read(r, 6)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let exhausted = raw.len() < limit;
    let last = raw.last().map_or(through, |r| r.0.id);
    let mut rows = Vec::with_capacity(raw.len());
    for (row, tag) in raw {
        let id = row.id;
        match decode_row(row) {
            Ok((request, enqueued_at)) => rows.push(SpooledRow {
                id,
                request,
                enqueued_at,
                tag: tag.map(Arc::new),
            }),
            Err(e) => {
                tracing::error!(row = id, error = %e, "gamooga spool: a row cannot be replayed; it is marked dead (undecodable)");
                conn.prepare_cached(
                    "UPDATE gamooga_outbox SET dead_reason = ?2, last_error = ?3 WHERE id = ?1",
                )?
                .execute(params![id, UNDECODABLE, e.to_string()])?;
            }
        }
    }
    Ok(Page {
        rows,
        last,
        exhausted,
    })
}

// ---------------------------------------------------------------------------------------
// The writer thread.

/// An insert's outcome, told to the [`CommitSink`] once its batch committed (or rolled back).
pub(crate) struct Committed<'a> {
    /// The caller's token for the insert.
    pub(crate) token: u64,
    pub(crate) request: &'a Arc<Request>,
    pub(crate) enqueued_at: SystemTime,
    pub(crate) tag: Option<&'a Arc<Tag>>,
    /// The row id, or why the batch rolled back.
    pub(crate) row: Result<i64, &'a str>,
}

/// Where committed inserts go: the queue takes them in as soon as they are durable, on the
/// writer thread, before the inserting callers are answered (so an insert whose caller has
/// gone is still taken in).
pub(crate) trait CommitSink: Send + Sync {
    fn committed(&self, batch: &[Committed<'_>]);
}

/// Why an insert did not confirm.
#[derive(Debug)]
pub(crate) enum InsertError {
    /// The batch rolled back: the row is not in the file.
    Failed(String),
    /// The writer stopped before answering: the row may or may not be in the file.
    Unconfirmed(String),
}

enum Reply {
    Blocking(mpsc::SyncSender<Result<(), String>>),
    Async(tokio::sync::oneshot::Sender<Result<(), String>>),
}

impl Reply {
    fn send(self, result: Result<(), String>) {
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

struct Insert {
    token: u64,
    request: Arc<Request>,
    enqueued_at: SystemTime,
    tag: Option<Arc<Tag>>,
    reply: Reply,
}

/// A dead letter to record: on its row, or a new row for an event never written (a dropped
/// newest event).
pub(crate) struct DeadRow {
    pub(crate) row: Option<i64>,
    pub(crate) request: Arc<Request>,
    pub(crate) enqueued_at: SystemTime,
    /// The event's tag (stored with a new row; a row already written has its own).
    pub(crate) tag: Option<Arc<Tag>>,
    pub(crate) reason: DeadLetterReason,
    pub(crate) attempts: u32,
    pub(crate) error: Option<String>,
}

enum Command {
    Insert(Insert),
    Dead(DeadRow),
    /// Rows to delete are waiting in [`SpoolWriter::deletes`] (sent by the first delete after
    /// the writer took them, and when they reach [`DEFERRED_DELETES`]).
    Deletes,
    /// Advances a cursor without an event (a position handled with nothing to send).
    Mark(Tag),
    ReadPage {
        after: i64,
        through: i64,
        limit: usize,
        reply: tokio::sync::oneshot::Sender<Result<Page, String>>,
    },
    Sync(tokio::sync::oneshot::Sender<()>),
}

/// The queue's side of the spool: a writer thread owning one connection, applying commands
/// in batches (one transaction, one fsync, per batch).
pub(crate) struct SpoolWriter {
    tx: mpsc::Sender<Command>,
    /// Delivered rows to delete, handed to the writer without waking it for each (it takes
    /// them with the next command it receives).
    deletes: Arc<std::sync::Mutex<Vec<i64>>>,
    sink: Arc<OnceLock<Weak<dyn CommitSink>>>,
    pruned: Arc<AtomicU64>,
    /// The exclusive writer lock (`<path>-lock`), held until the queue shuts down or drops.
    lock: std::sync::Mutex<Option<std::fs::File>>,
}

/// What [`SpoolWriter::open`] found.
pub(crate) struct Opened {
    pub(crate) writer: SpoolWriter,
    /// The first page of pending rows (at most the limit asked for).
    pub(crate) first: Page,
    /// Every pending row when the spool was opened, the first page included.
    pub(crate) backlog: Backlog,
}

impl SpoolWriter {
    /// Opens the spool, reads the first `first_page` pending rows, prunes old dead letters,
    /// and starts the writer thread.
    ///
    /// One writer at a time: it holds an exclusive lock on `<path>-lock` until the queue shuts
    /// down or is dropped (the OS releases it if the process dies), because two queues on
    /// one spool would each replay, and deliver, every pending row.
    pub(crate) fn open(
        path: &Path,
        retention: DeadLetterRetention,
        first_page: usize,
    ) -> Result<Opened, Error> {
        let lock = lock_spool(path)?;
        let (conn, _) = connect(path, OpenMode::Create)?;
        let (count, through): (i64, i64) = conn
            .query_row(
                "SELECT count(*), coalesce(max(id), 0) FROM gamooga_outbox WHERE dead_reason IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| spool_error(path, e))?;
        let first = read_page(&conn, 0, through, first_page).map_err(|e| spool_error(path, e))?;
        let pruned = Arc::new(AtomicU64::new(0));
        prune(&conn, retention, &pruned);
        let (tx, rx) = mpsc::channel();
        let deletes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink: Arc<OnceLock<Weak<dyn CommitSink>>> = Arc::new(OnceLock::new());
        let thread = Writer {
            conn,
            rx,
            path: path.to_path_buf(),
            sink: sink.clone(),
            retention,
            pruned: pruned.clone(),
            dead_since_prune: false,
            last_prune: Instant::now(),
            sources: first
                .rows
                .iter()
                .filter_map(|r| Some((r.id, r.tag.as_ref()?.source_arc().clone())))
                .collect(),
            deletes: deletes.clone(),
            deferred: Vec::new(),
            deferred_since: Instant::now(),
        };
        std::thread::Builder::new()
            .name("gamooga-spool".into())
            .spawn(move || thread.run())
            .map_err(|e| io_error(path, format!("cannot start the writer thread ({e})")))?;
        Ok(Opened {
            writer: SpoolWriter {
                tx,
                deletes,
                sink,
                pruned,
                lock: std::sync::Mutex::new(Some(lock)),
            },
            first,
            backlog: Backlog {
                count: count.max(0) as u64,
                through,
            },
        })
    }

    /// Sets where committed inserts go (once, before the first insert).
    pub(crate) fn set_sink(&self, sink: Weak<dyn CommitSink>) {
        let _ = self.sink.set(sink);
    }

    /// Dead letters pruned so far.
    pub(crate) fn pruned(&self) -> u64 {
        self.pruned.load(Ordering::Relaxed)
    }

    /// Releases the writer lock, once the queue has stopped writing (end of shutdown), so
    /// another queue may open the spool.
    pub(crate) fn release_lock(&self) {
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn send(&self, command: Command) {
        if self.tx.send(command).is_err() {
            tracing::error!("gamooga spool: the writer thread is gone");
        }
    }

    /// Writes a pending row and blocks until it is committed and handed to the sink.
    pub(crate) fn insert_blocking(
        &self,
        token: u64,
        request: Arc<Request>,
        enqueued_at: SystemTime,
        tag: Option<Arc<Tag>>,
    ) -> Result<(), InsertError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Command::Insert(Insert {
            token,
            request,
            enqueued_at,
            tag,
            reply: Reply::Blocking(tx),
        }));
        match rx.recv() {
            Ok(result) => result.map_err(InsertError::Failed),
            Err(_) => Err(InsertError::Unconfirmed(
                "the spool writer thread stopped before confirming".into(),
            )),
        }
    }

    /// Writes a pending row: the command is sent now; the future resolves once it is
    /// committed and handed to the sink (dropping it changes nothing about the write).
    pub(crate) fn insert(
        &self,
        token: u64,
        request: Arc<Request>,
        enqueued_at: SystemTime,
        tag: Option<Arc<Tag>>,
    ) -> impl std::future::Future<Output = Result<(), InsertError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Insert(Insert {
            token,
            request,
            enqueued_at,
            tag,
            reply: Reply::Async(tx),
        }));
        async move {
            match rx.await {
                Ok(result) => result.map_err(InsertError::Failed),
                Err(_) => Err(InsertError::Unconfirmed(
                    "the spool writer thread stopped before confirming".into(),
                )),
            }
        }
    }

    /// Removes a delivered row.
    pub(crate) fn delete(&self, id: i64) {
        let waiting = {
            let mut deletes = self.deletes.lock().unwrap_or_else(|e| e.into_inner());
            deletes.push(id);
            deletes.len()
        };
        // The writer hears of the first (to start the clock of [`DELETE_DELAY`]) and of a
        // full list; the others it takes with whatever command comes next.
        if waiting == 1 || waiting == DEFERRED_DELETES {
            self.send(Command::Deletes);
        }
    }

    /// Records a dead letter.
    pub(crate) fn dead(&self, dead: DeadRow) {
        self.send(Command::Dead(dead));
    }

    /// Advances `tag`'s cursor to its position (if greater) with no event, in order with
    /// the inserts sent before it.
    pub(crate) fn mark(&self, tag: Tag) {
        self.send(Command::Mark(tag));
    }

    /// Reads the next page of pending rows with ids in `(after, through]`.
    pub(crate) fn read_page(
        &self,
        after: i64,
        through: i64,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<Page, String>> + Send + 'static {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::ReadPage {
            after,
            through,
            limit,
            reply,
        });
        async move {
            rx.await
                .unwrap_or_else(|_| Err("the spool writer thread stopped".into()))
        }
    }

    /// Resolves once every command sent so far is committed (and dead letters pruned).
    pub(crate) async fn sync(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Sync(tx));
        let _ = rx.await;
    }
}

/// Deletes the dead letters past the retention bounds, counting them in `pruned`.
fn prune(conn: &Connection, retention: DeadLetterRetention, pruned: &AtomicU64) {
    let mut removed = 0usize;
    let mut run = || -> rusqlite::Result<()> {
        if let Some(age) = retention.max_age {
            let now = millis(SystemTime::now());
            let oldest = now.saturating_sub(age.as_millis().min(i64::MAX as u128) as i64);
            removed += conn
                .prepare_cached(
                    "DELETE FROM gamooga_outbox WHERE dead_reason IS NOT NULL AND enqueued_ms < ?1",
                )?
                .execute([oldest])?;
        }
        if let Some(max) = retention.max_count {
            removed += conn
                .prepare_cached(
                    "DELETE FROM gamooga_outbox WHERE dead_reason IS NOT NULL AND id <= (
                         SELECT id FROM gamooga_outbox WHERE dead_reason IS NOT NULL
                         ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                )?
                .execute([max.min(i64::MAX as u64) as i64])?;
        }
        Ok(())
    };
    match run() {
        Ok(()) if removed > 0 => {
            pruned.fetch_add(removed as u64, Ordering::Relaxed);
            tracing::debug!(removed, "gamooga spool: old dead letters pruned");
        }
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "gamooga spool: pruning dead letters failed"),
    }
}

struct Writer {
    conn: Connection,
    rx: mpsc::Receiver<Command>,
    path: PathBuf,
    sink: Arc<OnceLock<Weak<dyn CommitSink>>>,
    retention: DeadLetterRetention,
    pruned: Arc<AtomicU64>,
    dead_since_prune: bool,
    last_prune: Instant,
    /// The tag source of each tagged pending row this writer wrote or read for replay (the
    /// rows the queue may deliver), so a delete counts its source's deliveries without
    /// reading the row back. At most the rows the queue holds.
    sources: HashMap<i64, Arc<str>>,
    /// Delivered rows to delete, waiting for the next transaction (at most
    /// [`DEFERRED_DELETES`], for at most [`DELETE_DELAY`] from `deferred_since`): a delete
    /// need not be durable at once (a row delivered and not deleted is sent again after a
    /// crash, as documented), so it does not pay a commit and an fsync of its own.
    deferred: Vec<i64>,
    deferred_since: Instant,
    /// Where [`SpoolWriter::delete`] leaves the rows to delete.
    deletes: Arc<std::sync::Mutex<Vec<i64>>>,
}

/// What a command produced inside the transaction.
enum Applied {
    Nothing,
    Row(i64),
    Page(Page),
}

impl Writer {
    /// Takes what is waiting (up to [`BATCH`] commands), applies it in one transaction,
    /// commits, tells the sink about the inserts, then answers. Deletes alone commit nothing:
    /// they wait for the next command that does, for [`DEFERRED_DELETES`] of them, for
    /// [`DELETE_DELAY`], or for the end of the channel.
    fn run(mut self) {
        loop {
            let first = if self.deferred.is_empty() {
                match self.rx.recv() {
                    Ok(command) => Some(command),
                    Err(_) => break,
                }
            } else {
                let left = DELETE_DELAY.saturating_sub(self.deferred_since.elapsed());
                match self.rx.recv_timeout(left) {
                    Ok(command) => Some(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut batch = Vec::new();
            let mut next = first;
            while let Some(command) = next {
                if !matches!(command, Command::Deletes) {
                    batch.push(command);
                }
                if batch.len() >= BATCH {
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            // After the commands: every delete made before one of them was sent is here.
            self.take_deletes();
            let deletes_due = self.deferred.len() >= DEFERRED_DELETES
                || (!self.deferred.is_empty() && self.deferred_since.elapsed() >= DELETE_DELAY);
            if !batch.is_empty() || deletes_due {
                self.apply_batch(batch);
            }
        }
        // The queue is gone: what is held back is committed before the thread ends.
        self.take_deletes();
        if !self.deferred.is_empty() {
            self.apply_batch(Vec::new());
        }
    }

    /// Moves the rows [`SpoolWriter::delete`] left into `deferred`.
    fn take_deletes(&mut self) {
        let mut deletes = self.deletes.lock().unwrap_or_else(|e| e.into_inner());
        if !deletes.is_empty() && self.deferred.is_empty() {
            self.deferred_since = Instant::now();
        }
        self.deferred.append(&mut deletes);
    }

    fn apply_batch(&mut self, batch: Vec<Command>) {
        // All or nothing: the first failed statement ends the batch and the transaction
        // rolls back, so no insert is durable while its caller is told it failed.
        let sources = &mut self.sources;
        let mut deletes = std::mem::take(&mut self.deferred);
        let committed = (|| -> rusqlite::Result<Vec<Applied>> {
            let tx = self.conn.transaction()?;
            let mut cursors = CursorBatch::default();
            // The deletes first: they are of rows committed earlier, and a page read for
            // replay in this batch then does not hand out a row already delivered.
            delete_rows(&tx, &mut deletes, &mut cursors, sources)?;
            let mut insert = tx.prepare_cached(INSERT_PENDING)?;
            let applied = batch
                .iter()
                .map(|c| apply(&tx, &mut insert, c, &mut cursors))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(insert);
            // The cursors move in the transaction of the rows that move them.
            cursors.write(&tx)?;
            tx.commit()?;
            // Only what committed is known (a rolled-back row id may be written again).
            for id in cursors.forget.drain(..) {
                sources.remove(&id);
            }
            sources.extend(cursors.learn.drain(..));
            Ok(applied)
        })();
        let failure = match &committed {
            Ok(_) => None,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "gamooga spool: batch rolled back");
                if !deletes.is_empty() {
                    tracing::error!(
                        rows = deletes.len(),
                        "gamooga spool: deleting delivered rows failed (they are sent again by the next queue on this file)"
                    );
                }
                Some(format!("the spool write was rolled back: {e}"))
            }
        };
        let mut applied = committed.unwrap_or_default().into_iter();
        let mut results: Vec<Result<Applied, &str>> = Vec::with_capacity(batch.len());
        for _ in &batch {
            results.push(match &failure {
                None => Ok(applied.next().unwrap_or(Applied::Nothing)),
                Some(message) => Err(message.as_str()),
            });
        }
        // The sink first: a committed event is the queue's before anyone hears of it.
        let inserts: Vec<Committed<'_>> = batch
            .iter()
            .zip(&results)
            .filter_map(|(command, result)| match command {
                Command::Insert(i) => Some(Committed {
                    token: i.token,
                    request: &i.request,
                    enqueued_at: i.enqueued_at,
                    tag: i.tag.as_ref(),
                    row: match result {
                        Ok(Applied::Row(id)) => Ok(*id),
                        Ok(_) => Err("the insert returned no row id"),
                        Err(message) => Err(message),
                    },
                }),
                _ => None,
            })
            .collect();
        if !inserts.is_empty() {
            if let Some(sink) = self.sink.get().and_then(Weak::upgrade) {
                sink.committed(&inserts);
            }
        }
        drop(inserts);
        let results: Vec<Result<Applied, String>> = results
            .into_iter()
            .map(|r| r.map_err(str::to_owned))
            .collect();
        let mut synced = Vec::new();
        for (command, result) in batch.into_iter().zip(results) {
            match command {
                Command::Insert(i) => i.reply.send(result.map(drop)),
                Command::ReadPage { reply, .. } => {
                    let _ = reply.send(match result {
                        Ok(Applied::Page(page)) => Ok(page),
                        Ok(_) => Err("the read returned no page".into()),
                        Err(e) => Err(e),
                    });
                }
                Command::Sync(tx) => synced.push(tx),
                Command::Dead(_) => {
                    self.dead_since_prune = true;
                    if let Err(e) = result {
                        tracing::error!(error = %e, "gamooga spool: recording a dead letter failed");
                    }
                }
                // Taken by `run`, never in a batch.
                Command::Deletes => {}
                Command::Mark(_) => {
                    if let Err(e) = result {
                        tracing::error!(error = %e, "gamooga spool: advancing a cursor failed");
                    }
                }
            }
        }
        if self.dead_since_prune && (!synced.is_empty() || self.last_prune.elapsed() >= PRUNE_EVERY)
        {
            prune(&self.conn, self.retention, &self.pruned);
            self.dead_since_prune = false;
            self.last_prune = Instant::now();
        }
        for tx in synced {
            let _ = tx.send(());
        }
    }
}

/// What one batch does to the cursors, written once at its end (one statement per source,
/// not per row).
#[derive(Default)]
struct CursorBatch {
    /// Per source: the greatest tag written or marked, and how many events and marks.
    moved: HashMap<Arc<str>, Moved>,
    /// Per source: tagged rows deleted after delivery.
    delivered: HashMap<Arc<str>, u64>,
    /// Tagged pending rows written or read (for [`Writer::sources`], once committed).
    learn: Vec<(i64, Arc<str>)>,
    /// Rows deleted or dead-lettered (out of [`Writer::sources`], once committed).
    forget: Vec<i64>,
}

struct Moved {
    position: u64,
    extra: u64,
    accepted: u64,
    marked: u64,
}

impl CursorBatch {
    fn advance(&mut self, tag: &Tag, accepted: u64, marked: u64) {
        let moved = self.moved.entry(tag.source_arc().clone()).or_insert(Moved {
            position: tag.position(),
            extra: tag.extra(),
            accepted: 0,
            marked: 0,
        });
        if tag.position() > moved.position {
            moved.position = tag.position();
            moved.extra = tag.extra();
        }
        moved.accepted += accepted;
        moved.marked += marked;
    }

    fn write(&self, conn: &Connection) -> rusqlite::Result<()> {
        if self.moved.is_empty() && self.delivered.is_empty() {
            return Ok(());
        }
        let now = millis(SystemTime::now());
        // On conflict, the right-hand sides read the row as it was (SQLite's UPDATE).
        let mut upsert = conn.prepare_cached(
            "INSERT INTO gamooga_cursor (source, position, extra, accepted, marked, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (source) DO UPDATE SET
                 extra = CASE WHEN excluded.position > position THEN excluded.extra ELSE extra END,
                 position = max(position, excluded.position),
                 accepted = accepted + excluded.accepted,
                 marked = marked + excluded.marked,
                 updated_ms = excluded.updated_ms",
        )?;
        for (source, m) in &self.moved {
            upsert.execute(params![
                &**source,
                sql_position(m.position),
                sql_position(m.extra),
                sql_position(m.accepted),
                sql_position(m.marked),
                now
            ])?;
        }
        let mut delivered = conn.prepare_cached(
            "UPDATE gamooga_cursor SET delivered = delivered + ?2 WHERE source = ?1",
        )?;
        for (source, n) in &self.delivered {
            delivered.execute(params![&**source, sql_position(*n)])?;
        }
        Ok(())
    }
}

/// A pending row: `attempts`, `dead_reason` and `last_error` keep their defaults (0, NULL,
/// NULL), so they are not bound for every row.
const INSERT_PENDING: &str = "INSERT INTO gamooga_outbox
    (endpoint, method, path, query, body, enqueued_ms, tag_source, tag_position, tag_extra)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Deletes delivered rows (`ids`, in any order): one statement per range of consecutive
/// ids, which is what deliveries in order leave. Counts the deliveries of each tag source
/// among the rows that were there.
fn delete_rows(
    conn: &Connection,
    ids: &mut [i64],
    cursors: &mut CursorBatch,
    sources: &HashMap<i64, Arc<str>>,
) -> rusqlite::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    let mut range =
        conn.prepare_cached("DELETE FROM gamooga_outbox WHERE id BETWEEN ?1 AND ?2 RETURNING id")?;
    let mut rest = &ids[..];
    while let Some(&low) = rest.first() {
        // Every id in `low..=high` is in `ids`: the range deletes only rows asked for.
        let len = rest
            .windows(2)
            .position(|w| w[1] > w[0] + 1)
            .map_or(rest.len(), |i| i + 1);
        let high = rest[len - 1];
        let mut deleted = range.query([low, high])?;
        while let Some(row) = deleted.next()? {
            let id: i64 = row.get(0)?;
            if let Some(source) = sources.get(&id) {
                *cursors.delivered.entry(source.clone()).or_default() += 1;
            }
        }
        rest = &rest[len..];
    }
    cursors.forget.extend_from_slice(ids);
    Ok(())
}

fn apply(
    conn: &Connection,
    insert: &mut rusqlite::Statement<'_>,
    command: &Command,
    cursors: &mut CursorBatch,
) -> rusqlite::Result<Applied> {
    const INSERT: &str = "INSERT INTO gamooga_outbox
        (endpoint, method, path, query, body, enqueued_ms, attempts, dead_reason, last_error,
         tag_source, tag_position, tag_extra)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    fn tag_params(tag: Option<&Arc<Tag>>) -> (Option<&str>, Option<i64>, Option<i64>) {
        (
            tag.map(|t| t.source()),
            tag.map(|t| sql_position(t.position())),
            tag.map(|t| sql_position(t.extra())),
        )
    }
    match command {
        Command::Insert(i) => {
            let r = &i.request;
            let (source, position, extra) = tag_params(i.tag.as_ref());
            let id = insert.insert(params![
                r.endpoint().name(),
                r.method().as_str(),
                r.path(),
                r.query(),
                r.body(),
                millis(i.enqueued_at),
                source,
                position,
                extra
            ])?;
            if let Some(tag) = &i.tag {
                cursors.advance(tag, 1, 0);
                cursors.learn.push((id, tag.source_arc().clone()));
            }
            Ok(Applied::Row(id))
        }
        Command::Dead(d) => {
            if let Some(id) = d.row {
                cursors.forget.push(id);
            }
            match d.row {
                Some(id) => conn
                    .prepare_cached(
                        "UPDATE gamooga_outbox SET dead_reason = ?2, attempts = ?3, last_error = ?4 WHERE id = ?1",
                    )?
                    .execute(params![id, d.reason.as_str(), d.attempts, d.error])?,
                None => {
                    // Never accepted (a dropped new event): stored, but no cursor moves.
                    let r = &d.request;
                    let (source, position, extra) = tag_params(d.tag.as_ref());
                    conn.prepare_cached(INSERT)?.execute(params![
                        r.endpoint().name(),
                        r.method().as_str(),
                        r.path(),
                        r.query(),
                        r.body(),
                        millis(d.enqueued_at),
                        d.attempts,
                        d.reason.as_str(),
                        d.error,
                        source,
                        position,
                        extra
                    ])?
                }
            };
            Ok(Applied::Nothing)
        }
        Command::Deletes => Ok(Applied::Nothing),
        Command::Mark(tag) => {
            cursors.advance(tag, 0, 1);
            Ok(Applied::Nothing)
        }
        Command::ReadPage {
            after,
            through,
            limit,
            ..
        } => {
            let page = read_page(conn, *after, *through, *limit)?;
            cursors.learn.extend(
                page.rows
                    .iter()
                    .filter_map(|r| Some((r.id, r.tag.as_ref()?.source_arc().clone()))),
            );
            Ok(Applied::Page(page))
        }
        Command::Sync(_) => Ok(Applied::Nothing),
    }
}

// ---------------------------------------------------------------------------------------
// Inspection.

/// A dead letter kept in the spool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpooledDeadLetter {
    /// The row id.
    pub id: i64,
    /// The request as enqueued (`tm` included).
    pub request: Request,
    /// Why the queue gave up (`None` if the file names a reason this SDK does not know).
    pub reason: Option<DeadLetterReason>,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last error, as text.
    pub last_error: Option<String>,
    /// When the event was accepted.
    pub enqueued_at: SystemTime,
    /// The event's tag, if it was enqueued with one.
    pub tag: Option<Tag>,
}

/// A pending event kept in the spool ([`Spool::pending_page`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpooledEvent {
    /// The row id.
    pub id: i64,
    /// The request as enqueued (`tm` included).
    pub request: Request,
    /// When the event was accepted.
    pub enqueued_at: SystemTime,
    /// The event's tag, if it was enqueued with one.
    pub tag: Option<Tag>,
}

/// Where a tag source stands in a spool ([`Spool::cursor`]): the greatest position written,
/// committed in the same transaction as the rows (or marks) that moved it, and counts of the
/// tagged events of the source. The counts cover the file's life (since the cursor was
/// created or last [reset](Spool::reset_cursor)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cursor {
    /// The tag source.
    pub source: String,
    /// The greatest position written (an event or a mark).
    pub position: u64,
    /// The extra number of the tag at that position.
    pub extra: u64,
    /// Tagged events accepted (written pending).
    pub accepted: u64,
    /// Tagged events delivered (their rows deleted after Gamooga's 200).
    pub delivered: u64,
    /// Positions marked with no event ([`Queue::mark_position`](crate::queue::Queue::mark_position)).
    pub marked: u64,
    /// When it last moved.
    pub updated_at: SystemTime,
}

/// What a spool holds ([`Spool::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolStats {
    /// The file's format version (1 or 2).
    pub version: u32,
    /// Events waiting for delivery.
    pub pending: u64,
    /// When the oldest pending event was accepted.
    pub oldest_pending: Option<SystemTime>,
    /// Dead letters kept.
    pub dead_letters: u64,
    /// Dead letters by reason: the [`DeadLetterReason`] names, and `undecodable` for rows
    /// replay could not read.
    pub dead_by_reason: BTreeMap<String, u64>,
    /// When the oldest dead letter was accepted.
    pub oldest_dead_letter: Option<SystemTime>,
    /// Every tag source's cursor.
    pub cursors: Vec<Cursor>,
    /// Bytes on disk: the file and its write-ahead log.
    pub bytes: u64,
}

/// A spool file opened for inspection and maintenance (it may be in use by a running queue:
/// SQLite's WAL mode lets both work).
///
/// ```
/// # fn main() -> Result<(), gamooga::Error> {
/// use gamooga::spool::Spool;
/// let dir = std::env::temp_dir().join(format!("gamooga-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let spool = Spool::open(dir.join("outbox.db"))?;
/// assert_eq!(spool.pending()?, 0);
/// for dl in spool.dead_letters()? {
///     println!("{} gave up: {:?}", dl.request.endpoint().name(), dl.reason);
/// }
/// // Without creating anything: a path with no file is an error of kind NotFound.
/// let missing = Spool::open_existing(dir.join("nowhere.db")).unwrap_err();
/// assert!(matches!(
///     missing,
///     gamooga::Error::Spool { kind: gamooga::error::SpoolErrorKind::NotFound, .. }
/// ));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(()) }
/// ```
pub struct Spool {
    conn: Connection,
    path: PathBuf,
    version: i64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("path", &self.path)
            .field("version", &self.version)
            .finish()
    }
}

fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Spool {
    /// Opens (creating if needed, and migrating a version 1 file) the spool at `path`; the
    /// same checks as a queue's start.
    pub fn open(path: impl AsRef<Path>) -> Result<Spool, Error> {
        let path = path.as_ref();
        let (conn, version) = connect(path, OpenMode::Create)?;
        Ok(Spool {
            conn,
            path: path.to_path_buf(),
            version,
        })
    }

    /// Opens the spool at `path` only if it is there, as it is: nothing is created or
    /// migrated (a version 1 file is read as version 1: no tags, no cursors). The errors
    /// say what is wrong ([`SpoolErrorKind`]): `NotFound`, `NotASpool`, `Corrupt`,
    /// `UnknownVersion`, `Io`.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Spool, Error> {
        let path = path.as_ref();
        let (conn, version) = connect(path, OpenMode::Existing)?;
        Ok(Spool {
            conn,
            path: path.to_path_buf(),
            version,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a queue (in this or another process) holds the spool's writer lock now. The
    /// answer can change right after; a queue opened on the file is the sure test.
    pub fn in_use(&self) -> Result<bool, Error> {
        let lock_path = companion(&self.path, "-lock");
        let file = match std::fs::OpenOptions::new().write(true).open(&lock_path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(io_error(
                    &self.path,
                    format!("cannot open its lock file ({e})"),
                ))
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(false), // released when `file` drops
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(io_error(&self.path, format!("cannot lock it ({e})")))
            }
        }
    }

    /// The file's format version (1 or 2).
    pub fn version(&self) -> u32 {
        self.version as u32
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        spool_error(&self.path, e)
    }

    /// How many events wait for delivery.
    pub fn pending(&self) -> Result<u64, Error> {
        self.count("dead_reason IS NULL")
    }

    fn count(&self, filter: &str) -> Result<u64, Error> {
        self.conn
            .query_row(
                &format!("SELECT count(*) FROM gamooga_outbox WHERE {filter}"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// The pending requests, oldest first, all at once (see [`pending_page`](Self::pending_page)
    /// for a bounded read). A row that does not decode is an error naming it.
    pub fn pending_requests(&self) -> Result<Vec<Request>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, endpoint, method, query, body, enqueued_ms FROM gamooga_outbox
                 WHERE dead_reason IS NULL ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], raw_row).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.err(e))?;
            let id = row.id;
            out.push(
                decode_row(row)
                    .map_err(|e| {
                        spool_error_kind(
                            &self.path,
                            SpoolErrorKind::Corrupt,
                            format!("{e} (row {id})"),
                        )
                    })?
                    .0,
            );
        }
        Ok(out)
    }

    /// At most `limit` pending events with row ids above `after`, oldest first: pass the
    /// last one's `id` to read the next page. Rows that do not decode are left out, with a
    /// warning naming them (replay marks them dead as `undecodable`).
    pub fn pending_page(&self, after: i64, limit: usize) -> Result<Vec<SpooledEvent>, Error> {
        let sql = format!(
            "SELECT id, endpoint, method, query, body, enqueued_ms, {}
             FROM gamooga_outbox WHERE dead_reason IS NULL AND id > ?1 ORDER BY id LIMIT ?2",
            tag_columns(self.version)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut tags = Tags::default();
        let rows = stmt
            .query_map(params![after, limit.min(i64::MAX as usize) as i64], |r| {
                Ok((raw_row(r)?, tags.read(r, 6)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (raw, tag) = row.map_err(|e| self.err(e))?;
            let id = raw.id;
            match decode_row(raw) {
                Ok((request, enqueued_at)) => out.push(SpooledEvent {
                    id,
                    request,
                    enqueued_at,
                    tag,
                }),
                Err(e) => {
                    tracing::warn!(row = id, error = %e, "gamooga spool: a pending row cannot be decoded; left out");
                }
            }
        }
        Ok(out)
    }

    /// The dead letters, oldest first, all at once (bounded by the spool's
    /// [`DeadLetterRetention`]; see [`dead_letters_page`](Self::dead_letters_page) for a
    /// bounded read). Rows that cannot be decoded (marked `undecodable`) are left out, with a
    /// warning naming them.
    pub fn dead_letters(&self) -> Result<Vec<SpooledDeadLetter>, Error> {
        self.dead_letters_page(0, usize::MAX)
    }

    /// At most `limit` dead letters with row ids above `after`, oldest first: pass the last
    /// one's `id` to read the next page. Undecodable rows are left out, as in
    /// [`dead_letters`](Self::dead_letters).
    pub fn dead_letters_page(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<SpooledDeadLetter>, Error> {
        let sql = format!(
            "SELECT id, endpoint, method, query, body, enqueued_ms, {}, dead_reason, attempts,
                    last_error
             FROM gamooga_outbox WHERE dead_reason IS NOT NULL AND id > ?1 ORDER BY id LIMIT ?2",
            tag_columns(self.version)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut tags = Tags::default();
        let rows = stmt
            .query_map(params![after, limit.min(i64::MAX as usize) as i64], |r| {
                Ok((
                    raw_row(r)?,
                    tags.read(r, 6)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, i64>(10)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (raw, tag, reason, attempts, last_error) = row.map_err(|e| self.err(e))?;
            let id = raw.id;
            match decode_row(raw) {
                Ok((request, enqueued_at)) => out.push(SpooledDeadLetter {
                    id,
                    request,
                    reason: DeadLetterReason::from_name(&reason),
                    attempts: attempts.clamp(0, u32::MAX as i64) as u32,
                    last_error,
                    enqueued_at,
                    tag,
                }),
                Err(e) => {
                    tracing::warn!(row = id, error = %e, "gamooga spool: a dead letter cannot be decoded; left out");
                }
            }
        }
        Ok(out)
    }

    /// Marks every dead letter pending again (but the undecodable ones); the next queue
    /// started on this file delivers them. Returns how many.
    pub fn replay_dead_letters(&self) -> Result<u64, Error> {
        self.conn
            .execute(
                "UPDATE gamooga_outbox SET dead_reason = NULL, attempts = 0
                 WHERE dead_reason IS NOT NULL AND dead_reason <> ?1",
                [UNDECODABLE],
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Deletes every dead letter. Returns how many.
    pub fn remove_dead_letters(&self) -> Result<u64, Error> {
        self.conn
            .execute(
                "DELETE FROM gamooga_outbox WHERE dead_reason IS NOT NULL",
                [],
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The cursor of a tag source, if events (or marks) of it were written. `None` for a
    /// version 1 file.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// use gamooga::queue::{QueueConfig, Tag};
    /// use gamooga::spool::Spool;
    /// use gamooga::{transport::DryRunTransport, Client, CustomEvent, Properties};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("gamooga-doc-cursor-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("import.spool");
    /// # let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let queue = client.queue(QueueConfig::default().spool(&path))?;
    /// // Rows of a file, in order: two events, and a row with nothing to send.
    /// for (offset, user) in [(0, "u1"), (10, "u2")] {
    ///     let request = queue.calls().track(user, &CustomEvent::new("login", Properties::new()))?;
    ///     queue.try_enqueue_tagged(request, Tag::new("logins.csv", offset))?;
    /// }
    /// queue.mark_position(Tag::new("logins.csv", 20));
    /// queue.shutdown(Duration::from_secs(5)).await;
    ///
    /// let spool = Spool::open_existing(&path)?;
    /// let cursor = spool.cursor("logins.csv")?.expect("rows were written");
    /// assert_eq!((cursor.position, cursor.accepted, cursor.delivered, cursor.marked), (20, 2, 2, 1));
    /// assert_eq!(spool.stats()?.pending, 0);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn cursor(&self, source: &str) -> Result<Option<Cursor>, Error> {
        Ok(self
            .cursors_where("WHERE source = ?1", &[&source])?
            .into_iter()
            .next())
    }

    /// Every tag source's cursor, by source.
    pub fn cursors(&self) -> Result<Vec<Cursor>, Error> {
        self.cursors_where("", &[])
    }

    fn cursors_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Cursor>, Error> {
        if self.version < 2 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT source, position, extra, accepted, delivered, marked, updated_ms
             FROM gamooga_cursor {filter} ORDER BY source"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let rows = stmt
            .query_map(args, |r| {
                Ok(Cursor {
                    source: r.get(0)?,
                    position: count(r.get(1)?),
                    extra: count(r.get(2)?),
                    accepted: count(r.get(3)?),
                    delivered: count(r.get(4)?),
                    marked: count(r.get(5)?),
                    updated_at: time_of(r.get(6)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Forgets a source's cursor (to read its input again from the start). Rows already
    /// written keep their tags. True when there was one.
    pub fn reset_cursor(&self, source: &str) -> Result<bool, Error> {
        if self.version < 2 {
            return Ok(false);
        }
        self.conn
            .execute("DELETE FROM gamooga_cursor WHERE source = ?1", [source])
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Counts of what the spool holds, its cursors and its size, in one read transaction.
    pub fn stats(&self) -> Result<SpoolStats, Error> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let (pending, oldest_pending): (i64, Option<i64>) = tx
            .query_row(
                "SELECT count(*), min(enqueued_ms) FROM gamooga_outbox WHERE dead_reason IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        let mut dead_by_reason = BTreeMap::new();
        let mut oldest_dead: Option<i64> = None;
        {
            let mut stmt = tx
                .prepare(
                    "SELECT dead_reason, count(*), min(enqueued_ms) FROM gamooga_outbox
                     WHERE dead_reason IS NOT NULL GROUP BY dead_reason",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                let (reason, n, oldest) = row.map_err(|e| self.err(e))?;
                dead_by_reason.insert(reason, n.max(0) as u64);
                oldest_dead = match (oldest_dead, oldest) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let cursors = self.cursors()?;
        drop(tx);
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        Ok(SpoolStats {
            version: self.version as u32,
            pending: pending.max(0) as u64,
            oldest_pending: oldest_pending.map(time_of),
            dead_letters: dead_by_reason.values().sum(),
            dead_by_reason,
            oldest_dead_letter: oldest_dead.map(time_of),
            cursors,
            bytes: size(&self.path) + size(&companion(&self.path, "-wal")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::sync::Mutex;

    fn request(n: u32) -> Request {
        Request::from_parts(
            Endpoint::Evwid,
            Method::Get,
            Cow::Borrowed("/evwid/"),
            format!("c=acme&u=u{n}&e=seq&tm=1764150000000"),
            None,
        )
    }

    /// Records what was committed: (token, row or error).
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(u64, Result<i64, String>)>>);
    impl Recorder {
        /// The row id of each token committed (all must have succeeded).
        fn rows(&self) -> HashMap<u64, i64> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .map(|(t, r)| (*t, *r.as_ref().unwrap()))
                .collect()
        }
    }
    impl CommitSink for Recorder {
        fn committed(&self, batch: &[Committed<'_>]) {
            let mut seen = self.0.lock().unwrap();
            for c in batch {
                seen.push((c.token, c.row.map_err(str::to_owned)));
            }
        }
    }

    fn open(path: &Path, first_page: usize) -> (Opened, Arc<Recorder>) {
        let opened = SpoolWriter::open(path, DeadLetterRetention::default(), first_page).unwrap();
        let recorder = Arc::new(Recorder::default());
        let weak: Weak<dyn CommitSink> = Arc::downgrade(&recorder) as Weak<dyn CommitSink>;
        opened.writer.set_sink(weak);
        (opened, recorder)
    }

    fn dead(row: i64, reason: DeadLetterReason) -> DeadRow {
        DeadRow {
            row: Some(row),
            request: Arc::new(request(0)),
            enqueued_at: SystemTime::now(),
            tag: None,
            reason,
            attempts: 1,
            error: Some("HTTP 400".into()),
        }
    }

    /// A sink that panics when told about a commit: the writer thread dies after the commit
    /// and before it answers, the one way an insert is durable but unconfirmed.
    struct PanickingSink;
    impl CommitSink for PanickingSink {
        fn committed(&self, _: &[Committed<'_>]) {
            panic!("the sink panics after the commit (test)");
        }
    }

    #[tokio::test]
    async fn an_insert_committed_but_never_answered_is_unconfirmed_and_stays_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let opened = SpoolWriter::open(&path, DeadLetterRetention::default(), 10).unwrap();
        let sink = Arc::new(PanickingSink);
        opened
            .writer
            .set_sink(Arc::downgrade(&sink) as Weak<dyn CommitSink>);
        let w = opened.writer;
        let now = SystemTime::now();
        // Committed, then the writer died before answering: the caller is told the event may
        // be stored, not that it failed (which would invite a second send).
        let first = w.insert_blocking(1, Arc::new(request(1)), now, None);
        assert!(
            matches!(first, Err(InsertError::Unconfirmed(_))),
            "{first:?}"
        );
        // With the writer gone, an insert is unconfirmed too (never written, but the caller
        // cannot know), blocking or not.
        let second = w.insert(2, Arc::new(request(2)), now, None).await;
        assert!(
            matches!(second, Err(InsertError::Unconfirmed(_))),
            "{second:?}"
        );
        drop(w);
        // The unconfirmed first event is in the spool: the next queue delivers it.
        let spool = Spool::open(&path).unwrap();
        assert_eq!(spool.pending().unwrap(), 1);
        let (reopened, _) = open(&path, 10);
        assert_eq!(reopened.first.rows.len(), 1);
        assert_eq!(reopened.first.rows[0].request, request(1));
    }

    #[tokio::test]
    async fn rows_survive_reopen_until_deleted_and_dead_letters_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (opened, recorder) = open(&path, 100);
        assert!(opened.first.rows.is_empty());
        let w = opened.writer;
        let now = SystemTime::now();
        assert!(w.insert(1, Arc::new(request(1)), now, None).await.is_ok());
        assert!(w
            .insert_blocking(2, Arc::new(request(2)), now, None)
            .is_ok());
        assert!(w.insert(3, Arc::new(request(3)), now, None).await.is_ok());
        let rows: Vec<(u64, i64)> = recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(t, r)| (*t, *r.as_ref().unwrap()))
            .collect();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
        let row = |token: u64| rows.iter().find(|r| r.0 == token).unwrap().1;
        w.delete(row(1));
        w.dead(dead(row(2), DeadLetterReason::Rejected));
        w.sync().await;
        drop(w);

        let (opened, _) = open(&path, 100);
        assert_eq!(opened.backlog.count, 1);
        assert_eq!(opened.first.rows.len(), 1);
        assert_eq!(opened.first.rows[0].id, row(3));
        assert_eq!(opened.first.rows[0].request, request(3));

        let spool = Spool::open(&path).unwrap();
        assert_eq!(spool.pending().unwrap(), 1);
        let dead = spool.dead_letters().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].request, request(2));
        assert_eq!(dead[0].reason, Some(DeadLetterReason::Rejected));
        assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
        assert_eq!(spool.replay_dead_letters().unwrap(), 1);
        assert_eq!(spool.pending().unwrap(), 2);
        assert!(spool.dead_letters().unwrap().is_empty());
    }

    #[tokio::test]
    async fn replay_reads_pages_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        {
            let (opened, _) = open(&path, 10);
            for n in 0..25 {
                assert!(opened
                    .writer
                    .insert_blocking(n, Arc::new(request(n as u32)), SystemTime::now(), None)
                    .is_ok());
            }
            opened.writer.sync().await;
        }
        let (opened, _) = open(&path, 10);
        assert_eq!(opened.backlog.count, 25);
        assert_eq!(opened.first.rows.len(), 10, "the first page holds 10 rows");
        assert!(!opened.first.exhausted);
        // A row written now is past the backlog: replay never reads it again.
        assert!(opened
            .writer
            .insert(99, Arc::new(request(99)), SystemTime::now(), None)
            .await
            .is_ok());
        let mut after = opened.first.last;
        let mut seen: Vec<Request> = opened.first.rows.into_iter().map(|r| r.request).collect();
        loop {
            let page = opened
                .writer
                .read_page(after, opened.backlog.through, 10)
                .await
                .unwrap();
            assert!(page.rows.len() <= 10);
            seen.extend(page.rows.into_iter().map(|r| r.request));
            after = page.last;
            if page.exhausted {
                break;
            }
        }
        assert_eq!(seen, (0..25).map(request).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn dead_letters_are_pruned_past_the_bound_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let retention = DeadLetterRetention::unbounded().max_count(Some(3));
        let opened = SpoolWriter::open(&path, retention, 10).unwrap();
        let recorder = Arc::new(Recorder::default());
        opened
            .writer
            .set_sink(Arc::downgrade(&recorder) as Weak<dyn CommitSink>);
        for n in 0..8 {
            opened.writer.dead(DeadRow {
                row: None,
                request: Arc::new(request(n)),
                enqueued_at: SystemTime::now(),
                tag: None,
                reason: DeadLetterReason::Overflow,
                attempts: 0,
                error: None,
            });
        }
        opened.writer.sync().await;
        assert_eq!(opened.writer.pruned(), 5);
        let kept: Vec<Request> = Spool::open(&path)
            .unwrap()
            .dead_letters()
            .unwrap()
            .into_iter()
            .map(|d| d.request)
            .collect();
        assert_eq!(
            kept,
            (5..8).map(request).collect::<Vec<_>>(),
            "the newest stay"
        );

        // Age: a dead letter enqueued 2 days ago goes with a 1-day bound.
        drop(opened);
        let retention = DeadLetterRetention::unbounded().max_age(Some(Duration::from_secs(86_400)));
        let opened = SpoolWriter::open(&path, retention, 10).unwrap();
        assert_eq!(opened.writer.pruned(), 0, "the 3 kept are young");
        opened.writer.dead(DeadRow {
            row: None,
            request: Arc::new(request(100)),
            enqueued_at: SystemTime::now() - Duration::from_secs(2 * 86_400),
            tag: None,
            reason: DeadLetterReason::Rejected,
            attempts: 1,
            error: None,
        });
        opened.writer.sync().await;
        assert_eq!(opened.writer.pruned(), 1);
        assert_eq!(Spool::open(&path).unwrap().dead_letters().unwrap().len(), 3);
    }

    #[test]
    fn rows_decode_with_the_path_of_their_endpoint_whatever_the_file_says() {
        let row = RawRow {
            id: 7,
            endpoint: "evwidj".into(),
            method: "POST".into(),
            query: "c=acme&u=u%201&e=x&tm=1764150000000".into(),
            body: Some("{\"k\":1}".into()),
            enqueued_ms: 1_764_150_000_000,
        };
        let (request, at) = decode_row(row.clone()).unwrap();
        assert_eq!(request.path(), "/evwidj/");
        assert_eq!(request.method(), Method::Post);
        assert_eq!(request.body(), Some("{\"k\":1}"));
        assert_eq!(at, UNIX_EPOCH + Duration::from_millis(1_764_150_000_000));

        let with = |f: &dyn Fn(&mut RawRow)| {
            let mut r = row.clone();
            f(&mut r);
            decode_row(r).unwrap_err()
        };
        assert_eq!(
            with(&|r| r.endpoint = "nope".into()),
            RowError::UnknownEndpoint { id: 7 }
        );
        assert!(matches!(
            with(&|r| r.endpoint = "newnaconf".into()),
            RowError::NotQueued { .. }
        ));
        assert!(matches!(
            with(&|r| r.method = "GET".into()),
            RowError::WrongMethod { .. }
        ));
        assert!(matches!(
            with(&|r| r.body = None),
            RowError::WrongBody { expected: true, .. }
        ));
        for query in ["c=acme/../x", "c=acme?x", "c=a b", "c=acme#f", "c=\u{e9}"] {
            assert_eq!(
                with(&|r| r.query = query.into()),
                RowError::BadQuery { id: 7 },
                "{query}"
            );
        }
        assert_eq!(with(&|r| r.enqueued_ms = -1), RowError::BadTime { id: 7 });
        // The error names the row, never the values.
        assert!(!with(&|r| r.query = "u=secret user".into())
            .to_string()
            .contains("secret"));
    }

    #[test]
    fn a_corrupt_file_is_an_error_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        std::fs::write(&path, vec![0x5au8; 8192]).unwrap();
        let err = SpoolWriter::open(&path, DeadLetterRetention::default(), 10)
            .err()
            .expect("corrupt file refused");
        assert!(
            matches!(
                err,
                Error::Spool {
                    kind: SpoolErrorKind::NotASpool,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE users (id INTEGER)")
            .unwrap();
        let err = Spool::open(&path).unwrap_err();
        assert!(err.to_string().contains("not a gamooga spool"), "{err}");
        assert!(matches!(
            err,
            Error::Spool {
                kind: SpoolErrorKind::NotASpool,
                ..
            }
        ));
    }

    #[test]
    fn an_unwritable_path_is_an_error_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("outbox.db");
        let err = Spool::open(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Spool {
                    kind: SpoolErrorKind::Io,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }

    fn tagged(n: u32, position: u64) -> Option<Arc<Tag>> {
        let _ = n;
        Some(Arc::new(
            Tag::new("rows.csv", position).with_extra(position + 1),
        ))
    }

    #[tokio::test]
    async fn tags_are_stored_with_their_rows_and_move_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (opened, recorder) = open(&path, 100);
        let w = opened.writer;
        let now = SystemTime::now();
        // Several writes in flight at once (one batch or several: the writer decides).
        let writes: Vec<_> = [(1, 100), (2, 300), (3, 200)]
            .into_iter()
            .map(|(n, pos)| w.insert(n, Arc::new(request(n as u32)), now, tagged(n as u32, pos)))
            .collect();
        for write in writes {
            assert!(write.await.is_ok());
        }
        w.insert(4, Arc::new(request(4)), now, None).await.ok();
        w.mark(Tag::new("rows.csv", 250).with_extra(9));
        w.mark(Tag::new("other", 7));
        w.sync().await;
        let spool = Spool::open_existing(&path).unwrap();
        let cursor = spool.cursor("rows.csv").unwrap().expect("a cursor");
        assert_eq!(
            (
                cursor.position,
                cursor.extra,
                cursor.accepted,
                cursor.marked,
                cursor.delivered
            ),
            (300, 301, 3, 1, 0),
            "the greatest position (a mark below it moves nothing) and the counts"
        );
        assert_eq!(spool.cursor("other").unwrap().unwrap().marked, 1);
        assert_eq!(spool.cursor("nothing").unwrap(), None);

        // Delivered rows count per source; dead letters keep their tag.
        let rows = recorder.rows();
        w.delete(rows[&1]);
        w.delete(rows[&4]);
        w.dead(dead(rows[&3], DeadLetterReason::Rejected));
        w.sync().await;
        let cursor = spool.cursor("rows.csv").unwrap().unwrap();
        assert_eq!((cursor.accepted, cursor.delivered), (3, 1));
        let dead = spool.dead_letters().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].tag, Some(Tag::new("rows.csv", 200).with_extra(201)));
        let pending = spool.pending_page(0, 10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].tag,
            Some(Tag::new("rows.csv", 300).with_extra(301))
        );
        drop(w);

        // Replay gives the tags back; a replayed row delivered counts for its source.
        let (opened, _) = open(&path, 100);
        let tags: Vec<_> = opened.first.rows.iter().map(|r| r.tag.clone()).collect();
        assert_eq!(tags, [tagged(2, 300)]);
        opened.writer.delete(opened.first.rows[0].id);
        opened.writer.sync().await;
        assert_eq!(spool.cursor("rows.csv").unwrap().unwrap().delivered, 2);
        assert!(spool.reset_cursor("rows.csv").unwrap());
        assert_eq!(spool.cursor("rows.csv").unwrap(), None);
    }

    #[tokio::test]
    async fn deletes_are_held_back_and_remove_exactly_the_rows_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (opened, recorder) = open(&path, 100);
        let w = opened.writer;
        let now = SystemTime::now();
        let writes: Vec<_> = (1..=10u32)
            .map(|n| {
                w.insert(
                    u64::from(n),
                    Arc::new(request(n)),
                    now,
                    tagged(n, u64::from(n)),
                )
            })
            .collect();
        for write in writes {
            assert!(write.await.is_ok());
        }
        let rows = recorder.rows();
        w.dead(dead(rows[&5], DeadLetterReason::Rejected));
        w.sync().await;
        // Out of order, in two runs of consecutive rows around a dead letter (5) and a
        // pending row (7), and a row that is not there: each deletes only itself.
        for token in [9, 2, 10, 1, 6, 4, 8, 3] {
            w.delete(rows[&token]);
        }
        w.delete(rows[&10] + 100);
        let spool = Spool::open_existing(&path).unwrap();
        w.sync().await;
        let pending: Vec<i64> = spool
            .pending_page(0, 100)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(pending, [rows[&7]]);
        let dead: Vec<i64> = spool.dead_letters().unwrap().iter().map(|d| d.id).collect();
        assert_eq!(dead, [rows[&5]]);
        let cursor = spool.cursor("rows.csv").unwrap().unwrap();
        assert_eq!((cursor.accepted, cursor.delivered), (10, 8));

        // Held back and not synced: committed when the queue's side goes away.
        w.delete(rows[&7]);
        drop(w);
        let deadline = Instant::now() + Duration::from_secs(10);
        while spool.stats().unwrap().pending > 0 {
            assert!(
                Instant::now() < deadline,
                "the held-back delete was never committed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(spool.cursor("rows.csv").unwrap().unwrap().delivered, 9);
    }

    #[tokio::test]
    async fn a_write_that_rolls_back_moves_no_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (opened, _) = open(&path, 100);
        // A trigger that refuses one row makes its batch roll back.
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON gamooga_outbox
                 WHEN NEW.query LIKE '%u=u666&%' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let now = SystemTime::now();
        let w = &opened.writer;
        let writes: Vec<_> = [(1u32, 10u64), (666, 20), (3, 15)]
            .into_iter()
            .map(|(n, pos)| {
                (
                    pos,
                    w.insert(n as u64, Arc::new(request(n)), now, tagged(n, pos)),
                )
            })
            .collect();
        let mut ok = Vec::new();
        for (pos, write) in writes {
            if write.await.is_ok() {
                ok.push(pos);
            }
        }
        assert!(!ok.contains(&20), "the refused row is not confirmed");
        w.sync().await;
        let spool = Spool::open_existing(&path).unwrap();
        let cursor = spool.cursor("rows.csv").unwrap();
        // Whatever the batches were: the cursor is the greatest confirmed position, and
        // every confirmed row (and only those) is in the file.
        assert_eq!(cursor.map(|c| c.position), ok.iter().max().copied());
        let stored: Vec<u64> = spool
            .pending_page(0, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.tag.unwrap().position())
            .collect();
        let mut expected = ok.clone();
        expected.sort();
        assert_eq!(stored, expected);
    }

    /// A spool file as format version 1 wrote it, with a pending row and a dead letter.
    fn write_v1(path: &Path) {
        let conn = Connection::open(path).unwrap();
        // Enqueued now, so no retention bound prunes the dead letter.
        let now = millis(SystemTime::now());
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE gamooga_outbox (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 endpoint TEXT NOT NULL,
                 method TEXT NOT NULL,
                 path TEXT NOT NULL,
                 query TEXT NOT NULL,
                 body TEXT,
                 enqueued_ms INTEGER NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 dead_reason TEXT,
                 last_error TEXT
             );
             INSERT INTO gamooga_outbox (endpoint, method, path, query, body, enqueued_ms)
                 VALUES ('evwid', 'GET', '/evwid/', 'c=acme&u=u1&e=seq&tm=1764150000000', NULL, {now});
             INSERT INTO gamooga_outbox (endpoint, method, path, query, body, enqueued_ms, attempts, dead_reason, last_error)
                 VALUES ('evwid', 'GET', '/evwid/', 'c=acme&u=u2&e=seq&tm=1764150000000', NULL, {now}, 3, 'rejected', 'HTTP 400');
             PRAGMA user_version = 1;"
        ))
        .unwrap();
    }

    #[tokio::test]
    async fn a_version_1_file_is_read_as_it_is_and_migrated_by_a_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        write_v1(&path);

        // Inspection reads it without changing it.
        let spool = Spool::open_existing(&path).unwrap();
        assert_eq!(spool.version(), 1);
        let stats = spool.stats().unwrap();
        assert_eq!(
            (stats.version, stats.pending, stats.dead_letters),
            (1, 1, 1)
        );
        assert_eq!(stats.dead_by_reason.get("rejected"), Some(&1));
        assert!(stats.cursors.is_empty());
        assert_eq!(spool.dead_letters().unwrap()[0].tag, None);
        assert_eq!(spool.pending_page(0, 10).unwrap()[0].request, request(1));
        drop(spool);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1, "inspection migrates nothing");

        // A queue's writer migrates it: the old rows replay, untagged; new ones are tagged.
        let (opened, recorder) = open(&path, 100);
        assert_eq!(opened.backlog.count, 1);
        assert_eq!(opened.first.rows[0].request, request(1));
        assert!(opened.first.rows[0].tag.is_none());
        assert!(opened
            .writer
            .insert(7, Arc::new(request(7)), SystemTime::now(), tagged(7, 70))
            .await
            .is_ok());
        assert_eq!(recorder.0.lock().unwrap().len(), 1);
        opened.writer.sync().await;
        let spool = Spool::open_existing(&path).unwrap();
        assert_eq!(spool.version(), 2);
        assert_eq!(spool.cursor("rows.csv").unwrap().unwrap().position, 70);
        assert_eq!(
            spool.dead_letters().unwrap()[0].last_error.as_deref(),
            Some("HTTP 400")
        );
        assert_eq!(spool.stats().unwrap().pending, 2);
    }

    #[test]
    fn opening_an_existing_spool_creates_nothing_and_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let kind = |path: &Path| match Spool::open_existing(path) {
            Err(Error::Spool { kind, .. }) => kind,
            other => panic!("{}: {other:?}", path.display()),
        };
        let missing = dir.path().join("missing.db");
        assert_eq!(kind(&missing), SpoolErrorKind::NotFound);
        assert!(!missing.exists(), "nothing created");
        assert_eq!(kind(dir.path()), SpoolErrorKind::NotASpool);
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(kind(&empty), SpoolErrorKind::NotASpool);
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5au8; 8192]).unwrap();
        assert_eq!(kind(&garbage), SpoolErrorKind::NotASpool);

        let newer = dir.path().join("newer.db");
        drop(Spool::open(&newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 3)
            .unwrap();
        assert_eq!(kind(&newer), SpoolErrorKind::UnknownVersion);
        assert!(matches!(
            Spool::open(&newer),
            Err(Error::Spool {
                kind: SpoolErrorKind::UnknownVersion,
                ..
            })
        ));

        let used = dir.path().join("used.db");
        let first = SpoolWriter::open(&used, DeadLetterRetention::default(), 10).unwrap();
        match SpoolWriter::open(&used, DeadLetterRetention::default(), 10) {
            Err(Error::Spool {
                kind: SpoolErrorKind::InUse,
                ..
            }) => {}
            other => panic!("a second writer: {:?}", other.err()),
        }
        // Inspection works while a writer holds it, and sees it is held.
        let inspect = Spool::open_existing(&used).unwrap();
        assert_eq!(inspect.pending().unwrap(), 0);
        assert!(inspect.in_use().unwrap());
        drop(first);
        assert!(!inspect.in_use().unwrap(), "released with the writer");
    }

    #[tokio::test]
    async fn stats_count_by_reason_and_pages_read_everything_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (opened, recorder) = open(&path, 100);
        let w = opened.writer;
        for n in 0..10u32 {
            assert!(w
                .insert_blocking(
                    n as u64,
                    Arc::new(request(n)),
                    SystemTime::now(),
                    tagged(n, n as u64)
                )
                .is_ok());
        }
        let rows: Vec<i64> = recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| *r.as_ref().unwrap())
            .collect();
        for (i, row) in rows.iter().take(5).enumerate() {
            let reason = if i < 3 {
                DeadLetterReason::Rejected
            } else {
                DeadLetterReason::Panicked
            };
            w.dead(dead(*row, reason));
        }
        w.sync().await;
        let spool = Spool::open_existing(&path).unwrap();
        let stats = spool.stats().unwrap();
        assert_eq!((stats.pending, stats.dead_letters), (5, 5));
        assert_eq!(
            stats.dead_by_reason,
            BTreeMap::from([("panicked".to_owned(), 2), ("rejected".to_owned(), 3)])
        );
        assert_eq!(stats.cursors.len(), 1);
        assert!(stats.bytes > 0);
        assert!(stats.oldest_pending.is_some() && stats.oldest_dead_letter.is_some());

        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = spool.dead_letters_page(after, 2).unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            after = last.id;
            seen.extend(page.iter().map(|d| d.id));
        }
        assert_eq!(seen, rows[..5]);
        let mut pending = Vec::new();
        let mut after = 0;
        loop {
            let page = spool.pending_page(after, 3).unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            pending.extend(page.iter().map(|e| e.id));
        }
        assert_eq!(pending, rows[5..]);
    }
}
