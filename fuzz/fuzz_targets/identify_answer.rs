//! The `id` answer decoder: `{"result":"success","vid":"<visitor id>"}`.
//!
//! Input: the raw answer body.
//!
//! Checked: no panic; a refusal is a typed `Decode` error naming the `id` call; an accepted
//! answer is a JSON object with `"result":"success"` whose `vid` (read by `serde_json`
//! independently) is the visitor id returned, non-empty, and usable: the call builders
//! accept it in `link`, `track_visitor` and `push_visitor`.
#![no_main]

use gamooga_core::client::parse_identify;
use gamooga_core::{Calls, CustomEvent, Endpoint, Error, Properties};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_identify(data) {
        Ok(vid) => {
            assert!(!vid.is_empty());
            let value: serde_json::Value = serde_json::from_slice(data).expect("accepted JSON");
            assert_eq!(value["result"], "success");
            assert_eq!(value["vid"].as_str(), Some(vid.as_str()));
            let calls = Calls::new("acme").unwrap();
            let event = CustomEvent::new("login", Properties::new());
            let props = Properties::new().boolean("vip", true);
            for (call, built) in [
                ("link", calls.link("user-1", &vid)),
                ("track_visitor", calls.track_visitor(&vid, &event)),
                ("push_visitor", calls.push_visitor(&vid, &props)),
            ] {
                if let Err(e) = built {
                    panic!("the visitor id answered by `id` is refused by {call}: {e}");
                }
            }
        }
        Err(Error::Decode {
            call: Endpoint::Id, ..
        }) => {}
        Err(other) => panic!("untyped refusal: {other:?}"),
    }
});
