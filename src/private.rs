//! Re-exports and helpers for the code the derives generate. Not public API: names here may
//! change in any release.

pub use core::option::Option;
pub use core::result::Result;
pub use std::borrow::Cow;
pub use std::fmt::Display;

pub use gamooga_core::schema::{
    EventSchema, HasEventSchema, HasVisitorSchema, PropertySchema, SchemaItem, VisitorSchema,
};
pub use gamooga_core::{
    DataType, Event, IntoTimestamp, InvalidInput, PropertyValue, PropertyWriter, Timestamp,
    Value, VisitorProperties,
};

/// `#[gamooga(tp = "...")]`: the field's `Display` text, sent with the given datatype (the
/// writer checks it fits).
pub fn display_value<T: Display + ?Sized>(value: &T, datatype: DataType) -> Value<'static> {
    Value::Text(Cow::Owned(value.to_string()), datatype)
}

/// `#[gamooga(with = path)]`: the datatype of what `path` returns, for the schema. The
/// function is not called.
pub const fn with_datatype<'a, A: ?Sized, R: PropertyValue>(_f: fn(&'a A) -> R) -> DataType {
    R::DATATYPE
}

/// `#[gamooga(with = path)]`: whether what `path` returns may be left out, for the schema.
pub const fn with_optional<'a, A: ?Sized, R: PropertyValue>(_f: fn(&'a A) -> R) -> bool {
    R::OPTIONAL
}
