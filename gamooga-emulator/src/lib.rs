//! A local Gamooga emulator: strict, inspectable, with fault injection.
//!
//! It serves Gamooga's server-to-server API on 127.0.0.1 (HTTP/1.1, keep-alive) — the
//! `newnaconf` configuration call and the backend endpoints `evwid`, `evwidj`, `ev`,
//! `evvprwid`, `vpr` and `id` on the same port — validates every call strictly with its own
//! parser (`url::form_urlencoded`, `serde_json`; never the SDK's encoder), records every call
//! in order, and lets a test script faults. Tests of the SDK, the quickstart and users' own
//! tests point a client at [`Emulator::config_url`] and assert on what reached it.
//!
//! # Example
//!
//! ```
//! use gamooga_emulator::{Emulator, RecordedProperty};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::start().await?;
//! let http = reqwest::Client::new();
//!
//! // What a client does: find the backend, then send an event there.
//! let conf: serde_json::Value = serde_json::from_str(
//!     &http.get(format!("{}/newnaconf/acme/", emu.config_url())).send().await?.text().await?,
//! )?;
//! assert_eq!(conf["evbk"], emu.backend());
//! let url = format!(
//!     "http://{}/evwid/?c=acme&u=user-42&e=purchase&ky=amount&vl=12.5&tp=n\
//!      &ky=sku&vl=A%26B&tp=s&tm=1700000000000",
//!     emu.backend()
//! );
//! assert_eq!(http.get(url).send().await?.status(), 200);
//!
//! let events = emu.events();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].user_id.as_deref(), Some("user-42"));
//! assert_eq!(events[0].event.as_deref(), Some("purchase"));
//! assert_eq!(
//!     events[0].event_properties,
//!     [RecordedProperty::new("amount", "12.5", 'n'), RecordedProperty::new("sku", "A&B", 's')]
//! );
//! assert_eq!(events[0].tm, Some(1_700_000_000_000));
//! assert_eq!(emu.count("newnaconf"), 1);
//!
//! // A bad call is answered 400 and recorded with its reason.
//! let bad = format!("http://{}/evwid/?c=acme&u=user-42&ky=a&vl=1&tp=n", emu.backend());
//! assert_eq!(http.get(bad).send().await?.status(), 400);
//! assert_eq!(emu.rejected()[0].rejection.as_deref(), Some("missing parameter 'e'"));
//! # Ok(()) }
//! ```
//!
//! # With the SDK, in your tests
//!
//! ```toml
//! [dev-dependencies]
//! gamooga-emulator = "0.1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! Point the SDK's client at [`Emulator::config_url`]. Name your companies with
//! [`companies(..)`](EmulatorBuilder::companies): `newnaconf` then answers 404 for any other,
//! so a typo'd company id fails the test instead of passing silently.
//!
//! ```
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga_emulator::Emulator;
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::builder().companies(["acme"]).start().await?;
//! let client = Client::builder("acme").config_url(emu.config_url()).build()?;
//! Purchase { sku: "A&B" }.track(&client, "user-42").await?;
//! let queue = client.queue(QueueConfig::default())?;
//! Purchase { sku: "TEA-01" }.enqueue(&queue, "user-7").await?;
//! queue.shutdown(Duration::from_secs(10)).await;
//! assert_eq!(emu.events().len(), 2);
//! assert_eq!(emu.events()[1].event_property("sku").unwrap().value, "TEA-01");
//!
//! let typo = Client::builder("acme-corp").config_url(emu.config_url()).build()?;
//! assert!(Purchase { sku: "X" }.track(&typo, "user-42").await.is_err());
//! # Ok(()) }
//! ```
//!
//! # What it serves
//!
//! | call | answer |
//! |---|---|
//! | `GET /newnaconf/{company}/` | `{"cid":…,"evbk":"127.0.0.1:PORT","wsbk":…,"cdn":…,"ver":3}`; 404 for an unknown company when [companies](EmulatorBuilder::companies) are configured |
//! | `GET /evwid/?c&u&e[&ky&vl&tp…][&tm]` | 200 `{"result":"success"}` |
//! | `POST /evwidj/?c&u&e[&tm]`, JSON object body | 200 `{"result":"success"}` |
//! | `GET /ev/?c&v&e[&ky&vl&tp…][&tm]` | 200 `{"result":"success"}` |
//! | `GET /evvprwid/?e&c&u[&eky&evl&etp…][&vky&vvl&vtp…][&tm]` | 200 `{"result":"success"}` |
//! | `GET /vpr/?c&v&p&vl&tp[…]` | 200 `{"result":"success"}` |
//! | `GET /id/?c&u[&v]` | 200 `{"result":"success","vid":"<16 lowercase alphanumerics>"}` |
//! | anything else | 404 naming the path |
//!
//! Errors are answered `{"result":"failure","error":"<reason>"}` with the status. Paths are
//! exact (the trailing slash is required). `id` with `u` alone answers the visitor mapped to
//! that user, creating one if none (from the seeded generator); with `u` and `v` it maps the
//! user to `v` and answers `v`. Calls by user id (`evwid`, `evwidj`, `evvprwid`) also create
//! the user's visitor if none exists. Visitor state is one namespace across companies.
//!
//! # Validation
//!
//! Every violation is answered 400 (405 for a wrong method, 404 for an unknown company) and
//! recorded with a [`rejection`](RecordedCall::rejection) that names the problem:
//!
//! * missing, empty or repeated single parameters (`c`, `u`, `v`, `e`, `tm`), and any
//!   parameter the endpoint does not know;
//! * a property set that is incomplete, out of order (name, value, type must be consecutive,
//!   in that order) or has an empty name; a type other than `s`, `n`, `b`; an `n` value that
//!   is not a finite decimal number (`-?digits[.digits][(e|E)[+-]digits]`); a `b` value
//!   other than `true` / `false`;
//! * a `tm` that is not an integer of Unix milliseconds in `[978307200000, 4102444800000)`
//!   (2001 up to 2100; a 10-digit seconds value is rejected). `tm` is optional on event calls
//!   and unknown on `vpr` and `id`;
//! * an `evwidj` without `Content-Type: application/json`, or whose body is not a flat JSON
//!   object of string (`s`), number (`n`) or boolean (`b`) values with non-empty, distinct
//!   names (null, arrays and objects are refused);
//! * a `vpr` without any property; a method other than the endpoint's (`evwidj` POST, all
//!   others GET).
//!
//! Single parameters may come in any order relative to each other and to property sets; the
//! order sent is kept in [`RecordedCall::raw_query`]. Queries are decoded as
//! `application/x-www-form-urlencoded`: a raw `+` is a space (the SDK sends `%2B` for `+`
//! and `%20` for a space, so this never changes what it meant).
//!
//! # Recording
//!
//! Every call except the inspection API's is recorded in arrival order — accepted, rejected
//! or faulted — as a [`RecordedCall`]. Memory stays bounded for long runs: only the last
//! [`max_recorded`](EmulatorBuilder::max_recorded) calls are kept (default 1,000,000), while
//! [`count`](Emulator::count), [`summary`](Emulator::summary) and
//! [`total_calls`](Emulator::total_calls) stay exact. A kept call costs about 310 bytes (the
//! request and its outcome; the decoded fields are read again from it, with the same code,
//! when a test looks), so the default bound holds at most about 310 MB. Recording is cheap:
//! the release binary serves tens of thousands of `evwid` calls/s on a 2-core machine with
//! every call recorded (see the crate README for the measurements).
//!
//! # Faults
//!
//! Backend calls (not `newnaconf`, not the inspection API) can be failed
//! ([`fail_next`](Emulator::fail_next), optionally with `Retry-After`), delayed
//! ([`delay_next`](Emulator::delay_next)), dropped without an answer
//! ([`drop_next`](Emulator::drop_next)) or failed at a seeded random
//! [rate](Emulator::set_failure_rate) (or [dropped](Emulator::set_drop_rate) at one),
//! limited to a [rate](Emulator::set_rate_limit) (`429` with `Retry-After` beyond it), or
//! all answered after a steady [latency](Emulator::set_latency). `newnaconf` can answer another `evbk`
//! ([`set_evbk`](Emulator::set_evbk)), a raw body ([`set_newnaconf_body`](Emulator::set_newnaconf_body))
//! or fail ([`fail_newnaconf_next`](Emulator::fail_newnaconf_next)). The whole server can
//! [go down](Emulator::go_down) (connections refused) and [come up](Emulator::come_up) again
//! on the same port.
//!
//! # The inspector, and over HTTP
//!
//! Every emulator serves a web page on a port of its own ([`Emulator::inspector_url`]):
//! every call live, filters, each call in detail, the [tracking plan](Plan)'s violations,
//! the schema seen, faults and a composer. The same inspection is available as JSON under
//! `/_emulator/` (see [`inspector`]) for tools and CI, and the binary
//! (`cargo run -p gamooga-emulator -- --port 8686`, or [`serve::run`]) prints one line per
//! call.
//!
//! # Tracking plan
//!
//! Load the JSON that the SDK's `TrackingPlan::to_json()` exports ([`Plan::from_json`],
//! [`EmulatorBuilder::plan`], [`Emulator::set_plan`], `--plan FILE`, or in the page) and
//! every call that passes validation is checked against it: its
//! [`plan_violations`](RecordedCall::plan_violations) say how it departs.

#![warn(missing_docs)]

// Layers, each using only the ones above it (no import cycles):
// - data and pure logic: `call`, `endpoint`, `validate`, `plan`, `ratelimit`, `fault`;
// - the state and its pieces: `log`, `visitors`, `stats`, then `state` (the one owner);
// - HTTP plumbing, knowing nothing of Gamooga: `http`;
// - what answers requests: `api` (Gamooga's API), `inspector` (the page and its JSON API);
// - on top: `router` (which handler on which port), `emulator` (the handle), `serve` (the
//   binary's logic).
mod api;
mod call;
mod emulator;
mod endpoint;
mod fault;
mod http;
pub mod inspector;
mod log;
mod plan;
mod ratelimit;
mod router;
pub mod serve;
mod state;
mod stats;
mod validate;
mod visitors;

pub use call::{PlanViolation, RecordedCall, RecordedProperty};
pub use emulator::{Emulator, EmulatorBuilder, DEFAULT_SEED};
pub use fault::{DelayNext, FailNewnaconf, FailNext, FailureRate, FaultCommand, FaultState};
pub use http::MAX_BODY_BYTES;
pub use log::DEFAULT_MAX_RECORDED;
pub use plan::{Plan, PlanError};
pub use ratelimit::RateLimit;
pub use stats::{EventSummary, Summary};
#[doc(hidden)]
pub use validate::{parameter_range, validate_request, Decoded, Rejection};
pub use validate::{TM_END, TM_MIN};
