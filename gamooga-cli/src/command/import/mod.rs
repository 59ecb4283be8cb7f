//! `gamooga import`: a CSV or NDJSON file (or standard input) to Gamooga, one event or one
//! visitor-property push per row, through the SDK's delivery queue with its spool on.
//!
//! How it runs:
//!
//! - a reader thread streams the rows ([`source`]), each with its position (byte offset and
//!   line), maps them to requests with the SDK's call builders ([`mapping`]) and hands them
//!   over a bounded channel, so memory does not grow with the file;
//! - the main task paces them (`--rate`), notes which row each request is ([`tracker`]) and
//!   enqueues them (up to 512 enqueues in flight, polled in place, so the spool's group
//!   commit batches them),
//!   never holding more rows than the queue's capacity;
//! - rows refused by the reader or the SDK's checks, and dead letters, go to the rejects
//!   file ([`rejects`]) with their line;
//! - Ctrl-C (or SIGTERM) stops reading, waits for the enqueues in flight, and shuts the
//!   queue down within `--shutdown-timeout`: accepted rows not yet delivered stay in the
//!   spool. Every row before the printed `--start-at BYTE:LINE` was accepted or refused, so
//!   running the command again with it goes on where this run stopped (the spool's rows
//!   first).
//!
//! TODO(resume, after the spool rework): a checkpoint committed with each spool row, so that
//! running the same command again after any stop (SIGKILL included) skips the rows already
//! accepted without `--start-at`. The pieces are here: every accepted row has a known
//! position (`Settled::end`), and [`source::open`] starts reading at any row position.

mod csv;
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
use gamooga::queue::{DeadLetter, EnqueueError, Queue, QueueConfig};
use gamooga::spool::Spool;
use gamooga::{DataType, Request};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use self::mapping::{EventName, Identity, Kind, Mapping};
use self::progress::{Progress, Sample};
use self::rejects::Rejects;
use self::source::{BadRow, Format, Next, RowPos, Source};
use self::tracker::{key, Held, Tracker};
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

The spool (FILE.gamooga-spool) keeps every accepted row until Gamooga answered 200.
After Ctrl-C, the command to go on where it stopped is printed.";

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

    /// Start reading at this position (printed by an interrupted import); the rejects file
    /// is appended to
    #[arg(long, value_name = "BYTE:LINE", value_parser = RowPos::parse)]
    pub start_at: Option<RowPos>,

    /// Import the whole file even though the spool holds undelivered rows of an earlier run
    /// (those are delivered first; rows that run accepted are sent again)
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

/// A row handed over, once its enqueue finished (or at once when it was refused): where
/// it ends, its request's key, and whether the queue accepted it.
struct Settled {
    end: RowPos,
    key: Option<u64>,
    result: Result<(), EnqueueError>,
}

/// The rows handed over, in file order: polled in place (no task per row).
type Window = FuturesOrdered<Pin<Box<dyn Future<Output = Settled> + Send>>>;

/// Retires a row: advances the watermark past every row handled in order.
fn retire(
    done: Settled,
    held: &Held,
    watermark: &mut RowPos,
    accepted: &mut u64,
    fatal: &mut Option<CliError>,
) {
    match (done.key, done.result) {
        (Some(k), Err(e)) => {
            held.release(k);
            fatal.get_or_insert(CliError::failed(format!("a row could not be queued: {e}")));
        }
        (key, Ok(())) => {
            *accepted += u64::from(key.is_some());
            if fatal.is_none() {
                *watermark = done.end;
            }
        }
        (None, Err(_)) => unreachable!("refused rows are not enqueued"),
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

/// The command line of this run with `--start-at` set to `at`, to print.
fn resume_command(at: RowPos) -> String {
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
    args.push(format!("--start-at {at}"));
    args.join(" ")
}

/// The SQLite files of a spool: the file, its WAL, shared memory and lock.
fn spool_files(spool: &Path) -> [PathBuf; 4] {
    [
        spool.to_path_buf(),
        with_suffix(spool, "-wal"),
        with_suffix(spool, "-shm"),
        with_suffix(spool, "-lock"),
    ]
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

    // An earlier run's rows still in the spool: going on needs --start-at (or --start-over).
    if paths.spool.is_file() {
        let pending = Spool::open(&paths.spool)?.pending()?;
        if pending > 0 && args.start_at.is_none() && !args.start_over {
            return Err(CliError::usage(format!(
                "{} holds {pending} row(s) an earlier import accepted and did not deliver yet. \
                 To go on with that import, run it with the --start-at BYTE:LINE it printed; to \
                 deliver them alone: gamooga spool replay {}; to import the whole file again \
                 anyway (rows already delivered are sent twice): --start-over",
                paths.spool.display(),
                shell_quote(&paths.spool.display().to_string()),
            )));
        }
    }

    let opened = source::open(paths.input.as_deref(), format, args.start_at)?;
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
    } else if opened.size == Some(0) && args.start_at.is_none() {
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
        args.start_at.is_some(),
    )?));
    let held = Arc::new(Held::default());
    let dead_total = Arc::new(AtomicU64::new(0));
    let hook = {
        let (held, rejects, dead_total) = (held.clone(), rejects.clone(), dead_total.clone());
        move |dl: DeadLetter| {
            let start = held.dead(key(dl.request()));
            dead_total.fetch_add(1, Ordering::Relaxed);
            rejects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .dead_letter(start, &dl);
        }
    };
    let config = QueueConfig::default()
        .concurrency(args.concurrency)
        .dead_letter(hook)
        .spool(&paths.spool);
    let capacity = config.get_capacity() as u64;
    let queue = Queue::new(
        Tracker {
            client: client.clone(),
            held: held.clone(),
        },
        client.calls().clone(),
        config,
    )?;
    let replayed = queue.stats().enqueued;
    let started = Instant::now();

    let progress = Progress::new(opened.size, !args.no_progress);
    if replayed > 0 {
        progress.println(&format!(
            "delivering first {replayed} row(s) an earlier run left in {}",
            paths.spool.display()
        ));
    }
    let rows = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (queue, held, rows, read, rejects) = (
            queue.clone(),
            held.clone(),
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
                    delivered: held.delivered.load(Ordering::Relaxed),
                    retried: queue.stats().retried,
                    failed,
                    elapsed: started.elapsed(),
                });
            }
        })
    };

    let channel = if args.rate.is_some() { 1 } else { 1024 };
    let (tx, mut rx) = mpsc::channel::<Item>(channel);
    let calls = client.calls().clone();
    let source = opened.source;
    let reader = std::thread::spawn(move || read_rows(source, mapping, calls, tx));

    let mut sig = signals();
    let start = args.start_at.unwrap_or(RowPos::START);
    let mut watermark = start;
    let (mut accepted, mut invalid) = (0u64, 0u64);
    let mut interrupted = false;
    let mut fatal: Option<CliError> = None;
    let mut window = Window::new();
    let mut sent = 0u64;
    let paced_from = Instant::now();

    'rows: loop {
        // Never more rows in the queue than it holds: an enqueue then never waits for room.
        loop {
            let replay_left = replayed.saturating_sub(held.other_settled.load(Ordering::Relaxed));
            if held.held() + replay_left < capacity {
                break;
            }
            tokio::select! {
                () = held.settled.notified() => {}
                _ = sig.changed() => { interrupted = true; break 'rows; }
            }
        }
        let item = tokio::select! {
            biased;
            _ = sig.changed() => { interrupted = true; break 'rows; }
            item = rx.recv() => item,
        };
        match item {
            None | Some(Item::End) => break,
            Some(Item::Failed(e)) => {
                fatal = Some(e);
                break;
            }
            Some(Item::Bad(bad)) => {
                rows.fetch_add(1, Ordering::Relaxed);
                invalid += 1;
                rejects
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .bad_row(&bad);
                window.push_back(Box::pin(std::future::ready(Settled {
                    end: bad.end,
                    key: None,
                    result: Ok(()),
                })));
            }
            Some(Item::Refused {
                start,
                end,
                column,
                reason,
                row,
            }) => {
                rows.fetch_add(1, Ordering::Relaxed);
                invalid += 1;
                rejects
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .refused(start, column.as_deref(), &reason, row);
                window.push_back(Box::pin(std::future::ready(Settled {
                    end,
                    key: None,
                    result: Ok(()),
                })));
            }
            Some(Item::Request {
                start,
                end,
                request,
            }) => {
                if let Some(rate) = args.rate {
                    let due = paced_from + Duration::from_secs_f64(sent as f64 / rate);
                    tokio::select! {
                        () = tokio::time::sleep_until(due.into()) => {}
                        _ = sig.changed() => { interrupted = true; break 'rows; }
                    }
                }
                rows.fetch_add(1, Ordering::Relaxed);
                sent += 1;
                let k = key(&request);
                held.hold(k, start);
                let q = queue.clone();
                window.push_back(Box::pin(async move {
                    let result = q.enqueue(request).await;
                    Settled {
                        end,
                        key: Some(k),
                        result,
                    }
                }));
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
            retire(done, &held, &mut watermark, &mut accepted, &mut fatal);
        }
        if fatal.is_some() {
            break;
        }
    }
    drop(rx);
    // Every enqueue started finishes (none waits for room), so every row before the
    // watermark is accepted or refused.
    while let Some(done) = window.next().await {
        retire(done, &held, &mut watermark, &mut accepted, &mut fatal);
    }
    let reached_end = !interrupted && fatal.is_none();
    if reached_end {
        tokio::select! {
            () = queue.flush() => {}
            _ = sig.changed() => { interrupted = true; }
        }
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
    let report = tokio::select! {
        report = queue.shutdown(deadline) => Some(report),
        _ = sig.changed() => None,
    };
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
            "stopped at once: the rows accepted and not delivered stay in {}; go on with:\n  {}",
            paths.spool.display(),
            resume_command(watermark)
        );
        return Ok(Exit::Interrupted);
    };
    let elapsed = started.elapsed();
    let delivered_rows = held.delivered.load(Ordering::Relaxed);
    let dead = dead_total.load(Ordering::Relaxed);
    let failed = dead;
    let rows_read = rows.load(Ordering::Relaxed);
    let stats = queue.stats();
    let empty_stdin = opened.size.is_none() && opened.read.load(Ordering::Relaxed) == 0;

    // The spool is removed once it holds nothing: no pending row, no dead letter.
    let spool_kept = if report.still_spooled == 0 {
        let spool = Spool::open(&paths.spool)?;
        let empty = spool.pending()? == 0 && spool.dead_letters()?.is_empty();
        drop(spool);
        if empty {
            for file in spool_files(&paths.spool) {
                let _ = std::fs::remove_file(file);
            }
        }
        !empty
    } else {
        true
    };
    if empty_stdin && !interrupted && fatal.is_none() && !args.allow_empty {
        return Err(CliError::usage(
            "standard input is empty: nothing to import (--allow-empty to accept an empty input)",
        ));
    }
    let resume_at = (interrupted || fatal.is_some()).then_some(watermark);
    let rejects_path = (rejects_written > 0).then(|| paths.rejects.display().to_string());
    let spool_path = spool_kept.then(|| paths.spool.display().to_string());
    let rate = rows_read as f64 / elapsed.as_secs_f64().max(1e-9);
    out.result(
        json!({
            "file": paths.shown,
            "format": format!("{format:?}").to_ascii_lowercase(),
            "start_at": args.start_at.map(|p| p.to_string()),
            "rows": rows_read,
            "accepted": accepted,
            "invalid": invalid,
            "delivered": delivered_rows,
            "failed": failed,
            "replayed": replayed,
            "replayed_delivered": report.delivered.saturating_sub(delivered_rows),
            "dead_letters": dead,
            "retried": report.retried,
            "ambiguous": report.ambiguous,
            "still_spooled": report.still_spooled,
            "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            "rows_per_s": rate,
            "interrupted": interrupted,
            "resume_at": resume_at.map(|p| p.to_string()),
            "rejects_file": rejects_path,
            "spool": spool_path,
        }),
        || {
            let mut text = format!(
                "{}: {rows_read} rows in {:.1} s ({rate:.0} rows/s): {delivered_rows} delivered, \
                 {invalid} invalid, {failed} failed at Gamooga",
                paths.shown,
                elapsed.as_secs_f64(),
            );
            if replayed > 0 {
                text.push_str(&format!(
                    "\n  {replayed} row(s) of an earlier run replayed from the spool, {} delivered",
                    report.delivered.saturating_sub(delivered_rows)
                ));
            }
            text.push_str(&format!(
                "\n  {} attempt(s) retried, {} with an unknown outcome (possible duplicates); {} latency p50",
                report.retried,
                report.ambiguous,
                stats.latency.map_or("-".to_owned(), |l| format!("{:?}", l.p50)),
            ));
            if let Some(path) = &rejects_path {
                text.push_str(&format!("\n  rejected rows, with their line and reason: {path}"));
            }
            if let Some(path) = &spool_path {
                text.push_str(&format!(
                    "\n  the spool keeps {} undelivered row(s) and the dead letters: {path}",
                    report.still_spooled
                ));
            }
            text
        },
    );
    if let Some(e) = fatal {
        eprintln!(
            "stopped: every row before line {} was accepted or rejected; after fixing the cause, \
             go on with:\n  {}",
            watermark.line,
            resume_command(watermark)
        );
        return Err(e);
    }
    if interrupted {
        match &paths.input {
            Some(_) if report.still_spooled > 0 => eprintln!(
                "interrupted: {} accepted row(s) not delivered yet stay in {}. To go on where this \
                 run stopped (those are delivered first):\n  {}",
                report.still_spooled,
                paths.spool.display(),
                resume_command(watermark)
            ),
            Some(_) => eprintln!(
                "interrupted: every row accepted was delivered. To go on where this run \
                 stopped:\n  {}",
                resume_command(watermark)
            ),
            None => eprintln!(
                "interrupted: {} accepted row(s) not delivered yet stay in {}; standard input was \
                 read up to line {} (byte {}) and cannot be read again from there",
                report.still_spooled,
                paths.spool.display(),
                watermark.line,
                watermark.offset
            ),
        }
        return Ok(Exit::Interrupted);
    }
    Ok(if rejects_written > 0 || report.still_spooled > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// The summary of an empty input accepted with `--allow-empty`.
fn empty_summary(paths: &Paths, out: Output) -> Exit {
    out.result(
        json!({ "file": paths.shown, "rows": 0, "accepted": 0, "invalid": 0, "delivered": 0, "failed": 0 }),
        || format!("{}: empty, nothing to import", paths.shown),
    );
    Exit::Success
}
