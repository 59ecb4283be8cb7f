//! Encoding a 10-field event into an `evwid` request: a `#[derive(GamoogaEvent)]` struct
//! against the same request built by hand with the core property builder (`Properties` in a
//! `CustomEvent`). Both carry their own timestamp, so neither reads the clock.
//!
//! Run: `cargo bench --bench derive -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gamooga::prelude::*;
use gamooga::{
    Calls, CustomEvent, Event, InvalidInput, Properties, PropertyWriter, Request, Timestamp, Value,
};

#[derive(GamoogaValue, Clone, Copy)]
#[gamooga(rename_all = "snake_case")]
enum Plan {
    ProMonthly,
}

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,
    title: &'a str,
    category: &'a str,
    amount: f64,
    quantity: u32,
    discount: f64,
    first_order: bool,
    gift: bool,
    coupon: Option<&'a str>,
    plan: Plan,
    #[gamooga(timestamp)]
    at: Timestamp,
}

fn sample(at: Timestamp) -> Purchase<'static> {
    Purchase {
        sku: "SKU-12345-XL",
        title: "Trail running shoes & socks",
        category: "footwear/outdoor",
        amount: 129.99,
        quantity: 2,
        discount: 0.15,
        first_order: true,
        gift: false,
        coupon: Some("WELCOME10"),
        plan: Plan::ProMonthly,
        at,
    }
}

/// The same event through the core builder: the fields copied into a `Properties` list.
fn by_hand(calls: &Calls, p: &Purchase<'_>) -> Result<Request, InvalidInput> {
    let mut props = Properties::new()
        .string("sku", p.sku)
        .string("title", p.title)
        .string("category", p.category)
        .number("amount", p.amount)?
        .number("quantity", p.quantity)?
        .number("discount", p.discount)?
        .boolean("first_order", p.first_order)
        .boolean("gift", p.gift);
    if let Some(coupon) = p.coupon {
        props = props.string("coupon", coupon);
    }
    let props = props.string("plan", "pro_monthly");
    calls.track("user-42", &CustomEvent::new("purchase", props).at(p.at))
}

/// The floor: the same event with a hand-written `Event` impl writing straight into the
/// encoder, which is what the derive generates.
struct Manual<'a>(&'a Purchase<'a>);

impl Event for Manual<'_> {
    fn name(&self) -> &str {
        "purchase"
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(Some(self.0.at))
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        let p = self.0;
        w.property("sku", Value::String(p.sku.into()))?;
        w.property("title", Value::String(p.title.into()))?;
        w.property("category", Value::String(p.category.into()))?;
        w.property("amount", Value::Number(p.amount.into()))?;
        w.property("quantity", Value::Number(p.quantity.into()))?;
        w.property("discount", Value::Number(p.discount.into()))?;
        w.property("first_order", Value::Bool(p.first_order))?;
        w.property("gift", Value::Bool(p.gift))?;
        if let Some(coupon) = p.coupon {
            w.property("coupon", Value::String(coupon.into()))?;
        }
        w.property("plan", Value::String("pro_monthly".into()))
    }
}

fn bench(c: &mut Criterion) {
    let calls = Calls::new("acme").expect("company id");
    let at = Timestamp::from_millis(1_764_150_000_000).expect("timestamp");
    let event = sample(at);

    let derived = calls.track("user-42", &event).expect("derived");
    let hand = by_hand(&calls, &event).expect("by hand");
    assert_eq!(derived, hand, "both paths must build the same request");
    let manual = calls.track("user-42", &Manual(&event)).expect("manual");
    assert_eq!(
        derived, manual,
        "the hand-written impl builds the same request"
    );

    let mut group = c.benchmark_group("encode_10_fields");
    group.bench_function("derived", |b| {
        b.iter(|| calls.track(black_box("user-42"), black_box(&event)))
    });
    group.bench_function("hand_built_properties", |b| {
        b.iter(|| by_hand(&calls, black_box(&event)))
    });
    group.bench_function("hand_written_event_impl", |b| {
        b.iter(|| calls.track(black_box("user-42"), &Manual(black_box(&event))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
