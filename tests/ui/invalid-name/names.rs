use gamooga::prelude::*;

#[derive(GamoogaEvent)]
#[gamooga(name = "")]
struct Purchase {
    #[gamooga(rename = "")]
    amount: u32,
    #[gamooga(rename = " sku")]
    sku: String,
    #[gamooga(rename = "line\nbreak")]
    note: String,
}

#[derive(GamoogaValue)]
enum Plan {
    #[gamooga(rename = "")]
    Free,
}

#[derive(VisitorProps)]
#[gamooga(crate = "not a path")]
struct Profile {
    name: String,
}

fn main() {}
