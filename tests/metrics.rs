//! The queue's metrics through the `metrics` facade, read back with `metrics-util`'s
//! `DebuggingRecorder` (the recorder the `metrics` ecosystem provides for tests): names,
//! labels (company, endpoint, reason; never a user id) and values, against the emulator.
//! One test: the recorder is global to the process.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::time::Duration;

use gamooga::hook::Action;
use gamooga::prelude::*;
use gamooga_emulator::Emulator;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;

#[derive(GamoogaEvent)]
struct Purchase {
    amount: f64,
}

#[derive(GamoogaEvent)]
struct Noise;

#[derive(VisitorProps)]
struct Profile<'a> {
    city: &'a str,
}

/// Every metric of the snapshot by `name{label=value,...}` (labels sorted).
fn read(snapshotter: &Snapshotter) -> HashMap<String, (MetricKind, DebugValue)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| {
                    assert!(
                        ["company", "endpoint", "reason"].contains(&l.key()),
                        "unexpected label {}",
                        l.key()
                    );
                    assert!(!l.value().contains("user"), "personal data in a label");
                    format!("{}={}", l.key(), l.value())
                })
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.key().name(), labels.join(","));
            (name, (key.kind(), value))
        })
        .collect()
}

fn counter(m: &HashMap<String, (MetricKind, DebugValue)>, name: &str) -> u64 {
    match m.get(name) {
        Some((MetricKind::Counter, DebugValue::Counter(v))) => *v,
        other => panic!("{name}: {other:?} in {:?}", m.keys().collect::<Vec<_>>()),
    }
}

fn gauge(m: &HashMap<String, (MetricKind, DebugValue)>, name: &str) -> f64 {
    match m.get(name) {
        Some((MetricKind::Gauge, DebugValue::Gauge(v))) => v.into_inner(),
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test]
async fn the_queue_exports_its_counters_gauges_and_timings() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .before_send(|out| match out.event_name() {
            Some("noise") => Action::Drop,
            _ => Action::Keep,
        })
        .build()
        .unwrap();
    let queue =
        client
            .queue(QueueConfig::default().concurrency(1).retry(
                gamooga::RetryPolicy::background().initial_backoff(Duration::from_millis(5)),
            ))
            .unwrap();

    // One event refused by Gamooga (400: dead-lettered, rejected).
    emu.fail_next(1, 400);
    Purchase { amount: 1.0 }
        .enqueue(&queue, "user-1")
        .await
        .unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(30)).await);
    // Four delivered, one of them after a 503 (retried once).
    emu.fail_next(1, 503);
    for _ in 0..4 {
        Purchase { amount: 2.5 }
            .enqueue(&queue, "user-2")
            .await
            .unwrap();
    }
    // A push by user id (one id lookup), and an event the hook drops.
    Profile { city: "Tokyo" }
        .enqueue_for_user(&queue, "user-42")
        .await
        .unwrap();
    Noise.enqueue(&queue, "user-3").await.unwrap();
    assert!(queue.flush_timeout(Duration::from_secs(30)).await);

    let stats = queue.stats();
    queue.export_metrics();
    let m = read(&snapshotter);
    let acme = |name: &str| format!("{name}{{company=acme}}");
    assert_eq!(counter(&m, &acme("gamooga_queue_enqueued_total")), 6);
    assert_eq!(counter(&m, &acme("gamooga_queue_delivered_total")), 5);
    assert_eq!(counter(&m, &acme("gamooga_queue_retried_total")), 1);
    assert_eq!(
        counter(&m, &acme("gamooga_queue_before_send_dropped_total")),
        1
    );
    assert_eq!(
        counter(&m, &acme("gamooga_queue_identify_lookups_total")),
        1
    );
    assert_eq!(
        counter(&m, &acme("gamooga_queue_identify_cache_hits_total")),
        0
    );
    assert_eq!(counter(&m, &acme("gamooga_queue_refused_total")), 0);
    assert_eq!(
        counter(
            &m,
            "gamooga_queue_dead_lettered_total{company=acme,reason=rejected}"
        ),
        1
    );
    assert_eq!(
        counter(
            &m,
            "gamooga_queue_dead_lettered_total{company=acme,reason=retries_exhausted}"
        ),
        0
    );
    assert_eq!(
        counter(
            &m,
            "gamooga_queue_pauses_total{company=acme,reason=backpressure}"
        ),
        0
    );
    // Attempts by endpoint: evwid 1 (400) + 1 (503) + 4; vpr 1 (its id lookup inside).
    assert_eq!(
        counter(
            &m,
            "gamooga_queue_attempts_total{company=acme,endpoint=evwid}"
        ),
        6
    );
    assert_eq!(
        counter(
            &m,
            "gamooga_queue_attempts_failed_total{company=acme,endpoint=evwid}"
        ),
        2
    );
    assert_eq!(
        counter(
            &m,
            "gamooga_queue_attempts_total{company=acme,endpoint=vpr}"
        ),
        1
    );
    match m.get("gamooga_queue_attempt_duration_seconds{company=acme,endpoint=evwid}") {
        Some((MetricKind::Histogram, DebugValue::Histogram(values))) => {
            assert_eq!(values.len(), 6);
            assert!(values.iter().all(|v| v.into_inner() > 0.0));
        }
        other => panic!("{other:?}"),
    }
    // Gauges: nothing held now; the in-flight limit as the stats say.
    assert_eq!(gauge(&m, &acme("gamooga_queue_depth")), 0.0);
    assert_eq!(gauge(&m, &acme("gamooga_queue_in_flight")), 0.0);
    assert_eq!(
        gauge(&m, &acme("gamooga_queue_in_flight_limit")),
        stats.in_flight_limit as f64
    );
    assert!(stats.in_flight_limit >= 1);
    assert_eq!(gauge(&m, &acme("gamooga_queue_failing")), 0.0);
    let p50 = gauge(&m, &acme("gamooga_queue_delivery_latency_p50_seconds"));
    let max = gauge(&m, &acme("gamooga_queue_delivery_latency_max_seconds"));
    assert!(p50 > 0.0 && p50 <= max, "{p50} {max}");
    assert_eq!(
        stats.latency.unwrap().p50.as_secs_f64(),
        p50,
        "the same figure as stats()"
    );

    // The shutdown adds nothing (everything was exported), and the queue's gauges are
    // taken back: the limit it contributed is subtracted.
    let report = queue.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.delivered, 5);
    let after = read(&snapshotter);
    assert_eq!(counter(&after, &acme("gamooga_queue_delivered_total")), 0);
    assert_eq!(
        gauge(&after, &acme("gamooga_queue_in_flight_limit")),
        -(stats.in_flight_limit as f64),
        "the debugging recorder reset the gauge at the first read; the stop subtracts"
    );
    // Nothing more after the stop.
    queue.export_metrics();
    let last = read(&snapshotter);
    assert_eq!(counter(&last, &acme("gamooga_queue_enqueued_total")), 0);
}
