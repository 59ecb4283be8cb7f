//! Import throughput and memory, against an in-process emulator over loopback.
//!
//! Run: `cargo bench -p gamooga-cli --bench import` (a program that prints figures).
//!
//! 1. The queue alone, in this process, with the same events: 100,000 through a memory
//!    queue enqueued one after the other (as `benches/queue.rs` does), and through a memory
//!    and a spooled queue with 512 enqueues in flight (as the import does, so the spool's
//!    group commit can batch them).
//! 2. `gamooga import` (the release binary) of 100,000 NDJSON rows, and its rate as a share
//!    of both queue rates, measured in the same run.
//! 3. The peak memory (VmHWM) of `gamooga import` of a 1,000,000-row CSV file.
//!
//! `GAMOOGA_BENCH_ROWS` and `GAMOOGA_BENCH_CSV_ROWS` change the row counts.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gamooga::queue::QueueConfig;
use gamooga::{Client, CustomEvent, Properties};
use gamooga_emulator::Emulator;

fn rows_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn event(seq: u64) -> CustomEvent {
    CustomEvent::new(
        "order",
        Properties::new()
            .number("seq", seq)
            .expect("finite")
            .number("amount", seq as f64 * 0.5)
            .expect("finite")
            .string("sku", format!("SKU-{}", seq % 97))
            .boolean("gift", seq.is_multiple_of(2)),
    )
}

fn write_ndjson(path: &Path, rows: u64) {
    let mut f = BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..rows {
        writeln!(
            f,
            r#"{{"user_id":"user-{i}","seq":{i},"amount":{},"sku":"SKU-{}","gift":{}}}"#,
            i as f64 * 0.5,
            i % 97,
            i.is_multiple_of(2)
        )
        .unwrap();
    }
    f.flush().unwrap();
}

fn write_csv(path: &Path, rows: u64) {
    let mut f = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "user_id,seq,amount,sku,gift,note").unwrap();
    for i in 0..rows {
        writeln!(
            f,
            "user-{i},{i},{},SKU-{},{},\"a note, quoted\"",
            i as f64 * 0.5,
            i % 97,
            i.is_multiple_of(2)
        )
        .unwrap();
    }
    f.flush().unwrap();
}

/// The memory queue as `benches/queue.rs` measures it: one `track(..).await` after the other.
async fn queue_rate_sequential(client: &Client, rows: u64) -> f64 {
    let queue = client.queue(QueueConfig::default()).expect("queue");
    let start = Instant::now();
    for seq in 0..rows {
        queue
            .track(&format!("user-{seq}"), &event(seq))
            .await
            .expect("accepted");
    }
    queue.flush().await;
    let report = queue.shutdown(Duration::from_secs(60)).await;
    let elapsed = start.elapsed();
    assert_eq!(report.delivered, rows, "{report:?}");
    rows as f64 / elapsed.as_secs_f64()
}

async fn queue_rate(client: &Client, rows: u64, spool: Option<&Path>) -> f64 {
    let mut config = QueueConfig::default();
    if let Some(path) = spool {
        config = config.spool(path);
    }
    let queue = client.queue(config).expect("queue");
    let start = Instant::now();
    // Enqueues in flight at once, as the import keeps them (the spool commits them together).
    let mut window = std::collections::VecDeque::new();
    for seq in 0..rows {
        let request = client
            .calls()
            .track(&format!("user-{seq}"), &event(seq))
            .expect("valid");
        let q = queue.clone();
        window.push_back(tokio::spawn(async move { q.enqueue(request).await }));
        if window.len() >= 512 {
            window
                .pop_front()
                .unwrap()
                .await
                .unwrap()
                .expect("accepted");
        }
    }
    for handle in window {
        handle.await.unwrap().expect("accepted");
    }
    queue.flush().await;
    let report = queue.shutdown(Duration::from_secs(60)).await;
    let elapsed = start.elapsed();
    assert_eq!(report.delivered, rows, "{report:?}");
    rows as f64 / elapsed.as_secs_f64()
}

/// The peak resident memory (VmHWM, KiB) of a running process, as last seen.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `gamooga import`, returning (wall seconds, peak KiB as last polled, summary JSON).
fn import(emu: &Emulator, file: &Path, extra: &[&str]) -> (f64, Option<u64>, serde_json::Value) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gamooga"))
        .args([
            "--json",
            "--company",
            "acme",
            "--config-url",
            &emu.config_url(),
            "import",
        ])
        .arg(file)
        .args(["--event", "order"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run gamooga");
    let pid = child.id();
    let mut peak = None;
    // VmHWM only grows: the last value read before the process exits is its peak, give or
    // take the last 10 ms.
    while child.try_wait().expect("wait").is_none() {
        if let Some(kb) = vm_hwm(pid) {
            peak = Some(kb);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("output");
    let wall = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "gamooga import failed: {:?}",
        output.status
    );
    let summary = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    (wall, peak, summary)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    let rows = rows_from_env("GAMOOGA_BENCH_ROWS", 100_000);
    let csv_rows = rows_from_env("GAMOOGA_BENCH_CSV_ROWS", 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let emu = runtime
        .block_on(Emulator::builder().max_recorded(1000).start())
        .expect("emulator");
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .expect("client");

    let sequential = runtime.block_on(queue_rate_sequential(&client, rows));
    let memory = runtime.block_on(queue_rate(&client, rows, None));
    let spooled = runtime.block_on(queue_rate(&client, rows, Some(&dir.path().join("q.spool"))));
    println!("queue, {rows} events, memory, one enqueue at a time: {sequential:>9.0} events/s");
    println!("queue, {rows} events, memory, 512 enqueues in flight: {memory:>9.0} events/s");
    println!("queue, {rows} events, spooled, 512 enqueues in flight: {spooled:>9.0} events/s");

    let ndjson = dir.path().join("rows.ndjson");
    write_ndjson(&ndjson, rows);
    let before = emu.count("evwid");
    let (wall, _, summary) = import(&emu, &ndjson, &[]);
    assert_eq!(summary["delivered"], rows, "{summary}");
    assert_eq!(emu.count("evwid") - before, rows as usize);
    let rate = rows as f64 / wall;
    println!(
        "gamooga import, {rows} NDJSON rows: {rate:>9.0} rows/s ({wall:.2} s, process start to exit)"
    );
    println!(
        "  = {:.0}% of the spooled queue's rate, {:.0}% of the memory queue's (in flight), \
         {:.0}% of the memory queue's (one at a time)",
        100.0 * rate / spooled,
        100.0 * rate / memory,
        100.0 * rate / sequential
    );

    let csv = dir.path().join("rows.csv");
    write_csv(&csv, csv_rows);
    let size = std::fs::metadata(&csv).unwrap().len();
    let before = emu.count("evwid");
    let (wall, peak, summary) = import(&emu, &csv, &[]);
    assert_eq!(summary["delivered"], csv_rows, "{summary}");
    assert_eq!(emu.count("evwid") - before, csv_rows as usize);
    println!(
        "gamooga import, {csv_rows} CSV rows ({:.0} MiB): {:.0} rows/s, peak memory (VmHWM) {}",
        size as f64 / (1 << 20) as f64,
        csv_rows as f64 / wall,
        peak.map_or("unknown (no /proc)".to_owned(), |kb| format!(
            "{:.1} MiB",
            kb as f64 / 1024.0
        ))
    );
}
