//! # gamooga
//!
//! The Rust SDK for Gamooga's server-to-server API. Your own structs become Gamooga events
//! and visitor properties, checked by the compiler, and one line sends them:
//!
//! ```no_run
//! use gamooga::prelude::*;
//! use std::time::SystemTime;
//!
//! #[derive(GamoogaValue)]
//! #[gamooga(rename_all = "snake_case")]
//! enum Plan {
//!     Free,
//!     ProMonthly,
//! }
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,                  // s
//!     amount: f64,                   // n
//!     first_order: bool,             // b
//!     #[gamooga(rename = "coupon_code")]
//!     coupon: Option<String>,        // left out when None
//!     plan: Plan,                    // s: "pro_monthly"
//!     #[gamooga(timestamp)]
//!     at: SystemTime,                // sent as tm, not as a property
//! }
//!
//! #[derive(VisitorProps)]
//! struct Profile {
//!     city: String,
//!     vip: bool,
//! }
//!
//! # async fn run() -> gamooga::Result<()> {
//! let client = gamooga::Client::builder("your-company-id").build()?;
//! let purchase = Purchase {
//!     sku: "A-1",
//!     amount: 12.5,
//!     first_order: true,
//!     coupon: None,
//!     plan: Plan::ProMonthly,
//!     at: SystemTime::now(),
//! };
//! purchase.track(&client, "user-42").await?; // evwid, or evwidj (POST) when long
//! let profile = Profile { city: "Tokyo".into(), vip: true };
//! purchase.track_with(&client, "user-42", &profile).await?; // evvprwid
//! let visitor_id = client.identify("user-42").await?;
//! purchase.track_visitor(&client, &visitor_id).await?; // ev
//! profile.push(&client, &visitor_id).await?; // vpr
//! # Ok(()) }
//! ```
//!
//! The same methods take a [`blocking::Client`] in a program without an async runtime (they
//! return the result instead of a future), and the queued forms `enqueue` / `try_enqueue`
//! take a delivery [`Queue`](queue::Queue) or a [`blocking::Queue`]: see
//! [Without an async runtime](#without-an-async-runtime) and the [`track`] module.
//!
//! The derives write each property straight into the request being encoded: no map, `Vec`
//! or `String` per event beyond the request itself (exceptions: a `tp` field's `Display`
//! text, and the dates, times and UUIDs of the optional features, are formatted into a
//! `String` each time they are written, twice per call). Every call can also be built
//! without I/O by [`Calls`], which is how the examples below show what goes on the wire.
//!
//! What else is here:
//!
//! | to | read |
//! |---|---|
//! | queue events from a handler and have them delivered in the background, with retries | [In a service](#in-a-service), the [`queue`] module |
//! | keep queued events on disk, so a crash loses none | [The spool](#the-spool-surviving-a-crash) (feature `spool`), the [`spool`] module |
//! | send from code without an async runtime | [Without an async runtime](#without-an-async-runtime), the [`blocking`] module |
//! | write an event in your own PostgreSQL transaction | the [`outbox`] module (feature `postgres`) |
//! | test what reaches Gamooga, without an account | [Testing with the emulator](#testing-with-the-emulator) |
//! | turn on optional types, the spool, metrics, the outbox | [Features](#features) |
//!
//! # The derives
//!
//! | derive | implements | on |
//! |---|---|---|
//! | `#[derive(GamoogaEvent)]` | [`Event`], [`HasEventSchema`] | a struct with named fields (or a unit struct: an event without properties) |
//! | `#[derive(VisitorProps)]` | [`VisitorProperties`], [`HasVisitorSchema`] | a struct with named fields |
//! | `#[derive(GamoogaValue)]` | [`PropertyValue`] (datatype `s`) | an enum of unit variants |
//!
//! Each field is a property, in declaration order, named after the field. Its datatype comes
//! from its Rust type, at compile time:
//!
//! | Rust type | datatype | feature | sent as |
//! |---|---|---|---|
//! | `String`, `&str`, `Cow<str>`, `char`, `Box<str>`, `Arc<str>`, `Rc<str>` | `s` | | the text |
//! | every integer type, `NonZero*`, `f32`, `f64` | `n` | | plain decimal: integers exactly, floats in shortest round-trip form, `-0.0` as `0` |
//! | `bool` | `b` | | `true` / `false` |
//! | `Option<T>` of one of these | `T`'s | | left out when `None` |
//! | an enum with `#[derive(GamoogaValue)]` | `s` | | the variant's name |
//! | `chrono::DateTime<Tz>`, `time::OffsetDateTime` | `s` | `chrono`, `time` | RFC 3339 in UTC with milliseconds: `2025-11-26T09:40:00.123Z` (any offset is converted) |
//! | `chrono::NaiveDateTime`, `time::PrimitiveDateTime` | `s` | `chrono`, `time` | the same without a zone: `2025-11-26T09:40:00.123` |
//! | `chrono::NaiveDate`, `time::Date` | `s` | `chrono`, `time` | `2025-11-26` |
//! | `uuid::Uuid` | `s` | `uuid` | hyphenated lower case: `67e55044-10b1-426f-9247-bb680e5fe0c8` |
//! | `rust_decimal::Decimal` | `n` | `rust_decimal` | exact plain decimal, trailing zeros dropped: `12.50` → `12.5` |
//! | `serde_json::Value` | its JSON type | `serde_json` | a string as `s`, a number as `n`, a boolean as `b`; `null` is left out; an array or object is refused when the call is built ([`InvalidInput::UnsupportedValue`]) |
//! | `serde_json::Number` | `n` | `serde_json` | an integer exactly, any other number as serde_json's `f64` |
//! | anything else | | | a compile error at the field, naming the escape hatches below |
//!
//! A date or time outside the years 0000 to 9999 has no RFC 3339 form and is refused when
//! the call is built ([`InvalidInput::UnsupportedValue`]). In a [`TrackingPlan`], a
//! `serde_json::Value` property has the datatype `null`: each value brings its own.
//!
//! A field of another type is a compile error that underlines it:
//!
//! ```compile_fail
//! use gamooga::prelude::*;
//! struct AccountId(u128);
//! #[derive(GamoogaEvent)]
//! struct Signup {
//!     account: AccountId, // error: `AccountId` cannot be sent as a Gamooga property
//! }
//! ```
//!
//! # Attribute reference
//!
//! ## Container attributes
//!
//! | attribute | on | meaning |
//! |---|---|---|
//! | `#[gamooga(name = "purchase")]` | `GamoogaEvent` | the event name (`e`); default: the struct name in snake_case |
//! | `#[gamooga(rename_all = "camelCase")]` | all three | the case style of property keys (fields) or strings (variants): `"lowercase"`, `"UPPERCASE"`, `"PascalCase"`, `"camelCase"`, `"snake_case"`, `"SCREAMING_SNAKE_CASE"`, `"kebab-case"`, `"SCREAMING-KEBAB-CASE"` |
//! | `#[gamooga(crate = "path")]` | all three | where the `gamooga` crate is, when it is renamed or re-exported (default `::gamooga`) |
//!
//! ```
//! use gamooga::prelude::*;
//! use gamooga::{Calls, Timestamp};
//!
//! #[derive(GamoogaEvent)]
//! #[gamooga(name = "order placed", rename_all = "camelCase")]
//! struct OrderPlaced {
//!     order_id: u64,
//!     gift_wrap: bool,
//!     #[gamooga(timestamp)]
//!     at: Timestamp,
//! }
//!
//! let event = OrderPlaced { order_id: 7, gift_wrap: false, at: Timestamp::from_millis(1_764_150_000_000)? };
//! let request = Calls::new("acme")?.track("user-42", &event)?;
//! assert_eq!(
//!     request.query(),
//!     "c=acme&u=user-42&e=order%20placed&ky=orderId&vl=7&tp=n&ky=giftWrap&vl=false&tp=b&tm=1764150000000"
//! );
//! # Ok::<(), gamooga::InvalidInput>(())
//! ```
//!
//! Without `name`, `struct OrderPlaced` would be sent as `order_placed`.
//!
//! ## Field attributes
//!
//! | attribute | meaning |
//! |---|---|
//! | `#[gamooga(rename = "key")]` | the property key; default: the field name (after `rename_all`) |
//! | `#[gamooga(skip)]` | not sent (any type) |
//! | `#[gamooga(timestamp)]` | `GamoogaEvent` only, at most one: the event's time, sent as `tm` instead of a property. The type is [`std::time::SystemTime`], [`Timestamp`], integer Unix milliseconds (`u64`, `i64`, `u128`), `chrono::DateTime<Tz>` (feature `chrono`), `time::OffsetDateTime` (feature `time`), or an `Option` of one (`None`: the time the call is built). A time outside 2001..2100 is an [`InvalidInput`] error when the call is built. A time without a zone (`NaiveDateTime`, `PrimitiveDateTime`) is not accepted: it names no instant; convert it with `with` |
//! | `#[gamooga(timestamp, with = path)]` | the event's time, converted by a function `fn(&A) -> R` (`A` as for `with` below) whose result `R` is one of the timestamp types above |
//! | `#[gamooga(tp = "s")]` (or `"n"`, `"b"`) | sends the field's [`Display`](std::fmt::Display) text with this datatype, for types the SDK does not know; the text is formatted into a `String` each time the field is written. An `Option<T>` field sends `T`'s text, or nothing when `None`. The text must fit the datatype, or building the call fails with a typed [`InvalidInput`]: for `"b"`, exactly `true` or `false` ([`ValueDoesNotMatchType`](InvalidInput::ValueDoesNotMatchType)); for `"n"`, a decimal number as Rust's float grammar reads it (`12.5`, `-3`, `.5`, `+1`, `5.`, `1e3`), sent as its canonical plain decimal (see [Numbers](#numbers)) |
//! | `#[gamooga(with = path::to::function)]` | converts the field with a function `fn(&A) -> R`, where `A` is the field's type or what it [borrows](std::borrow::Borrow) as (`str` for a `String` field, `[T]` for a `Vec<T>`), and `R` is any type in the table above (`String`, a `&str` borrowed from the field, `f64`, `Option<_>`, ...; `None` leaves the property out). The schema takes `R`'s datatype. A quoted path (`with = "path"`) works too. A generic function (`fn f<T: Display>(v: &T)`) works on fields whose type borrows only as itself |
//! | `#[gamooga(flatten)]` | sends the properties of a nested struct in place; the nested struct derives the same trait (`GamoogaEvent` in an event, `VisitorProps` in visitor properties). Its name and timestamp are not used |
//!
//! `skip` and `flatten` go with no other attribute, `timestamp` with `with` only; `tp` and
//! `with` exclude each other.
//!
//! ```
//! use gamooga::prelude::*;
//! use gamooga::Calls;
//!
//! struct OrderId(u64);
//! impl std::fmt::Display for OrderId {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         write!(f, "ORD-{}", self.0)
//!     }
//! }
//!
//! fn cents_to_units(cents: &i64) -> f64 {
//!     *cents as f64 / 100.0
//! }
//!
//! #[derive(GamoogaEvent)]
//! struct Device<'a> {
//!     os: &'a str,
//!     app_version: Option<&'a str>,
//! }
//!
//! #[derive(GamoogaEvent)]
//! #[gamooga(name = "refund")]
//! struct Refund<'a> {
//!     #[gamooga(tp = "s")]
//!     order: OrderId,
//!     #[gamooga(with = cents_to_units, rename = "amount")]
//!     amount_cents: i64,
//!     #[gamooga(flatten)]
//!     device: Device<'a>,
//!     #[gamooga(skip)]
//!     internal_note: String,
//! }
//!
//! let event = Refund {
//!     order: OrderId(9),
//!     amount_cents: 1250,
//!     device: Device { os: "ios", app_version: None },
//!     internal_note: "not sent".into(),
//! };
//! let request = Calls::new("acme")?.track("user-42", &event)?;
//! assert!(request.query().starts_with(
//!     "c=acme&u=user-42&e=refund&ky=order&vl=ORD-9&tp=s&ky=amount&vl=12.5&tp=n&ky=os&vl=ios&tp=s&tm="
//! ));
//! # Ok::<(), gamooga::InvalidInput>(())
//! ```
//!
//! ## Numbers
//!
//! A number is written one way, whatever its source and whatever the request format: the
//! same text goes in a query (`evwid`, `ev`, `evvprwid`, `vpr`) and in the JSON body of
//! `evwidj`. It is plain decimal: no `+`, no exponent, no leading zeros, no trailing zeros
//! after the point, no lone point, no negative zero. A `tp = "n"` field's text and a
//! `rust_decimal::Decimal` are rewritten digit for digit (never rounded through `f64`, so a
//! long decimal keeps every digit):
//!
//! | `Display` text | sent |
//! |---|---|
//! | `.5` | `0.5` |
//! | `+1` | `1` |
//! | `5.` | `5` |
//! | `-0`, `-0.0` | `0` |
//! | `1e3`, `1E+3` | `1000` |
//! | `1.50`, `007` | `1.5`, `7` |
//! | `NaN`, `inf`, `1e400` (past `f64`'s range) | refused: [`InvalidInput::NonFiniteNumber`] |
//! | `abc`, `1,5`, ` 1`, `0x10` | refused: [`InvalidInput::ValueDoesNotMatchType`] |
//! | `1e-400` (longer than 400 characters written out) | refused: [`InvalidInput::NumberTooLong`] |
//!
//! ```
//! use gamooga::prelude::*;
//! use gamooga::{Calls, EvwidMode};
//!
//! struct Score(&'static str);
//! impl std::fmt::Display for Score {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str(self.0)
//!     }
//! }
//!
//! #[derive(GamoogaEvent)]
//! struct Rated {
//!     #[gamooga(tp = "n")]
//!     score: Score,
//! }
//!
//! let calls = Calls::new("acme")?;
//! let get = calls.clone().with_evwid_mode(EvwidMode::Get).track("u", &Rated { score: Score(".5") })?;
//! assert!(get.query().contains("&ky=score&vl=0.5&tp=n&"));
//! let post = calls.with_evwid_mode(EvwidMode::Post).track("u", &Rated { score: Score(".5") })?;
//! assert_eq!(post.body(), Some(r#"{"score":0.5}"#));
//! assert!(Calls::new("acme")?.track("u", &Rated { score: Score("NaN") }).is_err());
//! # Ok::<(), gamooga::InvalidInput>(())
//! ```
//!
//! ## Variant attributes (`GamoogaValue`)
//!
//! | attribute | meaning |
//! |---|---|
//! | `#[gamooga(rename = "text")]` | the string the variant is sent as; default: the variant name as written (after `rename_all`) |
//!
//! ```
//! use gamooga::prelude::*;
//! use gamooga::{PropertyValue, Value};
//!
//! #[derive(GamoogaValue)]
//! #[gamooga(rename_all = "kebab-case")]
//! enum Plan {
//!     FreeTrial,
//!     #[gamooga(rename = "enterprise")]
//!     Custom,
//! }
//!
//! assert_eq!(Plan::FreeTrial.to_value(), Some(Value::String("free-trial".into())));
//! assert_eq!(Plan::Custom.to_value(), Some(Value::String("enterprise".into())));
//! ```
//!
//! ## Checked at compile time
//!
//! Each of these is a compile error that points at the field or attribute, and one build
//! reports all of them, attribute errors and field-type errors together: a field type with
//! no datatype; two fields with the same key after renaming; an empty name or one with
//! control characters or surrounding whitespace; two timestamps; a timestamp of a type that
//! is not a time; unknown, duplicate or conflicting attributes; tuple structs, unions, and
//! enums with data. A derive that reports an error still implements its traits, so the
//! code that uses the type (`order.track(..)`, `TrackingPlan::new().event::<Order>()`) adds
//! no errors of its own; a field whose attribute was wrong is not type-checked, to report
//! one mistake once. Generic structs and lifetimes work: bounds are added for the type
//! parameters used in sent fields.
//!
//! Keys brought in by `#[gamooga(flatten)]` fields come from another type, so the macro
//! cannot see them; they are checked when the schema constant is evaluated, still at compile
//! time, for structs without type parameters. In a generic struct a repeated key is caught
//! only when an `evwidj` call is built (its JSON body cannot carry a key twice:
//! [`InvalidInput::DuplicateProperty`]).
//!
//! # Without an async runtime
//!
//! [`blocking::Client`] and [`blocking::Queue`] run the same calls on a small background
//! runtime, for programs without one of their own. The derived one-liners take them under
//! the same names, and return the result instead of a future:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga::{blocking, queue::QueueConfig, transport::DryRunTransport, Client};
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,
//!     amount: f64,
//! }
//!
//! #[derive(VisitorProps)]
//! struct Profile {
//!     city: String,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dry = Arc::new(DryRunTransport::new());
//! let client = blocking::Client::new(Client::builder("acme").transport(dry.clone()))?;
//! let purchase = Purchase { sku: "A-1", amount: 12.5 };
//! purchase.track(&client, "user-42")?; // evwid, returns when Gamooga answered
//! let profile = Profile { city: "Tokyo".into() };
//! profile.push(&client, "0123456789abcdef")?; // vpr
//!
//! let queue = client.queue(QueueConfig::default())?;
//! purchase.try_enqueue(&queue, "user-42")?; // never blocks
//! profile.enqueue(&queue, "0123456789abcdef")?; // blocks while the queue is full
//! let report = queue.shutdown(Duration::from_secs(5))?;
//! assert_eq!(report.delivered, 2);
//! # Ok(()) }
//! ```
//!
//! # In a service
//!
//! A handler queues and returns: [`Queue`](queue::Queue) delivers in the background, with
//! retries. Its [`EnqueueError`] converts into [`Error`] (keeping the
//! request: [`Error::request`]), so `?` works in a handler returning [`Result`]. Visitor
//! properties can be queued by *user* id: the queue looks the visitor id up with `id` when
//! it delivers (cached per user id, counted in [`QueueStats`](queue::QueueStats)), so the
//! handler never waits for Gamooga, and an outage only delays the push.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga::transport::DryRunTransport;
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,
//!     amount: f64,
//! }
//!
//! #[derive(VisitorProps)]
//! struct Profile<'a> {
//!     city: &'a str,
//! }
//!
//! /// What a web handler does: queue, never wait for Gamooga.
//! async fn checkout(queue: &Queue, user_id: &str) -> gamooga::Result<()> {
//!     Purchase { sku: "A-1", amount: 12.5 }.enqueue(queue, user_id).await?;
//!     Profile { city: "Tokyo" }.enqueue_for_user(queue, user_id).await?; // id looked up later
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
//! let queue = client.queue(QueueConfig::default().overflow(Overflow::Refuse))?;
//! checkout(&queue, "user-42").await?;
//! // In a graceful shutdown: bounded, whatever Gamooga does.
//! let report = queue.shutdown(Duration::from_secs(10)).await;
//! assert_eq!((report.delivered, report.stats.identify_lookups), (2, 1));
//! # Ok(()) }
//! ```
//!
//! `examples/axum_service.rs` is a whole axum 0.8 service built this way, with a graceful
//! shutdown that cannot hang (`cargo run --example axum_service`). The [`queue`] module has
//! the rest: overflow policies, retries, dead letters, [`stats`](queue::Queue::stats), and
//! the bounds of `flush` and `shutdown`.
//!
//! # The spool: surviving a crash
//!
//! With the feature `spool`, [`QueueConfig::spool`](queue::QueueConfig::spool) keeps every
//! event the queue accepts in a SQLite file until Gamooga answered 200: an enqueue returns
//! once its event is committed (fsynced; concurrent enqueues share a commit), and a queue
//! started on the same file after a crash or a restart delivers what was left, with its
//! original `tm`. Dead letters stay in the file, to list, replay or remove. The file holds
//! user ids and values, so it is created readable by its owner only. See the [`spool`]
//! module.
//!
//! ```
//! # #[cfg(feature = "spool")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga::transport::DryRunTransport;
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
//! let queue = client.queue(QueueConfig::default().spool(dir.path().join("spool.db")))?;
//! Purchase { sku: "A-1" }.enqueue(&queue, "user-42").await?; // on disk when this returns
//! let report = queue.shutdown(Duration::from_secs(10)).await;
//! assert_eq!((report.delivered, report.stats.still_spooled), (1, 0));
//! # Ok(()) }
//! # #[cfg(not(feature = "spool"))]
//! # fn main() {}
//! ```
//!
//! # Before-send hook
//!
//! [`ClientBuilder::before_send`] sets a function that sees every event (its name and
//! properties) and visitor property push as the call is built, by the client and by its
//! queues at enqueue time, and can add, change or remove properties, or drop the call
//! ([`Action::Drop`](hook::Action::Drop): nothing is sent or queued, the method returns `Ok`,
//! and [`ClientStats::before_send_dropped`] or [`QueueStats::before_send_dropped`](queue::QueueStats::before_send_dropped)
//! counts it). Without a hook, derived events keep their fast path (properties encoded
//! straight into the request); with one, each event's properties are first copied into a
//! [`Properties`] list. See [`hook`].
//!
//! Default properties (app version, environment) on every event:
//!
//! ```
//! use std::sync::Arc;
//! use gamooga::hook::Action;
//! use gamooga::prelude::*;
//! use gamooga::transport::DryRunTransport;
//!
//! #[derive(GamoogaEvent)]
//! struct Login<'a> {
//!     method: &'a str,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
//! let dry = Arc::new(DryRunTransport::new());
//! let client = Client::builder("acme")
//!     .transport(dry.clone())
//!     .before_send(|out| {
//!         if out.event_name().is_some() {
//!             out.properties_mut()
//!                 .set("app_version", env!("CARGO_PKG_VERSION"))
//!                 .set("environment", "production");
//!         }
//!         Action::Keep
//!     })
//!     .build()?;
//! Login { method: "sso" }.track(&client, "user-42").await?;
//! let sent = dry.requests().pop().unwrap();
//! assert!(sent.query().contains("&ky=method&vl=sso&tp=s&ky=app_version&vl="));
//! assert!(sent.query().contains("&ky=environment&vl=production&tp=s&tm="));
//! # Ok(()) }
//! ```
//!
//! Redaction: personal data that must not leave the service, in events and visitor
//! properties alike:
//!
//! ```
//! use gamooga::hook::{Action, Outgoing};
//! use gamooga::prelude::*;
//! use gamooga::Calls;
//!
//! fn redact(out: &mut Outgoing<'_>) -> Action {
//!     scrub(out.properties_mut()); // the event's (or, for vpr, the visitor's)
//!     if let Some(visitor) = out.visitor_properties_mut() {
//!         scrub(visitor); // evvprwid's visitor properties
//!     }
//!     Action::Keep
//! }
//!
//! fn scrub(properties: &mut Properties) {
//!     properties.remove("password");
//!     if properties.contains("email") {
//!         properties.set("email", "[redacted]");
//!     }
//! }
//!
//! let calls = Calls::new("acme")?.with_before_send(redact);
//! let profile = Properties::new().string("email", "alice@example.com").string("city", "Tokyo");
//! let request = calls.push_visitor("0123456789abcdef", &profile)?;
//! assert_eq!(request.query(), "c=acme&v=0123456789abcdef&p=email&vl=%5Bredacted%5D&tp=s&p=city&vl=Tokyo&tp=s");
//! # Ok::<(), gamooga::InvalidInput>(())
//! ```
//!
//! Sampling: keep one `page_view` in ten, every other event:
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use gamooga::hook::Action;
//! use gamooga::prelude::*;
//! use gamooga::transport::DryRunTransport;
//!
//! #[derive(GamoogaEvent)]
//! struct PageView<'a> {
//!     path: &'a str,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
//! let seen = AtomicU64::new(0);
//! let dry = Arc::new(DryRunTransport::new());
//! let client = Client::builder("acme")
//!     .transport(dry.clone())
//!     .before_send(move |out| match out.event_name() {
//!         Some("page_view") if seen.fetch_add(1, Ordering::Relaxed) % 10 != 0 => Action::Drop,
//!         _ => Action::Keep,
//!     })
//!     .build()?;
//! for _ in 0..100 {
//!     PageView { path: "/" }.track(&client, "user-42").await?; // Ok, sent or not
//! }
//! assert_eq!(client.stats().before_send_dropped, 90);
//! assert_eq!(dry.requests().len(), 1 + 10); // newnaconf, then ten page views
//! # Ok(()) }
//! ```
//!
//! # Disabled mode
//!
//! For local development and tests of code that tracks: [`ClientBuilder::disabled`] (or
//! `GAMOOGA_DISABLED=1` with [`Client::from_env`]) builds and checks every call as usual, runs
//! the hook, then drops it without any network call. Calls return `Ok` (`identify` a made-up
//! visitor id), [`ClientStats::disabled_dropped`] counts them; a queue of a disabled client
//! drops each checked event at once ([`QueueStats::disabled_dropped`](queue::QueueStats::disabled_dropped),
//! nothing `enqueued` or delivered).
//!
//! ```
//! use gamooga::prelude::*;
//! use gamooga::CustomEvent;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> gamooga::Result<()> {
//! let client = Client::builder("acme").disabled(true).build()?;
//! client.track("user-42", &CustomEvent::new("login", Properties::new())).await?; // not sent
//! assert!(client.track("user\n42", &CustomEvent::new("login", Properties::new())).await.is_err());
//! assert_eq!(client.stats().disabled_dropped, 1);
//! # Ok(()) }
//! ```
//!
//! # Several companies in one process
//!
//! One client per company, over one connection pool: [`Client::for_company`] makes a client
//! for another company with the same settings and transport, and its own resolver (cache and
//! backoff) and visitor-id cache. Give each its own queue, so one company's outage (a backend
//! down or slow, company information failing) pauses and retries only its own events. To
//! configure the other client differently (its own config URL or fixed backend), pass
//! [`Client::transport`] to its builder's [`transport`](ClientBuilder::transport) instead.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga::transport::DryRunTransport;
//!
//! #[derive(GamoogaEvent)]
//! struct Signup;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dry = Arc::new(DryRunTransport::new());
//! let first = Client::builder("acme").transport(dry.clone()).build()?;
//! let mut queues = HashMap::new();
//! for company in ["acme", "globex", "initech"] {
//!     let client = first.for_company(company)?;
//!     queues.insert(company, client.queue(QueueConfig::default())?);
//! }
//! Signup.enqueue(&queues["globex"], "user-7").await?;
//! for queue in queues.values() {
//!     queue.shutdown(Duration::from_secs(10)).await;
//! }
//! assert!(dry.requests().iter().any(|r| r.query().starts_with("c=globex&u=user-7&e=signup")));
//! # Ok(()) }
//! ```
//!
//! # Metrics
//!
//! With the feature `metrics`, each queue exports its counters, gauges and attempt timings
//! through the [`metrics`](https://docs.rs/metrics) facade crate, so the application's
//! recorder (a Prometheus exporter, OpenTelemetry, ...) picks them up:
//! `gamooga_queue_delivered_total{company}`, `gamooga_queue_dead_lettered_total{company,reason}`,
//! `gamooga_queue_depth{company}`, `gamooga_queue_in_flight_limit{company}`,
//! `gamooga_queue_attempt_duration_seconds{company,endpoint}`, ... The labels are only
//! `company`, `endpoint` and `reason`: never a user id or a value. The full table is in
//! [`queue::metrics`].
//!
//! # Tracking plan
//!
//! Every derived type has a `const SCHEMA` ([`HasEventSchema::SCHEMA`],
//! [`HasVisitorSchema::SCHEMA`]): the event name and each property's key, datatype, and
//! whether it is optional. A [`TrackingPlan`] exports the schemas of an application as JSON
//! that a marketing team can read and CI can diff (write it to a file in a test and fail when
//! it changes):
//!
//! ```
//! use gamooga::prelude::*;
//!
//! #[derive(GamoogaEvent)]
//! struct Signup {
//!     plan: Option<String>,
//!     seats: u32,
//! }
//!
//! #[derive(VisitorProps)]
//! struct Profile {
//!     city: String,
//! }
//!
//! assert_eq!(Signup::SCHEMA.name, "signup");
//! let json = TrackingPlan::new().event::<Signup>().visitor::<Profile>().to_json();
//! let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
//! assert_eq!(
//!     plan["events"][0]["properties"][0],
//!     serde_json::json!({"name": "plan", "datatype": "s", "optional": true})
//! );
//! assert_eq!(plan["visitor_properties"][0]["name"], "Profile");
//! ```
//!
//! # Renamed crate
//!
//! The generated code names the runtime by the absolute path `::gamooga`. If the dependency
//! is renamed in `Cargo.toml`, or the derives are used through a crate that re-exports
//! `gamooga`, say where it is:
//!
//! ```
//! # extern crate gamooga as analytics;
//! use analytics::prelude::*;
//!
//! #[derive(GamoogaEvent)]
//! #[gamooga(crate = "analytics")]
//! struct Login {
//!     method: String,
//! }
//! ```
//!
//! # Testing with the emulator
//!
//! [`gamooga-emulator`](https://docs.rs/gamooga-emulator) is a local, strict Gamooga: it
//! answers every call as Gamooga would, refuses (400, with the reason) what Gamooga would
//! refuse, records every call for assertions, and injects faults. Add it for tests:
//!
//! ```toml
//! [dev-dependencies]
//! gamooga-emulator = "0.1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! Point the client at it with [`config_url`](ClientBuilder::config_url), and list the
//! companies it knows with `companies(..)`, so a typo'd company id fails the test:
//!
//! ```
//! use std::time::Duration;
//! use gamooga::prelude::*;
//! use gamooga_emulator::Emulator;
//!
//! #[derive(GamoogaEvent)]
//! struct Purchase<'a> {
//!     sku: &'a str,
//!     amount: f64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In a #[tokio::test]:
//! let emu = Emulator::builder().companies(["acme"]).start().await?;
//! let client = Client::builder("acme").config_url(emu.config_url()).build()?;
//! Purchase { sku: "A&B", amount: 12.5 }.track(&client, "user-42").await?;
//! let queue = client.queue(QueueConfig::default())?;
//! Purchase { sku: "TEA-01", amount: 3.0 }.enqueue(&queue, "user-7").await?;
//! queue.shutdown(Duration::from_secs(10)).await;
//!
//! let events = emu.events();
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[0].event_property("sku").unwrap().value, "A&B");
//! assert_eq!(events[1].user_id.as_deref(), Some("user-7"));
//!
//! let typo = Client::builder("acme-corp").config_url(emu.config_url()).build()?;
//! assert!(Purchase { sku: "X", amount: 1.0 }.track(&typo, "user-42").await.is_err());
//! # Ok(()) }
//! ```
//!
//! The emulator's own docs list its queries (`events()`, `rejected()`, `wait_for(..)`, ...),
//! its faults (failures, `Retry-After`, delays, dropped connections, downtime, backend
//! moves), its web inspector and its binary (`cargo run -p gamooga-emulator`, one readable
//! line per call). For unit tests without any server,
//! [`DryRunTransport`](transport::DryRunTransport) records requests in memory.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `derive` (on by default) | the derive macros, re-exported here and in the [`prelude`] |
//! | `spool` | the on-disk outbox (SQLite) of the delivery queue: `QueueConfig::spool(path)` |
//! | `chrono` | `chrono::DateTime<Tz>` (also as a timestamp), `NaiveDateTime`, `NaiveDate` as properties |
//! | `time` | `time::OffsetDateTime` (also as a timestamp), `PrimitiveDateTime`, `Date` as properties |
//! | `uuid` | `uuid::Uuid` as a string property |
//! | `rust_decimal` | `rust_decimal::Decimal` as an exact numeric property |
//! | `serde_json` | `serde_json::Value` (a scalar, with its JSON type) and `serde_json::Number` as properties |
//! | `metrics` | the delivery queue's counters, gauges and timings through the `metrics` facade crate ([`queue::metrics`]) |
//! | `postgres` | [`outbox`]: the transactional outbox on PostgreSQL and its relays (the `gamooga-outbox` crate) |
#![warn(missing_docs)]

pub use gamooga_core::*;

#[cfg(feature = "derive")]
pub use gamooga_derive::{GamoogaEvent, GamoogaValue, VisitorProps};

pub mod track;

pub use track::{Enqueuer, EventExt, Tracker, VisitorPropsExt};

#[cfg(feature = "postgres")]
pub use gamooga_outbox as outbox;

// The README's Rust snippets, compiled as doctests (and run where they need no network), so
// none can drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The derives, the one-line send methods, the schema traits, and the types a service's setup
/// names (`Client`, `Queue`, `QueueConfig`, `Overflow`, `Properties`, `EnqueueError`):
/// `use gamooga::prelude::*;`.
pub mod prelude {
    // The one-line methods, sending and queueing (for the async and the blocking client
    // and queue alike); they replace core's `queue::EnqueueEvent` here.
    pub use crate::track::{EventExt as _, VisitorPropsExt as _};
    // What the README's snippets and a service's setup name (not `Error` and `Result`,
    // which would shadow the standard library's names in a glob import).
    pub use gamooga_core::queue::{Overflow, Queue, QueueConfig};
    pub use gamooga_core::schema::{HasEventSchema, HasVisitorSchema, TrackingPlan};
    pub use gamooga_core::{Client, EnqueueError, Properties};
    #[cfg(feature = "derive")]
    pub use gamooga_derive::{GamoogaEvent, GamoogaValue, VisitorProps};
}
