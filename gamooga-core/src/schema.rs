//! Event schemas: what each derived event and visitor property set sends, known at compile
//! time, and the [`TrackingPlan`] that exports them as JSON.
//!
//! `#[derive(GamoogaEvent)]` implements [`HasEventSchema`] and `#[derive(VisitorProps)]`
//! implements [`HasVisitorSchema`]: a `const SCHEMA` with the event name and, for every
//! property, its name, datatype and whether it may be left out. A [`TrackingPlan`] collects
//! the schemas of an application into one JSON document that a marketing team can read and CI
//! can diff.
//!
//! # Flattened fields
//!
//! A `#[gamooga(flatten)]` field sends the properties of a nested struct. Its schema cannot be
//! copied into the outer struct's `&'static` slice, so it is referenced instead: a
//! [`SchemaItem::Flatten`] holds the nested struct's own items. [`EventSchema::properties`]
//! and [`VisitorSchema::properties`] walk through those references and yield every property in
//! the order it is sent, and the JSON export lists them flat.
//!
//! ```
//! use gamooga::schema::{EventSchema, PropertySchema, SchemaItem};
//! use gamooga::DataType;
//!
//! const ADDRESS: &[SchemaItem] = &[SchemaItem::Property(PropertySchema {
//!     name: "city",
//!     datatype: Some(DataType::String),
//!     optional: false,
//! })];
//! const SIGNUP: EventSchema = EventSchema {
//!     name: "signup",
//!     items: &[
//!         SchemaItem::Property(PropertySchema {
//!             name: "plan",
//!             datatype: Some(DataType::String),
//!             optional: true,
//!         }),
//!         SchemaItem::Flatten(ADDRESS),
//!     ],
//! };
//! let names: Vec<&str> = SIGNUP.properties().map(|p| p.name).collect();
//! assert_eq!(names, ["plan", "city"]);
//! ```

use serde_json::json;

use crate::event::{Event, VisitorProperties};
use crate::property::DataType;

/// One property as the schema describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PropertySchema {
    /// The property name as sent (`ky`, `p`, ...), after renaming.
    pub name: &'static str,
    /// The datatype it is sent with; `None` when each value brings its own (a
    /// `serde_json::Value` field: `s`, `n` or `b` by its JSON type).
    pub datatype: Option<DataType>,
    /// Whether it may be left out (an `Option` that is `None`).
    pub optional: bool,
}

/// One item of a schema: a property, or the properties of a flattened struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaItem {
    /// A property.
    Property(PropertySchema),
    /// The items of a struct flattened in with `#[gamooga(flatten)]`, in order.
    Flatten(&'static [SchemaItem]),
}

/// The schema of an event: its name and its properties, in the order they are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventSchema {
    /// The event name (`e`).
    pub name: &'static str,
    /// The properties, flattened structs referenced rather than copied.
    pub items: &'static [SchemaItem],
}

impl EventSchema {
    /// Every property, flattened structs expanded in place.
    pub fn properties(&self) -> PropertyIter {
        PropertyIter::new(self.items)
    }
}

/// The schema of a set of visitor properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorSchema {
    /// The name of the Rust type, to tell sets apart in a [`TrackingPlan`].
    pub name: &'static str,
    /// The properties, flattened structs referenced rather than copied.
    pub items: &'static [SchemaItem],
}

impl VisitorSchema {
    /// Every property, flattened structs expanded in place.
    pub fn properties(&self) -> PropertyIter {
        PropertyIter::new(self.items)
    }
}

/// An event type whose schema is known at compile time; `#[derive(GamoogaEvent)]`
/// implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a derived Gamooga event",
    label = "this type has no #[derive(GamoogaEvent)]",
    note = "#[gamooga(flatten)] in a GamoogaEvent and TrackingPlan::event need a struct with #[derive(GamoogaEvent)]"
)]
pub trait HasEventSchema: Event {
    /// The schema.
    const SCHEMA: EventSchema;
}

/// A visitor property type whose schema is known at compile time; `#[derive(VisitorProps)]`
/// implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a derived set of visitor properties",
    label = "this type has no #[derive(VisitorProps)]",
    note = "#[gamooga(flatten)] in VisitorProps and TrackingPlan::visitor need a struct with #[derive(VisitorProps)]"
)]
pub trait HasVisitorSchema: VisitorProperties {
    /// The schema.
    const SCHEMA: VisitorSchema;
}

/// The properties of a schema in the order they are sent, flattened structs expanded:
/// the iterator of [`EventSchema::properties`] and [`VisitorSchema::properties`].
#[derive(Debug, Clone)]
pub struct PropertyIter {
    // A stack of the slices being walked; flatten nesting is shallow in practice.
    stack: Vec<&'static [SchemaItem]>,
}

impl PropertyIter {
    fn new(items: &'static [SchemaItem]) -> Self {
        PropertyIter { stack: vec![items] }
    }
}

impl Iterator for PropertyIter {
    type Item = &'static PropertySchema;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let top = self.stack.last_mut()?;
            match top.split_first() {
                None => {
                    self.stack.pop();
                }
                Some((first, rest)) => {
                    *top = rest;
                    match first {
                        SchemaItem::Property(p) => return Some(p),
                        SchemaItem::Flatten(items) => self.stack.push(items),
                    }
                }
            }
        }
    }
}

/// How many properties of `items` (flattened structs included) are named `key`. A `const fn`,
/// so derived code can check flattened keys at compile time (used by the derives).
#[doc(hidden)]
pub const fn count_key(items: &[SchemaItem], key: &str) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < items.len() {
        count += match &items[i] {
            SchemaItem::Property(p) => str_eq(p.name, key) as usize,
            SchemaItem::Flatten(nested) => count_key(nested, key),
        };
        i += 1;
    }
    count
}

/// A key that appears more than once in `items`, looking through flattened structs (used by
/// the derives, at compile time).
#[doc(hidden)]
pub const fn duplicate_key(items: &'static [SchemaItem]) -> Option<&'static str> {
    duplicate_key_in(items, items)
}

/// A key of `items` (a part of `root`) that appears more than once in `root`.
const fn duplicate_key_in(
    root: &'static [SchemaItem],
    items: &'static [SchemaItem],
) -> Option<&'static str> {
    let mut i = 0;
    while i < items.len() {
        let found = match &items[i] {
            SchemaItem::Property(p) => {
                if count_key(root, p.name) > 1 {
                    Some(p.name)
                } else {
                    None
                }
            }
            SchemaItem::Flatten(nested) => duplicate_key_in(root, nested),
        };
        if found.is_some() {
            return found;
        }
        i += 1;
    }
    None
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The schemas of an application's events and visitor properties, exported as JSON: a
/// tracking plan a marketing team can read and CI can diff.
///
/// Events are listed by name and visitor property sets by type name, each sorted, so the
/// output does not depend on the order they were added; properties keep the order they are
/// sent in. Adding the same schema twice lists it once.
///
/// ```
/// use gamooga::schema::{EventSchema, HasEventSchema, PropertySchema, SchemaItem, TrackingPlan};
/// use gamooga::{DataType, Event, InvalidInput, PropertyWriter, Value};
///
/// struct Login;
/// impl Event for Login {
///     fn name(&self) -> &str { "login" }
///     fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
///         w.property("method", Value::String("sso".into()))
///     }
/// }
/// impl HasEventSchema for Login {
///     const SCHEMA: EventSchema = EventSchema {
///         name: "login",
///         items: &[SchemaItem::Property(PropertySchema {
///             name: "method", datatype: Some(DataType::String), optional: false,
///         })],
///     };
/// }
///
/// let json = TrackingPlan::new().event::<Login>().to_json();
/// let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(plan["events"][0]["name"], "login");
/// assert_eq!(plan["events"][0]["properties"][0]["datatype"], "s");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingPlan {
    events: Vec<EventSchema>,
    visitors: Vec<VisitorSchema>,
}

impl TrackingPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the schema of event type `E`.
    pub fn event<E: HasEventSchema>(self) -> Self {
        self.event_schema(E::SCHEMA)
    }

    /// Adds the schema of visitor property type `V`.
    pub fn visitor<V: HasVisitorSchema>(self) -> Self {
        self.visitor_schema(V::SCHEMA)
    }

    /// Adds an event schema given as a value.
    pub fn event_schema(mut self, schema: EventSchema) -> Self {
        if !self.events.contains(&schema) {
            self.events.push(schema);
        }
        self
    }

    /// Adds a visitor property schema given as a value.
    pub fn visitor_schema(mut self, schema: VisitorSchema) -> Self {
        if !self.visitors.contains(&schema) {
            self.visitors.push(schema);
        }
        self
    }

    /// The event schemas, sorted by name.
    pub fn events(&self) -> Vec<EventSchema> {
        let mut events = self.events.clone();
        events.sort_by(|a, b| a.name.cmp(b.name));
        events
    }

    /// The visitor property schemas, sorted by type name.
    pub fn visitors(&self) -> Vec<VisitorSchema> {
        let mut visitors = self.visitors.clone();
        visitors.sort_by(|a, b| a.name.cmp(b.name));
        visitors
    }

    /// The plan as a JSON value:
    /// `{"events": [{"name", "properties": [{"name", "datatype", "optional"}]}],
    /// "visitor_properties": [{"name", "properties": [...]}]}`, datatypes as wire codes
    /// (`"s"`, `"n"`, `"b"`; `null` for a property whose values bring their own).
    pub fn to_value(&self) -> serde_json::Value {
        let events: Vec<serde_json::Value> = self
            .events()
            .iter()
            .map(|e| json!({ "name": e.name, "properties": properties_json(e.properties()) }))
            .collect();
        let visitors: Vec<serde_json::Value> = self
            .visitors()
            .iter()
            .map(|v| json!({ "name": v.name, "properties": properties_json(v.properties()) }))
            .collect();
        json!({ "events": events, "visitor_properties": visitors })
    }

    /// The plan as pretty-printed JSON (see [`TrackingPlan::to_value`]), ending in a newline
    /// so the file diffs cleanly.
    pub fn to_json(&self) -> String {
        let mut out =
            serde_json::to_string_pretty(&self.to_value()).unwrap_or_else(|_| String::from("{}"));
        out.push('\n');
        out
    }
}

fn properties_json(properties: PropertyIter) -> Vec<serde_json::Value> {
    properties
        .map(|p| json!({ "name": p.name, "datatype": p.datatype, "optional": p.optional }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &[SchemaItem] = &[
        SchemaItem::Property(PropertySchema {
            name: "a",
            datatype: Some(DataType::Number),
            optional: false,
        }),
        SchemaItem::Flatten(&[SchemaItem::Property(PropertySchema {
            name: "b",
            datatype: Some(DataType::Boolean),
            optional: true,
        })]),
    ];

    #[test]
    fn nested_flatten_is_walked_in_order() {
        let schema = EventSchema {
            name: "e",
            items: &[
                SchemaItem::Flatten(&[]),
                SchemaItem::Flatten(INNER),
                SchemaItem::Property(PropertySchema {
                    name: "c",
                    datatype: Some(DataType::String),
                    optional: false,
                }),
            ],
        };
        let names: Vec<&str> = schema.properties().map(|p| p.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn duplicate_keys_are_found_through_flatten() {
        const DUP: &[SchemaItem] = &[
            SchemaItem::Property(PropertySchema {
                name: "b",
                datatype: Some(DataType::String),
                optional: false,
            }),
            SchemaItem::Flatten(INNER),
        ];
        assert_eq!(count_key(DUP, "b"), 2);
        assert_eq!(count_key(DUP, "bb"), 0);
        assert_eq!(duplicate_key(DUP), Some("b"));
        assert_eq!(duplicate_key(INNER), None);
    }

    #[test]
    fn plan_is_sorted_and_deduplicated() {
        let b = EventSchema {
            name: "b_event",
            items: INNER,
        };
        let a = EventSchema {
            name: "a_event",
            items: &[],
        };
        let plan = TrackingPlan::new()
            .event_schema(b)
            .event_schema(a)
            .event_schema(b)
            .visitor_schema(VisitorSchema {
                name: "Profile",
                items: INNER,
            });
        let v = plan.to_value();
        assert_eq!(v["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["events"][0]["name"], "a_event");
        assert_eq!(v["events"][1]["properties"][1]["name"], "b");
        assert_eq!(v["events"][1]["properties"][1]["datatype"], "b");
        assert_eq!(v["events"][1]["properties"][1]["optional"], true);
        assert_eq!(v["visitor_properties"][0]["name"], "Profile");
        assert!(plan.to_json().ends_with("}\n"));
    }
}
