use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Tuple(String, u32);

#[derive(VisitorProps)]
union Bits {
    a: u32,
    b: f32,
}

#[derive(GamoogaEvent)]
enum Action {
    Login,
    Logout,
}

#[derive(VisitorProps)]
enum Shape {
    Circle { r: f64 },
}

fn main() {}
