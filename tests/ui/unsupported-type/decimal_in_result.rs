//@ feature: rust_decimal
use gamooga::prelude::*;
use rust_decimal::Decimal;

fn parse_amount(text: &str) -> Result<Decimal, rust_decimal::Error> {
    text.parse()
}

fn amount(text: &str) -> Option<Decimal> {
    text.parse().ok()
}

// A Decimal is a number; a Result of one is not a value (return an Option, or handle the
// error before building the event).
#[derive(GamoogaEvent)]
struct Purchase {
    total: Decimal,
    #[gamooga(with = amount)]
    net: String,
    #[gamooga(with = parse_amount)]
    tax: String,
}

fn main() {}
