//! `encode`: an `evwid` request with 10 properties, built by our call builder, by
//! `url::Url::query_pairs_mut`, and by reqwest's `RequestBuilder::query`.
//!
//! Also `encode_evwidj_large`: an `evwidj` body of 100 and 10,000 properties, whose time per
//! property stays flat (the duplicate-name check is linear, not quadratic).
//!
//! Run: `cargo bench --bench encode`. The ratios are in the README.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gamooga::{Calls, Event, EvwidMode, InvalidInput, Number, PropertyWriter, Timestamp, Value};

struct Checkout<'a> {
    sku: &'a str,
    title: &'a str,
    amount: f64,
    quantity: u32,
    discount: f64,
    currency: &'a str,
    first_order: bool,
    gift: bool,
    store: &'a str,
    items: i64,
}

impl Event for Checkout<'_> {
    fn name(&self) -> &str {
        "checkout"
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Timestamp::from_millis(1_764_150_000_000).map(Some)
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        w.property("sku", Value::String(self.sku.into()))?;
        w.property("title", Value::String(self.title.into()))?;
        w.property("amount", Value::Number(Number::from(self.amount)))?;
        w.property("quantity", Value::Number(Number::from(self.quantity)))?;
        w.property("discount", Value::Number(Number::from(self.discount)))?;
        w.property("currency", Value::String(self.currency.into()))?;
        w.property("first_order", Value::Bool(self.first_order))?;
        w.property("gift", Value::Bool(self.gift))?;
        w.property("store", Value::String(self.store.into()))?;
        w.property("items", Value::Number(Number::from(self.items)))
    }
}

const EVENT: Checkout<'static> = Checkout {
    sku: "A&B-42",
    title: "Grüner Tee 🍵, 100 g",
    amount: 12.5,
    quantity: 3,
    discount: 0.15,
    currency: "EUR",
    first_order: true,
    gift: false,
    store: "Berlin Mitte",
    items: 7,
};

/// The (name, value, type) triples as a caller without our SDK would prepare them.
fn triples(e: &Checkout<'_>) -> [(&'static str, String, &'static str); 10] {
    [
        ("sku", e.sku.to_string(), "s"),
        ("title", e.title.to_string(), "s"),
        ("amount", e.amount.to_string(), "n"),
        ("quantity", e.quantity.to_string(), "n"),
        ("discount", e.discount.to_string(), "n"),
        ("currency", e.currency.to_string(), "s"),
        ("first_order", e.first_order.to_string(), "b"),
        ("gift", e.gift.to_string(), "b"),
        ("store", e.store.to_string(), "s"),
        ("items", e.items.to_string(), "n"),
    ]
}

fn encode(c: &mut Criterion) {
    let calls = Calls::new("acme").unwrap();
    let base = url::Url::parse("https://evbk.gamooga.com/evwid/").unwrap();
    let client = reqwest::Client::new();
    let mut group = c.benchmark_group("encode_evwid_10_properties");

    group.bench_function("gamooga_calls_track", |b| {
        b.iter(|| {
            black_box(
                calls
                    .track(black_box("user-42"), black_box(&EVENT))
                    .unwrap(),
            )
        })
    });

    group.bench_function("gamooga_calls_track_full_url", |b| {
        b.iter(|| {
            let r = calls
                .track(black_box("user-42"), black_box(&EVENT))
                .unwrap();
            black_box(format!(
                "https://evbk.gamooga.com{}?{}",
                r.path(),
                r.query()
            ))
        })
    });

    group.bench_function("url_query_pairs_mut", |b| {
        b.iter(|| {
            let e = black_box(&EVENT);
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("c", "acme")
                    .append_pair("u", black_box("user-42"))
                    .append_pair("e", e.name());
                for (k, v, t) in triples(e) {
                    q.append_pair("ky", k)
                        .append_pair("vl", &v)
                        .append_pair("tp", t);
                }
                q.append_pair("tm", &1_764_150_000_000u64.to_string());
            }
            black_box(url)
        })
    });

    group.bench_function("reqwest_query", |b| {
        b.iter(|| {
            let e = black_box(&EVENT);
            let mut pairs: Vec<(&str, String)> = Vec::with_capacity(34);
            pairs.push(("c", "acme".to_string()));
            pairs.push(("u", black_box("user-42").to_string()));
            pairs.push(("e", e.name().to_string()));
            for (k, v, t) in triples(e) {
                pairs.push(("ky", k.to_string()));
                pairs.push(("vl", v));
                pairs.push(("tp", t.to_string()));
            }
            pairs.push(("tm", 1_764_150_000_000u64.to_string()));
            black_box(client.get(base.clone()).query(&pairs).build().unwrap())
        })
    });
    group.finish();
}

/// An event with `n` distinct boolean properties.
struct Wide(Vec<String>);

impl Event for Wide {
    fn name(&self) -> &str {
        "wide"
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        self.0
            .iter()
            .try_for_each(|name| w.property(name, Value::Bool(true)))
    }
}

fn encode_large(c: &mut Criterion) {
    let calls = Calls::new("acme").unwrap().with_evwid_mode(EvwidMode::Post);
    let mut group = c.benchmark_group("encode_evwidj_large");
    for n in [100usize, 10_000] {
        let event = Wide((0..n).map(|i| format!("property_{i}")).collect());
        group.throughput(criterion::Throughput::Elements(n as u64));
        group.bench_function(format!("{n}_properties"), |b| {
            b.iter(|| black_box(calls.track(black_box("user-42"), &event).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, encode, encode_large);
criterion_main!(benches);
