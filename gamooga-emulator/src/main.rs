//! `gamooga-emulator`: runs a local Gamooga emulator and prints every call it receives.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use gamooga_emulator::{Emulator, RecordedCall, DEFAULT_MAX_RECORDED, DEFAULT_SEED};

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

Inspection over HTTP (JSON):
    GET  /_emulator/calls | events | rejected | counts | visitors/{visitor id}
    POST /_emulator/reset

OPTIONS:
    -p, --port PORT          port to listen on (default 8686; 0 = any free port)
    -c, --company NAME       only this company exists (repeatable; default: any company)
        --seed N             seed for visitor ids and random failures (default fixed)
        --max-recorded N     calls kept in memory for inspection (default 1000000;
                             counts stay exact)
        --json FILE          also write every call as one JSON line to FILE
    -q, --quiet              do not print calls
    -h, --help               print this help
    -V, --version            print the version
";

struct Args {
    port: u16,
    companies: Vec<String>,
    seed: u64,
    max_recorded: usize,
    json: Option<PathBuf>,
    quiet: bool,
}

enum Command {
    Run(Args),
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
    let mut args = Args {
        port: 8686,
        companies: Vec::new(),
        seed: DEFAULT_SEED,
        max_recorded: DEFAULT_MAX_RECORDED,
        json: None,
        quiet: false,
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('p') | Long("port") => args.port = value(&mut parser, "--port")?,
            Short('c') | Long("company") => args.companies.push(value(&mut parser, "--company")?),
            Long("seed") => args.seed = value(&mut parser, "--seed")?,
            Long("max-recorded") => args.max_recorded = value(&mut parser, "--max-recorded")?,
            Long("json") => {
                args.json = Some(parser.value().map_err(|e| e.to_string())?.into());
            }
            Short('q') | Long("quiet") => args.quiet = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    Ok(Command::Run(args))
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
                eprintln!("gamooga-emulator: cannot write calls: {e}");
                return;
            }
        }
    })
}

async fn run(args: Args) -> Result<(), String> {
    let json = match &args.json {
        Some(path) => {
            Some(BufWriter::new(File::create(path).map_err(|e| {
                format!("cannot create {}: {e}", path.display())
            })?))
        }
        None => None,
    };
    let printing = !args.quiet || json.is_some();
    let (send, receive) = mpsc::channel::<RecordedCall>();
    let mut builder = Emulator::builder()
        .port(args.port)
        .seed(args.seed)
        .max_recorded(args.max_recorded);
    if !args.companies.is_empty() {
        builder = builder.companies(args.companies.clone());
    }
    if printing {
        builder = builder.on_call(move |call| {
            let _ = send.send(call.clone());
        });
    }
    let writer = printing.then(|| spawn_writer(args.quiet, json, receive));
    let emulator = builder
        .start()
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    eprintln!(
        "gamooga emulator listening: config URL {}, backend {}{}",
        emulator.config_url(),
        emulator.backend(),
        if args.companies.is_empty() {
            String::new()
        } else {
            format!(", companies {}", args.companies.join(", "))
        }
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    eprintln!(
        "gamooga emulator stopping after {} calls",
        emulator.total_calls()
    );
    // The writer flushes after every batch of calls, so nothing printed is lost here.
    drop((emulator, writer));
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Command::Run(args)) => args,
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
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gamooga-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
