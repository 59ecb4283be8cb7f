//! The property model: Gamooga's datatypes, typed values, the trait that maps Rust types to
//! datatypes, the writer that calls write properties into, and an ordered property list.

use std::borrow::Cow;
use std::fmt;
use std::num::{
    NonZeroI128, NonZeroI16, NonZeroI32, NonZeroI64, NonZeroI8, NonZeroIsize, NonZeroU128,
    NonZeroU16, NonZeroU32, NonZeroU64, NonZeroU8, NonZeroUsize,
};
use std::rc::Rc;
use std::sync::Arc;

use crate::error::InvalidInput;

mod decimal;
pub(crate) mod external;
use decimal::{normalize_into, DecimalBuf, TextNumberError};

/// One of Gamooga's three datatypes, sent as the `tp` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    /// Text, `tp=s`.
    #[serde(rename = "s")]
    String,
    /// A number, `tp=n`.
    #[serde(rename = "n")]
    Number,
    /// `true` or `false`, `tp=b`.
    #[serde(rename = "b")]
    Boolean,
}

impl DataType {
    /// The wire code: `"s"`, `"n"` or `"b"`.
    ///
    /// ```
    /// use gamooga::DataType;
    /// assert_eq!(DataType::Number.code(), "n");
    /// assert_eq!(DataType::from_code("n"), Some(DataType::Number));
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            DataType::String => "s",
            DataType::Number => "n",
            DataType::Boolean => "b",
        }
    }

    /// The datatype of a wire code, if it is one.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "s" => Some(DataType::String),
            "n" => Some(DataType::Number),
            "b" => Some(DataType::Boolean),
            _ => None,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A numeric value, kept in the width it came in so integers are written exactly and
/// floats in their shortest round-trip form.
///
/// Its `Debug` output never shows the value (a property value is personal data):
///
/// ```
/// let n = gamooga::Number::from(12.5);
/// assert_eq!(format!("{n:?}"), "Number(..)");
/// assert_eq!(n.to_string(), "12.5");
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Number(NumberRepr);

impl fmt::Debug for Number {
    /// The kind, never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Number(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NumberRepr {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F32(f32),
    F64(f64),
    #[cfg(feature = "rust_decimal")]
    Decimal(rust_decimal::Decimal),
}

impl Number {
    /// Whether the number is finite (always true for integers).
    pub fn is_finite(&self) -> bool {
        match self.0 {
            NumberRepr::F32(f) => f.is_finite(),
            NumberRepr::F64(f) => f.is_finite(),
            _ => true,
        }
    }

    /// Writes the number in plain decimal into `out` (integers exactly, floats in shortest
    /// round-trip form without exponent, negative zero as `0`). The caller must have checked
    /// [`Number::is_finite`].
    pub fn write_decimal(&self, out: &mut String) {
        self.with_decimal(|text| out.push_str(text));
    }

    /// An upper bound of the length of [`write_decimal`](Self::write_decimal)'s text, found
    /// without formatting: integers by their width, floats of magnitude in `[1e-7, 1e17)`
    /// (or zero) by their at most 17 significant digits (`-0.000000` + 17 digits = 26);
    /// other floats are formatted to measure them.
    pub(crate) fn decimal_len_max(&self) -> usize {
        const PLAIN_FLOAT_MAX: usize = 26;
        let in_range = |a: f64| a == 0.0 || (1e-7..1e17).contains(&a);
        match self.0 {
            NumberRepr::I64(_) | NumberRepr::U64(_) => 20,
            NumberRepr::I128(_) | NumberRepr::U128(_) => 40,
            NumberRepr::F32(v) if in_range(v.abs() as f64) => PLAIN_FLOAT_MAX,
            NumberRepr::F64(v) if in_range(v.abs()) => PLAIN_FLOAT_MAX,
            // At most 29 digits, a point, `0.` and 27 zeros before them, and a sign.
            #[cfg(feature = "rust_decimal")]
            NumberRepr::Decimal(_) => 33,
            _ => self.with_decimal(str::len),
        }
    }

    /// Calls `f` with the number's plain-decimal text, formatted on the stack.
    ///
    /// Integers come straight from `itoa`; floats from `ryu`'s shortest digits, used as they
    /// are when ryu wrote no exponent (less a trailing `.0`), and rewritten as plain decimal
    /// otherwise; negative zero is `0`. Non-finite floats give `NaN` / `inf` / `-inf` (never
    /// sent: refused earlier).
    pub(crate) fn with_decimal<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        fn float<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
            if text.contains('e') {
                let mut buf = DecimalBuf::new();
                // ryu's output is always in the grammar, finite and short.
                let _ = normalize_into(text, &mut buf);
                f(buf.as_str())
            } else {
                f(text.strip_suffix(".0").unwrap_or(text))
            }
        }
        match self.0 {
            NumberRepr::I64(v) => f(itoa::Buffer::new().format(v)),
            NumberRepr::U64(v) => f(itoa::Buffer::new().format(v)),
            NumberRepr::I128(v) => f(itoa::Buffer::new().format(v)),
            NumberRepr::U128(v) => f(itoa::Buffer::new().format(v)),
            NumberRepr::F32(v) if v == 0.0 => f("0"),
            NumberRepr::F64(v) if v == 0.0 => f("0"),
            NumberRepr::F32(v) if v.is_finite() => float(ryu::Buffer::new().format_finite(v), f),
            NumberRepr::F64(v) if v.is_finite() => float(ryu::Buffer::new().format_finite(v), f),
            NumberRepr::F32(v) => f(&v.to_string()),
            NumberRepr::F64(v) => f(&v.to_string()),
            #[cfg(feature = "rust_decimal")]
            NumberRepr::Decimal(d) => {
                use std::fmt::Write as _;
                // A Decimal's Display is plain decimal of at most 33 bytes; the rewrite drops
                // its trailing zeros (`1.50` has scale 2) and negative zero.
                let mut shown = DecimalBuf::new();
                let _ = write!(shown, "{d}");
                let mut buf = DecimalBuf::new();
                let _ = normalize_into(shown.as_str(), &mut buf);
                f(buf.as_str())
            }
        }
    }
}

/// Checks `text` as the value of numeric property `name` (the `tp = "n"` escape hatch) and
/// calls `f` with its canonical plain decimal, the text every request format sends.
pub(crate) fn number_text<R>(
    name: &str,
    text: &str,
    f: impl FnOnce(&str) -> R,
) -> Result<R, InvalidInput> {
    let mut buf = DecimalBuf::new();
    match normalize_into(text, &mut buf) {
        Ok(()) => Ok(f(buf.as_str())),
        Err(TextNumberError::NonFinite) => Err(InvalidInput::NonFiniteNumber {
            name: name.to_owned(),
            value: text.to_owned(),
        }),
        Err(TextNumberError::NotANumber) => Err(InvalidInput::ValueDoesNotMatchType {
            name: name.to_owned(),
            datatype: 'n',
            value: text.to_owned(),
        }),
        Err(TextNumberError::TooLong) => Err(InvalidInput::NumberTooLong {
            name: name.to_owned(),
            max: decimal::MAX_PLAIN_LEN,
        }),
    }
}

impl fmt::Display for Number {
    /// Plain decimal, as sent on the wire (`NaN` and `inf` for non-finite floats).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_decimal(|text| f.write_str(text))
    }
}

macro_rules! number_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Number {
            fn from(v: $t) -> Self {
                Number(NumberRepr::$variant(v as $as))
            }
        }
    )*};
}

number_from!(
    i8 => I64 as i64, i16 => I64 as i64, i32 => I64 as i64, i64 => I64 as i64, isize => I64 as i64,
    u8 => U64 as u64, u16 => U64 as u64, u32 => U64 as u64, u64 => U64 as u64, usize => U64 as u64,
    i128 => I128 as i128, u128 => U128 as u128, f32 => F32 as f32, f64 => F64 as f64,
);

/// A property value as it goes on the wire; borrowed where it can be, so writing an event
/// allocates nothing of its own.
///
/// Its `Debug` shows the kind and datatype, never the value (property values are personal
/// data, and `Debug` output ends up in logs), so neither do [`Property`], [`Properties`] and
/// `CustomEvent`:
///
/// ```
/// use gamooga::{Properties, Value};
/// let props = Properties::new().string("email", "alice@example.com");
/// let shown = format!("{props:?}");
/// assert!(shown.contains("email") && !shown.contains("alice"));
/// assert_eq!(format!("{:?}", Value::Bool(true)), "Bool(..)");
/// ```
#[derive(Clone, PartialEq)]
pub enum Value<'a> {
    /// Text, datatype `s`.
    String(Cow<'a, str>),
    /// A number, datatype `n`.
    Number(Number),
    /// A boolean, datatype `b`, written `true` / `false`.
    Bool(bool),
    /// Text sent with an explicit datatype (the derive's `tp` escape hatch). Writers check it
    /// on the way out: an `n` must parse as a finite number, a `b` must be `true` or `false`.
    Text(Cow<'a, str>, DataType),
}

impl<'a> From<&'a str> for Value<'a> {
    /// A string (datatype `s`).
    fn from(s: &'a str) -> Self {
        Value::String(Cow::Borrowed(s))
    }
}

impl From<String> for Value<'_> {
    /// A string (datatype `s`).
    fn from(s: String) -> Self {
        Value::String(Cow::Owned(s))
    }
}

impl From<bool> for Value<'_> {
    /// A boolean (datatype `b`).
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Number> for Value<'_> {
    /// A number (datatype `n`).
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

macro_rules! value_from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value<'_> {
            /// A number (datatype `n`; a NaN or infinity is refused when the call is built).
            fn from(v: $t) -> Self {
                Value::Number(Number::from(v))
            }
        }
    )*};
}
value_from_number!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

impl Value<'_> {
    /// The datatype this value is sent with.
    pub fn datatype(&self) -> DataType {
        match self {
            Value::String(_) => DataType::String,
            Value::Number(_) => DataType::Number,
            Value::Bool(_) => DataType::Boolean,
            Value::Text(_, t) => *t,
        }
    }

    /// Turns a borrowed value into one that owns its text.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Number(n) => Value::Number(n),
            Value::Bool(b) => Value::Bool(b),
            Value::Text(s, t) => Value::Text(Cow::Owned(s.into_owned()), t),
        }
    }

    /// Checks the value can be sent as property `name`: finite numbers, `Text` that fits its
    /// datatype. Writers call this; it never allocates on success.
    ///
    /// A `Text` number is read as decimal text (`12.5`, `-3`, `.5`, `+1`, `5.`, `1e3`) and
    /// sent as its canonical plain decimal (`0.5`, `1`, `5`, `1000`), the same in a query and
    /// in a JSON body; `NaN`, infinities and values past `f64`'s range are refused with
    /// [`InvalidInput::NonFiniteNumber`], anything else that is not a number with
    /// [`InvalidInput::ValueDoesNotMatchType`], and a plain decimal longer than 400 bytes
    /// (`1e-400`) with [`InvalidInput::NumberTooLong`].
    pub fn validate(&self, name: &str) -> Result<(), InvalidInput> {
        if name.is_empty() {
            return Err(InvalidInput::EmptyPropertyName);
        }
        match self {
            Value::Number(n) if !n.is_finite() => Err(InvalidInput::NonFiniteNumber {
                name: name.to_owned(),
                value: n.to_string(),
            }),
            Value::Text(text, DataType::Number) => number_text(name, text, |_| ()),
            Value::Text(text, DataType::Boolean) if text != "true" && text != "false" => {
                Err(InvalidInput::ValueDoesNotMatchType {
                    name: name.to_owned(),
                    datatype: 'b',
                    value: text.to_string(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Where properties are written: the request encoders, a length counter, a [`Properties`]
/// list. Derived code and hand-written [`Event`](crate::Event) impls call `property` once per
/// property, in order.
pub trait PropertyWriter {
    /// Writes one property. Implementations validate with [`Value::validate`].
    fn property(&mut self, name: &str, value: Value<'_>) -> Result<(), InvalidInput>;
}

/// A Rust type that can be sent as a Gamooga property: it has a datatype fixed at compile time
/// (or, for a `serde_json::Value`, one per value) and writes its value.
///
/// Implemented for strings (`String`, `&str`, `Cow<str>`, `char`, `Box<str>`, `Arc<str>`,
/// `Rc<str>`), every integer type and `NonZero*`, `f32`, `f64`, `bool`, `Option<T>` (left out
/// when `None`), references, and unit-only enums deriving `GamoogaValue`. With the crate's
/// features of the same names: `chrono` and `time` dates and times (`s`), `uuid::Uuid`
/// (`s`), `rust_decimal::Decimal` (`n`) and `serde_json::Value` (its own JSON type).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a Gamooga property",
    label = "this field's type has no Gamooga datatype",
    note = "accepted types: String, &str, Cow<str>, char, Box<str>, Arc<str> (datatype s); integers, NonZero*, f32, f64 (n); bool (b); Option<T> of those; unit-only enums with #[derive(GamoogaValue)] (s); with the features of the same names: chrono and time dates and times, uuid::Uuid (s), rust_decimal::Decimal (n), serde_json::Value (its JSON type)",
    note = "for another type, send it through its Display with #[gamooga(tp = \"s\")] (or \"n\", \"b\"), convert it with #[gamooga(with = path::to::fn)], or leave it out with #[gamooga(skip)]"
)]
pub trait PropertyValue {
    /// The datatype the value is sent with; `None` when each value brings its own (a
    /// `serde_json::Value`: a string is sent as `s`, a number as `n`, a boolean as `b`).
    const DATATYPE: Option<DataType>;
    /// Whether the property may be absent (true for `Option<T>`).
    const OPTIONAL: bool = false;
    /// The value to send, or `None` to leave the property out.
    fn to_value(&self) -> Option<Value<'_>>;
    /// The value to send as property `name`, `Ok(None)` to leave it out, or an error when
    /// this value cannot be sent (a `serde_json::Value` array). The derives call this; the
    /// default is [`to_value`](Self::to_value), which suits every type whose values can all
    /// be sent.
    fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
        let _ = name;
        Ok(self.to_value())
    }
}

macro_rules! string_impls {
    ($($t:ty),*) => {$(
        impl PropertyValue for $t {
            const DATATYPE: Option<DataType> = Some(DataType::String);
            fn to_value(&self) -> Option<Value<'_>> {
                Some(Value::String(Cow::Borrowed(&**self)))
            }
        }
    )*};
}
string_impls!(String);

impl PropertyValue for str {
    const DATATYPE: Option<DataType> = Some(DataType::String);
    fn to_value(&self) -> Option<Value<'_>> {
        Some(Value::String(Cow::Borrowed(self)))
    }
}

impl PropertyValue for Cow<'_, str> {
    const DATATYPE: Option<DataType> = Some(DataType::String);
    fn to_value(&self) -> Option<Value<'_>> {
        Some(Value::String(Cow::Borrowed(self.as_ref())))
    }
}

impl PropertyValue for char {
    const DATATYPE: Option<DataType> = Some(DataType::String);
    fn to_value(&self) -> Option<Value<'_>> {
        // A char has no str to borrow; this is the one string type that allocates.
        Some(Value::String(Cow::Owned(self.to_string())))
    }
}

macro_rules! number_impls {
    ($($t:ty),*) => {$(
        impl PropertyValue for $t {
            const DATATYPE: Option<DataType> = Some(DataType::Number);
            fn to_value(&self) -> Option<Value<'_>> {
                Some(Value::Number(Number::from(*self)))
            }
        }
    )*};
}
number_impls!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

macro_rules! nonzero_impls {
    ($($t:ty),*) => {$(
        impl PropertyValue for $t {
            const DATATYPE: Option<DataType> = Some(DataType::Number);
            fn to_value(&self) -> Option<Value<'_>> {
                Some(Value::Number(Number::from(self.get())))
            }
        }
    )*};
}
nonzero_impls!(
    NonZeroI8,
    NonZeroI16,
    NonZeroI32,
    NonZeroI64,
    NonZeroI128,
    NonZeroIsize,
    NonZeroU8,
    NonZeroU16,
    NonZeroU32,
    NonZeroU64,
    NonZeroU128,
    NonZeroUsize
);

impl PropertyValue for bool {
    const DATATYPE: Option<DataType> = Some(DataType::Boolean);
    fn to_value(&self) -> Option<Value<'_>> {
        Some(Value::Bool(*self))
    }
}

impl<T: PropertyValue> PropertyValue for Option<T> {
    const DATATYPE: Option<DataType> = T::DATATYPE;
    const OPTIONAL: bool = true;
    fn to_value(&self) -> Option<Value<'_>> {
        self.as_ref().and_then(T::to_value)
    }
    fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
        match self {
            Some(v) => v.try_to_value(name),
            None => Ok(None),
        }
    }
}

impl<T: PropertyValue + ?Sized> PropertyValue for &T {
    const DATATYPE: Option<DataType> = T::DATATYPE;
    const OPTIONAL: bool = T::OPTIONAL;
    fn to_value(&self) -> Option<Value<'_>> {
        T::to_value(self)
    }
    fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
        T::try_to_value(self, name)
    }
}

impl<T: PropertyValue + ?Sized> PropertyValue for &mut T {
    const DATATYPE: Option<DataType> = T::DATATYPE;
    const OPTIONAL: bool = T::OPTIONAL;
    fn to_value(&self) -> Option<Value<'_>> {
        T::to_value(self)
    }
    fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
        T::try_to_value(self, name)
    }
}

macro_rules! pointer_impls {
    ($($p:ident),*) => {$(
        impl<T: PropertyValue + ?Sized> PropertyValue for $p<T> {
            const DATATYPE: Option<DataType> = T::DATATYPE;
            const OPTIONAL: bool = T::OPTIONAL;
            fn to_value(&self) -> Option<Value<'_>> {
                T::to_value(self)
            }
            fn try_to_value(&self, name: &str) -> Result<Option<Value<'_>>, InvalidInput> {
                T::try_to_value(self, name)
            }
        }
    )*};
}
pointer_impls!(Box, Arc, Rc);

impl fmt::Debug for Value<'_> {
    /// The kind (and datatype of a [`Value::Text`]), never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(_) => f.write_str("String(..)"),
            Value::Number(_) => f.write_str("Number(..)"),
            Value::Bool(_) => f.write_str("Bool(..)"),
            Value::Text(_, datatype) => write!(f, "Text(.., {datatype:?})"),
        }
    }
}

/// One property of a [`Properties`] list.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The property's name.
    pub name: String,
    /// Its value.
    pub value: Value<'static>,
}

/// An ordered list of properties, for code that has no struct to derive on.
///
/// Names and values are checked when the list is built into a call (empty names) or, for
/// numbers, right here (NaN and infinities are refused).
///
/// ```
/// use gamooga::Properties;
/// let props = Properties::new()
///     .string("sku", "A&B")
///     .number("amount", 12.5)?
///     .boolean("first_order", true);
/// assert_eq!(props.len(), 3);
/// # Ok::<(), gamooga::InvalidInput>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    items: Vec<Property>,
}

impl Properties {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a string property (datatype `s`).
    pub fn string(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.items.push(Property {
            name: name.into(),
            value: Value::String(Cow::Owned(value.into())),
        });
        self
    }

    /// Appends a numeric property (datatype `n`); NaN and infinities are refused.
    pub fn number(
        mut self,
        name: impl Into<String>,
        value: impl Into<Number>,
    ) -> Result<Self, InvalidInput> {
        let name = name.into();
        let value = Value::Number(value.into());
        value.validate(&name)?;
        self.items.push(Property { name, value });
        Ok(self)
    }

    /// Appends a boolean property (datatype `b`).
    pub fn boolean(mut self, name: impl Into<String>, value: bool) -> Self {
        self.items.push(Property {
            name: name.into(),
            value: Value::Bool(value),
        });
        self
    }

    /// Appends any property value, checking it with [`Value::validate`].
    pub fn push(&mut self, name: impl Into<String>, value: Value<'_>) -> Result<(), InvalidInput> {
        let name = name.into();
        value.validate(&name)?;
        self.items.push(Property {
            name,
            value: value.into_owned(),
        });
        Ok(())
    }

    /// The properties, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Property> {
        self.items.iter()
    }

    /// The properties, in order, to change in place (a value set here is checked when the
    /// list is built into a call).
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Property> {
        self.items.iter_mut()
    }

    /// The value of the first property named `name`.
    ///
    /// ```
    /// use gamooga::{Properties, Value};
    /// let props = Properties::new().string("plan", "pro");
    /// assert_eq!(props.get("plan"), Some(&Value::String("pro".into())));
    /// assert_eq!(props.get("city"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&Value<'static>> {
        self.items.iter().find(|p| p.name == name).map(|p| &p.value)
    }

    /// Whether a property is named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.items.iter().any(|p| p.name == name)
    }

    /// Sets property `name` to `value`: the first property of that name takes the value
    /// (keeping its place) and any later one of that name is removed; without one, the
    /// property is appended. The value is checked when the list is built into a call (a NaN
    /// is refused there), so this never fails.
    ///
    /// ```
    /// use gamooga::{Properties, Value};
    /// let mut props = Properties::new().string("email", "alice@example.com").boolean("vip", true);
    /// props.set("email", "[redacted]");
    /// props.set("app_version", String::from("1.4.2"));
    /// let names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
    /// assert_eq!(names, ["email", "vip", "app_version"]);
    /// assert_eq!(props.get("email"), Some(&Value::from("[redacted]")));
    /// ```
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value<'static>>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.items.iter().position(|p| p.name == name) {
            Some(first) => {
                self.items[first].value = value;
                let mut index = 0;
                self.items.retain(|p| {
                    let keep = index <= first || p.name != name;
                    index += 1;
                    keep
                });
            }
            None => self.items.push(Property { name, value }),
        }
        self
    }

    /// Removes every property named `name`; returns the first one's value.
    ///
    /// ```
    /// use gamooga::Properties;
    /// let mut props = Properties::new().string("email", "alice@example.com").boolean("vip", true);
    /// assert!(props.remove("email").is_some());
    /// assert_eq!(props.len(), 1);
    /// ```
    pub fn remove(&mut self, name: &str) -> Option<Value<'static>> {
        let first = self.items.iter().position(|p| p.name == name)?;
        let removed = self.items.remove(first);
        self.items.retain(|p| p.name != name);
        Some(removed.value)
    }

    /// Keeps only the properties for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Property) -> bool) {
        self.items.retain(keep);
    }

    /// How many properties there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Writes every property, in order, into `w`.
    pub fn write_to<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        for p in &self.items {
            w.property(&p.name, borrow(&p.value))?;
        }
        Ok(())
    }
}

/// A borrowed view of an owned value, without copying its text.
fn borrow<'a>(v: &'a Value<'_>) -> Value<'a> {
    match v {
        Value::String(s) => Value::String(Cow::Borrowed(s)),
        Value::Number(n) => Value::Number(*n),
        Value::Bool(b) => Value::Bool(*b),
        Value::Text(s, t) => Value::Text(Cow::Borrowed(s), *t),
    }
}

impl PropertyWriter for Properties {
    fn property(&mut self, name: &str, value: Value<'_>) -> Result<(), InvalidInput> {
        self.push(name, value)
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
