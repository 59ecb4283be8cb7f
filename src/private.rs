//! Re-exports and helpers for the code the derives generate. Not public API: names here may
//! change in any release.

pub use core::marker::Sized;
pub use core::option::Option;
pub use core::result::Result;
pub use std::borrow::{Borrow, Cow};
pub use std::fmt::Display;

pub use gamooga_core::schema::{
    EventSchema, HasEventSchema, HasVisitorSchema, PropertySchema, SchemaItem, VisitorSchema,
};
pub use gamooga_core::{
    DataType, Event, IntoTimestamp, InvalidInput, PropertyValue, PropertyWriter, Timestamp, Value,
    VisitorProperties,
};

/// `#[gamooga(tp = "...")]`: the field's `Display` text, sent with the given datatype (the
/// writer checks it fits).
pub fn display_value<T: Display + ?Sized>(value: &T, datatype: DataType) -> Value<'static> {
    Value::Text(Cow::Owned(value.to_string()), datatype)
}

/// `#[gamooga(with = path)]`: the datatype of what `path` returns, for the schema. The
/// function is not called. `F` is the field's type, `A` what the function borrows (`F`
/// itself, or what `F` borrows as: `str` for `String`, `[T]` for `Vec<T>`).
pub const fn with_datatype<'a, F, A, R>(_f: fn(&'a A) -> R) -> DataType
where
    F: Borrow<A> + ?Sized,
    A: ?Sized,
    R: PropertyValue,
{
    R::DATATYPE
}

/// `#[gamooga(with = path)]`: whether what `path` returns may be left out, for the schema.
pub const fn with_optional<'a, F, A, R>(_f: fn(&'a A) -> R) -> bool
where
    F: Borrow<A> + ?Sized,
    A: ?Sized,
    R: PropertyValue,
{
    R::OPTIONAL
}

/// `#[gamooga(with = path)]`: converts the field with `f` and writes the result.
#[inline]
pub fn with_write<'a, W, F, A, R>(
    writer: &mut W,
    key: &str,
    f: fn(&'a A) -> R,
    field: &'a F,
) -> Result<(), InvalidInput>
where
    W: PropertyWriter + ?Sized,
    F: Borrow<A> + ?Sized,
    A: ?Sized + 'a,
    R: PropertyValue,
{
    let converted = f(field.borrow());
    match converted.to_value() {
        Option::Some(value) => writer.property(key, value),
        Option::None => Result::Ok(()),
    }
}

/// `#[gamooga(flatten)]` in an event: the nested event's schema items and properties. One
/// trait for both, so a wrong field type is reported once.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be flattened into a GamoogaEvent",
    label = "#[gamooga(flatten)] needs a struct with #[derive(GamoogaEvent)]",
    note = "to send this field as one property, remove #[gamooga(flatten)]"
)]
pub trait FlattenEvent {
    /// The nested schema's items.
    const ITEMS: &'static [SchemaItem];
    /// Writes the nested properties.
    fn write_flat<W: PropertyWriter + ?Sized>(&self, writer: &mut W) -> Result<(), InvalidInput>;
}

impl<T: HasEventSchema + ?Sized> FlattenEvent for T {
    const ITEMS: &'static [SchemaItem] = T::SCHEMA.items;
    #[inline]
    fn write_flat<W: PropertyWriter + ?Sized>(&self, writer: &mut W) -> Result<(), InvalidInput> {
        self.write_properties(writer)
    }
}

/// `#[gamooga(flatten)]` in visitor properties: as [`FlattenEvent`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be flattened into VisitorProps",
    label = "#[gamooga(flatten)] needs a struct with #[derive(VisitorProps)]",
    note = "to send this field as one property, remove #[gamooga(flatten)]"
)]
pub trait FlattenVisitor {
    /// The nested schema's items.
    const ITEMS: &'static [SchemaItem];
    /// Writes the nested properties.
    fn write_flat<W: PropertyWriter + ?Sized>(&self, writer: &mut W) -> Result<(), InvalidInput>;
}

impl<T: HasVisitorSchema + ?Sized> FlattenVisitor for T {
    const ITEMS: &'static [SchemaItem] = T::SCHEMA.items;
    #[inline]
    fn write_flat<W: PropertyWriter + ?Sized>(&self, writer: &mut W) -> Result<(), InvalidInput> {
        self.write_properties(writer)
    }
}
