//! Re-exports and helpers for the code the derives generate. Not public API: names here may
//! change in any release.

pub use core::marker::Sized;
pub use core::option::Option;
pub use core::result::Result;
use std::borrow::Borrow;
pub use std::borrow::Cow;
pub use std::fmt::Display;

pub use gamooga_core::schema::{
    count_key, duplicate_key, EventSchema, HasEventSchema, HasVisitorSchema, PropertySchema,
    SchemaItem, VisitorSchema,
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

/// `#[gamooga(with = path)]`: the conversion function with what the schema and the writer
/// need to know of its result. Both the runtime and the schema go through [`with_fn`], so a
/// function returning a type with no datatype is reported once.
pub struct WithFn<'a, F: ?Sized, A: ?Sized, R> {
    f: fn(&'a A) -> R,
    try_value: for<'v> fn(&'v R, &str) -> Result<Option<Value<'v>>, InvalidInput>,
    /// The datatype of the function's result (`None`: each value brings its own).
    pub datatype: Option<DataType>,
    /// Whether the result may be absent.
    pub optional: bool,
    field: core::marker::PhantomData<fn(&F)>,
}

/// Checks a `with` function: `fn(&A) -> R` where the field type `F` borrows as `A` (`F`
/// itself, `str` for `String`, `[T]` for `Vec<T>`) and `R` can be sent.
pub const fn with_fn<'a, F, A, R>(f: fn(&'a A) -> R) -> WithFn<'a, F, A, R>
where
    F: Borrow<A> + ?Sized,
    A: ?Sized,
    R: PropertyValue,
{
    WithFn {
        f,
        try_value: <R as PropertyValue>::try_to_value,
        datatype: R::DATATYPE,
        optional: R::OPTIONAL,
        field: core::marker::PhantomData,
    }
}

impl<'a, F, A, R> WithFn<'a, F, A, R>
where
    F: Borrow<A> + ?Sized,
    A: ?Sized + 'a,
{
    /// Converts `field` and writes the result under `key` (nothing when it is absent).
    #[inline]
    pub fn write<W: PropertyWriter + ?Sized>(
        &self,
        writer: &mut W,
        key: &str,
        field: &'a F,
    ) -> Result<(), InvalidInput> {
        let converted = (self.f)(field.borrow());
        match (self.try_value)(&converted, key)? {
            Option::Some(value) => writer.property(key, value),
            Option::None => Result::Ok(()),
        }
    }
}

/// `#[gamooga(timestamp, with = path)]`: the conversion function of the event's time.
pub struct WithTimestampFn<'a, F: ?Sized, A: ?Sized, R> {
    f: fn(&'a A) -> R,
    to_timestamp: fn(&R) -> Result<Option<Timestamp>, InvalidInput>,
    field: core::marker::PhantomData<fn(&F)>,
}

/// Checks a `timestamp` field's `with` function: `fn(&A) -> R` where the field type `F`
/// borrows as `A` and `R` is a time ([`IntoTimestamp`]).
pub const fn with_timestamp_fn<'a, F, A, R>(f: fn(&'a A) -> R) -> WithTimestampFn<'a, F, A, R>
where
    F: Borrow<A> + ?Sized,
    A: ?Sized,
    R: IntoTimestamp,
{
    WithTimestampFn {
        f,
        to_timestamp: <R as IntoTimestamp>::to_timestamp,
        field: core::marker::PhantomData,
    }
}

impl<'a, F, A, R> WithTimestampFn<'a, F, A, R>
where
    F: Borrow<A> + ?Sized,
    A: ?Sized + 'a,
{
    /// Converts `field` into the event's time.
    #[inline]
    pub fn timestamp(&self, field: &'a F) -> Result<Option<Timestamp>, InvalidInput> {
        (self.to_timestamp)(&(self.f)(field.borrow()))
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
