use gamooga::prelude::*;

#[derive(GamoogaValue)]
enum Payment {
    Cash,
    Card(String),
    Voucher { code: String },
}

#[derive(GamoogaValue)]
struct Plan {
    name: String,
}

fn main() {}
