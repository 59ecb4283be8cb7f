use gamooga::prelude::*;

fn upper(s: &String) -> String {
    s.to_uppercase()
}

#[derive(GamoogaEvent)]
struct Purchase {
    #[gamooga(skip, rename = "x")]
    a: String,
    #[gamooga(tp = "s", with = upper)]
    b: String,
    #[gamooga(flatten, rename = "c")]
    c: String,
    #[gamooga(timestamp, tp = "n")]
    at: u64,
}

fn main() {}
