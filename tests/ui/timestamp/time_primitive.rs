//@ feature: time
use gamooga::prelude::*;

// A PrimitiveDateTime names no instant; an OffsetDateTime does.
#[derive(GamoogaEvent)]
struct Login {
    #[gamooga(timestamp)]
    at: time::PrimitiveDateTime,
}

#[derive(GamoogaEvent)]
struct Logout {
    #[gamooga(timestamp)]
    at: time::OffsetDateTime,
}

fn main() {}
