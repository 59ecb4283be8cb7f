//! The emulator as a program: what the `gamooga-emulator` binary (and `gamooga emulator`)
//! runs. Starts an emulator on fixed ports, prints one line per call (and optionally JSON
//! lines to a file), loads a tracking plan, and serves until stopped.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), gamooga_emulator::serve::ServeError> {
//! let mut options = gamooga_emulator::serve::Options::default();
//! options.port = 8686;
//! options.plan = Some("tracking-plan.json".into());
//! gamooga_emulator::serve::run(options).await // until Ctrl-C
//! # }
//! ```

use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc;

use crate::call::RecordedCall;
use crate::emulator::{Emulator, DEFAULT_SEED};
use crate::log::DEFAULT_MAX_RECORDED;
use crate::plan::{Plan, PlanError};

/// How to run the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The API's port on 127.0.0.1 (default 8686; 0 = any free port).
    pub port: u16,
    /// The inspector's port (default: the API's port + 1, or any free port when that is 0).
    pub inspector_port: Option<u16>,
    /// Only these companies exist (default: any).
    pub companies: Vec<String>,
    /// Seed of visitor ids and random faults.
    pub seed: u64,
    /// Calls kept in memory.
    pub max_recorded: usize,
    /// Also write every call as a JSON line to this file.
    pub json: Option<PathBuf>,
    /// Check every call against this tracking plan (`TrackingPlan::to_json()`).
    pub plan: Option<PathBuf>,
    /// Print no line per call.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 8686,
            inspector_port: None,
            companies: Vec::new(),
            seed: DEFAULT_SEED,
            max_recorded: DEFAULT_MAX_RECORDED,
            json: None,
            plan: None,
            quiet: false,
        }
    }
}

impl Options {
    /// The inspector's port these options give.
    pub fn inspector_port(&self) -> u16 {
        self.inspector_port.unwrap_or(match self.port {
            0 => 0,
            p => p.saturating_add(1),
        })
    }
}

/// Why the emulator could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The JSON lines file could not be created.
    #[error("cannot create {path}: {source}")]
    CreateJson {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The tracking plan could not be loaded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A port could not be bound.
    #[error(
        "cannot listen on 127.0.0.1:{port} (and {inspector_port} for the inspector): {source}"
    )]
    Listen {
        /// The API's port.
        port: u16,
        /// The inspector's port.
        inspector_port: u16,
        /// Why.
        source: io::Error,
    },
    /// Ctrl-C could not be waited for.
    #[error("cannot wait for Ctrl-C: {0}")]
    Signal(io::Error),
}

/// Writes a notice to stderr; a closed stderr (the reader went away) is not a reason to stop
/// serving, unlike `eprintln!`, which panics then.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr(), $($arg)*);
    }};
}

/// Runs the emulator until Ctrl-C. Prints where it listens to stderr, then one line per call
/// to stdout (unless `quiet`).
///
/// # Errors
/// See [`ServeError`].
pub async fn run(options: Options) -> Result<(), ServeError> {
    let mut signal_error = None;
    let result = run_until(options, async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            signal_error = Some(e);
        }
    })
    .await;
    match signal_error {
        Some(e) => Err(ServeError::Signal(e)),
        None => result,
    }
}

/// Creates (or truncates) a file only its owner can read: the JSON lines hold user ids and
/// property values. An existing file keeps its permissions, as `open(2)` does.
fn create_private(path: &std::path::Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Runs the emulator until `shutdown` resolves (for embedding it: tests, a CLI with its own
/// signal handling).
///
/// # Errors
/// See [`ServeError`].
pub async fn run_until(
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let json = match &options.json {
        Some(path) => Some(BufWriter::new(create_private(path).map_err(|source| {
            ServeError::CreateJson {
                path: path.clone(),
                source,
            }
        })?)),
        None => None,
    };
    let plan = options.plan.as_ref().map(Plan::from_file).transpose()?;
    let printing = !options.quiet || json.is_some();
    let (send, receive) = mpsc::channel::<RecordedCall>();
    let inspector_port = options.inspector_port();
    let mut builder = Emulator::builder()
        .port(options.port)
        .inspector_port(inspector_port)
        .seed(options.seed)
        .max_recorded(options.max_recorded);
    if !options.companies.is_empty() {
        builder = builder.companies(options.companies.clone());
    }
    if let Some(plan) = plan {
        builder = builder.plan(plan);
    }
    if printing {
        builder = builder.on_call(move |call| {
            let _ = send.send(call.clone());
        });
    }
    let writer = printing.then(|| spawn_writer(options.quiet, json, receive));
    let emulator = builder.start().await.map_err(|source| ServeError::Listen {
        port: options.port,
        inspector_port,
        source,
    })?;
    note!(
        "gamooga emulator listening: config URL {}, backend {}{}",
        emulator.config_url(),
        emulator.backend(),
        if options.companies.is_empty() {
            String::new()
        } else {
            format!(", companies {}", options.companies.join(", "))
        }
    );
    note!(
        "inspector (live calls, filters, tracking plan, faults): {}",
        emulator.inspector_url()
    );
    if let Some(path) = &options.plan {
        note!("tracking plan: {}", path.display());
    }
    shutdown.await;
    note!(
        "gamooga emulator stopping after {} calls",
        emulator.total_calls()
    );
    // The writer flushes after every batch of calls, so nothing printed is lost here.
    drop((emulator, writer));
    Ok(())
}

/// Writes calls on a thread of its own, so the server never waits on the terminal.
fn spawn_writer(
    quiet: bool,
    mut json: Option<BufWriter<File>>,
    calls: mpsc::Receiver<RecordedCall>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut out = BufWriter::new(io::stdout().lock());
        let write = |call: &RecordedCall,
                     out: &mut BufWriter<io::StdoutLock<'_>>,
                     json: &mut Option<BufWriter<File>>|
         -> io::Result<()> {
            if !quiet {
                writeln!(out, "{call}")?;
            }
            if let Some(file) = json {
                serde_json::to_writer(&mut *file, call)?;
                file.write_all(b"\n")?;
            }
            Ok(())
        };
        while let Ok(call) = calls.recv() {
            let mut result = write(&call, &mut out, &mut json);
            // Write whatever else is queued, then flush once.
            while let (Ok(()), Ok(call)) = (&result, calls.try_recv()) {
                result = write(&call, &mut out, &mut json);
            }
            let flushed = result
                .and_then(|()| out.flush())
                .and_then(|()| json.as_mut().map_or(Ok(()), Write::flush));
            if let Err(e) = flushed {
                note!("gamooga-emulator: cannot write calls: {e}");
                return;
            }
        }
    })
}
