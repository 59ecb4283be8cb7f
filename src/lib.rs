//! # gamooga
//!
//! The Rust SDK for Gamooga's server-to-server API.
#![warn(missing_docs)]

pub use gamooga_core::*;

#[cfg(feature = "derive")]
pub use gamooga_derive::{GamoogaEvent, GamoogaValue, VisitorProps};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The derives and traits most code needs: `use gamooga::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "derive")]
    pub use gamooga_derive::{GamoogaEvent, GamoogaValue, VisitorProps};
    pub use gamooga_core::schema::{HasEventSchema, HasVisitorSchema, TrackingPlan};
    pub use gamooga_core::{Event, VisitorProperties};
}
