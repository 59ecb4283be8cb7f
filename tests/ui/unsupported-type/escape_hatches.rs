// The escape hatches check their own types: `tp` needs Display, `with` must return a
// sendable type, `flatten` needs a struct deriving the same trait.
use gamooga::prelude::*;

struct Opaque;

fn to_list(v: &u32) -> Vec<u32> {
    vec![*v]
}

#[derive(GamoogaEvent)]
struct Inner {
    a: u32,
}

#[derive(GamoogaEvent)]
struct Checkout {
    #[gamooga(tp = "s")]
    opaque: Opaque,
    #[gamooga(with = to_list)]
    count: u32,
    #[gamooga(flatten)]
    nested: String,
    #[gamooga(flatten)]
    inner: Inner,
}

#[derive(VisitorProps)]
struct Profile {
    // An event is not a set of visitor properties.
    #[gamooga(flatten)]
    inner: Inner,
}

fn main() {}
