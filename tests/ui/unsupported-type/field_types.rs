use gamooga::prelude::*;

struct Uuid(u128);

#[derive(GamoogaEvent)]
struct Signup {
    email: String,
    request_id: Uuid,
    tags: Vec<String>,
}

#[derive(VisitorProps)]
struct Profile {
    name: String,
    address: std::collections::HashMap<String, String>,
}

fn main() {}
