//! `gamooga`: the command line of the gamooga SDK.
//!
//! Every call it makes goes through the SDK's call builders, client and delivery queue, so it
//! is as exact on the wire and as reliable as the library. See `gamooga --help` and the
//! crate's README for the subcommands, the `--json` output and the exit codes.

mod command;
mod config;
mod error;
mod output;
mod record;
mod time_arg;
mod value;

use std::process::ExitCode;

use clap::Parser;

use crate::command::Cli;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits with status 2.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gamooga: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(command::run(cli));
    // Nothing may keep the process alive after the command is done (an emulator, a stuck
    // connection): the command has already reported everything.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("gamooga: {e}");
            e.exit_code().into()
        }
    }
}
