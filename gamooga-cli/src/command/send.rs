//! `gamooga send`: one event, or visitor properties, through the SDK's call builders.

use std::time::Instant;

use clap::Args;
use gamooga::{CustomEvent, Properties, Request, Timestamp};
use serde_json::json;

use crate::config::ConnectionArgs;
use crate::error::{CliError, Exit};
use crate::output::Output;
use crate::record::Recorder;
use crate::time_arg::parse_time;
use crate::value::{parse_prop, PropArg};

/// The long help of the subcommand.
pub const LONG_ABOUT: &str = "\
Send one event (by user id or visitor id), optionally with visitor properties.

The call is chosen as the SDK chooses it: --user sends evwid (evwidj, POST, when the URL
would be long), --user with --visitor-prop sends evvprwid, --visitor sends ev (and vpr
for visitor properties); no EVENT with --visitor and --visitor-prop sends vpr alone.

A property is NAME=VALUE, split at the first `=`. Its datatype is inferred: a plain
decimal (12, -3.5) is a number (n), true/false a boolean (b), anything else text (s).
Give it explicitly with a final :s, :n or :b (amount=12:s sends the text \"12\"). Only a
final :s, :n or :b is a type, so a value that itself ends in one needs an explicit type
(note=1:n:s sends the text \"1:n\").";

/// The arguments of `gamooga send`; [`LONG_ABOUT`] says what they mean.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The event name (leave it out to push visitor properties alone, with --visitor)
    pub event: Option<String>,

    /// The user id (u)
    #[arg(long, short = 'u', value_name = "USER", conflicts_with = "visitor")]
    pub user: Option<String>,

    /// The visitor id (v)
    #[arg(long, value_name = "VISITOR")]
    pub visitor: Option<String>,

    /// An event property (repeatable)
    #[arg(short = 'p', long = "prop", value_name = "NAME=VALUE[:s|n|b]", value_parser = parse_prop)]
    pub props: Vec<PropArg>,

    /// A visitor property (repeatable)
    #[arg(long = "visitor-prop", value_name = "NAME=VALUE[:s|n|b]", value_parser = parse_prop)]
    pub visitor_props: Vec<PropArg>,

    /// When the event happened: RFC 3339 (2025-11-26T10:00:00Z) or Unix milliseconds
    /// (default: now)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,

    /// Print the exact request(s) (method, URL, body) instead of sending them. The company
    /// information is still fetched to name the backend, unless --backend is set
    #[arg(long)]
    pub dry_run: bool,
}

fn properties(args: &[PropArg]) -> Result<Properties, CliError> {
    let mut props = Properties::new();
    for p in args {
        props.push(p.name.clone(), p.value.clone())?;
    }
    Ok(props)
}

/// The requests `args` stand for, built by the SDK's call builders, in sending order.
fn requests(args: &SendArgs, calls: &gamooga::Calls) -> Result<Vec<Request>, CliError> {
    let visitor_props = properties(&args.visitor_props)?;
    let Some(name) = &args.event else {
        if !args.props.is_empty() || args.at.is_some() {
            return Err(CliError::usage(
                "event properties (-p) and --at need an EVENT name",
            ));
        }
        return match (&args.visitor, visitor_props.is_empty()) {
            (Some(visitor), false) => Ok(vec![calls.push_visitor(visitor, &visitor_props)?]),
            (None, false) => Err(CliError::usage(
                "visitor properties alone are pushed by visitor id (vpr): pass --visitor \
                 (`gamooga identify USER` gives a user's visitor id), or name an EVENT to \
                 send them with it by user id (evvprwid)",
            )),
            _ => Err(CliError::usage(
                "nothing to send: name an EVENT, or push visitor properties with --visitor \
                 and --visitor-prop",
            )),
        };
    };
    let mut event = CustomEvent::new(name.clone(), properties(&args.props)?);
    if let Some(at) = args.at {
        event = event.at(at);
    }
    match (&args.user, &args.visitor) {
        (Some(user), _) if visitor_props.is_empty() => Ok(vec![calls.track(user, &event)?]),
        (Some(user), _) => Ok(vec![calls.track_with(user, &event, &visitor_props)?]),
        (None, Some(visitor)) => {
            let mut requests = vec![calls.track_visitor(visitor, &event)?];
            if !visitor_props.is_empty() {
                requests.push(calls.push_visitor(visitor, &visitor_props)?);
            }
            Ok(requests)
        }
        (None, None) => Err(CliError::usage(
            "who did it? pass --user USER (user id) or --visitor VISITOR (visitor id)",
        )),
    }
}

pub async fn run(args: SendArgs, conn: &ConnectionArgs, out: Output) -> Result<Exit, CliError> {
    let settings = conn.settings(None)?;
    let recorder = Recorder::new(&settings, args.dry_run)?;
    let client = settings.client_with(recorder.clone())?;
    let requests = requests(&args, client.calls())?;
    for request in &requests {
        let endpoint = request.endpoint().name();
        if args.dry_run {
            client.send(request).await?;
            let sent = recorder
                .exchanges()
                .into_iter()
                .rev()
                .find(|e| !e.is_company_info())
                .ok_or_else(|| CliError::failed("the dry run recorded no request"))?;
            out.result(
                json!({
                    "dry_run": true,
                    "endpoint": endpoint,
                    "method": sent.method.as_str(),
                    "url": sent.url,
                    "body": sent.body,
                }),
                || match &sent.body {
                    Some(body) => format!(
                        "{} {}\nContent-Type: application/json\n\n{body}",
                        sent.method.as_str(),
                        sent.url
                    ),
                    None => format!("{} {}", sent.method.as_str(), sent.url),
                },
            );
            continue;
        }
        let start = Instant::now();
        let response = client.send(request).await?;
        let elapsed = start.elapsed();
        out.result(
            json!({
                "endpoint": endpoint,
                "method": request.method().as_str(),
                "status": response.status(),
                "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            }),
            || {
                format!(
                    "sent {endpoint} ({}): {} in {:.1} ms",
                    request.method().as_str(),
                    response.status(),
                    elapsed.as_secs_f64() * 1e3
                )
            },
        );
    }
    Ok(Exit::Success)
}
