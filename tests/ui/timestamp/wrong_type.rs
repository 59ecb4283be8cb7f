use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Purchase {
    amount: u32,
    #[gamooga(timestamp)]
    at: String,
}

#[derive(GamoogaEvent)]
struct Refund {
    #[gamooga(timestamp)]
    at: f64,
}

fn main() {}
