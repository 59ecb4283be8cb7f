//! The README's "In a test" snippet, compiled and run here (the SDK's client and queue
//! against the emulator); `the_readme_shows_this_snippet` checks the README still holds it
//! word for word (kept as written there: rustfmt skips it).

#[rustfmt::skip]
mod snippet {
// --- snippet start ---
use gamooga::prelude::*;
use gamooga::queue::QueueConfig;
use gamooga::Client;
use gamooga_emulator::Emulator;

#[derive(GamoogaEvent)]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
}

#[tokio::test]
async fn purchases_reach_gamooga() -> Result<(), Box<dyn std::error::Error>> {
    let emu = Emulator::builder().companies(["acme"]).start().await?;
    let client = Client::builder("acme").config_url(emu.config_url()).build()?;

    Purchase { sku: "A&B", amount: 12.5 }.track(&client, "user-42").await?;
    let queue = client.queue(QueueConfig::default())?;
    Purchase { sku: "TEA-01", amount: 3.0 }.enqueue(&queue, "user-7").await?;
    queue.flush().await;

    let events = emu.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event.as_deref(), Some("purchase"));
    assert_eq!(events[0].event_property("sku").unwrap().value, "A&B");
    assert_eq!(events[1].user_id.as_deref(), Some("user-7"));

    // A typo'd company id is refused, so CI notices.
    let typo = Client::builder("acme-corp").config_url(emu.config_url()).build()?;
    assert!(Purchase { sku: "X", amount: 1.0 }.track(&typo, "user-42").await.is_err());
    Ok(())
}
// --- snippet end ---
}

#[test]
fn the_readme_shows_this_snippet() {
    let this = include_str!("readme.rs");
    let (_, rest) = this
        .split_once("// --- snippet start ---\n")
        .expect("start marker");
    let (snippet, _) = rest
        .split_once("// --- snippet end ---")
        .expect("end marker");
    let readme = include_str!("../README.md");
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block in the README");
    assert_eq!(block, snippet, "README.md and tests/readme.rs differ");
}
