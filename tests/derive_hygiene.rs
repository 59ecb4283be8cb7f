//! Compile-only: the generated code must use absolute paths. This module shadows the prelude
//! names the derives could otherwise pick up by accident, and a local `gamooga` module that
//! would capture a relative path; warnings and `unused_qualifications` are errors.
#![deny(warnings, unused_qualifications)]

mod shadowed {
    #![allow(dead_code)] // the shadowing items themselves are never used

    struct Result;
    struct Option;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct String;
    struct Vec;
    struct Cow;
    struct Value;
    struct Event;
    trait PropertyValue {}
    trait PropertyWriter {}
    trait Display {}
    mod gamooga {}
    mod core {}
    mod std {}
    mod __private {}

    use ::gamooga::prelude::*;

    fn shout(s: &str) -> ::std::string::String {
        s.to_uppercase()
    }

    #[derive(GamoogaValue)]
    #[gamooga(rename_all = "snake_case")]
    pub enum Plan {
        Free,
        ProMonthly,
    }

    #[derive(GamoogaEvent)]
    pub struct Device<'a> {
        pub os: &'a str,
    }

    #[derive(GamoogaEvent)]
    #[gamooga(name = "purchase", rename_all = "camelCase")]
    pub struct Purchase<'a, T> {
        pub sku: &'a str,
        pub amount: T,
        pub coupon: ::core::option::Option<::std::string::String>,
        #[gamooga(tp = "n")]
        pub count: ::core::option::Option<u32>,
        #[gamooga(tp = "s")]
        pub code: char,
        #[gamooga(with = shout)]
        pub name: ::std::string::String,
        #[gamooga(flatten)]
        pub device: Device<'a>,
        pub plan: Plan,
        #[gamooga(timestamp)]
        pub at: ::core::option::Option<u64>,
        #[gamooga(skip)]
        pub request_id: u128,
    }

    #[derive(VisitorProps)]
    pub struct Address {
        pub city: ::std::string::String,
    }

    #[derive(VisitorProps)]
    pub struct Profile {
        pub vip: bool,
        #[gamooga(flatten)]
        pub address: Address,
    }

    #[derive(GamoogaEvent)]
    pub struct Ping;

    fn millis(t: &(u64, u64)) -> u64 {
        t.0 * 1000 + t.1
    }

    #[derive(GamoogaEvent)]
    pub struct Tick {
        #[gamooga(timestamp, with = millis)]
        pub at: (u64, u64),
    }
}

mod no_prelude {
    #![no_implicit_prelude]

    #[derive(::gamooga::GamoogaEvent)]
    pub struct Logout {
        pub reason: ::std::string::String,
    }
}

#[test]
fn derived_code_compiles_with_shadowed_names_and_writes_every_property() {
    use gamooga::{Event, Properties, VisitorProperties};
    use shadowed::*;

    let event = Purchase {
        sku: "A-1",
        amount: 2.5f64,
        coupon: None,
        count: Some(3),
        code: 'x',
        name: "ann".into(),
        device: Device { os: "ios" },
        plan: Plan::ProMonthly,
        at: None,
        request_id: 7,
    };
    let mut props = Properties::new();
    event.write_properties(&mut props).unwrap();
    let names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["sku", "amount", "count", "code", "name", "os", "plan"]
    );
    assert_eq!(event.timestamp(), Ok(None));
    assert_eq!(event.request_id, 7);
    assert_eq!(event.name(), "purchase");
    assert_eq!(Plan::Free.to_value_string(), "free");

    let profile = Profile {
        vip: true,
        address: Address {
            city: "Tokyo".into(),
        },
    };
    let mut props = Properties::new();
    profile.write_properties(&mut props).unwrap();
    assert_eq!(props.len(), 2);

    assert_eq!(Ping.name(), "ping");
    let logout = no_prelude::Logout {
        reason: "idle".into(),
    };
    assert_eq!(logout.name(), "logout");
}

trait ToValueString {
    fn to_value_string(&self) -> String;
}

impl<T: gamooga::PropertyValue> ToValueString for T {
    fn to_value_string(&self) -> String {
        match self.to_value() {
            Some(gamooga::Value::String(s)) => s.into_owned(),
            other => format!("{other:?}"),
        }
    }
}
