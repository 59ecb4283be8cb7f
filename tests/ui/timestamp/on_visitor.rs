use gamooga::prelude::*;

#[derive(VisitorProps)]
struct Profile {
    name: String,
    #[gamooga(timestamp)]
    seen_at: u64,
}

fn main() {}
