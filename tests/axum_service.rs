//! `examples/axum_service.rs` driven over HTTP against the emulator: its router and its
//! shutdown are included from the example itself, started on 127.0.0.1, and called with
//! reqwest.

use std::time::Duration;

use gamooga::prelude::*;
use gamooga_emulator::Emulator;

#[allow(dead_code)] // the example's `main`
#[path = "../examples/axum_service.rs"]
mod axum_service;

use axum_service::{serve, Deadlines};

/// The service on an ephemeral port, its address, and the sender that stops it.
async fn start(
    queue: Queue,
    deadlines: Deadlines,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<gamooga::queue::ShutdownReport>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    let server = tokio::spawn(serve(listener, queue, signal, deadlines));
    (base, stop, server)
}

fn client(emu: &Emulator) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_service_queues_events_and_pushes_by_user_id_and_stops_cleanly() {
    let emu = Emulator::builder()
        .companies(["acme"])
        .start()
        .await
        .unwrap();
    let queue = client(&emu).queue(QueueConfig::default()).unwrap();
    let (base, stop, server) = start(queue, Deadlines::default()).await;
    let http = reqwest::Client::new();

    let answer = http
        .post(format!("{base}/users/user-42/purchases"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"sku": "A&B", "amount": 12.5}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let answer = http
        .post(format!("{base}/users/user-42/profile"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"city": "Tokyo", "vip": true}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    // A user id with a control character: refused with the reason, nothing queued.
    let answer = http
        .post(format!("{base}/users/user%0A42/purchases"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"sku": "A-1", "amount": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let reason = answer.text().await.unwrap();
    assert!(reason.contains("control character"), "{reason}");

    stop.send(()).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("the shutdown is bounded")
        .unwrap()
        .unwrap();
    assert!(report.completed);
    assert_eq!((report.delivered, report.dead_lettered), (2, 0));

    let purchase = emu.events().pop().unwrap();
    assert_eq!(purchase.endpoint, "evwid");
    assert_eq!(purchase.user_id.as_deref(), Some("user-42"));
    assert_eq!(purchase.event_property("sku").unwrap().value, "A&B");
    assert_eq!(purchase.event_property("amount").unwrap().value, "12.5");
    let visitor = emu.visitor_of("user-42").unwrap();
    let city = emu
        .visitor_properties(&visitor)
        .into_iter()
        .find(|p| p.name == "city")
        .unwrap();
    assert_eq!(city.value, "Tokyo");
    assert!(emu.rejected().is_empty(), "{:?}", emu.rejected());
}

#[tokio::test]
async fn the_shutdown_cannot_hang_during_an_outage() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .backend(emu.backend())
        .build()
        .unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();
    let deadlines = Deadlines {
        requests: Duration::from_millis(200),
        queue: Duration::from_millis(200),
    };
    let (base, stop, server) = start(queue, deadlines).await;
    emu.go_down().await;
    // Accepted while Gamooga is down: the handler does not wait for it.
    let answer = reqwest::Client::new()
        .post(format!("{base}/users/user-42/profile"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"city": "Tokyo", "vip": true}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    stop.send(()).unwrap();
    // The retry policy would keep trying for an hour: the shutdown gives up at its deadline.
    let report = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("the shutdown is bounded")
        .unwrap()
        .unwrap();
    assert!(!report.completed);
    assert_eq!((report.delivered, report.abandoned), (0, 1));
    assert_eq!(report.stats.enqueued, report.stats.accounted());
}
