//! Relays as separate processes (the `gamooga-outbox-relay` program) sharing one table:
//!
//! - three of them deliver 20,000 events while the emulator fails 1 call in 7 with 503 and
//!   drops 1 connection in 23: every event arrives, duplicates are no more than the attempts
//!   the relays counted ambiguous, and each relay delivered a share;
//! - one of three is killed with SIGKILL mid-run: the others deliver the rows it held, after
//!   their lease ended.

use crate::common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use gamooga::outbox::sqlx;
use gamooga::outbox::Outbox;
use gamooga::Calls;
use gamooga_emulator::Emulator;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

struct RelayProcess {
    name: String,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

async fn spawn_relay(
    db: &common::TestDb,
    emu: &Emulator,
    company: &str,
    name: &str,
    lease_ms: u64,
) -> RelayProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gamooga-outbox-relay"))
        .args([
            "--database-url",
            &db.url,
            "--company",
            company,
            "--config-url",
            &emu.config_url(),
            "--name",
            name,
            "--timeout-ms",
            "2000",
            "--max-attempts",
            "1000",
            "--initial-backoff-ms",
            "20",
            "--max-backoff-ms",
            "300",
            "--max-elapsed-s",
            "none",
            "--lease-ms",
            &lease_ms.to_string(),
            "--concurrency",
            "16",
            "--batch-size",
            "100",
            "--grace-ms",
            "10000",
        ])
        .env_remove("GAMOOGA_COMPANY_ID")
        .env_remove("GAMOOGA_CONFIG_URL")
        .env_remove("GAMOOGA_BACKEND")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start a relay process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the relay starts")
        .unwrap()
        .expect("a ready line");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["ready"], name);
    RelayProcess {
        name: name.to_owned(),
        child,
        lines,
    }
}

impl RelayProcess {
    /// SIGTERM, then its report.
    async fn stop(mut self) -> serde_json::Value {
        let pid = self.child.id().expect("running") as i32;
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("the relay reports within its grace")
            .unwrap()
            .expect("a report line");
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "{} exited with {status:?}", self.name);
        serde_json::from_str(&line).unwrap()
    }
}

/// Writes `n` numbered events in transactions of 1,000.
async fn enqueue(db: &common::TestDb, company: &str, n: u64) {
    let outbox = Outbox::new(Calls::new(company).unwrap());
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let requests: Vec<_> = chunk
            .iter()
            .map(|&seq| {
                outbox
                    .calls()
                    .track(&format!("user-{}", seq % 97), &common::numbered(seq))
                    .unwrap()
            })
            .collect();
        let mut tx = db.pool.begin().await.unwrap();
        outbox.enqueue_many_in(&mut *tx, &requests).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// Waits until the table holds no row, or panics after `limit`.
async fn wait_empty(db: &common::TestDb, limit: Duration) {
    let start = Instant::now();
    loop {
        let left = db.count(None).await;
        if left == 0 {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{left} rows still in the outbox after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How many times each `seq` arrived at the emulator (accepted events only).
fn copies(emu: &Emulator) -> HashMap<u64, u64> {
    let mut copies = HashMap::new();
    for call in emu.events() {
        let seq = common::seq_of(&call).expect("every event carries its seq");
        *copies.entry(seq).or_default() += 1;
    }
    copies
}

fn sum(reports: &[serde_json::Value], key: &str) -> u64 {
    reports.iter().map(|r| r[key].as_u64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relay_processes_deliver_20000_events_through_faults() {
    const EVENTS: u64 = 20_000;
    let Some(db) = common::test_db("three").await else {
        return;
    };
    let emu = Emulator::builder()
        .seed(11)
        .max_recorded(200_000)
        .start()
        .await
        .unwrap();
    emu.set_failure_rate(1.0 / 7.0, 503);
    emu.set_drop_rate(1.0 / 23.0);
    let mut relays = Vec::new();
    for i in 1..=3 {
        relays.push(spawn_relay(&db, &emu, "acme", &format!("relay-{i}"), 10_000).await);
    }
    let start = Instant::now();
    enqueue(&db, "acme", EVENTS).await;
    wait_empty(&db, Duration::from_secs(600)).await;
    let elapsed = start.elapsed();
    let mut reports = Vec::new();
    for relay in relays {
        reports.push(relay.stop().await);
    }

    let copies = copies(&emu);
    let missing: Vec<u64> = (0..EVENTS).filter(|s| !copies.contains_key(s)).collect();
    assert!(
        missing.is_empty(),
        "{} events never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let total: u64 = copies.values().sum();
    let duplicates = total - copies.len() as u64;
    let ambiguous = sum(&reports, "ambiguous");
    assert!(
        duplicates <= ambiguous,
        "{duplicates} duplicates but {ambiguous} ambiguous attempts: {reports:?}"
    );
    // Every row delivered and deleted exactly once, by one of them; none dead, none lost.
    assert_eq!(sum(&reports, "delivered"), EVENTS, "{reports:?}");
    assert_eq!(sum(&reports, "dead_lettered"), 0, "{reports:?}");
    assert_eq!(sum(&reports, "lease_lost"), 0, "{reports:?}");
    assert!(
        reports.iter().all(|r| r["completed"] == true),
        "{reports:?}"
    );
    // The faults were there, and counted.
    assert!(sum(&reports, "retried") > 0, "{reports:?}");
    assert!(
        ambiguous > 0,
        "dropped connections are ambiguous attempts: {reports:?}"
    );
    let faults: Vec<String> = emu.calls().into_iter().filter_map(|c| c.fault).collect();
    assert!(faults.iter().any(|f| f.contains("drop")) && faults.iter().any(|f| f.contains("503")));
    // Each relay delivered a share.
    for r in &reports {
        assert!(
            r["delivered"].as_u64().unwrap() > 0,
            "{} delivered nothing: {reports:?}",
            r["name"]
        );
    }
    let shares: Vec<u64> = reports
        .iter()
        .map(|r| r["delivered"].as_u64().unwrap())
        .collect();
    eprintln!(
        "3 relay processes: {EVENTS} events in {elapsed:?} ({:.0}/s); shares {shares:?}; {duplicates} duplicates, {ambiguous} ambiguous, {} retried",
        EVENTS as f64 / elapsed.as_secs_f64(),
        sum(&reports, "retried")
    );
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_run_loses_nothing() {
    const EVENTS: u64 = 6_000;
    const LEASE_MS: u64 = 3_000;
    let Some(db) = common::test_db("killed").await else {
        return;
    };
    let emu = Emulator::builder()
        .seed(12)
        .max_recorded(100_000)
        .start()
        .await
        .unwrap();
    // A steady round trip, so a relay is always in the middle of its batch.
    emu.set_latency(Some(Duration::from_millis(20)));
    let mut relays = Vec::new();
    for i in 1..=3 {
        relays.push(spawn_relay(&db, &emu, "acme", &format!("relay-{i}"), LEASE_MS).await);
    }
    enqueue(&db, "acme", EVENTS).await;
    // Mid-run: a good part delivered, most still to go.
    let start = Instant::now();
    while emu.count("evwid") < 1_000 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "delivery started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut victim = relays.remove(0);
    victim.child.kill().await.unwrap(); // SIGKILL
    let killed_at = Instant::now();
    // What it held when it died: rows still leased by it.
    let held: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, query, (extract(epoch FROM not_before) * 1000)::bigint
         FROM gamooga_outbox WHERE leased_by = 'relay-1' AND not_before > now()",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(!held.is_empty(), "the killed relay held rows when it died");
    assert!(
        db.count(None).await > held.len() as i64,
        "killed mid-run, with rows left for the others"
    );

    wait_empty(&db, Duration::from_secs(300)).await;
    assert!(killed_at.elapsed() >= Duration::from_millis(LEASE_MS) - Duration::from_millis(500));
    let mut reports = Vec::new();
    for relay in relays {
        reports.push(relay.stop().await);
    }

    let copies = copies(&emu);
    let missing: Vec<u64> = (0..EVENTS).filter(|s| !copies.contains_key(s)).collect();
    assert!(
        missing.is_empty(),
        "{} events never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    // Each row the dead relay held was delivered by another after its lease ended.
    let arrivals: HashMap<u64, Vec<u64>> =
        emu.events().into_iter().fold(HashMap::new(), |mut m, c| {
            m.entry(common::seq_of(&c).unwrap())
                .or_default()
                .push(c.received_ms);
            m
        });
    for (id, query, lease_end_ms) in &held {
        let seq = seq_in(query);
        let late = arrivals[&seq]
            .iter()
            .any(|&at| at + 5 >= *lease_end_ms as u64);
        assert!(late, "row {id} (seq {seq}) held by the dead relay arrived after its lease ended ({lease_end_ms}): {:?}", arrivals[&seq]);
    }
    // Duplicates: the ambiguous attempts, plus what the dead relay had sent but not deleted.
    let total: u64 = copies.values().sum();
    let duplicates = total - copies.len() as u64;
    let ambiguous = sum(&reports, "ambiguous");
    assert!(
        duplicates <= ambiguous + held.len() as u64,
        "{duplicates} duplicates; {ambiguous} ambiguous, {} held by the dead relay",
        held.len()
    );
    assert!(sum(&reports, "delivered") >= held.len() as u64);
    assert_eq!(sum(&reports, "dead_lettered"), 0, "{reports:?}");
    eprintln!(
        "killed relay held {} rows; survivors {:?}; {duplicates} duplicates",
        held.len(),
        reports
            .iter()
            .map(|r| r["delivered"].as_u64().unwrap())
            .collect::<Vec<_>>()
    );
    db.drop_schema().await;
}

/// The `seq` property of a stored query.
fn seq_in(query: &str) -> u64 {
    let mut pairs = url::form_urlencoded::parse(query.as_bytes());
    pairs
        .find(|(k, v)| k == "ky" && v == "seq")
        .expect("a seq property");
    let (_, value) = pairs.find(|(k, _)| k == "vl").expect("its value");
    value.parse().unwrap()
}
