use gamooga::prelude::*;

struct Clock {
    millis: u64,
}

fn clock_millis(c: &Clock) -> u64 {
    c.millis
}

fn clock_label(_: &Clock) -> String {
    "noon".to_owned()
}

// `with` converts a timestamp field into a time: its function must return one.
#[derive(GamoogaEvent)]
struct Tick {
    #[gamooga(timestamp, with = clock_millis)]
    at: Clock,
}

#[derive(GamoogaEvent)]
struct Tock {
    #[gamooga(timestamp, with = clock_label)]
    at: Clock,
}

fn main() {}
