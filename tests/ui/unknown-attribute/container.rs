use gamooga::prelude::*;

#[derive(GamoogaEvent)]
#[gamooga(nmae = "purchase", rename_all = "Camel", skip)]
struct Purchase {
    amount: u32,
}

#[derive(VisitorProps)]
#[gamooga(name = "profile")]
struct Profile {
    name: String,
}

#[derive(GamoogaValue)]
#[gamooga(rename_all = "snake_case", tp = "s")]
enum Plan {
    #[gamooga(skip)]
    Free,
}

fn main() {}
