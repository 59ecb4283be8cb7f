//@ feature: uuid
use gamooga::prelude::*;

// A Uuid is a string property, not a time (even a version 7 one).
#[derive(GamoogaEvent)]
struct Signup {
    request_id: uuid::Uuid,
    #[gamooga(timestamp)]
    at: uuid::Uuid,
}

fn main() {}
