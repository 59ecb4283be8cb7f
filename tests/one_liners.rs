//! The one-line methods with every kind of client and queue, under the same names:
//! `track`, `track_visitor`, `track_with`, `push` with `gamooga::blocking::Client`, and the
//! queued `enqueue` / `try_enqueue` of events and visitor properties with the async and the
//! blocking queue. Checked against what the emulator recorded over HTTP.

use std::time::Duration;

use gamooga::prelude::*;
use gamooga::queue::{EnqueueError, QueueConfig};
use gamooga::{blocking, Client, InvalidInput};
use gamooga_emulator::{Emulator, RecordedProperty};

const VISITOR: &str = "0123456789abcdef";

#[derive(GamoogaEvent)]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
}

#[derive(VisitorProps)]
struct Profile {
    city: String,
    vip: bool,
}

fn profile(city: &str) -> Profile {
    Profile {
        city: city.into(),
        vip: true,
    }
}

fn builder(emu: &Emulator) -> gamooga::ClientBuilder {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(30))
}

/// An emulator served by its own runtime's threads, for code without a runtime of its own.
fn emulator_in_background() -> (tokio::runtime::Runtime, Emulator) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt.block_on(Emulator::start()).unwrap();
    (rt, emu)
}

fn endpoints(emu: &Emulator) -> Vec<String> {
    emu.calls()
        .into_iter()
        .filter(|c| c.endpoint != "newnaconf")
        .map(|c| c.endpoint)
        .collect()
}

#[test]
fn the_derived_one_liners_work_with_the_blocking_client() {
    let (_rt, emu) = emulator_in_background();
    let client = blocking::Client::new(builder(&emu)).unwrap();
    let purchase = Purchase {
        sku: "A-1",
        amount: 12.5,
    };
    // The same names as with the async client; the result comes back directly.
    purchase.track(&client, "user-42").unwrap();
    purchase.track_visitor(&client, VISITOR).unwrap();
    purchase
        .track_with(&client, "user-42", &profile("Tokyo"))
        .unwrap();
    profile("Osaka").push(&client, VISITOR).unwrap();

    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
    assert_eq!(endpoints(&emu), ["evwid", "ev", "evvprwid", "vpr"]);
    let events = emu.events();
    assert_eq!(events[0].user_id.as_deref(), Some("user-42"));
    assert_eq!(
        events[0].event_property("amount"),
        Some(&RecordedProperty::new("amount", "12.5", 'n'))
    );
    assert_eq!(events[1].visitor_id.as_deref(), Some(VISITOR));
    assert_eq!(
        emu.visitor_properties(VISITOR),
        vec![
            RecordedProperty::new("city", "Osaka", 's'),
            RecordedProperty::new("vip", "true", 'b'),
        ]
    );

    // Bad input is refused with the same typed error as the async client's.
    let err = purchase.track(&client, "").unwrap_err();
    assert!(matches!(
        err,
        gamooga::Error::InvalidInput(InvalidInput::EmptyUserId)
    ));
}

#[tokio::test]
async fn the_derived_one_liners_still_work_with_the_async_client() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    let purchase = Purchase {
        sku: "A-1",
        amount: 1.0,
    };
    purchase.track(&client, "user-42").await.unwrap();
    purchase.track_visitor(&client, VISITOR).await.unwrap();
    purchase
        .track_with(&client, "user-42", &profile("Tokyo"))
        .await
        .unwrap();
    profile("Osaka").push(&client, VISITOR).await.unwrap();
    // The futures are Send: they can be spawned.
    let handle = tokio::spawn(async move {
        let p = profile("Kyoto");
        p.push(&client, VISITOR).await
    });
    handle.await.unwrap().unwrap();
    assert!(emu.rejected().is_empty());
    assert_eq!(endpoints(&emu), ["evwid", "ev", "evvprwid", "vpr", "vpr"]);
}

#[tokio::test]
async fn visitor_properties_and_events_are_queued_in_one_line() {
    let emu = Emulator::start().await.unwrap();
    let client = builder(&emu).build().unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();

    profile("Tokyo").enqueue(&queue, VISITOR).await.unwrap();
    profile("Osaka")
        .try_enqueue(&queue, "fedcba9876543210")
        .unwrap();
    let purchase = Purchase {
        sku: "A-1",
        amount: 2.0,
    };
    purchase.enqueue(&queue, "user-42").await.unwrap();
    purchase.try_enqueue_visitor(&queue, VISITOR).unwrap();

    // Bad input is refused when queued, typed, and nothing is queued.
    let err = profile("Nara").try_enqueue(&queue, "").unwrap_err();
    assert!(matches!(
        err,
        EnqueueError::Invalid(InvalidInput::EmptyVisitorId)
    ));
    let err = profile("Nara").enqueue(&queue, "").await.unwrap_err();
    assert!(matches!(
        err,
        EnqueueError::Invalid(InvalidInput::EmptyVisitorId)
    ));

    let report = queue.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.delivered, 4);
    assert!(emu.rejected().is_empty());
    let mut got = endpoints(&emu);
    got.sort();
    assert_eq!(got, ["ev", "evwid", "vpr", "vpr"]);
    assert_eq!(emu.visitor_properties(VISITOR)[0].value, "Tokyo");
    assert_eq!(emu.visitor_properties("fedcba9876543210")[0].value, "Osaka");
}

#[test]
fn the_queued_one_liners_work_with_the_blocking_queue() {
    let (_rt, emu) = emulator_in_background();
    let client = blocking::Client::new(builder(&emu)).unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();

    profile("Tokyo").enqueue(&queue, VISITOR).unwrap();
    profile("Osaka")
        .try_enqueue(&queue, "fedcba9876543210")
        .unwrap();
    let purchase = Purchase {
        sku: "A-1",
        amount: 3.0,
    };
    purchase.enqueue(&queue, "user-42").unwrap();
    purchase.try_enqueue(&queue, "user-43").unwrap();
    purchase.enqueue_visitor(&queue, VISITOR).unwrap();
    assert!(matches!(
        profile("Nara").enqueue(&queue, "").unwrap_err(),
        EnqueueError::Invalid(InvalidInput::EmptyVisitorId)
    ));

    let report = queue.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(report.delivered, 5);
    assert!(emu.rejected().is_empty());
    let mut got = endpoints(&emu);
    got.sort();
    assert_eq!(got, ["ev", "evwid", "evwid", "vpr", "vpr"]);
}
