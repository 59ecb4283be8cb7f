//! The core of the [gamooga](https://docs.rs/gamooga) SDK for Gamooga's server-to-server API.
//!
//! Most users depend on the `gamooga` facade crate, which re-exports everything here along
//! with the derive macros. This crate holds the property model ([`property`]), the pure call
//! builders ([`call`]), and the client that resolves the backend and delivers calls.
#![warn(missing_docs)]

pub mod call;
pub mod client;
mod counters;
pub mod error;
pub mod event;
pub mod hook;
mod identify_cache;
pub mod property;
pub mod resolve;
pub mod retry;
pub mod schema;
pub mod time;
pub mod transport;

pub use call::{Calls, Endpoint, EvwidMode, Method, Request};
pub use client::{Client, ClientBuilder, Response};
pub use counters::ClientStats;
pub use error::{EnqueueError, Error, InvalidInput, Result};
pub use event::{CustomEvent, Event, VisitorProperties};
pub use property::{DataType, Number, Properties, Property, PropertyValue, PropertyWriter, Value};
pub use retry::RetryPolicy;
pub use schema::{EventSchema, HasEventSchema, HasVisitorSchema, TrackingPlan, VisitorSchema};
pub use time::{IntoTimestamp, Timestamp};
pub mod blocking;
mod dead_letter;
pub mod queue;
#[cfg(feature = "spool")]
pub mod spool;
mod tag;
