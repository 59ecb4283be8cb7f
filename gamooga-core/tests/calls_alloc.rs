//! Building an `evwid` request with 10 properties allocates at most twice (in fact once: the
//! query, sized exactly by a first pass). Counted with a counting global allocator; this file
//! is its own test binary with a single test, so nothing else allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gamooga_core::{Calls, Event, InvalidInput, Number, PropertyWriter, Timestamp, Value};

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

/// A 10-property event written the way derived code writes it: borrowed values, no buffers.
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

#[test]
fn building_an_evwid_request_allocates_at_most_twice() {
    let calls = Calls::new("acme").unwrap();
    let event = Checkout {
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
    let warm = calls.track("user-42", &event).unwrap();
    assert_eq!(warm.endpoint(), gamooga_core::Endpoint::Evwid);

    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let request = calls.track("user-42", &event);
    COUNTING.store(false, Ordering::SeqCst);
    let n = ALLOCATIONS.load(Ordering::SeqCst);

    assert_eq!(request.unwrap(), warm);
    assert!(n >= 1, "the counter must see the query's allocation");
    assert!(n <= 2, "building the request allocated {n} times");
}
