//! Does an open inspector slow the emulator down? `wrk` on `/evwid/` with no page open, then
//! with the page open in a real headless Chromium and streaming every call, in alternating
//! runs; prints each rate, the ratio, and the median and range over the runs.
//!
//! ```sh
//! cargo bench -p gamooga-emulator --bench inspector_load            # 5 pairs of 5 s runs
//! RUNS=7 SECONDS=10 cargo bench -p gamooga-emulator --bench inspector_load
//! ```
//!
//! Needs `wrk` (installed from Debian's packages when missing), `chromium` and
//! `chromium-driver`. The emulator runs in this process on tokio's multi-threaded runtime,
//! every call recorded.

#[path = "../tests/browser/mod.rs"]
mod browser;

use std::process::Command;
use std::time::Duration;

use gamooga_emulator::Emulator;

const URL_QUERY: &str = "/evwid/?c=acme&u=user-42&e=purchase&ky=amount&vl=12.5&tp=n\
                         &ky=sku&vl=A%26B&tp=s&tm=1700000000000";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ensure_wrk() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    eprintln!("wrk is missing: installing it from Debian's packages");
    let _ = Command::new("apt-get").arg("update").status();
    let installed = Command::new("apt-get")
        .args(["install", "-y", "wrk"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(installed, "cannot install wrk (apt-get install -y wrk)");
}

/// Runs wrk and returns its requests per second.
async fn wrk(url: &str, seconds: u64) -> f64 {
    let url = url.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("wrk")
            .args(["-t2", "-c32", &format!("-d{seconds}s"), &url])
            .output()
            .expect("wrk runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it too: keep that quick.
    if std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench") {
        println!(
            "inspector_load: run it with `cargo bench -p gamooga-emulator --bench inspector_load`"
        );
        return;
    }
    ensure_wrk();
    let runs = env_number("RUNS", 5);
    let seconds = env_number("SECONDS", 5);
    let emu = Emulator::start().await.expect("an emulator");
    let url = format!("http://{}{URL_QUERY}", emu.backend());
    let browser = browser::launch(1280, 800)
        .await
        .expect("chromium and chromedriver are needed for this benchmark");

    println!(
        "wrk -t2 -c32 -d{seconds}s on /evwid/, {runs} pairs of runs, load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let (mut closed, mut open, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        // No page open.
        browser.client.goto("about:blank").await.unwrap();
        emu.reset();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let without = wrk(&url, seconds).await;

        // The page open and streaming.
        emu.reset();
        browser.client.goto(&emu.inspector_url()).await.unwrap();
        browser
            .wait_until(
                "the stream is live",
                "return document.getElementById('conn').textContent === 'live'",
            )
            .await;
        let with = wrk(&url, seconds).await;
        let total = emu.total_calls();
        // The page kept up: it counts every call once the traffic stops.
        browser
            .wait_until(
                "the page counts every call",
                &format!(
                    "return document.getElementById('t-total').textContent.replace(/,/g, '') === '{total}'"
                ),
            )
            .await;
        let shown = browser
            .eval("return document.getElementById('shown').textContent")
            .await;
        let drawn = browser
            .eval("return document.querySelectorAll('#calls-body tr[data-seq]').length")
            .await;
        let ratio = with / without;
        println!(
            "run {run}: no page {without:>9.0} req/s | page open {with:>9.0} req/s \
             ({total} calls, the page counted them all and says \"{}\"; {drawn} rows drawn) | ratio {:.1}%",
            shown.as_str().unwrap_or_default(),
            ratio * 100.0
        );
        closed.push(without);
        open.push(with);
        ratios.push(ratio);
    }
    let (c_lo, c_hi) = range(&closed);
    let (o_lo, o_hi) = range(&open);
    let (r_lo, r_hi) = range(&ratios);
    println!(
        "no page open:   median {:.0} req/s (range {c_lo:.0}–{c_hi:.0})",
        median(&closed)
    );
    println!(
        "page open:      median {:.0} req/s (range {o_lo:.0}–{o_hi:.0})",
        median(&open)
    );
    println!(
        "ratio:          median {:.1}% (range {:.1}–{:.1}%), target ≥ 80%",
        median(&ratios) * 100.0,
        r_lo * 100.0,
        r_hi * 100.0
    );
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    browser.close().await;
}
