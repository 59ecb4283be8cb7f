//! The spool (feature `spool`): an on-disk outbox in SQLite under the delivery queue, so a
//! crash or restart loses no accepted event.
//!
//! Turn it on with [`QueueConfig::spool`](crate::queue::QueueConfig::spool). Then:
//!
//! - **Durability.** An event is written before `enqueue`/`try_enqueue` returns. The file is
//!   in WAL mode with `synchronous = FULL`: each commit is fsynced, so an accepted event
//!   survives a process crash (SIGKILL) and a power loss. Concurrent enqueues share a commit
//!   (group commit on a dedicated writer thread), so throughput does not pay one fsync per event.
//! - **Removal.** A row is deleted only after Gamooga answered 200 (deletes are batched; a
//!   crash between the 200 and the delete means that event is sent again: at-least-once).
//! - **Replay.** Rows still pending when the queue starts are delivered first, keeping their
//!   original `tm`.
//! - **Dead letters** stay in the file, marked with their reason and last error: list them
//!   with [`Spool::dead_letters`], send them again with [`Spool::replay_dead_letters`] (the
//!   next queue started on the file delivers them) or drop them with
//!   [`Spool::remove_dead_letters`].
//! - **Errors.** A file that cannot be created or written, is not a spool, or is corrupt is
//!   an [`Error::Config`] naming the file when the queue starts: never a silent fallback to memory.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::call::{Endpoint, Method, Request};
use crate::error::Error;
use crate::queue::DeadLetterReason;

const SCHEMA_VERSION: i64 = 1;
/// Commands applied in one transaction at most.
const BATCH: usize = 4096;

/// A spool problem: [`Error::Config`] naming the file and what is wrong with it.
fn spool_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Config(format!(
        "the spool {} cannot be used: {message}",
        path.display()
    ))
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// Takes the exclusive writer lock of the spool at `path` (on the file `<path>-lock`).
fn lock_spool(path: &Path) -> Result<std::fs::File, Error> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push("-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| spool_error(path, format!("cannot open its lock file ({e})")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(spool_error(
            path,
            "it is in use by another queue (in this or another process); one queue per spool",
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(spool_error(path, format!("cannot lock it ({e})")))
        }
    }
}

/// Opens (creating if needed) and checks a spool file.
fn connect(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path).map_err(|e| spool_error(path, e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| spool_error(path, e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| spool_error(path, format!("not a usable SQLite file ({e})")))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(spool_error(
            path,
            format!("could not switch to WAL mode (journal mode is {mode:?})"),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| spool_error(path, e))?;
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| spool_error(path, format!("integrity check failed ({e})")))?;
    if check != "ok" {
        return Err(spool_error(path, format!("the file is corrupt: {check}")));
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| spool_error(path, e))?;
    if version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| spool_error(path, e))?;
        if tables > 0 {
            return Err(spool_error(
                path,
                "the file is an SQLite database but not a gamooga spool",
            ));
        }
        conn.execute_batch(&format!(
            "BEGIN;
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
             PRAGMA user_version = {SCHEMA_VERSION};
             COMMIT;"
        ))
        .map_err(|e| spool_error(path, format!("cannot create the spool ({e})")))?;
    } else if version != SCHEMA_VERSION {
        return Err(spool_error(
            path,
            format!("unknown spool format version {version} (this SDK writes {SCHEMA_VERSION})"),
        ));
    }
    Ok(conn)
}

/// A row read back from the spool.
pub(crate) struct SpooledRow {
    pub(crate) id: i64,
    pub(crate) request: Request,
    pub(crate) enqueued_at: SystemTime,
}

type RowTuple = (i64, String, String, String, String, Option<String>, i64);

fn row_to_request(path: &Path, t: RowTuple) -> Result<SpooledRow, Error> {
    let (id, endpoint, method, p, query, body, ms) = t;
    let endpoint = Endpoint::from_name(&endpoint).ok_or_else(|| {
        spool_error(
            path,
            format!("row {id} has an unknown endpoint {endpoint:?}"),
        )
    })?;
    let method = Method::from_name(&method)
        .ok_or_else(|| spool_error(path, format!("row {id} has an unknown method {method:?}")))?;
    Ok(SpooledRow {
        id,
        request: Request::from_parts(endpoint, method, Cow::Owned(p), query, body),
        enqueued_at: UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64),
    })
}

const SELECT: &str =
    "SELECT id, endpoint, method, path, query, body, enqueued_ms FROM gamooga_outbox";

fn read_rows(conn: &Connection, path: &Path, filter: &str) -> Result<Vec<SpooledRow>, Error> {
    let mut stmt = conn
        .prepare(&format!("{SELECT} WHERE {filter} ORDER BY id"))
        .map_err(|e| spool_error(path, e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(|e| spool_error(path, e))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row_to_request(
            path,
            row.map_err(|e| spool_error(path, e))?,
        )?);
    }
    Ok(out)
}

enum Reply {
    Blocking(mpsc::SyncSender<Result<i64, String>>),
    Async(tokio::sync::oneshot::Sender<Result<i64, String>>),
}

impl Reply {
    fn send(self, result: Result<i64, String>) {
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

struct NewRow {
    endpoint: &'static str,
    method: &'static str,
    path: String,
    query: String,
    body: Option<String>,
    enqueued_ms: i64,
}

impl NewRow {
    fn of(request: &Request, at: SystemTime) -> Self {
        NewRow {
            endpoint: request.endpoint().name(),
            method: request.method().as_str(),
            path: request.path().to_owned(),
            query: request.query().to_owned(),
            body: request.body().map(str::to_owned),
            enqueued_ms: millis(at),
        }
    }
}

enum Command {
    Insert(NewRow, Reply),
    InsertDead(NewRow, &'static str, Option<String>),
    Delete(i64),
    MarkDead(i64, &'static str, u32, Option<String>),
    Sync(tokio::sync::oneshot::Sender<()>),
}

/// The queue's side of the spool: a writer thread owning one connection, applying commands
/// in batches (one transaction, one fsync, per batch).
pub(crate) struct SpoolWriter {
    tx: mpsc::Sender<Command>,
    /// The exclusive writer lock (`<path>-lock`), held until the queue shuts down or drops.
    lock: std::sync::Mutex<Option<std::fs::File>>,
}

impl SpoolWriter {
    /// Opens the spool, reads the pending rows, and starts the writer thread.
    ///
    /// One writer at a time: it holds an exclusive lock on `<path>-lock` until the queue shuts
    /// down or is dropped (the OS releases it if the process dies), because two queues on
    /// one spool would each replay, and deliver, every pending row.
    pub(crate) fn open(path: &Path) -> Result<(SpoolWriter, Vec<SpooledRow>), Error> {
        let lock = lock_spool(path)?;
        let conn = connect(path)?;
        let rows = read_rows(&conn, path, "dead_reason IS NULL")?;
        let (tx, rx) = mpsc::channel();
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("gamooga-spool".into())
            .spawn(move || writer(conn, rx, thread_path))
            .map_err(|e| spool_error(path, format!("cannot start the writer thread ({e})")))?;
        let lock = std::sync::Mutex::new(Some(lock));
        Ok((SpoolWriter { tx, lock }, rows))
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

    /// Writes a pending row, blocking until it is committed.
    pub(crate) fn insert_blocking(&self, request: &Request, at: SystemTime) -> Result<i64, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Command::Insert(
            NewRow::of(request, at),
            Reply::Blocking(tx),
        ));
        rx.recv()
            .unwrap_or_else(|_| Err("the spool writer thread stopped".into()))
    }

    /// Writes a pending row; resolves when it is committed.
    pub(crate) async fn insert(&self, request: &Request, at: SystemTime) -> Result<i64, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Insert(NewRow::of(request, at), Reply::Async(tx)));
        rx.await
            .unwrap_or_else(|_| Err("the spool writer thread stopped".into()))
    }

    /// Records an event dropped before it was written (drop-newest overflow) as a dead letter.
    pub(crate) fn insert_dead(
        &self,
        request: &Request,
        at: SystemTime,
        reason: DeadLetterReason,
        error: Option<String>,
    ) {
        self.send(Command::InsertDead(
            NewRow::of(request, at),
            reason.as_str(),
            error,
        ));
    }

    /// Removes a delivered row.
    pub(crate) fn delete(&self, id: i64) {
        self.send(Command::Delete(id));
    }

    /// Marks a row dead.
    pub(crate) fn mark_dead(
        &self,
        id: i64,
        reason: DeadLetterReason,
        attempts: u32,
        error: Option<String>,
    ) {
        self.send(Command::MarkDead(id, reason.as_str(), attempts, error));
    }

    /// Resolves once every command sent so far is committed.
    pub(crate) async fn sync(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Sync(tx));
        let _ = rx.await;
    }
}

fn apply(conn: &Connection, command: &Command) -> rusqlite::Result<Option<i64>> {
    const INSERT: &str = "INSERT INTO gamooga_outbox
        (endpoint, method, path, query, body, enqueued_ms, dead_reason, last_error)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    match command {
        Command::Insert(r, _) => {
            let mut stmt = conn.prepare_cached(INSERT)?;
            stmt.execute(params![
                r.endpoint,
                r.method,
                r.path,
                r.query,
                r.body,
                r.enqueued_ms,
                None::<&str>,
                None::<&str>
            ])?;
            Ok(Some(conn.last_insert_rowid()))
        }
        Command::InsertDead(r, reason, error) => {
            let mut stmt = conn.prepare_cached(INSERT)?;
            stmt.execute(params![
                r.endpoint,
                r.method,
                r.path,
                r.query,
                r.body,
                r.enqueued_ms,
                reason,
                error
            ])?;
            Ok(None)
        }
        Command::Delete(id) => {
            conn.prepare_cached("DELETE FROM gamooga_outbox WHERE id = ?1")?
                .execute([id])?;
            Ok(None)
        }
        Command::MarkDead(id, reason, attempts, error) => {
            conn.prepare_cached(
                "UPDATE gamooga_outbox SET dead_reason = ?2, attempts = ?3, last_error = ?4 WHERE id = ?1",
            )?
            .execute(params![id, reason, attempts, error])?;
            Ok(None)
        }
        Command::Sync(_) => Ok(None),
    }
}

/// The writer thread: takes what is waiting (up to [`BATCH`]), applies it in one
/// transaction, commits, then answers.
fn writer(mut conn: Connection, rx: mpsc::Receiver<Command>, path: PathBuf) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        // All or nothing: the first failed statement ends the batch and the transaction
        // rolls back, so no insert is durable while its caller is told it failed.
        let committed = (|| -> rusqlite::Result<Vec<Option<i64>>> {
            let tx = conn.transaction()?;
            let ids = batch
                .iter()
                .map(|c| apply(&tx, c))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(ids)
        })();
        let results: Vec<Result<Option<i64>, String>> = match committed {
            Ok(ids) => ids.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "gamooga spool: batch rolled back");
                vec![Err(format!("the spool write was rolled back: {e}")); batch.len()]
            }
        };
        for (command, result) in batch.into_iter().zip(results) {
            match command {
                Command::Insert(_, reply) => {
                    reply.send(result.and_then(|id| {
                        id.ok_or_else(|| "the insert returned no row id".to_string())
                    }))
                }
                Command::Sync(tx) => {
                    let _ = tx.send(());
                }
                Command::InsertDead(..) | Command::Delete(_) | Command::MarkDead(..) => {
                    if let Err(e) = result {
                        tracing::error!(error = %e, "gamooga spool: write failed");
                    }
                }
            }
        }
    }
}

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
}

/// A spool file opened for inspection and maintenance (it may be in use by a running queue:
/// SQLite's WAL mode lets both work).
///
/// ```
/// # fn main() -> Result<(), gamooga_core::Error> {
/// use gamooga_core::spool::Spool;
/// let dir = std::env::temp_dir().join(format!("gamooga-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let spool = Spool::open(dir.join("outbox.db"))?;
/// assert_eq!(spool.pending()?, 0);
/// for dl in spool.dead_letters()? {
///     println!("{} gave up: {:?}", dl.request.path_and_query(), dl.last_error);
/// }
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(()) }
/// ```
pub struct Spool {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("path", &self.path).finish()
    }
}

impl Spool {
    /// Opens (creating if needed) the spool at `path`; the same checks as a queue's start.
    pub fn open(path: impl AsRef<Path>) -> Result<Spool, Error> {
        let path = path.as_ref();
        Ok(Spool {
            conn: connect(path)?,
            path: path.to_path_buf(),
        })
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
            .map_err(|e| spool_error(&self.path, e))
    }

    /// The pending requests, oldest first.
    pub fn pending_requests(&self) -> Result<Vec<Request>, Error> {
        Ok(read_rows(&self.conn, &self.path, "dead_reason IS NULL")?
            .into_iter()
            .map(|r| r.request)
            .collect())
    }

    /// The dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<SpooledDeadLetter>, Error> {
        let rows = read_rows(&self.conn, &self.path, "dead_reason IS NOT NULL")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (reason, attempts, last_error): (String, i64, Option<String>) = self
                .conn
                .query_row(
                    "SELECT dead_reason, attempts, last_error FROM gamooga_outbox WHERE id = ?1",
                    [row.id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(|e| spool_error(&self.path, e))?
                .unwrap_or_default();
            out.push(SpooledDeadLetter {
                id: row.id,
                request: row.request,
                reason: DeadLetterReason::from_name(&reason),
                attempts: attempts.clamp(0, u32::MAX as i64) as u32,
                last_error,
                enqueued_at: row.enqueued_at,
            });
        }
        Ok(out)
    }

    /// Marks every dead letter pending again; the next queue started on this file delivers
    /// them. Returns how many.
    pub fn replay_dead_letters(&self) -> Result<u64, Error> {
        self.conn
            .execute(
                "UPDATE gamooga_outbox SET dead_reason = NULL, attempts = 0 WHERE dead_reason IS NOT NULL",
                [],
            )
            .map(|n| n as u64)
            .map_err(|e| spool_error(&self.path, e))
    }

    /// Deletes every dead letter. Returns how many.
    pub fn remove_dead_letters(&self) -> Result<u64, Error> {
        self.conn
            .execute(
                "DELETE FROM gamooga_outbox WHERE dead_reason IS NOT NULL",
                [],
            )
            .map(|n| n as u64)
            .map_err(|e| spool_error(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: u32) -> Request {
        Request::from_parts(
            Endpoint::Evwid,
            Method::Get,
            Cow::Borrowed("/evwid/"),
            format!("c=acme&u=u{n}&e=seq&tm=1764150000000"),
            None,
        )
    }

    #[tokio::test]
    async fn rows_survive_reopen_until_deleted_and_dead_letters_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (w, rows) = SpoolWriter::open(&path).unwrap();
        assert!(rows.is_empty());
        let a = w.insert(&request(1), SystemTime::now()).await.unwrap();
        let b = w.insert_blocking(&request(2), SystemTime::now()).unwrap();
        let c = w.insert(&request(3), SystemTime::now()).await.unwrap();
        w.delete(a);
        w.mark_dead(b, DeadLetterReason::Rejected, 1, Some("HTTP 400".into()));
        w.sync().await;
        drop(w);

        let (_w, rows) = SpoolWriter::open(&path).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, c);
        assert_eq!(rows[0].request, request(3));

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

    #[test]
    fn a_corrupt_file_is_an_error_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        std::fs::write(&path, vec![0x5au8; 8192]).unwrap();
        let err = SpoolWriter::open(&path)
            .err()
            .expect("corrupt file refused");
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("spool")),
            "{err}"
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
    }

    #[test]
    fn an_unwritable_path_is_an_error_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("outbox.db");
        let err = Spool::open(&path).unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("spool")),
            "{err}"
        );
    }
}
