//! Delivery-queue throughput and memory, against the local emulator over loopback.
//!
//! Run: `cargo bench --bench queue` (a program that prints figures, not a criterion bench).
//! It pushes 100,000 events through a queue with the default settings and compares its rate
//! with the endpoint's own limit as `wrk` measures it (installed with `apt-get install -y
//! wrk` when missing; skipped, and said so, when that fails), five times in turn, printing
//! the median with the range; then compares with
//! - a sequential loop sending one call at a time,
//! - the same calls sent without a queue by 32 tasks (the client's and the emulator's own
//!   cost, which bounds any queue on this machine),
//!
//! and measures the queue's memory per held event beyond the request's encoded size.
//!
//! Everything here is loopback, with the emulator in this process (as the figures before
//! issue 12 were measured); `benches/network.rs` measures over a round trip, with the
//! emulator in a process of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use gamooga::queue::{Deliver, Queue, QueueConfig};
use gamooga::{Calls, Client, CustomEvent, Error, Properties, Request};
use gamooga_emulator::Emulator;

struct Counting;
static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const EVENTS: u64 = 100_000;
/// Runs of the queue against wrk.
const RUNS: usize = 5;
/// wrk's connections: the queue's fixed default before issue 12.
const WRK_CONNECTIONS: usize = 32;

/// The 1-, 5- and 15-minute load averages (the machine is shared: other processes' load
/// moves every figure).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The median, the smallest and the largest.
fn median(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn event(seq: u64) -> CustomEvent {
    CustomEvent::new(
        "bench",
        Properties::new()
            .number("seq", seq)
            .expect("finite")
            .string("sku", "A-1234"),
    )
}

async fn queue_rate(client: &Client, emu: &Emulator, events: u64, config: QueueConfig) -> f64 {
    let before = emu.count("evwid");
    let queue = client.queue(config).expect("queue");
    let start = Instant::now();
    for seq in 0..events {
        queue
            .track(&format!("user-{}", seq % 100), &event(seq))
            .await
            .expect("accepted");
    }
    let report = queue.shutdown(Duration::from_secs(600)).await;
    let elapsed = start.elapsed();
    assert_eq!(report.delivered, events, "{report:?}");
    assert!(emu.count("evwid") - before >= events as usize);
    events as f64 / elapsed.as_secs_f64()
}

/// The same calls without a queue: `tasks` tasks each sending its share one at a time with
/// `send_once`. The client and the emulator on this machine bound any queue at about this.
async fn direct_rate(client: &Client, events: u64, tasks: u64) -> f64 {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let client = client.clone();
        set.spawn(async move {
            for seq in (t..events).step_by(tasks as usize) {
                let request = client
                    .calls()
                    .track(&format!("user-{}", seq % 100), &event(seq))
                    .expect("valid");
                client.send_once(&request).await.expect("delivered");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("a sender task");
    }
    events as f64 / start.elapsed().as_secs_f64()
}

async fn sequential_rate(client: &Client, events: u64) -> f64 {
    let start = Instant::now();
    for seq in 0..events {
        let request = client
            .calls()
            .track(&format!("user-{}", seq % 100), &event(seq))
            .expect("valid");
        client.send_once(&request).await.expect("delivered");
    }
    events as f64 / start.elapsed().as_secs_f64()
}

/// Whether `wrk` can be run, installing it from Debian's packages when it is missing.
fn ensure_wrk() -> bool {
    let found = || {
        std::process::Command::new("wrk")
            .arg("--version")
            .output()
            .is_ok()
    };
    if found() {
        return true;
    }
    println!("wrk is missing: apt-get install -y wrk");
    let installed = std::process::Command::new("apt-get")
        .args(["install", "-y", "-q", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    installed && found()
}

fn wrk_rate(url: &str, connections: usize) -> Option<f64> {
    let out = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), "-d4s", "--latency", url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A deliverer that never answers: everything enqueued stays held.
struct Never;
impl Deliver for Never {
    fn deliver<'a>(
        &'a self,
        _request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

fn memory_per_event() -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let calls = Calls::new("acme").unwrap();
        let n = EVENTS as usize;
        let requests: Vec<Request> = (0..EVENTS)
            .map(|seq| {
                calls
                    .track(&format!("user-{}", seq % 100), &event(seq))
                    .unwrap()
            })
            .collect();
        let encoded: usize = requests
            .iter()
            .map(|r| r.path().len() + r.query().len() + r.body().map_or(0, str::len))
            .sum();
        let queue = Queue::new(
            Never,
            calls,
            QueueConfig::default().capacity(n + 1).concurrency(1),
        )
        .unwrap();
        tokio::task::yield_now().await;
        let before = ALLOCATED.load(Ordering::Relaxed);
        for r in requests.into_iter() {
            queue.try_enqueue(r).unwrap();
        }
        // The Vec that held the requests is freed by into_iter's end: the requests' own
        // strings moved into the queue and stay allocated, so they are not in the delta.
        let after = ALLOCATED.load(Ordering::Relaxed);
        let vec_freed = (n * std::mem::size_of::<Request>()) as isize;
        let per_event = (after - before + vec_freed) as f64 / n as f64;
        (per_event, encoded as f64 / n as f64)
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    println!("load average at start: {}", load_average());
    let (overhead, encoded) = memory_per_event();
    println!(
        "memory: {overhead:.0} bytes per held event beyond its request's strings (encoded size {encoded:.0} bytes); target < 512"
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let emu = Emulator::builder()
            .max_recorded(1_000)
            .start()
            .await
            .expect("emulator");
        let client = Client::builder("acme")
            .config_url(emu.config_url())
            .build()
            .expect("client");
        client.backend().await.expect("resolved");

        println!("concurrency sweep, fixed (20,000 events each):");
        for c in [1, 4, 16, 32, 64] {
            let config = QueueConfig::default().concurrency(c);
            let rate = queue_rate(&client, &emu, 20_000, config).await;
            println!("  concurrency {c:>3}: {rate:>9.0} events/s");
        }

        // The queue with the default settings (adaptive concurrency) against wrk, in turn.
        let request = client.calls().track("user-1", &event(1)).unwrap();
        let url = format!("http://{}{}", emu.backend(), request.path_and_query());
        let wrk_ok = tokio::task::spawn_blocking(ensure_wrk).await.unwrap();
        let (mut queued, mut wrks, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for run in 1..=RUNS {
            let rate = queue_rate(&client, &emu, EVENTS, QueueConfig::default()).await;
            queued.push(rate);
            let wrk = if wrk_ok {
                let url = url.clone();
                tokio::task::spawn_blocking(move || wrk_rate(&url, WRK_CONNECTIONS))
                    .await
                    .unwrap()
            } else {
                None
            };
            match wrk {
                Some(wrk) => {
                    wrks.push(wrk);
                    ratios.push(rate / wrk);
                    println!(
                        "run {run}: queue {rate:.0} events/s ({EVENTS} events, default settings); wrk (1 thread, {WRK_CONNECTIONS} connections, 4 s) {wrk:.0} requests/s; ratio {:.0}%; load average {}",
                        100.0 * rate / wrk,
                        load_average()
                    );
                }
                None => println!("run {run}: queue {rate:.0} events/s ({EVENTS} events, default settings); wrk could not be run"),
            }
        }
        let (q, q_min, q_max) = median(&mut queued);
        println!("queue, default settings: median {q:.0} events/s (range {q_min:.0}-{q_max:.0}, {RUNS} runs)");
        if wrks.is_empty() {
            println!(
                "wrk could not be installed or run (apt-get install -y wrk): queue / wrk ratio skipped"
            );
        } else {
            let (w, w_min, w_max) = median(&mut wrks);
            let (r, r_min, r_max) = median(&mut ratios);
            println!("wrk: median {w:.0} requests/s (range {w_min:.0}-{w_max:.0})");
            println!(
                "ratio queue / wrk: median {:.0}% (range {:.0}-{:.0}%, {RUNS} runs; load average {}); before issue 12 the README said 60%, and three quiet runs gave 35%, 41% and 41%",
                100.0 * r,
                100.0 * r_min,
                100.0 * r_max,
                load_average()
            );
        }

        let direct = direct_rate(&client, EVENTS / 2, 32).await;
        println!(
            "no queue: 32 tasks calling send_once, {} calls: {direct:.0} calls/s; queue (median) / no queue: {:.0}%",
            EVENTS / 2,
            100.0 * q / direct
        );

        let sequential = sequential_rate(&client, 5_000).await;
        println!("sequential loop (one call at a time, 5,000 calls): {sequential:.0} calls/s");
        println!("ratio queue (median) / sequential: {:.1}x (target >= 8x)", q / sequential);

        // Loopback has no network latency: a sequential loop there is bound by CPU, not by
        // round trips. With a simulated 2 ms round trip (the emulator delays each answer),
        // the comparison is the one a real deployment sees.
        emu.delay_next(usize::MAX, Duration::from_millis(2));
        let slow_sequential = sequential_rate(&client, 500).await;
        println!("with a 2 ms round trip: sequential loop {slow_sequential:.0} calls/s");
        for (label, config) in [
            ("fixed concurrency 32", QueueConfig::default().concurrency(32)),
            ("default settings", QueueConfig::default()),
        ] {
            let rate = queue_rate(&client, &emu, 10_000, config).await;
            println!(
                "  queue, {label}: {rate:>9.0} events/s ({:.0}x the sequential loop)",
                rate / slow_sequential
            );
        }
        emu.delay_next(0, Duration::ZERO);
    });
}
