//! `gamooga-outbox-relay`: one outbox relay as a process, until SIGTERM or Ctrl-C.
//!
//! ```text
//! gamooga-outbox-relay --database-url postgres://app@db/app --company acme
//! ```
//!
//! Prints one JSON line when it runs (`{"ready":"<name>"}`) and one with its report when it
//! stops. Settings come from the flags, else the environment: `DATABASE_URL`,
//! `GAMOOGA_COMPANY_ID`, `GAMOOGA_CONFIG_URL`, `GAMOOGA_BACKEND`. (The CLI's
//! `gamooga relay` will do the same with logs and progress.)

use std::process::ExitCode;
use std::time::Duration;

use gamooga_core::retry::RetryPolicy;
use gamooga_core::Client;
use gamooga_outbox::{Relay, RelayReport};

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
    name: Option<String>,
    batch_size: Option<usize>,
    concurrency: Option<usize>,
    lease_ms: Option<u64>,
    timeout_ms: Option<u64>,
    max_attempts: Option<u32>,
    initial_backoff_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
    max_elapsed: Option<Option<u64>>,
    idle_poll_ms: Option<u64>,
    grace_ms: Option<u64>,
    migrate: bool,
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
            Long("name") => args.name = Some(parser.value()?.string()?),
            Long("batch-size") => args.batch_size = Some(parser.value()?.parse()?),
            Long("concurrency") => args.concurrency = Some(parser.value()?.parse()?),
            Long("lease-ms") => args.lease_ms = Some(parser.value()?.parse()?),
            Long("timeout-ms") => args.timeout_ms = Some(parser.value()?.parse()?),
            Long("max-attempts") => args.max_attempts = Some(parser.value()?.parse()?),
            Long("initial-backoff-ms") => args.initial_backoff_ms = Some(parser.value()?.parse()?),
            Long("max-backoff-ms") => args.max_backoff_ms = Some(parser.value()?.parse()?),
            Long("max-elapsed-s") => {
                let v = parser.value()?.string()?;
                args.max_elapsed = Some(if v == "none" {
                    None
                } else {
                    Some(v.parse().map_err(|e| lexopt::Error::ParsingFailed {
                        value: v.clone(),
                        error: Box::new(e),
                    })?)
                });
            }
            Long("idle-poll-ms") => args.idle_poll_ms = Some(parser.value()?.parse()?),
            Long("grace-ms") => args.grace_ms = Some(parser.value()?.parse()?),
            Long("migrate") => args.migrate = true,
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

    let pool = gamooga_outbox::connect(&database_url).await?;
    if args.migrate {
        gamooga_outbox::migrate(&pool).await?;
    }
    let mut retry = RetryPolicy::background();
    if let Some(n) = args.max_attempts {
        retry = retry.max_attempts(n);
    }
    if let Some(ms) = args.initial_backoff_ms {
        retry = retry.initial_backoff(Duration::from_millis(ms));
    }
    if let Some(ms) = args.max_backoff_ms {
        retry = retry.max_backoff(Duration::from_millis(ms));
    }
    if let Some(s) = args.max_elapsed {
        retry = retry.max_elapsed(s.map(Duration::from_secs));
    }
    let mut relay = Relay::new(pool, client).retry(retry);
    if let Some(name) = args.name {
        relay = relay.name(name);
    }
    if let Some(n) = args.batch_size {
        relay = relay.batch_size(n);
    }
    if let Some(n) = args.concurrency {
        relay = relay.concurrency(n);
    }
    if let Some(ms) = args.lease_ms {
        relay = relay.lease(Duration::from_millis(ms));
    }
    if let Some(ms) = args.idle_poll_ms {
        relay = relay.idle_poll(Duration::from_millis(ms));
    }
    if let Some(ms) = args.grace_ms {
        relay = relay.shutdown_grace(Duration::from_millis(ms));
    }
    let handle = relay.start().await?;
    println!("{}", serde_json::json!({ "ready": handle.name() }));
    stop_signal().await;
    let grace = handle.config().shutdown_grace();
    Ok(handle.shutdown(grace).await)
}

/// SIGTERM (what container runtimes and `kill` send) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn report_json(report: &RelayReport) -> serde_json::Value {
    let s = &report.stats;
    serde_json::json!({
        "name": s.name,
        "company": s.company,
        "completed": report.completed,
        "claimed": s.claimed,
        "delivered": s.delivered,
        "retried": s.retried,
        "dead_lettered": s.dead_lettered,
        "released": s.released,
        "abandoned": s.abandoned,
        "ambiguous": s.ambiguous,
        "lease_lost": s.lease_lost,
        "unsettled": s.unsettled,
        "backpressure_pauses": s.backpressure_pauses,
        "resolution_pauses": s.resolution_pauses,
        "pauses_observed": s.pauses_observed,
        "database_errors": s.database_errors,
    })
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
            println!("{}", report_json(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gamooga-outbox-relay: {e}");
            ExitCode::FAILURE
        }
    }
}
