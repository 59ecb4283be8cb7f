//! Takes the screenshot of the inspector shown in the READMEs: live traffic from the SDK (a
//! mix of accepted, rejected and plan-violating calls, some failed by a fault), the page open
//! in a real headless Chromium, one rejected call opened in detail.
//!
//! ```sh
//! cargo run -p gamooga-emulator --example inspector_screenshot [-- OUT.png]
//! ```
//!
//! Needs Debian's `chromium` and `chromium-driver`. Writes `gamooga-emulator/docs/inspector.png`
//! by default.

#[path = "../tests/browser/mod.rs"]
mod browser;

use std::path::PathBuf;
use std::time::Duration;

use gamooga::prelude::*;
use gamooga::{Client, CustomEvent, Properties, RetryPolicy};
use gamooga_emulator::{Emulator, Plan};

#[derive(GamoogaValue)]
#[gamooga(rename_all = "snake_case")]
enum Tier {
    Free,
    Pro,
}

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
    first_order: bool,
    coupon: Option<&'a str>,
}

#[derive(GamoogaEvent)]
#[gamooga(name = "signup")]
struct Signup {
    tier: Tier,
}

#[derive(VisitorProps)]
struct Profile<'a> {
    city: &'a str,
    vip: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/inspector.png"));
    let plan = TrackingPlan::new()
        .event::<Purchase<'static>>()
        .event::<Signup>()
        .visitor::<Profile<'static>>()
        .to_json();
    let emu = Emulator::builder()
        .companies(["acme"])
        .plan(Plan::from_json(&plan)?)
        .start()
        .await?;
    println!("inspector: {}", emu.inspector_url());
    let Some(browser) = browser::launch(1500, 860).await else {
        return Err("chromium and chromedriver are needed".into());
    };
    browser.client.goto(&emu.inspector_url()).await?;
    browser
        .wait_until(
            "the stream is live",
            "return document.getElementById('conn').textContent === 'live'",
        )
        .await;

    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(RetryPolicy::none())
        .build()?;
    let cities = ["Tokyo", "Osaka", "Pune", "Lyon"];
    for i in 0..48u32 {
        let user = format!("user-{}", 40 + i % 7);
        let result = match i % 8 {
            0 | 3 | 5 => {
                let purchase = Purchase {
                    sku: ["A&B", "TEA-01", "MUG 2"][i as usize % 3],
                    amount: 12.5 + f64::from(i),
                    first_order: i % 2 == 0,
                    coupon: (i % 3 == 0).then_some("WELCOME"),
                };
                purchase.track(&client, &user).await
            }
            1 => Signup { tier: Tier::Pro }.track(&client, &user).await,
            2 => {
                let profile = Profile {
                    city: cities[i as usize % 4],
                    vip: i % 4 == 2,
                };
                Signup { tier: Tier::Free }
                    .track_with(&client, &user, &profile)
                    .await
            }
            4 => {
                // Off the plan: `amount` as a string.
                let off_plan = CustomEvent::new(
                    "purchase",
                    Properties::new()
                        .string("sku", "X-9")
                        .string("amount", "12"),
                );
                client.track(&user, &off_plan).await
            }
            6 => {
                let unplanned =
                    CustomEvent::new("wishlist_add", Properties::new().string("sku", "TEA-01"));
                client.track(&user, &unplanned).await
            }
            _ => {
                // The SDK never sends an invalid call: a hand-written one, as a buggy
                // integration would.
                let url = format!(
                    "http://{}/evwid/?c=acme&u={user}&e=purchase&ky=amount&vl=12,50&tp=n&ky=sku&vl=A&tp=s",
                    emu.backend()
                );
                reqwest::get(url).await?;
                Ok(())
            }
        };
        if i == 20 {
            emu.fail_next_with_retry_after(2, 503, 2);
        }
        let _ = result; // Failed calls are part of the picture.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    emu.set_failure_rate(0.05, 503);
    browser
        .wait_until(
            "the calls are shown",
            &format!(
                "return document.getElementById('t-total').textContent.replace(/,/g, '') === '{}' \
                   && document.querySelectorAll('#calls-body tr[data-seq]').length > 0",
                emu.total_calls()
            ),
        )
        .await;
    browser.click("#calls-body tr.rejected button").await;
    browser
        .wait_until(
            "the detail is shown",
            "return !!document.querySelector('#d-body mark')",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    browser.screenshot(&out).await;
    println!("wrote {}", out.display());
    browser.close().await;
    Ok(())
}
