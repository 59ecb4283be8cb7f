//! The tracking plan calls are checked against: read from the JSON that the SDK's
//! `TrackingPlan::to_json()` exports, and the check itself.
//!
//! The format (`gamooga::TrackingPlan::to_value`):
//!
//! ```json
//! {"events": [{"name": "purchase",
//!              "properties": [{"name": "amount", "datatype": "n", "optional": false}]}],
//!  "visitor_properties": [{"name": "Profile",
//!                          "properties": [{"name": "city", "datatype": "s", "optional": false}]}]}
//! ```
//!
//! An event call is checked against its event: an event not in the plan, a property not
//! planned for it, a datatype other than planned, a planned property that is not optional and
//! is missing. Visitor properties (`evvprwid`, `vpr`) are checked against every visitor
//! property set of the plan together: a property in none of them, or sent with a datatype
//! none of them plans. (A visitor call sets some properties, never necessarily a whole set,
//! so missing visitor properties are not violations.)

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::call::{PlanViolation, RecordedProperty};

/// A tracking plan loaded into the emulator.
///
/// ```
/// use gamooga_emulator::{Plan, PlanViolation, RecordedProperty};
///
/// let plan = Plan::from_json(r#"{"events": [{"name": "purchase", "properties": [
///     {"name": "amount", "datatype": "n", "optional": false},
///     {"name": "coupon", "datatype": "s", "optional": true}]}]}"#)?;
/// let sent = [RecordedProperty::new("amount", "x1", 's')];
/// assert_eq!(
///     plan.check(Some("purchase"), &sent, &[]),
///     [PlanViolation::WrongDatatype {
///         property: "amount".into(), visitor: false, planned: "n".into(), sent: 's',
///     }]
/// );
/// # Ok::<(), gamooga_emulator::PlanError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    events: HashMap<String, Vec<PlannedProperty>>,
    /// Every visitor property of every set: name → the datatypes planned for it.
    visitor: HashMap<String, String>,
    /// The document as loaded, for the page.
    source: PlanDocument,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PlannedProperty {
    name: String,
    datatype: char,
    optional: bool,
}

/// The JSON document, as `TrackingPlan::to_value` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PlanDocument {
    #[serde(default)]
    events: Vec<SetDocument>,
    #[serde(default)]
    visitor_properties: Vec<SetDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SetDocument {
    name: String,
    #[serde(default)]
    properties: Vec<PropertyDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PropertyDocument {
    name: String,
    datatype: String,
    #[serde(default)]
    optional: bool,
}

/// Why a tracking plan could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The text is not a tracking plan's JSON.
    #[error("the tracking plan is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// A datatype other than `s`, `n` or `b`.
    #[error("property '{property}' of '{set}' has datatype '{datatype}' (expected s, n or b)")]
    Datatype {
        /// The event or visitor set.
        set: String,
        /// The property.
        property: String,
        /// What the plan says.
        datatype: String,
    },
    /// The same event listed twice, or a property listed twice in one set.
    #[error("'{0}' is listed twice in the tracking plan")]
    Duplicate(String),
    /// The plan file could not be read.
    #[error("cannot read the tracking plan {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl Plan {
    /// Reads a plan from the JSON that `TrackingPlan::to_json()` exports.
    ///
    /// # Errors
    /// When the text is not such JSON, a datatype is not `s`/`n`/`b`, or an event (or a
    /// property of one set) is listed twice.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let source: PlanDocument = serde_json::from_str(text)?;
        let mut events = HashMap::new();
        for event in &source.events {
            let properties = planned(event)?;
            if events.insert(event.name.clone(), properties).is_some() {
                return Err(PlanError::Duplicate(event.name.clone()));
            }
        }
        let mut visitor: HashMap<String, String> = HashMap::new();
        for set in &source.visitor_properties {
            for p in planned(set)? {
                let types = visitor.entry(p.name).or_default();
                if !types.contains(p.datatype) {
                    types.push(p.datatype);
                }
            }
        }
        Ok(Plan {
            events,
            visitor,
            source,
        })
    }

    /// Reads a plan from a file holding `TrackingPlan::to_json()`.
    ///
    /// # Errors
    /// When the file cannot be read, or as [`Plan::from_json`].
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Plan, PlanError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Plan::from_json(&text)
    }

    /// Whether the plan lists this event.
    pub fn has_event(&self, event: &str) -> bool {
        self.events.contains_key(event)
    }

    /// The planned datatype of an event's property, if planned.
    pub fn event_property(&self, event: &str, property: &str) -> Option<char> {
        self.events
            .get(event)?
            .iter()
            .find(|p| p.name == property)
            .map(|p| p.datatype)
    }

    /// Whether some visitor property set of the plan has this property.
    pub fn has_visitor_property(&self, property: &str) -> bool {
        self.visitor.contains_key(property)
    }

    /// The datatypes planned for a visitor property (more than one when sets disagree).
    pub(crate) fn visitor_property(&self, property: &str) -> Option<String> {
        self.visitor.get(property).cloned()
    }

    /// The planned event names.
    pub(crate) fn event_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.events.keys().map(String::as_str)
    }

    /// The plan as JSON, as loaded (for the page).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.source).unwrap_or_default()
    }

    /// Checks what a call sent: its event name (if an event call) and its event and visitor
    /// properties. Returns every violation, in the order the properties were sent, missing
    /// properties last.
    pub fn check(
        &self,
        event: Option<&str>,
        event_properties: &[RecordedProperty],
        visitor_properties: &[RecordedProperty],
    ) -> Vec<PlanViolation> {
        let mut found = Vec::new();
        if let Some(event) = event {
            match self.events.get(event) {
                None => found.push(PlanViolation::UnplannedEvent {
                    event: event.to_owned(),
                }),
                Some(planned) => {
                    for sent in event_properties {
                        match planned.iter().find(|p| p.name == sent.name) {
                            None => found.push(PlanViolation::UnplannedProperty {
                                property: sent.name.clone(),
                                visitor: false,
                            }),
                            Some(p) if p.datatype != sent.datatype => {
                                found.push(PlanViolation::WrongDatatype {
                                    property: sent.name.clone(),
                                    visitor: false,
                                    planned: p.datatype.to_string(),
                                    sent: sent.datatype,
                                });
                            }
                            Some(_) => {}
                        }
                    }
                    for p in planned {
                        if !p.optional && !event_properties.iter().any(|s| s.name == p.name) {
                            found.push(PlanViolation::MissingProperty {
                                property: p.name.clone(),
                            });
                        }
                    }
                }
            }
        }
        for sent in visitor_properties {
            match self.visitor.get(&sent.name) {
                None => found.push(PlanViolation::UnplannedProperty {
                    property: sent.name.clone(),
                    visitor: true,
                }),
                Some(types) if !types.contains(sent.datatype) => {
                    found.push(PlanViolation::WrongDatatype {
                        property: sent.name.clone(),
                        visitor: true,
                        planned: types.clone(),
                        sent: sent.datatype,
                    });
                }
                Some(_) => {}
            }
        }
        found
    }
}

fn planned(set: &SetDocument) -> Result<Vec<PlannedProperty>, PlanError> {
    let mut properties: Vec<PlannedProperty> = Vec::with_capacity(set.properties.len());
    for p in &set.properties {
        let datatype = match p.datatype.as_str() {
            "s" => 's',
            "n" => 'n',
            "b" => 'b',
            _ => {
                return Err(PlanError::Datatype {
                    set: set.name.clone(),
                    property: p.name.clone(),
                    datatype: p.datatype.clone(),
                })
            }
        };
        if properties.iter().any(|q| q.name == p.name) {
            return Err(PlanError::Duplicate(format!("{}.{}", set.name, p.name)));
        }
        properties.push(PlannedProperty {
            name: p.name.clone(),
            datatype,
            optional: p.optional,
        });
    }
    Ok(properties)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{
      "events": [
        {"name": "purchase", "properties": [
          {"name": "amount", "datatype": "n", "optional": false},
          {"name": "sku", "datatype": "s", "optional": false},
          {"name": "coupon", "datatype": "s", "optional": true}]},
        {"name": "login", "properties": []}
      ],
      "visitor_properties": [
        {"name": "Profile", "properties": [{"name": "city", "datatype": "s", "optional": false}]},
        {"name": "Flags", "properties": [{"name": "vip", "datatype": "b", "optional": true}]}
      ]
    }"#;

    fn p(name: &str, datatype: char) -> RecordedProperty {
        RecordedProperty::new(name, "x", datatype)
    }

    #[test]
    fn a_call_that_follows_the_plan_has_no_violation() {
        let plan = Plan::from_json(PLAN).unwrap();
        assert_eq!(
            plan.check(Some("purchase"), &[p("amount", 'n'), p("sku", 's')], &[]),
            []
        );
        assert_eq!(plan.check(Some("login"), &[], &[p("vip", 'b')]), []);
    }

    #[test]
    fn each_kind_of_violation_is_found() {
        let plan = Plan::from_json(PLAN).unwrap();
        assert_eq!(
            plan.check(Some("refund"), &[p("amount", 'n')], &[]),
            [PlanViolation::UnplannedEvent {
                event: "refund".into()
            }]
        );
        assert_eq!(
            plan.check(
                Some("purchase"),
                &[p("amount", 's'), p("colour", 's')],
                &[p("city", 'n'), p("age", 'n')]
            ),
            [
                PlanViolation::WrongDatatype {
                    property: "amount".into(),
                    visitor: false,
                    planned: "n".into(),
                    sent: 's'
                },
                PlanViolation::UnplannedProperty {
                    property: "colour".into(),
                    visitor: false
                },
                PlanViolation::MissingProperty {
                    property: "sku".into()
                },
                PlanViolation::WrongDatatype {
                    property: "city".into(),
                    visitor: true,
                    planned: "s".into(),
                    sent: 'n'
                },
                PlanViolation::UnplannedProperty {
                    property: "age".into(),
                    visitor: true
                },
            ]
        );
    }

    #[test]
    fn bad_plans_are_refused_with_the_reason() {
        let bad_type = r#"{"events":[{"name":"e","properties":[{"name":"a","datatype":"x"}]}]}"#;
        assert!(matches!(
            Plan::from_json(bad_type),
            Err(PlanError::Datatype { datatype, .. }) if datatype == "x"
        ));
        let twice = r#"{"events":[{"name":"e"},{"name":"e"}]}"#;
        assert!(matches!(Plan::from_json(twice), Err(PlanError::Duplicate(e)) if e == "e"));
        assert!(matches!(Plan::from_json("[1]"), Err(PlanError::Json(_))));
    }
}
