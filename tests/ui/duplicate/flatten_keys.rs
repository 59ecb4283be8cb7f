// Keys brought in by #[gamooga(flatten)] are checked when the schema is evaluated.
use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Device {
    os: String,
    locale: String,
}

#[derive(GamoogaEvent)]
struct Screen {
    locale: String,
}

#[derive(GamoogaEvent)]
struct PageView<'a> {
    os: &'a str,
    #[gamooga(flatten)]
    device: Device,
}

#[derive(GamoogaEvent)]
struct Click {
    #[gamooga(flatten)]
    device: Device,
    #[gamooga(flatten)]
    screen: Screen,
}

fn main() {}
