//! Quickstart: one of each Gamooga call, sent from your own typed structs.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With no environment it starts the Gamooga emulator in-process, sends every call to it and
//! prints what the emulator received, so you can see the exact wire format without an
//! account. With `GAMOOGA_COMPANY_ID` set (and optionally `GAMOOGA_CONFIG_URL`,
//! `GAMOOGA_BACKEND`) it sends the same calls to that Gamooga instead.

use std::error::Error;
use std::time::SystemTime;

use gamooga::prelude::*;
use gamooga::{Client, CustomEvent, Properties};
use gamooga_emulator::Emulator;

/// A plan, sent as a string: "free", "gold".
#[derive(GamoogaValue)]
#[gamooga(rename_all = "snake_case")]
enum Plan {
    Free,
    Gold,
}

/// An event: each field is a property whose datatype the compiler picks from its type.
#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,      // tp=s
    amount: f64,       // tp=n
    first_order: bool, // tp=b
    #[gamooga(rename = "coupon_code")]
    coupon: Option<&'a str>, // left out when None
    plan: Plan,        // tp=s, "gold"
    #[gamooga(timestamp)]
    at: SystemTime, // sent as tm (Unix milliseconds), not as a property
}

/// Visitor properties: what Gamooga knows about the person.
#[derive(VisitorProps)]
struct Profile<'a> {
    city: &'a str,
    plan: Plan,
    newsletter: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Talk to the Gamooga named by the environment, or to an emulator started right here.
    let (client, emulator) = match std::env::var_os("GAMOOGA_COMPANY_ID") {
        Some(_) => (Client::from_env()?, None),
        None => {
            let emulator = Emulator::start().await?;
            let client = Client::builder("demo-company")
                .config_url(emulator.config_url())
                .build()?;
            (client, Some(emulator))
        }
    };
    println!("company {}", client.company_id());

    let purchase = Purchase {
        sku: "A&B-42",
        amount: 12.5,
        first_order: true,
        coupon: None,
        plan: Plan::Gold,
        at: SystemTime::now(),
    };
    let profile = Profile {
        city: "Tokyo",
        plan: Plan::Free,
        newsletter: true,
    };

    // evwid: an event by user id (GET; it goes as evwidj, POST with a JSON body, when long).
    purchase.track(&client, "user-42").await?;
    // evwidj: the same call past the GET limit.
    let review = CustomEvent::new(
        "review",
        Properties::new()
            .string("text", "Lovely tea. ".repeat(200))
            .number("stars", 5)?,
    );
    client.track("user-42", &review).await?;
    // id: the visitor id of a user id (created if there is none).
    let visitor_id = client.identify("user-42").await?;
    println!("user-42 is visitor {visitor_id}");
    // ev: an event by visitor id.
    purchase.track_visitor(&client, &visitor_id).await?;
    // evvprwid: an event and visitor properties in one call.
    purchase.track_with(&client, "user-42", &profile).await?;
    // vpr: visitor properties by visitor id.
    profile.push(&client, &visitor_id).await?;
    // id with u and v: map another user id to a known visitor.
    client.link("user-42@example.com", &visitor_id).await?;

    match emulator {
        Some(emulator) => {
            println!("\nthe emulator received {} calls:", emulator.calls().len());
            for call in emulator.calls() {
                println!("  {call}");
            }
            let rejected = emulator.rejected();
            if !rejected.is_empty() {
                return Err(format!("the emulator rejected {} calls", rejected.len()).into());
            }
            println!(
                "\nvisitor {visitor_id} now has: {}",
                emulator
                    .visitor_properties(&visitor_id)
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        None => println!("sent 7 calls to Gamooga"),
    }
    Ok(())
}
