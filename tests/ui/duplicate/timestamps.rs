use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Purchase {
    #[gamooga(timestamp)]
    created: std::time::SystemTime,
    amount: u32,
    #[gamooga(timestamp)]
    paid: u64,
}

fn main() {}
