use gamooga::{Event, Properties, PropertyWriter, Value, InvalidInput};
use gamooga::{GamoogaEvent, GamoogaValue, VisitorProps};

#[derive(GamoogaValue, Debug, Clone, Copy)]
#[gamooga(rename_all = "snake_case")]
enum Plan { Free, ProMonthly, #[gamooga(rename = "ENT")] Enterprise }

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
    first_order: bool,
    #[gamooga(rename = "coupon_code")]
    coupon: Option<String>,
    plan: Plan,
    #[gamooga(timestamp)]
    at: std::time::SystemTime,
    #[gamooga(skip)]
    request_id: u128,
}

#[test]
fn smoke() {
    let e = Purchase { sku: "A", amount: 1.5, first_order: true, coupon: None, plan: Plan::ProMonthly, at: std::time::SystemTime::now(), request_id: 3 };
    let mut p = Properties::new();
    e.write_properties(&mut p).unwrap();
    for x in &p { println!("{:?}", x); }
    println!("{:?}", <Purchase as gamooga::HasEventSchema>::SCHEMA);
}
