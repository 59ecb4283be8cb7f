//! Visitor state built by accepted calls: user id → visitor id, each visitor's current
//! properties, and a short history of them so the page can show a visitor as it was right
//! after a given call.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::call::RecordedProperty;

/// Versions of a visitor's properties kept for the page (the current one is always kept).
const HISTORY: usize = 32;

#[derive(Debug, Default)]
struct Visitor {
    /// Current properties: last write wins, first-set order.
    current: Vec<RecordedProperty>,
    /// (call number, properties right after that call), oldest first.
    history: VecDeque<(u64, Arc<[RecordedProperty]>)>,
    /// Whether older versions were dropped from `history`.
    truncated: bool,
}

/// Visitor state built by accepted calls.
#[derive(Debug, Default)]
pub(crate) struct Visitors {
    /// user id → visitor id.
    by_user: HashMap<String, String>,
    visitors: HashMap<String, Visitor>,
}

impl Visitors {
    /// Maps `user_id` to `visitor_id` (replacing an earlier mapping).
    pub(crate) fn map(&mut self, user_id: &str, visitor_id: &str) {
        self.by_user
            .insert(user_id.to_owned(), visitor_id.to_owned());
    }

    pub(crate) fn visitor_of(&self, user_id: &str) -> Option<String> {
        self.by_user.get(user_id).cloned()
    }

    /// Applies visitor properties sent by call `seq`: last write wins, a property keeps its
    /// first-set position.
    pub(crate) fn set_properties(
        &mut self,
        visitor_id: &str,
        seq: u64,
        props: &[RecordedProperty],
    ) {
        if props.is_empty() {
            return;
        }
        let visitor = match self.visitors.get_mut(visitor_id) {
            Some(v) => v,
            None => self.visitors.entry(visitor_id.to_owned()).or_default(),
        };
        for p in props {
            match visitor.current.iter_mut().find(|c| c.name == p.name) {
                Some(c) => *c = p.clone(),
                None => visitor.current.push(p.clone()),
            }
        }
        if visitor.history.len() >= HISTORY {
            visitor.history.pop_front();
            visitor.truncated = true;
        }
        visitor
            .history
            .push_back((seq, Arc::from(visitor.current.as_slice())));
    }

    pub(crate) fn properties(&self, visitor_id: &str) -> Vec<RecordedProperty> {
        self.visitors
            .get(visitor_id)
            .map(|v| v.current.clone())
            .unwrap_or_default()
    }

    /// The visitor's properties right after call `seq`; `None` when that version is no
    /// longer kept.
    pub(crate) fn properties_after(
        &self,
        visitor_id: &str,
        seq: u64,
    ) -> Option<Vec<RecordedProperty>> {
        let Some(visitor) = self.visitors.get(visitor_id) else {
            return Some(Vec::new());
        };
        let i = visitor.history.partition_point(|(s, _)| *s <= seq);
        match i.checked_sub(1) {
            Some(at) => Some(visitor.history[at].1.to_vec()),
            None if visitor.truncated => None,
            None => Some(Vec::new()),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_user.clear();
        self.visitors.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_write_wins_in_first_set_order() {
        let mut v = Visitors::default();
        v.set_properties(
            "v1",
            1,
            &[
                RecordedProperty::new("a", "1", 'n'),
                RecordedProperty::new("b", "x", 's'),
            ],
        );
        v.set_properties("v1", 2, &[RecordedProperty::new("a", "2", 'n')]);
        assert_eq!(
            v.properties("v1"),
            vec![
                RecordedProperty::new("a", "2", 'n'),
                RecordedProperty::new("b", "x", 's')
            ]
        );
    }

    #[test]
    fn properties_after_a_call_are_that_version() {
        let mut v = Visitors::default();
        v.set_properties("v1", 3, &[RecordedProperty::new("a", "1", 'n')]);
        v.set_properties("v1", 7, &[RecordedProperty::new("a", "2", 'n')]);
        assert_eq!(v.properties_after("v1", 2), Some(vec![]));
        assert_eq!(
            v.properties_after("v1", 5),
            Some(vec![RecordedProperty::new("a", "1", 'n')])
        );
        assert_eq!(
            v.properties_after("v1", 7),
            Some(vec![RecordedProperty::new("a", "2", 'n')])
        );
        for seq in 10..10 + HISTORY as u64 {
            v.set_properties("v1", seq, &[RecordedProperty::new("b", "x", 's')]);
        }
        assert_eq!(v.properties_after("v1", 5), None, "no longer kept");
        assert_eq!(v.properties("v1").len(), 2);
    }
}
