//! The subcommands: one `enum Command`, one module each.

pub mod emulator;
pub mod identify;
pub mod import;
pub mod outbox;
pub mod relay;
pub mod resolve;
pub mod send;
pub mod spool;

use clap::{Args, Parser, Subcommand};

use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;

/// gamooga: send events to Gamooga, identify users, resolve backends, import CSV and NDJSON
/// files through the SDK's spooled delivery queue, tend spools left behind, relay a
/// PostgreSQL outbox and tend its dead letters.
#[derive(Debug, Parser)]
#[command(
    name = "gamooga",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "\
Configuration: flags first, then GAMOOGA_COMPANY_ID, GAMOOGA_CONFIG_URL, GAMOOGA_BACKEND.
Output: --json (before or after the subcommand) prints one JSON object per result.
Exit status: 0 done; 1 a call or some rows failed; 2 bad usage or configuration; 130 interrupted.")]
pub struct Cli {
    /// Print one JSON object per result (stable field names) instead of text for people
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The output flag of a subcommand, `--json`. Not a global flag: `gamooga emulator` keeps
/// the emulator binary's `--json FILE` (see `emulator.rs`).
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print one JSON object per result (stable field names) instead of text for people
    #[arg(long = "json", help_heading = "Output")]
    pub json: bool,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one event (evwid, evwidj, ev, evvprwid) or visitor properties (vpr)
    #[command(long_about = send::LONG_ABOUT)]
    Send {
        #[command(flatten)]
        args: send::SendArgs,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Look up (or create) the visitor id of a user, or link a user to a visitor (id)
    Identify {
        #[command(flatten)]
        args: identify::IdentifyArgs,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Show the company's backend, where it came from and how long resolving took
    Resolve {
        #[command(flatten)]
        args: resolve::ResolveArgs,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Import a CSV or NDJSON file (or standard input): one event or visitor-property push
    /// per row, through the spooled delivery queue, resumable after any stop
    #[command(long_about = import::LONG_ABOUT)]
    Import {
        #[command(flatten)]
        args: import::ImportArgs,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Look into a spool file: stats, dead letters, replay, purge
    Spool {
        #[command(subcommand)]
        command: spool::SpoolCommand,
        /// Print one JSON object per result (stable field names) instead of text for people
        #[arg(long = "json", global = true, help_heading = "Output")]
        json: bool,
    },
    /// Run the local Gamooga emulator (prints every call it receives; --json FILE writes
    /// them as JSON lines)
    Emulator(emulator::EmulatorArgs),
    /// Deliver a PostgreSQL outbox (gamooga::outbox) to Gamooga until Ctrl-C or SIGTERM
    Relay {
        #[command(flatten)]
        args: relay::RelayArgs,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Look into a PostgreSQL outbox: stats, dead letters, replay, purge
    Outbox {
        #[command(subcommand)]
        command: outbox::OutboxCommand,
        /// Print one JSON object per result (stable field names) instead of text for people
        #[arg(long = "json", global = true, help_heading = "Output")]
        json: bool,
    },
}

/// Runs the command; `Ok` carries the exit status of a command that ran to its end.
pub async fn run(cli: Cli) -> Result<Exit, CliError> {
    let out = |json: bool| Output {
        json: cli.json || json,
    };
    match cli.command {
        Command::Send { args, output } => send::run(args, &cli.connection, out(output.json)).await,
        Command::Identify { args, output } => {
            identify::run(args, &cli.connection, out(output.json)).await
        }
        Command::Resolve { args, output } => {
            resolve::run(args, &cli.connection, out(output.json)).await
        }
        Command::Import { args, output } => {
            import::run(args, &cli.connection, out(output.json)).await
        }
        Command::Spool { command, json } => spool::run(command, &cli.connection, out(json)).await,
        Command::Relay { args, output } => {
            relay::run(args, &cli.connection, out(output.json)).await
        }
        Command::Outbox { command, json } => outbox::run(command, &cli.connection, out(json)).await,
        Command::Emulator(args) => emulator::run(args, cli.json).await,
    }
}
