//@ feature: chrono
use gamooga::prelude::*;

// A NaiveDateTime names no instant; a DateTime<Utc> does.
#[derive(GamoogaEvent)]
struct Login {
    #[gamooga(timestamp)]
    at: chrono::NaiveDateTime,
}

#[derive(GamoogaEvent)]
struct Logout {
    #[gamooga(timestamp)]
    at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
