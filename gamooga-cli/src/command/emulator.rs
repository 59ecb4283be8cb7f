//! `gamooga emulator`: the local Gamooga emulator, so one binary is enough.
//!
//! Phase 1: a thin use of the emulator library (`Emulator::builder`). The emulator's own
//! binary is being turned into a library function (with its web inspector and tracking plan
//! checks, `--plan`); this subcommand will call that instead.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc;

use clap::Args;
use gamooga_emulator::{Emulator, RecordedCall};
use serde_json::json;

use crate::error::{CliError, Exit};
use crate::output::Output;

/// Run a local, strict Gamooga on 127.0.0.1, printing one line per call it receives, until
/// Ctrl-C. Point the other subcommands at it with --config-url http://127.0.0.1:PORT.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// The port to listen on (0: any free port)
    #[arg(long, default_value_t = 8686)]
    pub port: u16,

    /// Also write every call as one JSON line to FILE
    #[arg(long = "calls-json", value_name = "FILE")]
    pub calls_json: Option<PathBuf>,

    /// Only these companies exist (repeatable; default: any)
    #[arg(long = "only-company", value_name = "NAME")]
    pub companies: Vec<String>,

    /// Do not print calls
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub async fn run(args: EmulatorArgs, out: Output) -> Result<Exit, CliError> {
    let mut json_file = match &args.calls_json {
        Some(path) => Some(BufWriter::new(
            File::create(path).map_err(|e| CliError::io(path.display(), e))?,
        )),
        None => None,
    };
    let (send, receive) = mpsc::channel::<RecordedCall>();
    let mut builder = Emulator::builder().port(args.port);
    if !args.companies.is_empty() {
        builder = builder.companies(args.companies.clone());
    }
    let printing = !args.quiet || json_file.is_some();
    if printing {
        builder = builder.on_call(move |call| {
            let _ = send.send(call.clone());
        });
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| CliError::failed(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    out.result(
        json!({
            "listening": emulator.addr().to_string(),
            "config_url": emulator.config_url(),
            "backend": emulator.backend(),
        }),
        || {
            format!(
                "gamooga emulator listening: config URL {}, backend {}",
                emulator.config_url(),
                emulator.backend()
            )
        },
    );
    // Calls are printed on a thread of their own, so the server never waits on the terminal.
    let quiet = args.quiet || out.json;
    if printing {
        std::thread::spawn(move || {
            let mut stdout = std::io::stdout().lock();
            while let Ok(call) = receive.recv() {
                if !quiet {
                    let _ = writeln!(stdout, "{call}");
                }
                if let Some(file) = &mut json_file {
                    let _ = serde_json::to_writer(&mut *file, &call);
                    let _ = file.write_all(b"\n");
                    let _ = file.flush();
                }
            }
        });
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::failed(format!("cannot wait for Ctrl-C: {e}")))?;
    eprintln!(
        "gamooga emulator stopping after {} calls",
        emulator.total_calls()
    );
    // The printing thread flushes after every call; it ends with the process.
    drop(emulator);
    Ok(Exit::Success)
}
