//! The fault matrix against the emulator: every event carries a sequence number; through
//! random 5xx, 429 with Retry-After, answers slower than the timeout, dropped connections,
//! the server down for seconds, and a backend move, every accepted event is delivered, and
//! the only duplicates are those the report counts as ambiguous.

use std::collections::HashMap;
use std::time::Duration;

use gamooga_core::queue::QueueConfig;
use gamooga_core::retry::RetryPolicy;
use gamooga_core::{Client, CustomEvent, Properties};
use gamooga_emulator::{Emulator, RecordedCall};

const EVENTS: u64 = 2000;

fn seq_of(call: &RecordedCall) -> Option<u64> {
    call.event_property("seq")?.value.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_event_is_delivered_through_the_fault_matrix() {
    let a = Emulator::builder()
        .seed(7)
        .max_recorded(100_000)
        .start()
        .await
        .unwrap();
    let b = Emulator::builder()
        .seed(8)
        .max_recorded(100_000)
        .start()
        .await
        .unwrap();
    let client = Client::builder("acme")
        .config_url(a.config_url())
        .timeout(Duration::from_millis(400))
        .resolve_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    let dead = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let dead_count = dead.clone();
    let queue = client
        .queue(
            QueueConfig::default()
                .concurrency(16)
                .retry(
                    RetryPolicy::background()
                        .max_attempts(1000)
                        .initial_backoff(Duration::from_millis(20))
                        .max_backoff(Duration::from_millis(400))
                        .max_retry_after(Duration::from_secs(1))
                        .max_elapsed(None),
                )
                .dead_letter(move |_| {
                    dead_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }),
        )
        .unwrap();

    a.set_failure_rate(0.2, 503);
    b.set_failure_rate(0.2, 503);
    let producer = {
        let queue = queue.clone();
        tokio::spawn(async move {
            for seq in 0..EVENTS {
                let event = CustomEvent::new(
                    "seq",
                    Properties::new()
                        .number("seq", seq)
                        .expect("a finite number"),
                );
                queue
                    .track(&format!("user-{}", seq % 50), &event)
                    .await
                    .expect("accepted");
                if seq % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(80)).await;
                }
            }
        })
    };
    let at = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
    at(700).await;
    a.fail_next_with_retry_after(20, 429, 1);
    at(700).await;
    a.delay_next(10, Duration::from_millis(900)); // past the 400 ms timeout
    at(700).await;
    a.drop_next(10);
    at(700).await;
    a.go_down().await;
    at(3000).await;
    a.come_up().await.unwrap();
    at(700).await;
    a.set_evbk(Some(b.backend())); // the backend moves; the resolver follows within its TTL
    producer.await.unwrap();
    a.set_failure_rate(0.0, 503);
    b.set_failure_rate(0.0, 503);
    let report = queue.shutdown(Duration::from_secs(60)).await;

    assert!(report.completed, "{report:?}");
    assert_eq!(report.dead_lettered, 0, "{report:?}");
    assert_eq!(dead.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(report.delivered, EVENTS, "{report:?}");
    assert!(report.retried > 0, "{report:?}");

    let mut copies: HashMap<u64, u64> = HashMap::new();
    let mut on_b = 0;
    for (emu, is_b) in [(&a, false), (&b, true)] {
        for call in emu.events() {
            let seq = seq_of(&call).expect("every event carries its seq");
            *copies.entry(seq).or_default() += 1;
            on_b += u64::from(is_b);
        }
    }
    for seq in 0..EVENTS {
        assert!(
            copies.contains_key(&seq),
            "seq {seq} never delivered; {report:?}"
        );
    }
    let total: u64 = copies.values().sum();
    let duplicates = total - copies.len() as u64;
    assert!(
        duplicates <= report.ambiguous,
        "{duplicates} duplicates but only {} ambiguous attempts; {report:?}",
        report.ambiguous
    );
    assert!(
        report.ambiguous > 0,
        "timeouts and drops were injected; {report:?}"
    );
    assert!(on_b > 0, "the backend move was followed");
    let faults: Vec<String> = a.calls().into_iter().filter_map(|c| c.fault).collect();
    // (A delayed call the client gave up on is not recorded by the emulator: its answer
    // was never finished.)
    for fault in ["fail 429", "drop", "random 503"] {
        assert!(
            faults.iter().any(|f| f.contains(fault)),
            "fault {fault:?} was exercised; saw {:?}",
            faults.iter().take(5).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "fault matrix: {report:?}, {duplicates} duplicates, {on_b} events on the moved backend"
    );
}

/// The fault test: the company information answers an HTML page (status 200) for
/// its first 3 s, the backend fails 1 call in 7 with 503 and drops 1 connection in 23
/// without answering. Every accepted event is delivered, none is dead-lettered, and the
/// duplicates at the emulator are no more than the attempts counted `ambiguous`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_company_info_503s_and_dropped_connections_lose_nothing() {
    const EVENTS: u64 = 1500;
    let emu = Emulator::builder()
        .seed(23)
        .max_recorded(100_000)
        .start()
        .await
        .unwrap();
    emu.set_newnaconf_body(Some(
        "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>".into(),
    ));
    emu.set_failure_rate(1.0 / 7.0, 503);
    emu.set_drop_rate(1.0 / 23.0);
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let dead = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let dead_count = dead.clone();
    let queue = client
        .queue(
            QueueConfig::default()
                .concurrency(16)
                .pause_floor(Duration::from_millis(250))
                .retry(
                    RetryPolicy::background()
                        .max_attempts(1000)
                        .initial_backoff(Duration::from_millis(10))
                        .max_backoff(Duration::from_millis(200))
                        .max_elapsed(None),
                )
                .dead_letter(move |_| {
                    dead_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }),
        )
        .unwrap();
    let producer = {
        let queue = queue.clone();
        tokio::spawn(async move {
            for seq in 0..EVENTS {
                let event =
                    CustomEvent::new("seq", Properties::new().number("seq", seq).expect("finite"));
                queue
                    .track(&format!("user-{}", seq % 50), &event)
                    .await
                    .expect("accepted");
                if seq % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let html_answers = emu.count("newnaconf");
    emu.set_newnaconf_body(None);
    producer.await.unwrap();
    let report = queue.shutdown(Duration::from_secs(60)).await;

    assert!(report.completed, "{report:?}");
    assert_eq!(report.dead_lettered, 0, "{report:?}");
    assert_eq!(dead.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(report.delivered, EVENTS, "{report:?}");
    assert!(html_answers >= 2, "the resolver retried: {html_answers}");
    // One fetch per pause (250 ms) at most: 16 delivery tasks share each.
    assert!(
        html_answers <= 3000 / 250 + 3,
        "no storm of resolutions: {html_answers} in 3 s"
    );
    assert!(report.stats.resolution_pauses >= 1, "{report:?}");

    let mut copies: HashMap<u64, u64> = HashMap::new();
    for call in emu.events() {
        *copies
            .entry(seq_of(&call).expect("every event carries its seq"))
            .or_default() += 1;
    }
    for seq in 0..EVENTS {
        assert!(copies.contains_key(&seq), "seq {seq} never delivered");
    }
    let duplicates = copies.values().sum::<u64>() - copies.len() as u64;
    assert!(
        duplicates <= report.ambiguous,
        "{duplicates} duplicates but only {} ambiguous attempts; {report:?}",
        report.ambiguous
    );
    let faults: Vec<String> = emu.calls().into_iter().filter_map(|c| c.fault).collect();
    for fault in ["drop", "random 503"] {
        assert!(
            faults.iter().any(|f| f.contains(fault)),
            "fault {fault:?} was exercised"
        );
    }
    eprintln!(
        "fault mix: {report:?}, {duplicates} duplicates, {html_answers} HTML company-information answers"
    );
}
