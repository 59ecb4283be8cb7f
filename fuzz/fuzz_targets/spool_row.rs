//! Spool row decoding: what replay does with a row read back from `spool.db`, which anyone
//! with write access to the file could have edited.
//!
//! Input: a `RawRow` built with `arbitrary` (the endpoint and method columns are drawn from
//! the real names most of the time, so the fuzzer reaches the checks past them).
//!
//! Checked: no panic; a decoded row's request has the endpoint's own path (`/{name}/`, never
//! from the file, and `url` reads that same path back from the request line), the endpoint's
//! method, a body exactly for `evwidj`, a query of encoder bytes only, and the enqueue time
//! of the row.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use gamooga_core::spool::{decode_row, RawRow};
use gamooga_core::{Endpoint, Method};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Column {
    Known(u8),
    Raw(String),
}

impl Column {
    fn text(self, known: &[&str]) -> String {
        match self {
            Column::Known(i) => known[i as usize % known.len()].to_owned(),
            Column::Raw(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Row {
    id: i64,
    endpoint: Column,
    method: Column,
    query: String,
    body: Option<String>,
    enqueued_ms: i64,
}

fuzz_target!(|row: Row| {
    let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    let raw = RawRow {
        id: row.id,
        endpoint: row.endpoint.text(&names),
        method: row.method.text(&["GET", "POST"]),
        query: row.query,
        body: row.body,
        enqueued_ms: row.enqueued_ms,
    };
    let Ok((request, enqueued_at)) = decode_row(raw.clone()) else {
        return;
    };
    let endpoint = request.endpoint();
    assert_eq!(endpoint.name(), raw.endpoint);
    assert_ne!(
        endpoint,
        Endpoint::CompanyInfo,
        "company information is never queued"
    );
    let path = format!("/{}/", endpoint.name());
    assert_eq!(request.path(), path);
    let post = endpoint == Endpoint::Evwidj;
    assert_eq!(
        request.method(),
        if post { Method::Post } else { Method::Get }
    );
    assert_eq!(request.method().as_str(), raw.method);
    assert_eq!(request.body().is_some(), post);
    assert_eq!(request.body(), raw.body.as_deref());
    assert_eq!(request.query(), raw.query);
    assert!(request
        .query()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b)));
    let ms = u64::try_from(raw.enqueued_ms).expect("a decoded time is after 1970");
    assert_eq!(enqueued_at, UNIX_EPOCH + Duration::from_millis(ms));

    // The request line reaches the endpoint's path and nothing else, as `url` reads it.
    let url = url::Url::parse(&format!("https://evbk.example{}", request.path_and_query()))
        .expect("a decoded request line parses");
    assert_eq!(url.host_str(), Some("evbk.example"));
    assert_eq!(url.path(), path);
    assert_eq!(url.query().unwrap_or(""), raw.query);
    assert_eq!(url.fragment(), None);
});
