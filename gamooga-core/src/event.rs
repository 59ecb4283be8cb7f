//! What a call sends: the [`Event`] and [`VisitorProperties`] traits, and [`CustomEvent`] for
//! events without a struct.

use std::borrow::Cow;

use crate::error::InvalidInput;
use crate::property::{Properties, PropertyWriter};
use crate::time::Timestamp;

/// A Gamooga event: a name, ordered properties and, optionally, its own time.
///
/// Derive it with `#[derive(GamoogaEvent)]`, or implement it by hand:
///
/// ```
/// use gamooga::{Event, InvalidInput, PropertyWriter, Value, Number};
/// struct Login { method: &'static str }
/// impl Event for Login {
///     fn name(&self) -> &str { "login" }
///     fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
///         w.property("method", Value::String(self.method.into()))
///     }
/// }
/// ```
pub trait Event {
    /// The event name (`e`).
    fn name(&self) -> &str;

    /// The event's own time, if it carries one; otherwise the SDK stamps the time the call is
    /// built. An invalid time is an error at the call site.
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(None)
    }

    /// Writes the properties in order. May be called more than once per call (to size the
    /// request first); it must write the same properties each time.
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput>;
}

/// A set of visitor properties (`vpr`, and the visitor half of `evvprwid`).
///
/// Derive it with `#[derive(VisitorProps)]`, or use a [`Properties`] list.
pub trait VisitorProperties {
    /// Writes the properties in order; may be called more than once per call.
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput>;
}

impl VisitorProperties for Properties {
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        self.write_to(w)
    }
}

impl<T: Event + ?Sized> Event for &T {
    fn name(&self) -> &str {
        T::name(self)
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        T::timestamp(self)
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        T::write_properties(self, w)
    }
}

impl<T: VisitorProperties + ?Sized> VisitorProperties for &T {
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        T::write_properties(self, w)
    }
}

/// An event built at run time: a name, a [`Properties`] list and an optional time.
///
/// ```
/// use gamooga::{CustomEvent, Properties, Event};
/// let event = CustomEvent::new("purchase", Properties::new().string("sku", "A&B"));
/// assert_eq!(event.name(), "purchase");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CustomEvent {
    name: Cow<'static, str>,
    properties: Properties,
    timestamp: Option<Timestamp>,
}

impl CustomEvent {
    /// An event named `name` with these properties.
    pub fn new(name: impl Into<Cow<'static, str>>, properties: Properties) -> Self {
        CustomEvent {
            name: name.into(),
            properties,
            timestamp: None,
        }
    }

    /// Sets the event's own time (otherwise the time the call is built).
    pub fn at(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The properties.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }
}

impl Event for CustomEvent {
    fn name(&self) -> &str {
        &self.name
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(self.timestamp)
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        self.properties.write_to(w)
    }
}
