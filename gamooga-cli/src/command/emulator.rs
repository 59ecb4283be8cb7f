//! `gamooga emulator`: the local Gamooga emulator, so one binary is enough.
//!
//! It runs exactly what the `gamooga-emulator` binary runs: the emulator library's
//! [`serve::run_until`], with the same options. The flags keep their meaning from that
//! binary, `--json FILE` included (every call as a JSON line to FILE). That is why the
//! command line's output flag, `--json` without a value, is not a global flag: each other
//! subcommand takes it for itself (`gamooga import f.csv --json` or `gamooga --json import
//! f.csv`), and here `--json` names a file. The emulator's own output (one line per call to
//! standard output, where it listens to standard error) is the same with or without it.

use std::path::PathBuf;

use clap::Args;
use gamooga_emulator::serve::{self, Options};

use crate::error::{CliError, Exit};

/// Run a local, strict Gamooga on 127.0.0.1 (what `gamooga-emulator` runs), printing one
/// line per call it receives, until Ctrl-C or SIGTERM. Point the other subcommands at it
/// with --config-url http://127.0.0.1:PORT. Its inspector (every call live, faults, the
/// tracking plan) is at http://127.0.0.1:INSPECTOR_PORT/_emulator/.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// The port to listen on (0: any free port)
    #[arg(long, short = 'p', default_value_t = 8686)]
    pub port: u16,

    /// The inspector's port (default: PORT + 1; 0: any free port)
    #[arg(long, value_name = "PORT")]
    pub inspector_port: Option<u16>,

    /// Also write every call as one JSON line to FILE (created readable by its owner only)
    #[arg(long = "json", alias = "calls-json", value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Check every call against this tracking plan (the JSON of TrackingPlan::to_json())
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Only these companies exist (repeatable; default: any)
    #[arg(long = "only-company", value_name = "NAME")]
    pub companies: Vec<String>,

    /// Seed of visitor ids and random faults
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Calls kept in memory for inspection (counts stay exact)
    #[arg(long, value_name = "N")]
    pub max_recorded: Option<usize>,

    /// Do not print calls
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl EmulatorArgs {
    fn options(self) -> Options {
        let mut options = Options::default();
        options.port = self.port;
        options.inspector_port = self.inspector_port;
        options.companies = self.companies;
        if let Some(seed) = self.seed {
            options.seed = seed;
        }
        if let Some(n) = self.max_recorded {
            options.max_recorded = n;
        }
        options.json = self.json;
        options.plan = self.plan;
        options.quiet = self.quiet;
        options
    }
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub async fn run(args: EmulatorArgs, json_output: bool) -> Result<Exit, CliError> {
    if json_output {
        return Err(CliError::usage(
            "the emulator prints its own lines and takes no output flag before `emulator`; \
             to write every call as a JSON line: gamooga emulator --json FILE",
        ));
    }
    let options = args.options();
    serve::run_until(options, stop_signal())
        .await
        .map_err(|e| match e {
            serve::ServeError::Plan(_) | serve::ServeError::CreateJson { .. } => {
                CliError::usage(e.to_string())
            }
            other => CliError::failed(other.to_string()),
        })?;
    Ok(Exit::Success)
}
