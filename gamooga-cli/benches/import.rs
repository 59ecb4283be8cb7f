//! Import throughput and memory, against an in-process emulator over loopback.
//!
//! Run: `cargo bench -p gamooga-cli --bench import` (a program that prints figures).
//!
//! Each of `GAMOOGA_BENCH_RUNS` runs (default 5), in this order:
//!
//! 1. the queue benchmark's measure, in this process: 100,000 events through a memory queue
//!    (default concurrency 32), one `track(..).await` after the other, as `benches/queue.rs`
//!    does, with the same events as the import's rows (4 properties);
//! 2. the same events through a spooled queue with 512 enqueues in flight (as the import
//!    enqueues them, so the spool's group commit can batch them);
//! 3. `gamooga import` (the release binary) of 100,000 NDJSON rows, timed from process start
//!    to exit, and its rate as a share of (1), and of (2).
//!
//! Then medians and ranges over the runs. Then `GAMOOGA_BENCH_CSV_RUNS` runs (default 3) of
//! the peak memory (VmHWM, polled every 10 ms) of `gamooga import` of a 1,000,000-row CSV
//! file. The machine's load average is printed at the start and the end.
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

/// CPU seconds used so far: (this process, its waited-for children), from /proc/self/stat.
fn cpu_seconds() -> (f64, f64) {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name: state is field 3; utime, stime, cutime, cstime 14-17.
    let fields: Vec<f64> = stat
        .rsplit_once(") ")
        .expect("a stat line")
        .1
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().expect("a tick count"))
        .collect();
    (
        (fields[0] + fields[1]) / ticks,
        (fields[2] + fields[3]) / ticks,
    )
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The median and the range of `values`.
fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    let rows = rows_from_env("GAMOOGA_BENCH_ROWS", 100_000);
    let csv_rows = rows_from_env("GAMOOGA_BENCH_CSV_ROWS", 1_000_000);
    let runs = rows_from_env("GAMOOGA_BENCH_RUNS", 5).max(1);
    let csv_runs = rows_from_env("GAMOOGA_BENCH_CSV_RUNS", 3);
    println!(
        "load average at start (1, 5, 15 min): {} on {} cores",
        load(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
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
    let ndjson = dir.path().join("rows.ndjson");
    write_ndjson(&ndjson, rows);

    let (mut queue_rates, mut spooled_rates, mut import_rates) = (vec![], vec![], vec![]);
    let (mut ratios, mut spooled_ratios, mut cpu_ratios) = (vec![], vec![], vec![]);
    let (mut queue_cpus, mut import_cpus) = (vec![], vec![]);
    for run in 1..=runs {
        let (self0, _) = cpu_seconds();
        let queue = runtime.block_on(queue_rate_sequential(&client, rows));
        // The queue and the emulator, both in this process.
        let queue_cpu = (cpu_seconds().0 - self0) / rows as f64;
        let spool = dir.path().join(format!("q{run}.spool"));
        let spooled = runtime.block_on(queue_rate(&client, rows, Some(&spool)));
        let before = emu.count("evwid");
        let (self0, children0) = cpu_seconds();
        let (wall, _, summary) = import(&emu, &ndjson, &[]);
        let (self1, children1) = cpu_seconds();
        // The import process, and the emulator in this one.
        let import_cpu = (self1 - self0 + children1 - children0) / rows as f64;
        assert_eq!(summary["delivered"], rows, "{summary}");
        assert_eq!(emu.count("evwid") - before, rows as usize);
        let rate = rows as f64 / wall;
        println!(
            "run {run}: queue (memory, one at a time) {queue:>7.0} events/s, queue (spooled, 512 \
             in flight) {spooled:>7.0} events/s, gamooga import {rate:>7.0} rows/s = {:>3.0}% of \
             the queue, {:>3.0}% of the spooled queue; CPU per event: queue {:.1} us, import \
             {:.1} us",
            100.0 * rate / queue,
            100.0 * rate / spooled,
            queue_cpu * 1e6,
            import_cpu * 1e6
        );
        queue_rates.push(queue);
        spooled_rates.push(spooled);
        import_rates.push(rate);
        ratios.push(rate / queue);
        spooled_ratios.push(rate / spooled);
        queue_cpus.push(queue_cpu * 1e6);
        import_cpus.push(import_cpu * 1e6);
        cpu_ratios.push(queue_cpu / import_cpu);
    }
    let show = |what: &str, values: &[f64], unit: &str, scale: f64| {
        let (median, low, high) = summary(values);
        println!(
            "{what}: median {:.0}{unit} (range {:.0}-{:.0}{unit}, {} runs)",
            median * scale,
            low * scale,
            high * scale,
            values.len()
        );
    };
    println!("{rows} events or rows per run:");
    show(
        "  queue, memory, one enqueue at a time",
        &queue_rates,
        " events/s",
        1.0,
    );
    show(
        "  queue, spooled, 512 enqueues in flight",
        &spooled_rates,
        " events/s",
        1.0,
    );
    show("  gamooga import, NDJSON", &import_rates, " rows/s", 1.0);
    show("  import / queue (same run)", &ratios, "%", 100.0);
    show(
        "  import / spooled queue (same run)",
        &spooled_ratios,
        "%",
        100.0,
    );
    // On a busy machine the wall-clock rates depend on how the scheduler shares the cores
    // (the import is a process of its own, with its own threads). The CPU each path spends
    // per event (the emulator's included) much less: where both are CPU-bound, the rates
    // are in the inverse ratio of these costs.
    show(
        "  CPU per event, queue and emulator",
        &queue_cpus,
        " us",
        1.0,
    );
    show(
        "  CPU per row, import and emulator",
        &import_cpus,
        " us",
        1.0,
    );
    show(
        "  queue CPU / import CPU (same run)",
        &cpu_ratios,
        "%",
        100.0,
    );
    println!("load average after the throughput runs: {}", load());

    if csv_runs > 0 {
        let csv = dir.path().join("rows.csv");
        write_csv(&csv, csv_rows);
        let size = std::fs::metadata(&csv).unwrap().len();
        let mut peaks = Vec::new();
        for run in 1..=csv_runs {
            let before = emu.count("evwid");
            let (wall, peak, summary) = import(&emu, &csv, &[]);
            assert_eq!(summary["delivered"], csv_rows, "{summary}");
            assert_eq!(emu.count("evwid") - before, csv_rows as usize);
            let peak = peak.expect("VmHWM (Linux /proc)") as f64 / 1024.0;
            println!(
                "CSV run {run}: {csv_rows} rows ({:.0} MiB) in {wall:.1} s ({:.0} rows/s), peak \
                 memory (VmHWM) {peak:.1} MiB",
                size as f64 / (1 << 20) as f64,
                csv_rows as f64 / wall
            );
            peaks.push(peak);
        }
        let (median, low, high) = summary(&peaks);
        println!(
            "gamooga import, {csv_rows}-row CSV: peak memory median {median:.1} MiB (range \
             {low:.1}-{high:.1} MiB, {} runs)",
            peaks.len()
        );
    }
    println!("load average at the end: {}", load());
}
