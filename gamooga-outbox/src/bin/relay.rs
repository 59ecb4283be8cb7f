//! `gamooga-outbox-relay`: one outbox relay as a process, until SIGTERM or Ctrl-C.
//!
//! ```text
//! gamooga-outbox-relay --database-url postgres://app@db/app --company acme
//! ```
//!
//! Prints one JSON line when it runs (`{"ready":"<name>"}`) and one with its report when it
//! stops. Settings come from the flags, else the environment: `DATABASE_URL`,
//! `GAMOOGA_COMPANY_ID`, `GAMOOGA_CONFIG_URL`, `GAMOOGA_BACKEND`.
//!
//! The CLI's `gamooga relay` takes the same flags and runs the same code
//! ([`gamooga_outbox::process`]), with logs and a report for people; this program stays for
//! images that want a small binary without the CLI (no clap, no emulator, no progress bars).

use std::process::ExitCode;
use std::time::Duration;

use gamooga_core::Client;
use gamooga_outbox::process::{self, RelayOptions};
use gamooga_outbox::RelayReport;

const HELP: &str = "\
gamooga-outbox-relay: delivers a company's Gamooga outbox rows until SIGTERM or Ctrl-C

Options (flags win over the environment):
  --database-url URL        PostgreSQL (env DATABASE_URL)
  --company ID              the Gamooga company (env GAMOOGA_COMPANY_ID)
  --config-url URL          where the company information is fetched (env GAMOOGA_CONFIG_URL)
  --backend HOST[:PORT]     a fixed backend, no resolution (env GAMOOGA_BACKEND)
  --name NAME               the relay's name (default: host-pid-random)
  --batch-size N            rows per claim (default 100)
  --concurrency N           requests in flight (default 32)
  --lease-ms N              how long a claim holds its rows (default 60000)
  --timeout-ms N            per attempt (default 10000)
  --max-attempts N          retry policy: attempts in all (default 10)
  --initial-backoff-ms N    retry policy: first backoff ceiling (default 500)
  --max-backoff-ms N        retry policy: largest backoff ceiling (default 60000)
  --max-elapsed-s N|none    retry policy: give up after (default 3600)
  --idle-poll-ms N          longest idle sleep without a notification (default 5000)
  --grace-ms N              time to finish after the signal (default 10000)
  --migrate                 create the tables first if they are missing
  -h, --help                this text
";

#[derive(Default)]
struct Args {
    database_url: Option<String>,
    company: Option<String>,
    config_url: Option<String>,
    backend: Option<String>,
    timeout_ms: Option<u64>,
    relay: RelayOptions,
}

fn parse() -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args::default();
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("database-url") => args.database_url = Some(parser.value()?.string()?),
            Long("company") => args.company = Some(parser.value()?.string()?),
            Long("config-url") => args.config_url = Some(parser.value()?.string()?),
            Long("backend") => args.backend = Some(parser.value()?.string()?),
            Long("name") => args.relay.name = Some(parser.value()?.string()?),
            Long("batch-size") => args.relay.batch_size = Some(parser.value()?.parse()?),
            Long("concurrency") => args.relay.concurrency = Some(parser.value()?.parse()?),
            Long("lease-ms") => args.relay.lease = Some(ms(parser.value()?.parse()?)),
            Long("timeout-ms") => args.timeout_ms = Some(parser.value()?.parse()?),
            Long("max-attempts") => args.relay.max_attempts = Some(parser.value()?.parse()?),
            Long("initial-backoff-ms") => {
                args.relay.initial_backoff = Some(ms(parser.value()?.parse()?))
            }
            Long("max-backoff-ms") => args.relay.max_backoff = Some(ms(parser.value()?.parse()?)),
            Long("max-elapsed-s") => {
                let v = parser.value()?.string()?;
                args.relay.max_elapsed = Some(if v == "none" {
                    None
                } else {
                    Some(Duration::from_secs(v.parse().map_err(|e| {
                        lexopt::Error::ParsingFailed {
                            value: v.clone(),
                            error: Box::new(e),
                        }
                    })?))
                });
            }
            Long("idle-poll-ms") => args.relay.idle_poll = Some(ms(parser.value()?.parse()?)),
            Long("grace-ms") => args.relay.shutdown_grace = Some(ms(parser.value()?.parse()?)),
            Long("migrate") => args.relay.migrate = true,
            Short('h') | Long("help") => return Ok(None),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Some(args))
}

async fn run(args: Args) -> Result<RelayReport, Box<dyn std::error::Error>> {
    let database_url = match args.database_url {
        Some(url) => url,
        None => std::env::var("DATABASE_URL")
            .map_err(|_| "no database: pass --database-url or set DATABASE_URL")?,
    };
    let mut builder = match args.company {
        Some(company) => {
            let mut b = Client::builder(company);
            if let Ok(url) = std::env::var("GAMOOGA_CONFIG_URL") {
                b = b.config_url(url);
            }
            if let Ok(host) = std::env::var("GAMOOGA_BACKEND") {
                b = b.backend(host);
            }
            b
        }
        None => gamooga_core::ClientBuilder::from_env()?,
    };
    if let Some(url) = args.config_url {
        builder = builder.config_url(url);
    }
    if let Some(host) = args.backend {
        builder = builder.backend(host);
    }
    if let Some(ms) = args.timeout_ms {
        builder = builder.timeout(Duration::from_millis(ms));
    }
    let client = builder.build()?;
    let report = process::run(
        &database_url,
        client,
        &args.relay,
        |relay| println!("{}", serde_json::json!({ "ready": relay.name() })),
        process::stop_signal(),
    )
    .await?;
    Ok(report)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gamooga-outbox-relay: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gamooga-outbox-relay: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            println!("{}", process::report_json(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gamooga-outbox-relay: {e}");
            ExitCode::FAILURE
        }
    }
}
