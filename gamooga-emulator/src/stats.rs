//! What has been seen, per event: counts by outcome (the CI summary) and the properties
//! with the datatypes they came with (the schema view, where a property seen with two
//! datatypes is drift). Updated as each call is recorded, so reading them costs nothing
//! per call.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::call::RecordedProperty;
use crate::plan::Plan;

/// How one call ended, for counting.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    pub accepted: bool,
    pub rejected: bool,
    pub faulted: bool,
    pub violating: bool,
}

#[derive(Debug, Clone, Default)]
struct PropertySeen {
    name: String,
    count: u64,
    /// Calls that sent it as `s`, `n`, `b`.
    by_type: [u64; 3],
}

impl PropertySeen {
    fn observe(&mut self, datatype: char) {
        self.count += 1;
        match datatype {
            's' => self.by_type[0] += 1,
            'n' => self.by_type[1] += 1,
            _ => self.by_type[2] += 1,
        }
    }

    fn report(&self, planned: Option<Option<String>>) -> PropertyReport {
        let datatypes: String = ['s', 'n', 'b']
            .iter()
            .zip(self.by_type)
            .filter(|(_, n)| *n > 0)
            .map(|(t, _)| *t)
            .collect();
        PropertyReport {
            name: self.name.clone(),
            count: self.count,
            drift: datatypes.len() > 1,
            datatypes,
            planned: planned.as_ref().map(Option::is_some),
            planned_datatypes: planned.flatten(),
        }
    }
}

fn observe_all(seen: &mut Vec<PropertySeen>, props: &[RecordedProperty]) {
    for p in props {
        match seen.iter_mut().find(|s| s.name == p.name) {
            Some(s) => s.observe(p.datatype),
            None => {
                let mut s = PropertySeen {
                    name: p.name.clone(),
                    ..PropertySeen::default()
                };
                s.observe(p.datatype);
                seen.push(s);
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
struct EventSeen {
    calls: u64,
    accepted: u64,
    rejected: u64,
    faulted: u64,
    violating: u64,
    first_seen_ms: u64,
    last_seen_ms: u64,
    /// From accepted calls.
    properties: Vec<PropertySeen>,
}

/// Per-event counts and the properties seen.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    events: HashMap<String, EventSeen>,
    /// Visitor properties of accepted `evvprwid` and `vpr` calls.
    visitor: Vec<PropertySeen>,
}

impl Stats {
    /// Counts a call naming `event`; its properties count when it was accepted.
    pub(crate) fn observe_event(
        &mut self,
        event: &str,
        outcome: Outcome,
        properties: &[RecordedProperty],
        at_ms: u64,
    ) {
        let seen = match self.events.get_mut(event) {
            Some(seen) => seen,
            None => self.events.entry(event.to_owned()).or_insert(EventSeen {
                first_seen_ms: at_ms,
                ..EventSeen::default()
            }),
        };
        seen.calls += 1;
        seen.last_seen_ms = at_ms;
        seen.accepted += u64::from(outcome.accepted);
        seen.rejected += u64::from(outcome.rejected);
        seen.faulted += u64::from(outcome.faulted);
        seen.violating += u64::from(outcome.violating);
        if outcome.accepted {
            observe_all(&mut seen.properties, properties);
        }
    }

    /// Counts the visitor properties of an accepted call.
    pub(crate) fn observe_visitor(&mut self, properties: &[RecordedProperty]) {
        observe_all(&mut self.visitor, properties);
    }

    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.visitor.clear();
    }

    /// Counts per event, sorted by name.
    pub(crate) fn event_summaries(&self) -> Vec<EventSummary> {
        let mut events: Vec<EventSummary> = self
            .events
            .iter()
            .map(|(name, s)| EventSummary {
                event: name.clone(),
                calls: s.calls,
                accepted: s.accepted,
                rejected: s.rejected,
                faulted: s.faulted,
                plan_violations: s.violating,
            })
            .collect();
        events.sort_by(|a, b| a.event.cmp(&b.event));
        events
    }

    /// The schema view: every event seen (and every planned event not seen yet), sorted by
    /// name, with its properties and whether the plan has them.
    pub(crate) fn schema(&self, plan: Option<&Plan>) -> SchemaReport {
        let mut events: Vec<EventReport> = self
            .events
            .iter()
            .map(|(name, s)| EventReport {
                event: name.clone(),
                calls: s.calls,
                accepted: s.accepted,
                first_seen_ms: Some(s.first_seen_ms),
                last_seen_ms: Some(s.last_seen_ms),
                planned: plan.map(|p| p.has_event(name)),
                properties: s
                    .properties
                    .iter()
                    .map(|p| {
                        p.report(
                            plan.map(|plan| plan.event_property(name, &p.name).map(String::from)),
                        )
                    })
                    .collect(),
            })
            .collect();
        if let Some(plan) = plan {
            for name in plan.event_names() {
                if !self.events.contains_key(name) {
                    events.push(EventReport {
                        event: name.to_owned(),
                        calls: 0,
                        accepted: 0,
                        first_seen_ms: None,
                        last_seen_ms: None,
                        planned: Some(true),
                        properties: Vec::new(),
                    });
                }
            }
        }
        events.sort_by(|a, b| a.event.cmp(&b.event));
        SchemaReport {
            events,
            visitor_properties: self
                .visitor
                .iter()
                .map(|p| p.report(plan.map(|plan| plan.visitor_property(&p.name))))
                .collect(),
        }
    }
}

/// Calls that named one event, by outcome: a line of [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventSummary {
    /// The event name.
    pub event: String,
    /// Every call that named it.
    pub calls: u64,
    /// Answered 200.
    pub accepted: u64,
    /// Rejected by validation (4xx with a reason).
    pub rejected: u64,
    /// Hit by an injected fault (failed, dropped, rate limited, delayed).
    pub faulted: u64,
    /// With at least one violation of the tracking plan.
    pub plan_violations: u64,
}

/// What reached the emulator, for CI: `GET /_emulator/summary` and
/// [`Emulator::summary`](crate::Emulator::summary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Every call since the start or the last reset.
    pub total_calls: u64,
    /// Calls answered 200.
    pub accepted: u64,
    /// Calls rejected by validation.
    pub rejected: u64,
    /// Calls hit by an injected fault.
    pub faulted: u64,
    /// Calls with a violation of the tracking plan.
    pub plan_violations: u64,
    /// Whether a tracking plan is loaded.
    pub plan_loaded: bool,
    /// Calls per endpoint (`evwid`, `newnaconf`, ... or an unknown path).
    pub endpoints: std::collections::BTreeMap<String, usize>,
    /// Per event name, sorted by name.
    pub events: Vec<EventSummary>,
}

/// The schema view (`GET /_emulator/schema`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SchemaReport {
    pub events: Vec<EventReport>,
    pub visitor_properties: Vec<PropertyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventReport {
    pub event: String,
    pub calls: u64,
    pub accepted: u64,
    pub first_seen_ms: Option<u64>,
    pub last_seen_ms: Option<u64>,
    /// `None` without a plan.
    pub planned: Option<bool>,
    pub properties: Vec<PropertyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PropertyReport {
    pub name: String,
    pub count: u64,
    /// The datatypes seen, e.g. `"n"`, or `"sn"` for drift.
    pub datatypes: String,
    pub drift: bool,
    /// Whether the plan has it (`None` without a plan).
    pub planned: Option<bool>,
    /// The datatype(s) the plan gives it.
    pub planned_datatypes: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, datatype: char) -> RecordedProperty {
        RecordedProperty::new(name, "1", datatype)
    }

    #[test]
    fn counts_by_outcome_and_flags_drift() {
        let mut stats = Stats::default();
        let ok = Outcome {
            accepted: true,
            ..Outcome::default()
        };
        stats.observe_event("buy", ok, &[p("amount", 'n')], 10);
        stats.observe_event("buy", ok, &[p("amount", 's'), p("sku", 's')], 20);
        let bad = Outcome {
            rejected: true,
            ..Outcome::default()
        };
        stats.observe_event("buy", bad, &[p("ignored", 'b')], 30);
        let summary = stats.event_summaries();
        assert_eq!(
            summary,
            [EventSummary {
                event: "buy".into(),
                calls: 3,
                accepted: 2,
                rejected: 1,
                faulted: 0,
                plan_violations: 0
            }]
        );
        let schema = stats.schema(None);
        let buy = &schema.events[0];
        assert_eq!((buy.first_seen_ms, buy.last_seen_ms), (Some(10), Some(30)));
        let props: Vec<(&str, &str, bool)> = buy
            .properties
            .iter()
            .map(|p| (p.name.as_str(), p.datatypes.as_str(), p.drift))
            .collect();
        assert_eq!(props, [("amount", "sn", true), ("sku", "s", false)]);
    }

    #[test]
    fn the_schema_says_what_is_planned() {
        let plan = Plan::from_json(
            r#"{"events":[{"name":"buy","properties":[{"name":"amount","datatype":"n"}]},
                          {"name":"never","properties":[]}],
                "visitor_properties":[{"name":"P","properties":[{"name":"city","datatype":"s"}]}]}"#,
        )
        .unwrap();
        let mut stats = Stats::default();
        let ok = Outcome {
            accepted: true,
            ..Outcome::default()
        };
        stats.observe_event("buy", ok, &[p("amount", 'n'), p("extra", 's')], 1);
        stats.observe_event("other", ok, &[], 2);
        stats.observe_visitor(&[p("city", 's'), p("age", 'n')]);
        let schema = stats.schema(Some(&plan));
        let events: Vec<(&str, Option<bool>, u64)> = schema
            .events
            .iter()
            .map(|e| (e.event.as_str(), e.planned, e.calls))
            .collect();
        assert_eq!(
            events,
            [
                ("buy", Some(true), 1),
                ("never", Some(true), 0),
                ("other", Some(false), 1)
            ]
        );
        let planned: Vec<(Option<bool>, Option<String>)> = schema.events[0]
            .properties
            .iter()
            .map(|p| (p.planned, p.planned_datatypes.clone()))
            .collect();
        assert_eq!(
            planned,
            [(Some(true), Some("n".into())), (Some(false), None)]
        );
        let visitor: Vec<(Option<bool>, Option<String>)> = schema
            .visitor_properties
            .iter()
            .map(|p| (p.planned, p.planned_datatypes.clone()))
            .collect();
        assert_eq!(
            visitor,
            [(Some(true), Some("s".into())), (Some(false), None)]
        );
        assert_eq!(stats.schema(None).events[0].properties[0].planned, None);
    }
}
