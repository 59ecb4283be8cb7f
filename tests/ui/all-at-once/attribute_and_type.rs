use gamooga::prelude::*;

// Attribute errors (a key used twice, an unknown attribute) and field-type errors come in
// the same build: fixing the first does not reveal the others.
#[derive(GamoogaEvent)]
struct Order {
    #[gamooga(rename = "id")]
    order_id: u64,
    #[gamooga(rename = "id")]
    other_id: u64,
    #[gamooga(tpe = "s")]
    note: String,
    items: Vec<String>,
}

#[derive(VisitorProps)]
struct Buyer {
    #[gamooga(renam = "town")]
    city: String,
    tags: std::collections::HashSet<String>,
}

fn main() {}
