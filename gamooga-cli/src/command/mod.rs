//! The subcommands: one `enum Command`, one module each.

pub mod emulator;
pub mod identify;
pub mod import;
pub mod resolve;
pub mod send;
pub mod spool;

use clap::{Parser, Subcommand};

use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;

/// gamooga: send events to Gamooga, identify users, resolve backends, import CSV and NDJSON
/// files through the SDK's spooled delivery queue, and tend spools left behind.
#[derive(Debug, Parser)]
#[command(
    name = "gamooga",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "\
Configuration: flags first, then GAMOOGA_COMPANY_ID, GAMOOGA_CONFIG_URL, GAMOOGA_BACKEND.
Exit status: 0 done; 1 a call or some rows failed; 2 bad usage or configuration; 130 interrupted.")]
pub struct Cli {
    /// Print one JSON object per result (stable field names) instead of text for people
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one event (evwid, evwidj, ev, evvprwid) or visitor properties (vpr)
    #[command(long_about = send::LONG_ABOUT)]
    Send(send::SendArgs),
    /// Look up (or create) the visitor id of a user, or link a user to a visitor (id)
    Identify(identify::IdentifyArgs),
    /// Show the company's backend, where it came from and how long resolving took
    Resolve(resolve::ResolveArgs),
    /// Import a CSV or NDJSON file (or standard input): one event or visitor-property push
    /// per row, through the spooled delivery queue
    #[command(long_about = import::LONG_ABOUT)]
    Import(import::ImportArgs),
    /// Look into a spool file: stats, dead letters, replay, purge
    #[command(subcommand)]
    Spool(spool::SpoolCommand),
    /// Run the local Gamooga emulator (prints every call it receives)
    Emulator(emulator::EmulatorArgs),
}

/// Runs the command; `Ok` carries the exit status of a command that ran to its end.
pub async fn run(cli: Cli) -> Result<Exit, CliError> {
    let out = Output { json: cli.json };
    match cli.command {
        Command::Send(args) => send::run(args, &cli.connection, out).await,
        Command::Identify(args) => identify::run(args, &cli.connection, out).await,
        Command::Resolve(args) => resolve::run(args, &cli.connection, out).await,
        Command::Import(args) => import::run(args, &cli.connection, out).await,
        Command::Spool(command) => spool::run(command, &cli.connection, out).await,
        Command::Emulator(args) => emulator::run(args, out).await,
    }
}
