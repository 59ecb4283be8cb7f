//! From a row to a request: which columns are the id, the event name and the time, which
//! are properties and with which datatype. Requests are built by the SDK's call builders.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use gamooga::{
    Calls, DataType, Event, InvalidInput, Number, PropertyWriter, Request, Timestamp, Value,
    VisitorProperties,
};
use serde_json::Value as Json;

use super::source::{Cell, Record};
use crate::time_arg::parse_time;
use crate::value::{infer, typed};

/// Who each row is about.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A user id column: `evwid`/`evwidj`, or `evvprwid` with visitor-property columns.
    User(String),
    /// A visitor id column: `ev`, or `vpr` for visitor-property rows.
    Visitor(String),
}

/// The event's name.
#[derive(Debug, Clone)]
pub enum EventName {
    Fixed(String),
    Column(String),
}

/// What each row is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An event; with user ids, `visitor_cols` go as visitor properties (`evvprwid`).
    Event {
        name: EventName,
        visitor_cols: HashSet<String>,
    },
    /// A visitor-property push (`vpr`): every other column is a visitor property.
    VisitorProps,
}

/// How rows become requests.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub identity: Identity,
    pub kind: Kind,
    pub time_col: Option<String>,
    pub types: HashMap<String, DataType>,
    pub ignore: HashSet<String>,
}

/// Why a row was refused, and in which column.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub column: Option<String>,
    pub reason: String,
}

fn refused(column: &str, reason: impl Into<String>) -> Refused {
    Refused {
        column: Some(column.to_owned()),
        reason: reason.into(),
    }
}

/// A row's event, written straight from its cells (no copy of the row).
struct RowEvent<'a> {
    name: &'a str,
    at: Option<Timestamp>,
    props: &'a [(&'a str, Value<'a>)],
}

impl Event for RowEvent<'_> {
    fn name(&self) -> &str {
        self.name
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(self.at)
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        for (name, value) in self.props {
            w.property(name, value.clone())?;
        }
        Ok(())
    }
}

struct RowProps<'a>(&'a [(&'a str, Value<'a>)]);

impl VisitorProperties for RowProps<'_> {
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        for (name, value) in self.0 {
            w.property(name, value.clone())?;
        }
        Ok(())
    }
}

/// The text of an id or name cell: a JSON string, or a JSON number's digits.
fn text_cell<'a>(cell: Option<Cell<'a>>) -> Option<Cow<'a, str>> {
    match cell? {
        Cell::Text(t) => Some(Cow::Borrowed(t)),
        Cell::Json(Json::String(s)) => Some(Cow::Borrowed(s.as_str())),
        Cell::Json(Json::Number(n)) => Some(Cow::Owned(n.to_string())),
        Cell::Json(_) => None,
    }
    .filter(|t| !t.is_empty())
}

/// A property cell as a value (`None`: left out: an empty CSV field, a JSON `null`).
fn property<'a>(cell: Cell<'a>, datatype: Option<DataType>) -> Result<Option<Value<'a>>, String> {
    let value = match cell {
        Cell::Text("") | Cell::Json(Json::Null) => return Ok(None),
        Cell::Text(t) => match datatype {
            Some(t2) => typed(t, t2)?,
            None => infer(t),
        },
        Cell::Json(Json::String(s)) => match datatype {
            Some(t) => typed(s, t)?,
            None => Value::String(Cow::Borrowed(s)),
        },
        Cell::Json(Json::Bool(b)) => match datatype {
            None | Some(DataType::Boolean) => Value::Bool(*b),
            Some(DataType::String) => {
                Value::String(Cow::Borrowed(if *b { "true" } else { "false" }))
            }
            Some(DataType::Number) => return Err("a boolean, not a number (datatype n)".into()),
        },
        Cell::Json(Json::Number(n)) => match datatype {
            None | Some(DataType::Number) => Value::Number(if let Some(i) = n.as_i64() {
                Number::from(i)
            } else if let Some(u) = n.as_u64() {
                Number::from(u)
            } else {
                Number::from(n.as_f64().unwrap_or(f64::NAN))
            }),
            Some(DataType::String) => Value::String(Cow::Owned(n.to_string())),
            Some(DataType::Boolean) => {
                return Err("a number, not true or false (datatype b)".into())
            }
        },
        Cell::Json(Json::Array(_) | Json::Object(_)) => {
            return Err(
                "a nested JSON array or object cannot be sent: flatten it, or leave the \
                        column out with --ignore-cols"
                    .into(),
            )
        }
    };
    Ok(Some(value))
}

fn time(cell: Cell<'_>) -> Result<Option<Timestamp>, String> {
    match cell {
        Cell::Text("") | Cell::Json(Json::Null) => Ok(None),
        Cell::Text(t) => parse_time(t).map(Some),
        Cell::Json(Json::String(t)) => parse_time(t).map(Some),
        Cell::Json(Json::Number(n)) => match n.as_u64() {
            Some(ms) => Timestamp::from_millis(ms)
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Err("not Unix milliseconds (a whole number) nor an RFC 3339 time".into()),
        },
        Cell::Json(_) => Err("not a time (RFC 3339 or Unix milliseconds)".into()),
    }
}

impl Mapping {
    /// The columns a CSV header must have.
    pub fn required_columns(&self) -> Vec<&str> {
        let mut cols = vec![match &self.identity {
            Identity::User(c) | Identity::Visitor(c) => c.as_str(),
        }];
        if let Kind::Event {
            name: EventName::Column(c),
            ..
        } = &self.kind
        {
            cols.push(c);
        }
        if let Some(c) = &self.time_col {
            cols.push(c);
        }
        cols
    }

    fn is_reserved(&self, column: &str) -> bool {
        let identity = match &self.identity {
            Identity::User(c) | Identity::Visitor(c) => c,
        };
        column == identity
            || self.time_col.as_deref() == Some(column)
            || matches!(&self.kind, Kind::Event { name: EventName::Column(c), .. } if c == column)
            || self.ignore.contains(column)
    }

    /// The request for `record`, built by `calls`, or why the row is refused.
    pub fn request(&self, calls: &Calls, record: &Record<'_>) -> Result<Request, Refused> {
        let (id_col, id_name) = match &self.identity {
            Identity::User(c) => (c, "user id"),
            Identity::Visitor(c) => (c, "visitor id"),
        };
        let id = text_cell(record.get(id_col)).ok_or_else(|| {
            refused(
                id_col,
                format!("no {id_name} (an empty or missing `{id_col}`)"),
            )
        })?;
        let at = match &self.time_col {
            Some(c) => match record.get(c) {
                Some(cell) => time(cell).map_err(|r| refused(c, r))?,
                None => None,
            },
            None => None,
        };
        let visitor_cols = match &self.kind {
            Kind::Event { visitor_cols, .. } => Some(visitor_cols),
            Kind::VisitorProps => None,
        };
        let mut event_props: Vec<(&str, Value<'_>)> = Vec::new();
        let mut visitor_props: Vec<(&str, Value<'_>)> = Vec::new();
        record.for_each(|name, cell| {
            if self.is_reserved(name) {
                return Ok(());
            }
            let value =
                property(cell, self.types.get(name).copied()).map_err(|r| refused(name, r))?;
            if let Some(value) = value {
                match visitor_cols {
                    Some(cols) if !cols.contains(name) => event_props.push((name, value)),
                    _ => visitor_props.push((name, value)),
                }
            }
            Ok(())
        })?;
        let built = match (&self.kind, &self.identity) {
            (Kind::VisitorProps, _) => calls.push_visitor(&id, &RowProps(&visitor_props)),
            (Kind::Event { name, .. }, identity) => {
                let name = match name {
                    EventName::Fixed(n) => Cow::Borrowed(n.as_str()),
                    EventName::Column(c) => text_cell(record.get(c)).ok_or_else(|| {
                        refused(c, format!("no event name (an empty or missing `{c}`)"))
                    })?,
                };
                let event = RowEvent {
                    name: &name,
                    at,
                    props: &event_props,
                };
                match identity {
                    Identity::User(_) if visitor_props.is_empty() => calls.track(&id, &event),
                    Identity::User(_) => calls.track_with(&id, &event, &RowProps(&visitor_props)),
                    Identity::Visitor(_) => calls.track_visitor(&id, &event),
                }
            }
        };
        built.map_err(|e| self.refused_by_sdk(e, id_col))
    }

    /// The column an SDK refusal is about.
    fn refused_by_sdk(&self, e: InvalidInput, id_col: &str) -> Refused {
        let column = match &e {
            InvalidInput::EmptyUserId | InvalidInput::EmptyVisitorId => Some(id_col.to_owned()),
            InvalidInput::DuplicateProperty { name }
            | InvalidInput::NonFiniteNumber { name, .. }
            | InvalidInput::ValueDoesNotMatchType { name, .. } => Some(name.clone()),
            InvalidInput::TimestampOutOfRange { .. } => self.time_col.clone(),
            InvalidInput::EmptyEventName => match &self.kind {
                Kind::Event {
                    name: EventName::Column(c),
                    ..
                } => Some(c.clone()),
                _ => None,
            },
            _ => None,
        };
        Refused {
            column,
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(kind: Kind) -> Mapping {
        Mapping {
            identity: Identity::User("user_id".into()),
            kind,
            time_col: Some("at".into()),
            types: HashMap::from([("zip".to_owned(), DataType::String)]),
            ignore: HashSet::from(["note".to_owned()]),
        }
    }

    fn event(name: &str) -> Kind {
        Kind::Event {
            name: EventName::Fixed(name.into()),
            visitor_cols: HashSet::new(),
        }
    }

    fn json_row(text: &str) -> serde_json::Map<String, Json> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn json_rows_keep_their_order_and_types() {
        let calls = Calls::new("acme").unwrap();
        let row = json_row(
            r#"{"user_id":42,"zip":"007","amount":12.5,"vip":true,"sku":"A&B","n":null,"note":"x","at":1764150000000}"#,
        );
        let request = mapping(event("purchase"))
            .request(&calls, &Record::Json(&row))
            .unwrap();
        assert_eq!(request.endpoint().name(), "evwid");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.query().as_bytes())
            .into_owned()
            .collect();
        let expected: Vec<(String, String)> = [
            ("c", "acme"),
            ("u", "42"),
            ("e", "purchase"),
            ("ky", "zip"),
            ("vl", "007"),
            ("tp", "s"),
            ("ky", "amount"),
            ("vl", "12.5"),
            ("tp", "n"),
            ("ky", "vip"),
            ("vl", "true"),
            ("tp", "b"),
            ("ky", "sku"),
            ("vl", "A&B"),
            ("tp", "s"),
            ("tm", "1764150000000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn refusals_name_the_column() {
        let calls = Calls::new("acme").unwrap();
        let m = mapping(event("purchase"));
        let refuse = |text: &str| {
            m.request(&calls, &Record::Json(&json_row(text)))
                .unwrap_err()
        };
        assert_eq!(refuse(r#"{"amount":1}"#).column.as_deref(), Some("user_id"));
        assert_eq!(
            refuse(r#"{"user_id":""}"#).column.as_deref(),
            Some("user_id")
        );
        assert_eq!(
            refuse(r#"{"user_id":"u","at":"soon"}"#).column.as_deref(),
            Some("at")
        );
        assert_eq!(
            refuse(r#"{"user_id":"u","at":1764150000}"#)
                .column
                .as_deref(),
            Some("at")
        );
        assert_eq!(
            refuse(r#"{"user_id":"u","tags":[1]}"#).column.as_deref(),
            Some("tags")
        );
        let mut typed = mapping(event("purchase"));
        typed.types.insert("amount".into(), DataType::Number);
        let r = typed
            .request(
                &calls,
                &Record::Json(&json_row(r#"{"user_id":"u","amount":"lots"}"#)),
            )
            .unwrap_err();
        assert_eq!(r.column.as_deref(), Some("amount"));
        assert!(r.reason.contains("not a number"), "{}", r.reason);
    }

    #[test]
    fn visitor_columns_make_evvprwid_and_visitor_rows_vpr() {
        let calls = Calls::new("acme").unwrap();
        let m = mapping(Kind::Event {
            name: EventName::Column("event".into()),
            visitor_cols: HashSet::from(["city".to_owned()]),
        });
        let row = json_row(r#"{"user_id":"u","event":"signup","plan":"pro","city":"Tokyo"}"#);
        let r = m.request(&calls, &Record::Json(&row)).unwrap();
        assert_eq!(r.endpoint().name(), "evvprwid");
        assert!(
            r.query().contains("eky=plan") && r.query().contains("vky=city"),
            "{}",
            r.query()
        );
        let mut vpr = mapping(Kind::VisitorProps);
        vpr.identity = Identity::Visitor("vid".into());
        let row = json_row(r#"{"vid":"0123456789abcdef","city":"Tokyo"}"#);
        assert_eq!(
            vpr.request(&calls, &Record::Json(&row))
                .unwrap()
                .endpoint()
                .name(),
            "vpr"
        );
        let empty = json_row(r#"{"vid":"0123456789abcdef"}"#);
        assert!(vpr.request(&calls, &Record::Json(&empty)).is_err());
    }
}
