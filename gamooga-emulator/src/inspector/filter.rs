//! The filters the page and the JSON API share: `endpoint`, `company`, `event`, `id` (a
//! user or visitor id), `status` (`accepted`, `rejected`, `violation`, `faulted`) and `q`
//! (free text), as query parameters.

use std::borrow::Cow;

use url::form_urlencoded;

use crate::call::RecordedCall;
use crate::log::StoredCall;

/// Which calls to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    endpoint: Option<String>,
    company: Option<String>,
    event: Option<String>,
    id: Option<String>,
    status: Option<Status>,
    /// Lowercased.
    text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Accepted,
    Rejected,
    Violation,
    Faulted,
}

/// The query parameters a filter reads (others are refused, so a typo does not silently
/// match everything); `limit` is read by the JSON API beside the filter.
pub(crate) const KEYS: [&str; 6] = ["endpoint", "company", "event", "id", "status", "q"];

impl Filter {
    /// Reads a filter from a query string. Empty values mean "any".
    pub(crate) fn parse(query: &str) -> Result<Filter, String> {
        let mut filter = Filter::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let owned = Some(value.to_owned());
            match key.as_ref() {
                "endpoint" => filter.endpoint = owned,
                "company" => filter.company = owned,
                "event" => filter.event = owned,
                "id" => filter.id = owned,
                "q" => filter.text = Some(value.to_lowercase()),
                "status" => {
                    filter.status = Some(match value {
                        "accepted" => Status::Accepted,
                        "rejected" => Status::Rejected,
                        "violation" => Status::Violation,
                        "faulted" => Status::Faulted,
                        other => {
                            return Err(format!(
                                "unknown status '{other}' (accepted, rejected, violation, faulted)"
                            ))
                        }
                    });
                }
                "limit" => {}
                other => {
                    return Err(format!(
                        "unknown filter '{other}' ({}, limit)",
                        KEYS.join(", ")
                    ))
                }
            }
        }
        Ok(filter)
    }

    /// Whether every call matches.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether matching needs the decoded call (not only the stored outcome).
    fn needs_decoding(&self) -> bool {
        self.company.is_some() || self.event.is_some() || self.id.is_some() || self.text.is_some()
    }

    /// Whether a stored call matches, decoding it only when the filter needs to.
    pub(crate) fn matches(&self, stored: &StoredCall) -> bool {
        if let Some(status) = self.status {
            let ok = match status {
                Status::Accepted => stored.status() == 200,
                Status::Rejected => stored.is_rejected(),
                Status::Violation => stored.violates_plan(),
                Status::Faulted => stored.is_faulted(),
            };
            if !ok {
                return false;
            }
        }
        if let (Some(want), Some(name)) = (&self.endpoint, stored.endpoint_name()) {
            if want != name {
                return false;
            }
        }
        if self.needs_decoding() || (self.endpoint.is_some() && stored.endpoint_name().is_none()) {
            return self.matches_call(&stored.expand());
        }
        true
    }

    /// Whether a decoded call matches.
    pub(crate) fn matches_call(&self, call: &RecordedCall) -> bool {
        let is = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| got == Some(w))
        };
        if !is(&self.endpoint, Some(&call.endpoint))
            || !is(&self.company, call.company.as_deref())
            || !is(&self.event, call.event.as_deref())
        {
            return false;
        }
        if let Some(id) = &self.id {
            if call.user_id.as_deref() != Some(id) && call.visitor_id.as_deref() != Some(id) {
                return false;
            }
        }
        if let Some(status) = self.status {
            let ok = match status {
                Status::Accepted => call.status == 200,
                Status::Rejected => call.rejection.is_some(),
                Status::Violation => !call.plan_violations.is_empty(),
                Status::Faulted => call.fault.is_some(),
            };
            if !ok {
                return false;
            }
        }
        if let Some(text) = &self.text {
            let decoded_query: Cow<'_, str> =
                percent_encoding::percent_decode_str(&call.raw_query).decode_utf8_lossy();
            let haystacks = [
                call.to_string(),
                decoded_query.into_owned(),
                call.body.clone().unwrap_or_default(),
            ];
            if !haystacks.iter().any(|h| h.to_lowercase().contains(text)) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::RecordedProperty;

    fn call() -> RecordedCall {
        let mut c = RecordedCall::arrived(
            "GET".into(),
            "/evwid/".into(),
            "c=acme&u=user-42&e=purchase&ky=sku&vl=A%26B&tp=s".into(),
            None,
        );
        c.endpoint = "evwid".into();
        c.company = Some("acme".into());
        c.user_id = Some("user-42".into());
        c.visitor_id = Some("v123".into());
        c.event = Some("purchase".into());
        c.event_properties = vec![RecordedProperty::new("sku", "A&B", 's')];
        c
    }

    #[test]
    fn each_filter_selects() {
        let c = call();
        let yes = [
            "",
            "endpoint=evwid",
            "company=acme&event=purchase",
            "id=user-42",
            "id=v123",
            "status=accepted",
            "q=A%26B",
            "q=PURCH",
            "limit=5&event=",
        ];
        for q in yes {
            assert!(Filter::parse(q).unwrap().matches_call(&c), "{q}");
        }
        let no = [
            "endpoint=ev",
            "company=acme2",
            "event=login",
            "id=user-4",
            "status=rejected",
            "status=violation",
            "status=faulted",
            "q=nothing",
        ];
        for q in no {
            assert!(!Filter::parse(q).unwrap().matches_call(&c), "{q}");
        }
    }

    #[test]
    fn typos_are_refused() {
        assert!(Filter::parse("evnt=x")
            .unwrap_err()
            .contains("unknown filter 'evnt'"));
        assert!(Filter::parse("status=ok")
            .unwrap_err()
            .contains("unknown status"));
        assert!(Filter::parse("").unwrap().is_empty());
    }
}
