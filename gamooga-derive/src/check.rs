//! Checks across fields and variants: keys used twice, more than one timestamp.

use crate::ast::{Container, Data, Role};
use crate::ctxt::Ctxt;

/// Runs every check, recording problems in `cx`.
pub fn check(cx: &Ctxt, cont: &Container) {
    match &cont.data {
        Data::Struct(fields) => {
            let keyed = fields
                .iter()
                .filter(|f| f.has_key())
                .map(|f| (f.key.as_str(), f.key_span));
            duplicate_keys(cx, keyed, "property key");
            let mut timestamps = fields
                .iter()
                .filter(|f| matches!(f.role(), Role::Timestamp(_)))
                .filter_map(|f| f.attrs.timestamp);
            if let Some(first_span) = timestamps.next() {
                for span in timestamps {
                    cx.error_at(
                        span,
                        "an event has at most one #[gamooga(timestamp)] field; remove this one or the first",
                    );
                    cx.error_at(first_span, "first #[gamooga(timestamp)] here");
                }
            }
        }
        Data::Enum(variants, _) => {
            let keyed = variants.iter().map(|v| (v.key.as_str(), v.key_span));
            duplicate_keys(cx, keyed, "string");
        }
    }
}

fn duplicate_keys<'a>(
    cx: &Ctxt,
    keys: impl Iterator<Item = (&'a str, proc_macro2::Span)>,
    what: &str,
) {
    let mut seen: Vec<(&str, proc_macro2::Span)> = Vec::new();
    for (key, span) in keys {
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            cx.error_at(
                span,
                format!("the {what} {key:?} is used twice (after renaming); rename one of them"),
            );
            cx.error_at(*first, format!("{key:?} first used here"));
        } else {
            seen.push((key, span));
        }
    }
}
