use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Purchase {
    #[gamooga(renmae = "total")]
    amount: u32,
    #[gamooga(tp = "x")]
    count: u32,
    #[gamooga(skip = true)]
    note: String,
    #[gamooga(default, flatten(yes))]
    sku: String,
}

fn main() {}
