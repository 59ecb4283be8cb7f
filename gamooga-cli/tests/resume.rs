//! The acceptance runs of a resumable import: 200,000 NDJSON rows, interrupted in the
//! middle (SIGINT, then SIGKILL), then the same command again. Every row arrives; duplicates
//! are no more than the attempts counted ambiguous; the second run reports what it skipped.
//!
//! The emulator answers every call 2 ms late (so requests are always in flight) and closes
//! 0.2% of connections after reading the request without answering (attempts whose outcome
//! the client cannot know: counted ambiguous, retried). Rows are counted per user id as they
//! arrive, through the emulator's call hook (200,000 calls are not all kept in memory).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{json_lines, signal, spawnable, stderr, Reaped};
use gamooga_emulator::Emulator;
use serde_json::Value;

const ROWS: usize = 200_000;
/// The signal is sent once this many rows arrived (then about half the file was read: the
/// queue holds up to 10,000 more).
const INTERRUPT_AFTER: u64 = 80_000;
/// The longest one run may take (a debug build on a loaded machine).
const RUN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// What arrived at the emulator: accepted events per user id.
#[derive(Default)]
struct Arrived {
    per_user: Mutex<HashMap<String, u32>>,
    total: AtomicU64,
}

async fn emulator(arrived: &Arc<Arrived>) -> Emulator {
    let hook = arrived.clone();
    let emu = Emulator::builder()
        .max_recorded(1000)
        .on_call(move |call| {
            if call.is_accepted_event() {
                let user = call.user_id.clone().unwrap_or_default();
                *hook.per_user.lock().unwrap().entry(user).or_default() += 1;
                hook.total.fetch_add(1, Ordering::Relaxed);
            }
        })
        .start()
        .await
        .unwrap();
    emu.set_latency(Some(Duration::from_millis(2)));
    emu.set_drop_rate(0.002);
    emu
}

fn write_rows(path: &Path) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..ROWS {
        writeln!(
            f,
            r#"{{"user_id":"user-{i}","seq":{i},"sku":"SKU-{}"}}"#,
            i % 7
        )
        .unwrap();
    }
    f.flush().unwrap();
}

fn import(emu: &Emulator, file: &Path) -> std::process::Command {
    let mut cmd = spawnable(emu);
    cmd.args(["--json", "import"])
        .arg(file)
        .args([
            "--event",
            "order",
            "--no-progress",
            "--shutdown-timeout",
            "0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

async fn wait(child: Reaped) -> std::process::Output {
    let pid = child.id();
    let child = child.take();
    match tokio::time::timeout(
        RUN_LIMIT,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    {
        Ok(output) => output.unwrap().unwrap(),
        Err(_) => {
            signal("-KILL", pid);
            panic!("the import did not finish in {RUN_LIMIT:?}");
        }
    }
}

/// Runs the first import until `INTERRUPT_AFTER` rows arrived, then sends `how`.
async fn interrupted_run(
    emu: &Emulator,
    arrived: &Arrived,
    file: &Path,
    how: &str,
) -> std::process::Output {
    let child = Reaped::new(import(emu, file).spawn().unwrap());
    let deadline = Instant::now() + RUN_LIMIT;
    while arrived.total.load(Ordering::Relaxed) < INTERRUPT_AFTER {
        assert!(
            Instant::now() < deadline,
            "the import did not get far enough"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(how, child.id());
    wait(child).await
}

/// Checks what both runs share: every row arrived, duplicates within `ambiguous`, the
/// second run read the rest and skipped what the first handled.
fn check_every_row_arrived(arrived: &Arrived, run2: &Value, ambiguous: u64) -> u64 {
    let per_user = arrived.per_user.lock().unwrap();
    let missing: Vec<usize> = (0..ROWS)
        .filter(|i| !per_user.contains_key(&format!("user-{i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} rows missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(per_user.len(), ROWS, "no event of another user");
    let duplicates: u64 = per_user.values().map(|n| u64::from(n - 1)).sum();
    assert!(
        duplicates <= ambiguous,
        "{duplicates} duplicates, more than the {ambiguous} attempts counted ambiguous"
    );
    let skipped = run2["skipped"].as_u64().unwrap();
    assert_eq!(
        skipped + run2["rows"].as_u64().unwrap(),
        ROWS as u64,
        "every row skipped (handled by the first run) or read by the second: {run2}"
    );
    assert!(skipped > 0 && skipped < ROWS as u64, "{run2}");
    // Skipped rows were delivered by the first run, or left in the spool and delivered
    // first by the second (none is invalid or refused here).
    assert_eq!(
        skipped,
        run2["skipped_delivered"].as_u64().unwrap() + run2["replayed"].as_u64().unwrap(),
        "{run2}"
    );
    assert!(run2["skipped_delivered"].as_u64().unwrap() > 0, "{run2}");
    assert!(
        run2["replayed"].as_u64().unwrap() > 0,
        "rows were pending: {run2}"
    );
    assert_eq!(run2["replayed_delivered"], run2["replayed"], "{run2}");
    assert_eq!(
        (run2["failed"].as_u64(), run2["invalid"].as_u64()),
        (Some(0), Some(0))
    );
    eprintln!(
        "{} rows skipped ({} delivered by the first run, {} left in the spool), {} read; \
         {duplicates} duplicate(s), {ambiguous} ambiguous ({} of them rows replayed after a kill)",
        skipped,
        run2["skipped_delivered"],
        run2["replayed"],
        run2["rows"],
        run2["unconfirmed_replayed"]
    );
    duplicates
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_interrupted_by_sigint_goes_on_without_loss() {
    let arrived = Arc::new(Arrived::default());
    let emu = emulator(&arrived).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    write_rows(&file);

    let output = interrupted_run(&emu, &arrived, &file, "-INT").await;
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let run1 = json_lines(&output).remove(0);
    assert_eq!(run1["interrupted"], true);
    assert!(run1["still_spooled"].as_u64().unwrap() > 0, "{run1}");
    assert!(stderr(&output).contains("Run the same command again"));

    let output = wait(Reaped::new(import(&emu, &file).spawn().unwrap())).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run2 = json_lines(&output).remove(0);
    assert_eq!(run2["replayed"], run1["still_spooled"], "{run2}");
    assert_eq!(run2["skipped"], run1["accepted"], "{run2}");
    assert_eq!(run2["skipped_delivered"], run1["delivered"], "{run2}");
    assert_eq!(
        run2["unconfirmed_replayed"], 0,
        "the first run stopped cleanly"
    );
    let ambiguous = run1["ambiguous"].as_u64().unwrap() + run2["ambiguous"].as_u64().unwrap();
    assert!(ambiguous > 0, "the drops make attempts ambiguous");
    check_every_row_arrived(&arrived, &run2, ambiguous);
    assert!(!dir.path().join("rows.ndjson.gamooga-spool").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_killed_by_sigkill_goes_on_without_loss() {
    let arrived = Arc::new(Arrived::default());
    let emu = emulator(&arrived).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    write_rows(&file);

    let output = interrupted_run(&emu, &arrived, &file, "-KILL").await;
    assert_eq!(output.status.code(), None, "killed: {}", stderr(&output));
    assert!(output.stdout.is_empty(), "a killed run reports nothing");
    assert!(dir
        .path()
        .join("rows.ndjson.gamooga-spool-attempts")
        .exists());

    let output = wait(Reaped::new(import(&emu, &file).spawn().unwrap())).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run2 = json_lines(&output).remove(0);
    // The rows the killed run had sent without an answer (or whose delete it had not
    // committed) are counted: they are the duplicates a kill can cause.
    let unconfirmed = run2["unconfirmed_replayed"].as_u64().unwrap();
    assert!(
        unconfirmed > 0,
        "requests were in flight at the kill: {run2}"
    );
    let ambiguous = run2["ambiguous"].as_u64().unwrap();
    assert!(ambiguous >= unconfirmed, "{run2}");
    check_every_row_arrived(&arrived, &run2, ambiguous);
    assert!(!dir.path().join("rows.ndjson.gamooga-spool").exists());
    assert!(!dir
        .path()
        .join("rows.ndjson.gamooga-spool-attempts")
        .exists());
}
