//! Building an `evwid` request with 10 properties allocates at most twice (in fact once: the
//! query, sized first). A derived event writes straight into the request encoder: it
//! allocates exactly as often as a hand-written `Event` impl with borrowed values, and far
//! less than copying the fields into a `Properties` list. Counted with a
//! counting global allocator; this file is its own test binary with a single test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gamooga::prelude::*;
use gamooga::{
    Calls, CustomEvent, Event, InvalidInput, Properties, PropertyWriter, Timestamp, Value,
};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::SeqCst) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::SeqCst) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    (out, ALLOCATIONS.load(Ordering::SeqCst))
}

#[derive(GamoogaValue, Clone, Copy)]
#[gamooga(rename_all = "snake_case")]
enum Plan {
    ProMonthly,
}

#[derive(GamoogaEvent)]
struct Checkout<'a> {
    sku: &'a str,
    title: String,
    amount: f64,
    quantity: u32,
    discount: Option<f64>,
    coupon: Option<String>,
    first_order: bool,
    gift: bool,
    plan: Plan,
    #[gamooga(rename = "store_id")]
    store: u64,
    #[gamooga(timestamp)]
    at: Timestamp,
}

/// The same event by hand, the way the derive is meant to write it.
struct Manual<'a>(&'a Checkout<'a>);

impl Event for Manual<'_> {
    fn name(&self) -> &str {
        "checkout"
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(Some(self.0.at))
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        let c = self.0;
        w.property("sku", Value::String(c.sku.into()))?;
        w.property("title", Value::String(c.title.as_str().into()))?;
        w.property("amount", Value::Number(c.amount.into()))?;
        w.property("quantity", Value::Number(c.quantity.into()))?;
        if let Some(d) = c.discount {
            w.property("discount", Value::Number(d.into()))?;
        }
        if let Some(coupon) = &c.coupon {
            w.property("coupon", Value::String(coupon.as_str().into()))?;
        }
        w.property("first_order", Value::Bool(c.first_order))?;
        w.property("gift", Value::Bool(c.gift))?;
        w.property("plan", Value::String("pro_monthly".into()))?;
        w.property("store_id", Value::Number(c.store.into()))
    }
}

#[test]
fn derived_event_allocates_like_a_hand_written_impl() {
    let calls = Calls::new("acme").unwrap();
    let event = Checkout {
        sku: "SKU-1",
        title: "Trail shoes & socks".into(),
        amount: 129.99,
        quantity: 2,
        discount: Some(0.15),
        coupon: Some("WELCOME".into()),
        first_order: true,
        gift: false,
        plan: Plan::ProMonthly,
        store: 7,
        at: Timestamp::from_millis(1_764_150_000_000).unwrap(),
    };
    // Warm up anything lazily initialised.
    let _ = calls.track("user-42", &event).unwrap();

    let (derived, derived_allocs) = allocations(|| calls.track("user-42", &event).unwrap());
    let (manual, manual_allocs) = allocations(|| calls.track("user-42", &Manual(&event)).unwrap());
    let (built, built_allocs) = allocations(|| {
        let props = Properties::new()
            .string("sku", event.sku)
            .string("title", event.title.as_str())
            .number("amount", event.amount)
            .unwrap()
            .number("quantity", event.quantity)
            .unwrap()
            .number("discount", 0.15)
            .unwrap()
            .string("coupon", "WELCOME")
            .boolean("first_order", event.first_order)
            .boolean("gift", event.gift)
            .string("plan", "pro_monthly")
            .number("store_id", event.store)
            .unwrap();
        calls
            .track("user-42", &CustomEvent::new("checkout", props).at(event.at))
            .unwrap()
    });

    assert!(
        (1..=2).contains(&manual_allocs),
        "building a 10-property evwid request allocated {manual_allocs} times (at most 2)"
    );
    assert_eq!(derived, manual, "same request");
    assert_eq!(derived, built, "same request");
    assert_eq!(
        derived_allocs, manual_allocs,
        "the derive adds no allocation of its own"
    );
    assert!(
        derived_allocs < built_allocs,
        "derived {derived_allocs} allocations, Properties path {built_allocs}"
    );
    println!(
        "allocations: derived {derived_allocs}, manual {manual_allocs}, Properties {built_allocs}"
    );
}
