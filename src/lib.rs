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
//! The derives write each property straight into the request being encoded: no map, `Vec`
//! or `String` per event beyond the request itself (one exception: a `tp` field's `Display`
//! text is formatted into a `String` each time it is written, twice per call). Every call can also be built without I/O
//! by [`Calls`], which is how the examples below show what goes on the wire.
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
//! | Rust type | datatype |
//! |---|---|
//! | `String`, `&str`, `Cow<str>`, `char`, `Box<str>`, `Arc<str>`, `Rc<str>` | `s` |
//! | every integer type, `NonZero*`, `f32`, `f64` | `n` |
//! | `bool` | `b` |
//! | `Option<T>` of one of these | `T`'s, left out when `None` |
//! | an enum with `#[derive(GamoogaValue)]` | `s` |
//! | anything else | a compile error at the field, naming the escape hatches below |
//!
//! A field of another type is a compile error that underlines it:
//!
//! ```compile_fail
//! use gamooga::prelude::*;
//! struct Uuid(u128);
//! #[derive(GamoogaEvent)]
//! struct Signup {
//!     request_id: Uuid, // error: `Uuid` cannot be sent as a Gamooga property
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
//! | `#[gamooga(timestamp)]` | `GamoogaEvent` only, at most one: the event's time, sent as `tm` instead of a property. The type is [`std::time::SystemTime`], [`Timestamp`], integer Unix milliseconds (`u64`, `i64`, `u128`), or an `Option` of one (`None`: the time the call is built). A time outside 2001..2100 is an [`InvalidInput`] error when the call is built |
//! | `#[gamooga(tp = "s")]` (or `"n"`, `"b"`) | sends the field's [`Display`](std::fmt::Display) text with this datatype, for types the SDK does not know (`Uuid`, `Decimal`, ...); the text is formatted into a `String` each time the field is written. An `Option<T>` field sends `T`'s text, or nothing when `None`. The text must fit the datatype (`"n"`: a finite number, `"b"`: `true`/`false`), or building the call fails with [`InvalidInput::ValueDoesNotMatchType`] |
//! | `#[gamooga(with = path::to::function)]` | converts the field with a function `fn(&A) -> R`, where `A` is the field's type or what it [borrows](std::borrow::Borrow) as (`str` for a `String` field, `[T]` for a `Vec<T>`), and `R` is any type in the table above (`String`, a `&str` borrowed from the field, `f64`, `Option<_>`, ...; `None` leaves the property out). The schema takes `R`'s datatype. A quoted path (`with = "path"`) works too. A generic function (`fn f<T: Display>(v: &T)`) works on fields whose type borrows only as itself |
//! | `#[gamooga(flatten)]` | sends the properties of a nested struct in place; the nested struct derives the same trait (`GamoogaEvent` in an event, `VisitorProps` in visitor properties). Its name and timestamp are not used |
//!
//! `skip`, `timestamp` and `flatten` go with no other attribute; `tp` and `with` exclude each
//! other.
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
//! reports all of them: a field type with no datatype; two fields with the same key after
//! renaming; an empty name or one with control characters or surrounding whitespace; two
//! timestamps; a timestamp of a type that is not a time; unknown, duplicate or conflicting
//! attributes; tuple structs, unions, and enums with data. Generic structs and lifetimes
//! work: bounds are added for the type parameters used in sent fields.
//!
//! Keys brought in by `#[gamooga(flatten)]` fields come from another type, so the macro
//! cannot see them; they are checked when the schema constant is evaluated, still at compile
//! time, for structs without type parameters. In a generic struct a repeated key is caught
//! only when an `evwidj` call is built (its JSON body cannot carry a key twice:
//! [`InvalidInput::DuplicateProperty`]).
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
//! # Features
//!
//! `derive` (on by default): the derive macros, re-exported here and in the [`prelude`].
//! `postgres`: [`outbox`], the transactional outbox on PostgreSQL and its relays (the
//! `gamooga-outbox` crate).
#![warn(missing_docs)]

pub use gamooga_core::*;

#[cfg(feature = "derive")]
pub use gamooga_derive::{GamoogaEvent, GamoogaValue, VisitorProps};

pub mod track;

pub use track::{EventExt, VisitorPropsExt};

#[cfg(feature = "postgres")]
pub use gamooga_outbox as outbox;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The derives, the one-line send methods and the schema traits: `use gamooga::prelude::*;`.
pub mod prelude {
    pub use crate::track::{EventExt as _, VisitorPropsExt as _};
    pub use gamooga_core::queue::EnqueueEvent as _;
    pub use gamooga_core::schema::{HasEventSchema, HasVisitorSchema, TrackingPlan};
    #[cfg(feature = "derive")]
    pub use gamooga_derive::{GamoogaEvent, GamoogaValue, VisitorProps};
}
