use gamooga::{Event, Properties, HasEventSchema};
use gamooga::{GamoogaEvent, GamoogaValue};

#[derive(GamoogaValue, Debug, Clone, Copy)]
#[gamooga(rename_all = "snake_case")]
enum Plan { Free, ProMonthly }

fn upper(s: &String) -> String { s.to_uppercase() }
fn borrow(s: &String) -> &str { s }

#[derive(GamoogaEvent)]
struct Inner<T> { t: T, #[gamooga(with = borrow)] b: String }

#[derive(GamoogaEvent)]
struct Outer<'a, T: Clone, U> where U: Copy {
    #[gamooga(flatten)]
    inner: Inner<T>,
    #[gamooga(tp = "n")]
    u: Option<U>,
    #[gamooga(with = upper)]
    s: String,
    r: &'a str,
    plan: Plan,
}

#[test]
fn smoke() {
    let e = Outer { inner: Inner { t: 5u8, b: "x".into() }, u: Some(7i32), s: "abc".into(), r: "r", plan: Plan::Free };
    let mut p = Properties::new();
    e.write_properties(&mut p).unwrap();
    for x in &p { println!("{:?}", x); }
    println!("{:?}", <Outer<u8, i32> as HasEventSchema>::SCHEMA.properties().collect::<Vec<_>>());
    let _ = Plan::ProMonthly;
}
