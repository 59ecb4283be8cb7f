//! `gamooga-emulator`: runs a local Gamooga emulator and prints every call it receives.
//! The logic is the library's [`gamooga_emulator::serve`]; this file reads the arguments.

use std::process::ExitCode;

use gamooga_emulator::serve::{self, Options};

const HELP: &str = "\
gamooga-emulator: a local, strict Gamooga server for tests and debugging

USAGE:
    gamooga-emulator [OPTIONS]

It listens on 127.0.0.1 and serves, on one port, the configuration call
    GET /newnaconf/{company}/       -> {\"evbk\": \"127.0.0.1:PORT\", ...}
and the backend calls
    GET /evwid/  POST /evwidj/  GET /ev/  GET /evvprwid/  GET /vpr/  GET /id/
validating each strictly: a bad call is answered 400 (405 wrong method, 404 unknown
company or path) with {\"result\":\"failure\",\"error\":\"<reason>\"}.
Point a client at the config URL http://127.0.0.1:PORT (or the backend 127.0.0.1:PORT).

It prints one line per call, e.g.
    evwid  acme  u=user-42  purchase  amount=12.5 (n)  sku=\"A&B\" (s)  -> 200
and rejected calls with their reason.

The inspector, a web page with every call live (filters, details, the tracking plan's
violations, the schema seen, faults, a composer), is at
    http://127.0.0.1:INSPECTOR_PORT/_emulator/
and its JSON API beside it (on both ports):
    GET  /_emulator/calls?endpoint=&company=&event=&id=&status=&q=&limit=
    GET  /_emulator/calls/{seq} | events | rejected | counts | summary | schema
    GET  /_emulator/visitors/{visitor id}
    GET|POST|DELETE /_emulator/plan      GET|POST /_emulator/faults
    POST /_emulator/reset   POST /_emulator/compose   GET /_emulator/stream (events)

OPTIONS:
    -p, --port PORT          port to listen on (default 8686; 0 = any free port)
        --inspector-port P   the inspector's port (default PORT + 1; 0 = any free port)
    -c, --company NAME       only this company exists (repeatable; default: any company)
        --plan FILE          check every call against this tracking plan (the JSON of
                             TrackingPlan::to_json())
        --seed N             seed for visitor ids and random failures (default fixed)
        --max-recorded N     calls kept in memory for inspection (default 1000000;
                             counts stay exact)
        --json FILE          also write every call as one JSON line to FILE
    -q, --quiet              do not print calls
    -h, --help               print this help
    -V, --version            print the version
";

enum Command {
    Run(Options),
    Help,
    Version,
}

/// The value of option `name`, parsed.
fn value<T>(parser: &mut lexopt::Parser, name: &str) -> Result<T, String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw = parser.value().map_err(|e| e.to_string())?;
    let text = raw
        .to_str()
        .ok_or_else(|| format!("{name}: the value is not valid UTF-8"))?;
    text.parse()
        .map_err(|e| format!("{name}: cannot use {text:?}: {e}"))
}

fn parse_args() -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut options = Options::default();
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('p') | Long("port") => options.port = value(&mut parser, "--port")?,
            Long("inspector-port") => {
                options.inspector_port = Some(value(&mut parser, "--inspector-port")?);
            }
            Short('c') | Long("company") => {
                options.companies.push(value(&mut parser, "--company")?);
            }
            Long("plan") => {
                options.plan = Some(parser.value().map_err(|e| e.to_string())?.into());
            }
            Long("seed") => options.seed = value(&mut parser, "--seed")?,
            Long("max-recorded") => options.max_recorded = value(&mut parser, "--max-recorded")?,
            Long("json") => {
                options.json = Some(parser.value().map_err(|e| e.to_string())?.into());
            }
            Short('q') | Long("quiet") => options.quiet = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    Ok(Command::Run(options))
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("gamooga-emulator {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gamooga-emulator: {e}\n(try --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gamooga-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve::run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gamooga-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
