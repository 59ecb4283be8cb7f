//@ feature: serde_json, postgres
use gamooga::prelude::*;

// The same case as json_object.rs, built with sqlx in the graph (feature `postgres`): rustc
// then names `serde_json::Value` by sqlx's shorter re-export, `JsonValue`.

// A serde_json::Value is a property of its own JSON type (an array or object in it is
// refused when the call is built); a JSON object type is no property at all.
#[derive(GamoogaEvent)]
struct Webhook {
    payload: serde_json::Value,
    headers: serde_json::Map<String, serde_json::Value>,
}

fn main() {}
