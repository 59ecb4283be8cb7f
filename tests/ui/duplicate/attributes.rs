use gamooga::prelude::*;

#[derive(GamoogaEvent)]
#[gamooga(name = "a", rename_all = "camelCase")]
#[gamooga(name = "b")]
struct Purchase {
    #[gamooga(rename = "x", rename = "y")]
    amount: u32,
    #[gamooga(skip)]
    #[gamooga(skip)]
    note: String,
}

fn main() {}
