//! `gamooga::blocking`: the client and the queue from plain threads, against the emulator.

use std::time::Duration;

use gamooga_core::blocking;
use gamooga_core::queue::QueueConfig;
use gamooga_core::{Client, CustomEvent, Error, Properties};
use gamooga_emulator::Emulator;

#[test]
fn a_sync_program_tracks_and_queues_without_a_runtime() {
    // The emulator needs a runtime of its own; the code under test has none.
    let emu_rt = tokio::runtime::Runtime::new().unwrap();
    let emu = emu_rt.block_on(Emulator::start()).unwrap();

    let client =
        blocking::Client::new(Client::builder("acme").config_url(emu.config_url())).unwrap();
    client
        .track("user-1", &CustomEvent::new("direct", Properties::new()))
        .unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let event = CustomEvent::new(
                        "queued",
                        Properties::new().number("i", t * 100 + i).unwrap(),
                    );
                    queue.track("user-1", &event).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    queue.flush().unwrap();
    assert_eq!(queue.stats().delivered, 100);
    let report = queue.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(report.delivered, 100);
    let events = emu.events();
    assert_eq!(
        events
            .iter()
            .filter(|c| c.event.as_deref() == Some("queued"))
            .count(),
        100
    );
    assert_eq!(
        events
            .iter()
            .filter(|c| c.event.as_deref() == Some("direct"))
            .count(),
        1
    );
}

#[tokio::test]
async fn blocking_calls_inside_a_runtime_are_an_error_not_a_stall() {
    let client = tokio::task::spawn_blocking(|| {
        blocking::Client::new(Client::builder("acme").backend("127.0.0.1:9")).unwrap()
    })
    .await
    .unwrap();
    let err = client.identify("user-1").unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("async runtime")),
        "{err}"
    );
    drop(client); // dropping inside a runtime must not panic either
}

/// The blocking queue has the bounded flush too: during an outage it returns `false` after
/// its timeout instead of blocking the thread for the retry policy's hour.
#[test]
fn a_blocking_flush_is_bounded_during_an_outage() {
    let emu_rt = tokio::runtime::Runtime::new().unwrap();
    let emu = emu_rt.block_on(Emulator::start()).unwrap();
    let client =
        blocking::Client::new(Client::builder("acme").config_url(emu.config_url())).unwrap();
    let queue = client.queue(QueueConfig::default()).unwrap();
    queue
        .try_track("user-1", &CustomEvent::new("up", Properties::new()))
        .unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(10)).unwrap());
    emu_rt.block_on(emu.go_down());
    queue
        .try_track("user-1", &CustomEvent::new("down", Properties::new()))
        .unwrap();
    let start = std::time::Instant::now();
    assert!(!queue.flush_timeout(Duration::from_millis(300)).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(300));
    let report = queue.shutdown(Duration::from_millis(100)).unwrap();
    assert_eq!((report.delivered, report.abandoned), (1, 1), "{report:?}");
}
