//! `gamooga import`: a CSV or NDJSON file (or standard input) to Gamooga, one event or one
//! visitor-property push per row, through the SDK's delivery queue with its spool on.
//!
//! How it runs:
//!
//! - a reader thread streams the rows ([`source`]), each with its position (byte offset and
//!   line), maps them to requests with the SDK's call builders ([`mapping`]) and hands them
//!   over a bounded channel, so memory does not grow with the file;
//! - the main task paces them (`--rate`) and enqueues each with a [`Tag`] (the file's
//!   fingerprint, the row's byte offset, its line): up to 512 enqueues in flight, so the
//!   spool's group commit batches them, and never more rows than the queue has room for.
//!   Each enqueue is polled once as it is made, so the spool writes start in file order;
//! - the spool keeps, in the transaction of each batch of rows, the cursor of the file: the
//!   greatest row position written. Rows refused before sending go to the rejects file
//!   ([`rejects`]) and then move the cursor too ([`Queue::mark_position`]). So after any
//!   stop (Ctrl-C, SIGTERM, a kill, a crash), every row at or before the cursor was accepted
//!   or rejected, and running the same command again delivers what the spool still holds
//!   first, then reads on after the cursor;
//! - dead letters go to the rejects file with their line, from their tag;
//! - a journal of attempts ([`journal`]) lets the run after a kill count the rows that may
//!   arrive twice.

mod csv;
mod journal;
mod mapping;
mod ndjson;
mod progress;
mod rejects;
pub mod source;
mod tracker;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use futures_util::stream::{FuturesOrdered, StreamExt};
use futures_util::FutureExt;
use gamooga::error::SpoolErrorKind;
use gamooga::queue::{DeadLetter, EnqueueError, Queue, QueueConfig, Tag};
use gamooga::spool::{Cursor, DeadLetterRetention, Spool};
use gamooga::{DataType, Request};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use self::journal::Journal;
use self::mapping::{EventName, Identity, Kind, Mapping};
use self::progress::{Progress, Sample};
use self::rejects::Rejects;
use self::source::{BadRow, Format, Next, RowPos, Source};
use self::tracker::{Counts, Tracker};
use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::{shell_quote, Output};

/// The long help of the subcommand.
pub const LONG_ABOUT: &str = "\
Import a CSV or NDJSON file: each row becomes an event (or, with --visitor-props, a
visitor-property push) sent through the SDK's delivery queue with an on-disk spool.

Columns: the user id is --user-col (default user_id), or the visitor id --visitor-col;
the event name is --event NAME or --event-col COLUMN; the time --time-col (RFC 3339 or
Unix milliseconds; default: when the row is read). Every other column is a property: in
CSV its datatype is inferred (a plain decimal is n, true/false b, else s; an empty field
is left out); in NDJSON the JSON type gives it (string s, number n, boolean b; null is
left out). --types amount=n,zip=s sets datatypes explicitly.

Rows that cannot be sent (bad quoting, bad JSON, a missing id, a value that does not fit
its type) and rows Gamooga refuses go to FILE.rejects.ndjson with their line and reason;
the other rows go on. The exit status is 1 when any row failed.

The spool (FILE.gamooga-spool) keeps every accepted row until Gamooga answered 200, and a
checkpoint of the file committed with the rows. After any stop (Ctrl-C, a kill, a crash),
running the same command again delivers what the spool holds first, then goes on after
the last row accepted: no row is lost, none accepted is read twice.";

/// The arguments of `gamooga import`; [`LONG_ABOUT`] says what they mean.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("rows").args(["event", "event_col", "visitor_props"]).required(true)))]
pub struct ImportArgs {
    /// The file to import, or - for standard input (then --format is needed)
    pub file: PathBuf,

    /// The file format (default: from the extension: .csv, .tsv, .ndjson, .jsonl)
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Every row is this event
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,

    /// The column holding each row's event name
    #[arg(long, value_name = "COLUMN")]
    pub event_col: Option<String>,

    /// Every row is a visitor-property push (vpr) by visitor id (needs --visitor-col)
    #[arg(long, requires = "visitor_col")]
    pub visitor_props: bool,

    /// The column holding the user id
    #[arg(long, value_name = "COLUMN", default_value = "user_id")]
    pub user_col: String,

    /// The column holding the visitor id (rows are then sent by visitor id: ev, vpr)
    #[arg(long, value_name = "COLUMN", conflicts_with = "user_col")]
    pub visitor_col: Option<String>,

    /// Columns sent as visitor properties with the event, by user id (evvprwid)
    #[arg(
        long,
        value_name = "COLUMNS",
        value_delimiter = ',',
        conflicts_with = "visitor_col"
    )]
    pub visitor_prop_cols: Vec<String>,

    /// The column holding each row's time (RFC 3339 or Unix milliseconds)
    #[arg(long, value_name = "COLUMN")]
    pub time_col: Option<String>,

    /// Datatypes of columns: amount=n,gift=b,zip=s (repeatable)
    #[arg(long, value_name = "COLUMN=s|n|b,...", value_delimiter = ',', value_parser = parse_type)]
    pub types: Vec<(String, DataType)>,

    /// Columns not sent
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub ignore_cols: Vec<String>,

    /// At most this many rows per second
    #[arg(long, value_name = "ROWS")]
    pub rate: Option<f64>,

    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = QueueConfig::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,

    /// The spool file (default: FILE.gamooga-spool)
    #[arg(long, value_name = "PATH")]
    pub spool: Option<PathBuf>,

    /// The rejects file (default: FILE.rejects.ndjson)
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,

    /// Start reading at this position instead of after the spool's checkpoint (an override:
    /// rows before it are not read, rows after it are read even if an earlier run sent
    /// them); the rejects file is appended to
    #[arg(long, value_name = "BYTE:LINE", value_parser = RowPos::parse)]
    pub start_at: Option<RowPos>,

    /// Forget the spool's checkpoint and import the whole file again (rows an earlier run
    /// left undelivered are still delivered first; rows it delivered are sent again)
    #[arg(long, conflicts_with = "start_at")]
    pub start_over: bool,

    /// Succeed on an empty input instead of failing
    #[arg(long)]
    pub allow_empty: bool,

    /// No progress bar (it is never shown when standard error is not a terminal)
    #[arg(long)]
    pub no_progress: bool,

    /// Seconds to keep delivering after Ctrl-C before leaving the rest in the spool
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub shutdown_timeout: u64,
}

fn parse_type(text: &str) -> Result<(String, DataType), String> {
    let (column, code) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}` is not COLUMN=TYPE (TYPE: s, n or b)"))?;
    let datatype = DataType::from_code(code)
        .ok_or_else(|| format!("`{code}` in `{text}` is not a datatype: s, n or b"))?;
    if column.is_empty() {
        return Err(format!("`{text}` names no column"));
    }
    Ok((column.to_owned(), datatype))
}

/// Rows in flight between the reader and the queue's enqueues.
const WINDOW: usize = 512;

/// Once the queue is full, how much room it must have again before enqueues go on: rows
/// then reach the spool's writer in bursts that it commits together (one transaction, one
/// fsync), instead of one row per delivery, each in a commit of its own. The queue still
/// holds nearly its capacity (10,000 by default), so deliveries never wait for rows.
const REFILL: usize = 256;

/// What the reader thread hands over, in file order.
enum Item {
    Request {
        start: RowPos,
        end: RowPos,
        request: Request,
    },
    Refused {
        start: RowPos,
        end: RowPos,
        column: Option<String>,
        reason: String,
        row: Value,
    },
    Bad(BadRow),
    End,
    Failed(CliError),
}

impl Item {
    fn start(&self) -> Option<RowPos> {
        match self {
            Item::Request { start, .. } | Item::Refused { start, .. } => Some(*start),
            Item::Bad(bad) => Some(bad.start),
            Item::End | Item::Failed(_) => None,
        }
    }
}

/// A row handed over, once its enqueue finished (or at once when it was refused): where it
/// starts and ends, and the enqueue's result (`None`: refused, not enqueued).
struct Settled {
    start: RowPos,
    end: RowPos,
    result: Option<Result<(), EnqueueError>>,
}

/// The rows handed over, in file order: polled in place (no task per row).
type Window = FuturesOrdered<Pin<Box<dyn Future<Output = Settled> + Send>>>;

/// What the main loop counts about this run's rows.
#[derive(Default)]
struct Tally {
    /// The end of the last row handled in order (every row before it was accepted or
    /// rejected): where a run started with `--start-at` would go on.
    watermark: RowPos,
    accepted: u64,
    /// Rows whose enqueue failed (written to the rejects file as `not_queued`).
    not_queued: u64,
    fatal: Option<CliError>,
}

impl Default for RowPos {
    fn default() -> Self {
        RowPos::START
    }
}

impl Tally {
    /// Retires a row: advances the watermark past every row handled in order.
    fn retire(&mut self, done: Settled, rejects: &Mutex<Rejects>) {
        match done.result {
            Some(Err(e)) => {
                self.not_queued += 1;
                let reason = format!("not queued: {e}");
                rejects
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .not_queued(done.start, &reason, e.into_request().as_ref());
                self.fatal.get_or_insert(CliError::failed(format!(
                    "a row could not be queued: {reason}"
                )));
            }
            result => {
                self.accepted += u64::from(result.is_some());
                if self.fatal.is_none() {
                    self.watermark = done.end;
                }
            }
        }
    }
}

/// Where the import's files go.
struct Paths {
    input: Option<PathBuf>,
    shown: String,
    spool: PathBuf,
    rejects: PathBuf,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl ImportArgs {
    fn paths(&self) -> Paths {
        let input = (self.file.as_os_str() != "-").then(|| self.file.clone());
        let base = input
            .clone()
            .unwrap_or_else(|| PathBuf::from("gamooga-stdin"));
        Paths {
            shown: input
                .as_ref()
                .map_or("standard input".to_owned(), |p| p.display().to_string()),
            spool: self
                .spool
                .clone()
                .unwrap_or_else(|| with_suffix(&base, ".gamooga-spool")),
            rejects: self
                .rejects
                .clone()
                .unwrap_or_else(|| with_suffix(&base, ".rejects.ndjson")),
            input,
        }
    }

    fn mapping(&self) -> Mapping {
        let identity = match &self.visitor_col {
            Some(c) => Identity::Visitor(c.clone()),
            None => Identity::User(self.user_col.clone()),
        };
        let kind = if self.visitor_props {
            Kind::VisitorProps
        } else {
            Kind::Event {
                name: match (&self.event, &self.event_col) {
                    (Some(name), _) => EventName::Fixed(name.clone()),
                    (None, Some(col)) => EventName::Column(col.clone()),
                    (None, None) => {
                        unreachable!("clap requires one of --event, --event-col, --visitor-props")
                    }
                },
                visitor_cols: self.visitor_prop_cols.iter().cloned().collect(),
            }
        };
        Mapping {
            identity,
            kind,
            time_col: self.time_col.clone(),
            types: self.types.iter().cloned().collect::<HashMap<_, _>>(),
            ignore: self.ignore_cols.iter().cloned().collect::<HashSet<_>>(),
        }
    }
}

/// Checks a CSV header against the mapping: every column named must exist.
fn check_header(
    headers: &[String],
    args: &ImportArgs,
    mapping: &Mapping,
    shown: &str,
) -> Result<(), CliError> {
    let list = || headers.join(", ");
    for col in mapping.required_columns() {
        if !headers.iter().any(|h| h == col) {
            let flag = match &mapping.identity {
                Identity::User(c) if c == col => "--user-col",
                Identity::Visitor(c) if c == col => "--visitor-col",
                _ if mapping.time_col.as_deref() == Some(col) => "--time-col",
                _ => "--event-col",
            };
            return Err(CliError::usage(format!(
                "{shown} has no column `{col}` (its columns: {}): name the right one with {flag}",
                list()
            )));
        }
    }
    let named = args
        .types
        .iter()
        .map(|(c, _)| (c, "--types"))
        .chain(
            args.visitor_prop_cols
                .iter()
                .map(|c| (c, "--visitor-prop-cols")),
        )
        .chain(args.ignore_cols.iter().map(|c| (c, "--ignore-cols")));
    for (col, flag) in named {
        if !headers.iter().any(|h| h == col) {
            return Err(CliError::usage(format!(
                "{flag} names `{col}`, which is not a column of {shown} (its columns: {})",
                list()
            )));
        }
    }
    Ok(())
}

/// The reader thread: rows to requests, in order, until the end or the receiver is gone.
fn read_rows(mut source: Source, mapping: Mapping, calls: gamooga::Calls, tx: mpsc::Sender<Item>) {
    loop {
        let item = match source.next() {
            Ok(Next::Row { start, end, record }) => match mapping.request(&calls, &record) {
                Ok(request) => Item::Request {
                    start,
                    end,
                    request,
                },
                Err(refused) => Item::Refused {
                    start,
                    end,
                    column: refused.column,
                    reason: refused.reason,
                    row: record.to_json(),
                },
            },
            Ok(Next::Bad(bad)) => Item::Bad(bad),
            Ok(Next::End) => Item::End,
            Err(e) => Item::Failed(e),
        };
        let last = matches!(item, Item::End | Item::Failed(_));
        if tx.blocking_send(item).is_err() || last {
            return;
        }
    }
}

/// Counts SIGINT (Ctrl-C) and SIGTERM.
fn signals() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let got = match &mut term {
                Some(term) => tokio::select! {
                    r = tokio::signal::ctrl_c() => r.is_ok(),
                    r = term.recv() => r.is_some(),
                },
                None => tokio::signal::ctrl_c().await.is_ok(),
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got {
                return;
            }
            tx.send_modify(|n| *n += 1);
        }
    });
    rx
}

/// The command line of this run without `--start-at` and `--start-over` (running it again
/// goes on after the checkpoint), to print.
fn again_command() -> String {
    let mut args = vec!["gamooga".to_owned()];
    let mut skip = false;
    for arg in std::env::args().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        if arg == "--start-at" {
            skip = true;
            continue;
        }
        if arg.starts_with("--start-at=") || arg == "--start-over" {
            continue;
        }
        args.push(shell_quote(&arg));
    }
    args.join(" ")
}

/// The SQLite files of a spool (the file, its WAL, shared memory and lock) and the
/// import's attempts journal.
fn spool_files(spool: &Path) -> [PathBuf; 5] {
    [
        spool.to_path_buf(),
        with_suffix(spool, "-wal"),
        with_suffix(spool, "-shm"),
        with_suffix(spool, "-lock"),
        journal::path_of(spool),
    ]
}

/// The tag source of an input: `import:` and the fingerprint of a file's start, so the
/// checkpoint of one file is never applied to another of the same name.
const SOURCE_PREFIX: &str = "import:";

fn source_name(input: Option<&Path>) -> Result<Arc<str>, CliError> {
    Ok(match input {
        Some(path) => format!("{SOURCE_PREFIX}{:016x}", journal::fingerprint(path)?).into(),
        None => format!("{SOURCE_PREFIX}stdin").into(),
    })
}

/// What an earlier run left in the spool, read before this run starts.
struct Earlier {
    pending: u64,
    /// This input's checkpoint.
    cursor: Option<Cursor>,
    /// The checkpoint of another file of this name (another fingerprint).
    foreign: bool,
    /// Rows of the backlog a run that did not stop cleanly had sent without confirmation.
    unconfirmed: u64,
}

impl Earlier {
    fn read(spool: &Path, source: &str) -> Result<Option<Earlier>, CliError> {
        let spool = match Spool::open_existing(spool) {
            Ok(spool) => spool,
            Err(gamooga::Error::Spool {
                kind: SpoolErrorKind::NotFound,
                ..
            }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let cursors = spool.cursors()?;
        Ok(Some(Earlier {
            pending: spool.pending()?,
            cursor: cursors.iter().find(|c| c.source == source).cloned(),
            foreign: cursors
                .iter()
                .any(|c| c.source.starts_with(SOURCE_PREFIX) && c.source != source),
            unconfirmed: journal::unconfirmed(&spool)?,
        }))
    }
}

/// Where this run starts reading, and why.
struct Plan {
    /// The position to open the input at (`None`: its start).
    at: Option<RowPos>,
    /// The first row read is the checkpoint's own row: skip it.
    skip_first: bool,
    /// The checkpoint this run goes on from.
    resumed: Option<Cursor>,
    /// Append to the rejects file (this run goes on from another).
    append: bool,
    /// Forget the checkpoint(s) of this input (`--start-over`).
    reset: bool,
}

fn plan(args: &ImportArgs, paths: &Paths, earlier: Option<&Earlier>) -> Result<Plan, CliError> {
    let fresh = Plan {
        at: None,
        skip_first: false,
        resumed: None,
        append: false,
        reset: false,
    };
    if args.start_over {
        return Ok(Plan {
            reset: earlier.is_some(),
            ..fresh
        });
    }
    if let Some(at) = args.start_at {
        return Ok(Plan {
            at: Some(at),
            append: true,
            ..fresh
        });
    }
    let Some(earlier) = earlier else {
        return Ok(fresh);
    };
    let spool = shell_quote(&paths.spool.display().to_string());
    if paths.input.is_none() {
        if earlier.pending > 0 {
            return Err(CliError::usage(format!(
                "{} holds {} row(s) an earlier import from standard input accepted and did not \
                 deliver yet. Standard input cannot be read again from a position: deliver them \
                 with `gamooga spool replay {spool}`, or pass --start-over to deliver them first \
                 and import this input",
                paths.spool.display(),
                earlier.pending
            )));
        }
        return Ok(fresh);
    }
    let len = paths
        .input
        .as_deref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    match &earlier.cursor {
        Some(cursor) if cursor.position >= len => Err(CliError::usage(format!(
            "the checkpoint in {} is at byte {} of {}, which has only {len} bytes now (it was              cut short since): to import it from its start, pass --start-over",
            paths.spool.display(),
            cursor.position,
            paths.shown
        ))),
        Some(cursor) => Ok(Plan {
            at: Some(RowPos {
                offset: cursor.position,
                line: cursor.extra.max(1),
            }),
            skip_first: true,
            resumed: Some(cursor.clone()),
            append: true,
            reset: false,
        }),
        None if earlier.foreign => Err(CliError::usage(format!(
            "{} holds the checkpoint of another file named {} (its first 64 KiB differ from \
             this one's): to import this file from its start, pass --start-over (the rows that \
             import left undelivered, if any, are delivered first)",
            paths.spool.display(),
            paths.shown
        ))),
        None if earlier.pending > 0 => Err(CliError::usage(format!(
            "{} holds {} row(s) accepted and not delivered yet, with no checkpoint of {} (an \
             older version wrote it, or another program). To deliver them alone: gamooga spool \
             replay {spool}; to deliver them and go on at a position: --start-at BYTE:LINE; to \
             deliver them and import the whole file: --start-over",
            paths.spool.display(),
            earlier.pending,
            paths.shown,
        ))),
        None => Ok(fresh),
    }
}

/// Runs `f` until it ends or a signal comes (then `None`).
async fn or_signal<T>(sig: &mut watch::Receiver<u32>, f: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        value = f => Some(value),
        _ = sig.changed() => None,
    }
}

/// Polls `future` once, so what it does at its first poll (an enqueue offering its row and
/// starting the spool write) happens now, in the caller's order.
fn started<T>(
    mut future: Pin<Box<dyn Future<Output = T> + Send>>,
) -> Pin<Box<dyn Future<Output = T> + Send>>
where
    T: Send + 'static,
{
    let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => Box::pin(std::future::ready(value)),
        std::task::Poll::Pending => future,
    }
}

pub async fn run(args: ImportArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let paths = args.paths();
    let format = match (args.format, &paths.input) {
        (Some(f), _) => f,
        (None, Some(path)) => Format::from_path(path).ok_or_else(|| {
            CliError::usage(format!(
                "cannot tell the format of {} from its name: pass --format csv, tsv or ndjson",
                paths.shown
            ))
        })?,
        (None, None) => return Err(CliError::usage(
            "standard input has no file name to tell its format: pass --format csv, tsv or ndjson",
        )),
    };
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(CliError::usage(
                "--rate must be a number of rows per second above 0",
            ));
        }
    }
    let mapping = args.mapping();
    let settings = conn.settings(None)?;
    let client = settings.client()?;

    if let Some(path) = &paths.input {
        if !path.is_file() {
            return Err(CliError::usage(format!("{}: no such file", paths.shown)));
        }
    }
    let source: Arc<str> = source_name(paths.input.as_deref())?;
    let earlier = Earlier::read(&paths.spool, &source)?;
    let plan = plan(&args, &paths, earlier.as_ref())?;
    let unconfirmed = earlier.as_ref().map_or(0, |e| e.unconfirmed);

    let opened = source::open(paths.input.as_deref(), format, plan.at)?;
    if let Source::Csv(reader) = &opened.source {
        if reader.headers().is_empty() {
            if args.allow_empty {
                return Ok(empty_summary(&paths, out));
            }
            return Err(CliError::usage(format!(
                "{} is empty: a CSV file needs a header line (--allow-empty to accept an empty input)",
                paths.shown
            )));
        }
        check_header(reader.headers(), &args, &mapping, &paths.shown)?;
    } else if opened.size == Some(0) && plan.at.is_none() {
        if args.allow_empty {
            return Ok(empty_summary(&paths, out));
        }
        return Err(CliError::usage(format!(
            "{} is empty: nothing to import (--allow-empty to accept an empty input)",
            paths.shown
        )));
    }

    let rejects = Arc::new(Mutex::new(Rejects::new(
        paths.rejects.clone(),
        plan.append,
    )?));
    let counts = Arc::new(Counts::default());
    let hook = {
        let (counts, rejects, source) = (counts.clone(), rejects.clone(), source.clone());
        move |dl: DeadLetter| {
            // Where the row starts, from its tag (also for a row replayed from the spool).
            let start = dl
                .tag()
                .filter(|t| t.source_arc() == &source)
                .map(|t| RowPos {
                    offset: t.position(),
                    line: t.extra(),
                });
            rejects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .dead_letter(start, &dl);
            counts.dead_letter();
        }
    };
    let config = QueueConfig::default()
        .concurrency(args.concurrency)
        .dead_letter(hook)
        .spool(&paths.spool)
        // Every dead letter stays until `gamooga spool purge`: the rejects file has them,
        // and the counts of a resumed import rely on them.
        .spool_dead_letters(DeadLetterRetention::unbounded());
    let queue = Queue::new(
        Tracker {
            client: client.clone(),
            counts: counts.clone(),
            journal: Some(Journal::open(&paths.spool)?),
        },
        client.calls().clone(),
        config,
    )?;
    if plan.reset {
        // Under the queue's writer lock: no other import is writing this spool.
        let spool = Spool::open_existing(&paths.spool)?;
        for cursor in spool.cursors()? {
            if cursor.source.starts_with(SOURCE_PREFIX) {
                spool.reset_cursor(&cursor.source)?;
            }
        }
    }
    let started_at = Instant::now();
    let mut sig = signals();

    let progress = Progress::new(opened.size, !args.no_progress);
    if let Some(cursor) = &plan.resumed {
        progress.println(&format!(
            "going on after line {} of {} (the checkpoint in {}): {} row(s) already handled \
             ({} delivered, {} rejected)",
            cursor.extra,
            paths.shown,
            paths.spool.display(),
            cursor.accepted + cursor.marked,
            cursor.delivered,
            cursor.marked
        ));
    }
    let rows = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (queue, counts, rows, read, rejects) = (
            queue.clone(),
            counts.clone(),
            rows.clone(),
            opened.read.clone(),
            rejects.clone(),
        );
        let progress_bar = progress.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let failed = rejects
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .count();
                progress_bar.update(&Sample {
                    bytes: read.load(Ordering::Relaxed),
                    rows: rows.load(Ordering::Relaxed),
                    delivered: counts.delivered.load(Ordering::Relaxed),
                    retried: queue.stats().retried,
                    failed,
                    elapsed: started_at.elapsed(),
                });
            }
        })
    };

    // What an earlier run left is delivered first, so what is counted next is this run's.
    let backlog = {
        let s = queue.stats();
        s.replayed + s.spool_backlog
    };
    let mut interrupted = false;
    if backlog > 0 {
        progress.println(&format!(
            "delivering first {backlog} row(s) an earlier run left in {}",
            paths.spool.display()
        ));
        interrupted = or_signal(&mut sig, queue.flush()).await.is_none();
    }
    // The queue's own counts: a 200 that comes after a shutdown deadline abandoned its
    // attempt is not a delivery (the row stays spooled, the attempt counted ambiguous).
    let replayed_delivered = queue.stats().delivered;
    let replayed_dead = counts.dead.load(Ordering::Relaxed);

    let channel = if args.rate.is_some() { 1 } else { 1024 };
    let (tx, mut rx) = mpsc::channel::<Item>(channel);
    let calls = client.calls().clone();
    let reader_source = opened.source;
    let reader = std::thread::spawn(move || read_rows(reader_source, mapping, calls, tx));

    let start = plan.at.unwrap_or(RowPos::START);
    let mut tally = Tally {
        watermark: start,
        ..Tally::default()
    };
    let mut invalid = 0u64;
    let mut window = Window::new();
    let mut sent = 0u64;
    let mut skip_first = plan.skip_first;
    let paced_from = Instant::now();
    let tag = |at: RowPos| Tag::new(source.clone(), at.offset).with_extra(at.line);

    // The queue has the default capacity.
    let refill = REFILL.min(QueueConfig::DEFAULT_CAPACITY);
    'rows: while !interrupted {
        // Only when the queue has room: an enqueue then never waits for it, so every enqueue
        // starts its spool write at its first poll (below), in file order. (Nothing else
        // takes room now: the backlog was read and delivered first.) Once it is full, until
        // it has room for `refill` rows.
        let mut wanted = 1;
        while queue.room() < wanted {
            wanted = refill;
            // Deliveries free a slot each: rather than waking for every one (a thread
            // wake-up and a timer per row), look again every millisecond; the queue still
            // holds thousands of rows to deliver meanwhile.
            let wait = tokio::time::sleep(Duration::from_millis(1));
            if or_signal(&mut sig, wait).await.is_none() {
                interrupted = true;
                break 'rows;
            }
        }
        let item = tokio::select! {
            biased;
            _ = sig.changed() => { interrupted = true; break 'rows; }
            item = rx.recv() => item,
        };
        let Some(item) = item else { break };
        if skip_first {
            skip_first = false;
            // The checkpoint's own row: handled by the run that moved the cursor to it.
            if item.start() == Some(start) {
                if let Item::Request { end, .. } | Item::Refused { end, .. } = &item {
                    tally.watermark = *end;
                } else if let Item::Bad(bad) = &item {
                    tally.watermark = bad.end;
                }
                continue;
            }
        }
        match item {
            Item::End => break,
            Item::Failed(e) => {
                tally.fatal = Some(e);
                break;
            }
            Item::Bad(bad) => {
                rows.fetch_add(1, Ordering::Relaxed);
                invalid += 1;
                rejects
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .bad_row(&bad);
                // After its line is written: the checkpoint may pass it.
                queue.mark_position(tag(bad.start));
                window.push_back(Box::pin(std::future::ready(Settled {
                    start: bad.start,
                    end: bad.end,
                    result: None,
                })));
            }
            Item::Refused {
                start,
                end,
                column,
                reason,
                row,
            } => {
                rows.fetch_add(1, Ordering::Relaxed);
                invalid += 1;
                rejects
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .refused(start, column.as_deref(), &reason, row);
                queue.mark_position(tag(start));
                window.push_back(Box::pin(std::future::ready(Settled {
                    start,
                    end,
                    result: None,
                })));
            }
            Item::Request {
                start,
                end,
                request,
            } => {
                if let Some(rate) = args.rate {
                    let due = paced_from + Duration::from_secs_f64(sent as f64 / rate);
                    if or_signal(&mut sig, tokio::time::sleep_until(due.into()))
                        .await
                        .is_none()
                    {
                        interrupted = true;
                        break 'rows;
                    }
                }
                rows.fetch_add(1, Ordering::Relaxed);
                sent += 1;
                let q = queue.clone();
                let row_tag = tag(start);
                window.push_back(started(Box::pin(async move {
                    let result = q.enqueue_tagged(request, row_tag).await;
                    Settled {
                        start,
                        end,
                        result: Some(result),
                    }
                })));
            }
        }
        // Polling the window drives the enqueues; finished rows retire in order.
        loop {
            let done = if window.len() > WINDOW {
                window.next().await
            } else {
                match window.next().now_or_never() {
                    Some(done) => done,
                    None => break,
                }
            };
            let Some(done) = done else { break };
            tally.retire(done, &rejects);
        }
        if tally.fatal.is_some() {
            break;
        }
    }
    drop(rx);
    // Every enqueue started finishes (none waits for room).
    while let Some(done) = window.next().await {
        tally.retire(done, &rejects);
    }
    let reached_end = !interrupted && tally.fatal.is_none();
    if reached_end && or_signal(&mut sig, queue.flush()).await.is_none() {
        interrupted = true;
    }
    let deadline = if reached_end && !interrupted {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(args.shutdown_timeout)
    };
    if interrupted {
        progress.println(&format!(
            "interrupted: stopping (up to {} s to deliver what is queued; Ctrl-C again to stop at once)",
            deadline.as_secs()
        ));
    }
    let report = or_signal(&mut sig, queue.shutdown(deadline)).await;
    ticker.abort();
    progress.finish();
    drop(reader); // it ends at its next send; reading standard input may block it until then
    let rejects_written = {
        let mut r = rejects.lock().unwrap_or_else(PoisonError::into_inner);
        r.finish()?;
        r.count()
    };
    let Some(report) = report else {
        eprintln!(
            "stopped at once: the rows accepted and not delivered stay in {}; run the same \
             command again to go on:\n  {}",
            paths.spool.display(),
            again_command()
        );
        return Ok(Exit::Interrupted);
    };
    // A clean stop: every delivery's delete is committed and the attempts in flight were
    // counted ambiguous, so the journal is done with.
    journal::remove(&paths.spool);
    let elapsed = started_at.elapsed();
    let delivered_total = report.delivered;
    let dead_total = counts.dead.load(Ordering::Relaxed);
    let delivered_rows = delivered_total - replayed_delivered;
    let failed = dead_total - replayed_dead;
    let rows_read = rows.load(Ordering::Relaxed);
    let stats = queue.stats();
    let empty_stdin = opened.size.is_none() && opened.read.load(Ordering::Relaxed) == 0;
    drop(queue);

    // The spool (and its checkpoint) is removed once the whole input was read and it holds
    // nothing: no pending row, no dead letter.
    let spool_left = Spool::open_existing(&paths.spool)?.stats()?;
    let finished = reached_end && !interrupted;
    let spool_kept = if (finished || paths.input.is_none())
        && spool_left.pending == 0
        && spool_left.dead_letters == 0
    {
        for file in spool_files(&paths.spool) {
            let _ = std::fs::remove_file(file);
        }
        false
    } else {
        true
    };
    if empty_stdin && !interrupted && tally.fatal.is_none() && !args.allow_empty {
        return Err(CliError::usage(
            "standard input is empty: nothing to import (--allow-empty to accept an empty input)",
        ));
    }
    let resume_at = (interrupted || tally.fatal.is_some()).then_some(tally.watermark);
    let rejects_path = (rejects_written > 0).then(|| paths.rejects.display().to_string());
    let spool_path = spool_kept.then(|| paths.spool.display().to_string());
    let rate = rows_read as f64 / elapsed.as_secs_f64().max(1e-9);
    let ambiguous = report.ambiguous + unconfirmed;
    let resumed = plan.resumed.as_ref();
    out.result(
        json!({
            "file": paths.shown,
            "format": format!("{format:?}").to_ascii_lowercase(),
            "start_at": args.start_at.map(|p| p.to_string()),
            "resumed_after": resumed.map(|c| RowPos { offset: c.position, line: c.extra }.to_string()),
            "skipped": resumed.map_or(0, |c| c.accepted + c.marked),
            "skipped_delivered": resumed.map_or(0, |c| c.delivered),
            "skipped_rejected": resumed.map_or(0, |c| c.marked),
            "rows": rows_read,
            "accepted": tally.accepted,
            "invalid": invalid,
            "not_queued": tally.not_queued,
            "delivered": delivered_rows,
            "failed": failed,
            "replayed": backlog,
            "replayed_delivered": replayed_delivered,
            "replayed_failed": replayed_dead,
            "dead_letters": dead_total,
            "retried": report.retried,
            "ambiguous": ambiguous,
            "unconfirmed_replayed": unconfirmed,
            "still_spooled": report.still_spooled,
            "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            "rows_per_s": rate,
            "interrupted": interrupted,
            "resume_at": resume_at.map(|p| p.to_string()),
            "rejects_file": rejects_path,
            "spool": spool_path,
        }),
        || {
            let mut text = String::new();
            if let Some(c) = resumed {
                // What earlier runs accepted and did not deliver: left in the spool (the
                // backlog, delivered first now) or dead letters.
                let other = c.accepted.saturating_sub(c.delivered + backlog);
                text.push_str(&format!(
                    "{}: went on after line {}: {} row(s) skipped, handled by earlier runs: {} \
                     delivered, {} rejected, {backlog} left in the spool (delivered first){}\n",
                    paths.shown,
                    c.extra,
                    c.accepted + c.marked,
                    c.delivered,
                    c.marked,
                    if other > 0 {
                        format!(", {other} dead letters (see gamooga spool dead)")
                    } else {
                        String::new()
                    }
                ));
            }
            text.push_str(&format!(
                "{}: {rows_read} rows in {:.1} s ({rate:.0} rows/s): {delivered_rows} delivered, \
                 {invalid} invalid, {failed} failed at Gamooga",
                paths.shown,
                elapsed.as_secs_f64(),
            ));
            if backlog > 0 {
                text.push_str(&format!(
                    "\n  {backlog} row(s) an earlier run left in the spool: {replayed_delivered} \
                     delivered, {replayed_dead} failed"
                ));
            }
            if unconfirmed > 0 {
                text.push_str(&format!(
                    "\n  {unconfirmed} of them had been sent by a run that was killed, without \
                     an answer: each may be stored twice"
                ));
            }
            text.push_str(&format!(
                "\n  {} attempt(s) retried, {ambiguous} with an unknown outcome (possible duplicates); {} latency p50",
                report.retried,
                stats.latency.map_or("-".to_owned(), |l| format!("{:?}", l.p50)),
            ));
            if let Some(path) = &rejects_path {
                text.push_str(&format!("\n  rejected rows, with their line and reason: {path}"));
            }
            if let Some(path) = &spool_path {
                text.push_str(&format!(
                    "\n  the spool keeps {} undelivered row(s), {} dead letter(s) and the \
                     checkpoint: {path}",
                    spool_left.pending, spool_left.dead_letters
                ));
            }
            text
        },
    );
    if let Some(e) = tally.fatal {
        eprintln!(
            "stopped: every row before line {} was accepted or rejected; after fixing the cause, \
             run the same command again to go on:\n  {}",
            tally.watermark.line,
            again_command()
        );
        return Err(e);
    }
    if interrupted {
        match &paths.input {
            Some(_) => eprintln!(
                "interrupted: {} accepted row(s) not delivered yet stay in {}. Run the same \
                 command again to go on (those are delivered first, then reading goes on after \
                 line {}):\n  {}",
                report.still_spooled,
                paths.spool.display(),
                tally.watermark.line.saturating_sub(1).max(1),
                again_command()
            ),
            None => eprintln!(
                "interrupted: {} accepted row(s) not delivered yet stay in {}; standard input was \
                 read up to line {} (byte {}) and cannot be read again from there",
                report.still_spooled,
                paths.spool.display(),
                tally.watermark.line,
                tally.watermark.offset
            ),
        }
        return Ok(Exit::Interrupted);
    }
    Ok(
        if rejects_written > 0 || report.still_spooled > 0 || spool_left.pending > 0 {
            Exit::Failure
        } else {
            Exit::Success
        },
    )
}

/// The summary of an empty input accepted with `--allow-empty`.
fn empty_summary(paths: &Paths, out: Output) -> Exit {
    out.result(
        json!({ "file": paths.shown, "rows": 0, "accepted": 0, "invalid": 0, "delivered": 0, "failed": 0 }),
        || format!("{}: empty, nothing to import", paths.shown),
    );
    Exit::Success
}
