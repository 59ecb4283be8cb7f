//! Several companies in one process: one client (and one queue) per company over one
//! connection pool. A company whose backend is stuck, or whose company information fails,
//! does not hold up another's deliveries: shown by what was delivered when, compared with a
//! run of the healthy company alone, never by a timing threshold.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gamooga::prelude::*;
use gamooga::queue::ShutdownReport;
use gamooga::transport::{BoxFuture, HttpRequest, HttpResponse, Transport, TransportError};
use gamooga_emulator::Emulator;

#[derive(GamoogaEvent)]
struct Purchase {
    seq: u32,
}

const EVENTS: u32 = 40;

/// Counts requests per company (`c=` of the query) on their way to the shared pool.
#[derive(Debug)]
struct PerCompany {
    inner: Arc<dyn Transport>,
    acme: Arc<AtomicUsize>,
    globex: Arc<AtomicUsize>,
}

impl Transport for PerCompany {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        if request.url.contains("c=acme") || request.url.contains("/newnaconf/acme/") {
            self.acme.fetch_add(1, Ordering::SeqCst);
        } else {
            self.globex.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.send(request)
    }
}

/// An acme client over the default transport (wrapped to count), and its counters.
fn acme_client(emu: &Emulator) -> (Client, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (acme, globex) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, g) = (acme.clone(), globex.clone());
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(120))
        .wrap_transport(move |inner| {
            Arc::new(PerCompany {
                inner,
                acme: a.clone(),
                globex: g.clone(),
            })
        })
        .build()
        .unwrap();
    (client, acme, globex)
}

/// Enqueues `EVENTS` events on each queue, alternating.
async fn enqueue(queues: &[&Queue]) {
    for seq in 0..EVENTS {
        for queue in queues {
            Purchase { seq }.enqueue(*queue, "user-42").await.unwrap();
        }
    }
}

/// The healthy company's outcome, to compare between runs.
fn outcome(report: &ShutdownReport) -> (u64, u64, u64, u64) {
    (
        report.delivered,
        report.dead_lettered,
        report.retried,
        report.stats.resolution_pauses,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_backend_of_one_company_does_not_hold_up_another() {
    // Alone: what the healthy company's deliveries come to.
    let alone = {
        let emu = Emulator::start().await.unwrap();
        let (acme, _, _) = acme_client(&emu);
        let queue = acme.queue(QueueConfig::default()).unwrap();
        enqueue(&[&queue]).await;
        assert!(queue.flush_timeout(Duration::from_secs(60)).await);
        let report = queue.shutdown(Duration::from_secs(5)).await;
        assert_eq!(emu.count("evwid"), EVENTS as usize);
        outcome(&report)
    };
    assert_eq!(alone, (EVENTS as u64, 0, 0, 0));

    // Together with a company whose backend answers nothing for an hour.
    let healthy = Emulator::start().await.unwrap();
    let stuck = Emulator::start().await.unwrap();
    stuck.set_latency(Some(Duration::from_secs(3600)));
    let (acme, acme_requests, globex_requests) = acme_client(&healthy);
    let globex = Client::builder("globex")
        .config_url(stuck.config_url())
        .timeout(Duration::from_secs(3600))
        .transport(acme.transport().clone()) // one pool for both
        .build()
        .unwrap();
    let acme_queue = acme.queue(QueueConfig::default()).unwrap();
    let globex_queue = globex.queue(QueueConfig::default()).unwrap();
    // First globex's events, until as many requests as it may have in flight wait on its
    // backend (stuck on the shared pool)...
    enqueue(&[&globex_queue]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let saturated =
        |s: &gamooga::queue::QueueStats| s.in_flight > 0 && s.in_flight >= s.in_flight_limit;
    while !saturated(&globex_queue.stats()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            globex_queue.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ...then acme's: every one is delivered while globex has delivered none.
    enqueue(&[&acme_queue]).await;
    assert!(acme_queue.flush_timeout(Duration::from_secs(60)).await);
    let globex_now = globex_queue.stats();
    assert_eq!(globex_now.delivered, 0);
    assert!(saturated(&globex_now), "{globex_now:?}");
    assert_eq!(globex_now.depth, EVENTS as u64);
    let together = outcome(&acme_queue.shutdown(Duration::from_secs(5)).await);
    assert_eq!(together, alone, "the same outcome as alone");
    assert_eq!(healthy.count("evwid"), EVENTS as usize);
    // Both went through the one transport.
    assert_eq!(acme_requests.load(Ordering::SeqCst), 1 + EVENTS as usize);
    assert!(globex_requests.load(Ordering::SeqCst) > 0);

    let report = globex_queue.shutdown(Duration::from_millis(100)).await;
    assert!(!report.completed);
    assert_eq!(report.delivered, 0);
    assert_eq!(report.abandoned, EVENTS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_company_has_its_own_resolver_and_backoff() {
    // Only acme exists: globex's company information answers 404.
    let emu = Emulator::builder()
        .companies(["acme"])
        .start()
        .await
        .unwrap();
    let (acme, acme_requests, globex_requests) = acme_client(&emu);
    let globex = acme.for_company("globex").unwrap();
    assert_eq!(globex.company_id(), "globex");
    let acme_queue = acme.queue(QueueConfig::default()).unwrap();
    let globex_queue = globex.queue(QueueConfig::default()).unwrap();
    enqueue(&[&acme_queue, &globex_queue]).await;
    let acme_report = acme_queue.shutdown(Duration::from_secs(60)).await;
    let globex_report = globex_queue.shutdown(Duration::from_secs(60)).await;
    assert_eq!(outcome(&acme_report), (EVENTS as u64, 0, 0, 0));
    // An unknown company is refused for good: its events are dead-lettered, not retried.
    assert_eq!(globex_report.stats.dead_letters.rejected, EVENTS as u64);
    assert_eq!(emu.count("evwid"), EVENTS as usize);
    // acme's backend was resolved once, whatever globex's resolver went through.
    let acme_conf = emu
        .calls()
        .iter()
        .filter(|c| c.path == "/newnaconf/acme/")
        .count();
    assert_eq!(acme_conf, 1);
    assert!(emu
        .calls()
        .iter()
        .any(|c| c.path == "/newnaconf/globex/" && c.status == 404));
    // The same pool (the same wrapped transport) carried both.
    assert_eq!(acme_requests.load(Ordering::SeqCst), 1 + EVENTS as usize);
    assert!(globex_requests.load(Ordering::SeqCst) >= 1);
}
