//! `gamooga relay` and `gamooga outbox` against a real PostgreSQL (`DATABASE_URL`, a fresh
//! schema per test) and the emulator.
//!
//! Under `CI=true` a missing or unreachable database FAILS these tests; elsewhere they say
//! loudly that they are skipped. (`.ci/run` starts PostgreSQL and sets `DATABASE_URL`.)

mod common;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{json_lines, signal, stderr, stdout, Reaped};
use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx::{self, postgres::PgPoolOptions, PgPool};
use gamooga::outbox::{Outbox, Relay};
use gamooga::{Client, CustomEvent, Properties};
use gamooga_emulator::Emulator;
use serde_json::Value;

struct TestDb {
    pool: PgPool,
    url: String,
    schema: String,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn unavailable(why: String) -> Option<TestDb> {
    if in_ci() {
        panic!(
            "CI=true but PostgreSQL is not available for the CLI's outbox tests: {why} \
             (.ci/run installs and starts it and sets DATABASE_URL)"
        );
    }
    eprintln!(
        "\n*** SKIPPED: {why}. `gamooga relay` and `gamooga outbox` are tested against \
         PostgreSQL: set DATABASE_URL (postgres://user:password@127.0.0.1:5432/db), as .ci/run \
         does. ***\n"
    );
    None
}

/// A fresh schema (with the outbox's tables when `migrate`) for the test `name`.
async fn test_db(name: &str, migrate: bool) -> Option<TestDb> {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        return unavailable("DATABASE_URL is not set".into());
    };
    let admin = match PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&base)
        .await
    {
        Ok(pool) => pool,
        Err(e) => return unavailable(format!("cannot connect to DATABASE_URL ({e})")),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("cli_{name}_{}_{nanos:x}", std::process::id());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create the test's schema");
    admin.close().await;
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    let url = url.to_string();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(20))
        .connect(&url)
        .await
        .expect("connect to the test's schema");
    if migrate {
        gamooga::outbox::migrate(&pool).await.expect("migrate");
    }
    Some(TestDb { pool, url, schema })
}

impl TestDb {
    async fn count(&self, state: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM gamooga_outbox WHERE state = $1")
            .bind(state)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn drop_schema(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.pool)
            .await
            .expect("drop the test's schema");
        self.pool.close().await;
    }
}

fn client(emu: &Emulator) -> Client {
    Client::builder("acme")
        .config_url(emu.config_url())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn numbered(seq: u64) -> CustomEvent {
    CustomEvent::new(
        "numbered",
        Properties::new()
            .number("seq", seq)
            .expect("finite")
            .string("sku", "secret-sku"),
    )
}

/// The binary for `emu` and the test's database (through `DATABASE_URL`, as a deployment
/// would set it).
fn gamooga(emu: &Emulator, db: &TestDb) -> assert_cmd::Command {
    let mut cmd = common::gamooga(emu);
    cmd.env("DATABASE_URL", &db.url).env_remove("RUST_LOG");
    cmd
}

/// Polls `check` every 50 ms for up to 60 s.
async fn until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    for _ in 0..1200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_delivers_the_table_and_reports_on_ctrl_c() {
    let Some(db) = test_db("relay", true).await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let outbox = Outbox::for_client(&client(&emu));
    // The first call to arrive is refused: one dead letter, the other 49 delivered.
    emu.fail_next(1, 400);
    for seq in 0..50 {
        numbered(seq)
            .enqueue_in(&outbox, &db.pool, &format!("secret-user-{seq}"))
            .await
            .unwrap();
    }

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gamooga"));
    cmd.env_remove("GAMOOGA_BACKEND")
        .env_remove("RUST_LOG")
        .env("GAMOOGA_COMPANY_ID", "acme")
        .env("GAMOOGA_CONFIG_URL", emu.config_url())
        .args([
            "relay",
            "--json",
            "--database-url",
            &db.url,
            "--name",
            "cli-relay-1",
        ])
        .args(["--grace-ms", "5000", "--idle-poll-ms", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Reaped::new(cmd.spawn().unwrap());
    let lines = child.child().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(lines).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let ready: Value = serde_json::from_str(
        &rx.recv_timeout(Duration::from_secs(60))
            .expect("the relay says it is ready"),
    )
    .unwrap();
    assert_eq!(ready["ready"], "cli-relay-1");
    assert_eq!(ready["company"], "acme");

    until("49 delivered and 1 dead", || async {
        db.count("pending").await == 0 && db.count("dead").await == 1
    })
    .await;
    let delivered = emu
        .events()
        .into_iter()
        .filter(|c| c.is_accepted_event())
        .count();
    assert_eq!(delivered, 49);

    signal("-INT", child.id());
    let output = child.take().wait_with_output().unwrap();
    reader.join().unwrap();
    let report: Value =
        serde_json::from_str(&rx.try_iter().last().expect("a report line")).unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(report["name"], "cli-relay-1");
    assert_eq!(report["completed"], true);
    assert_eq!(report["claimed"], 50);
    assert_eq!(report["delivered"], 49);
    assert_eq!(report["dead_lettered"], 1);
    // Its logs show (the tracing subscriber, at info), and name no user, no value.
    let logs = stderr(&output);
    assert!(
        logs.contains("gamooga outbox relay: started") && logs.contains("stopping"),
        "{logs}"
    );
    assert!(
        !logs.contains("secret-user") && !logs.contains("secret-sku"),
        "{logs}"
    );
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_for_people_prints_its_report_on_sigterm() {
    let Some(db) = test_db("relay_text", false).await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gamooga"));
    // --migrate on an empty schema creates the tables; RUST_LOG quiets the logs.
    cmd.env_remove("GAMOOGA_BACKEND")
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", &db.url)
        .env("GAMOOGA_CONFIG_URL", emu.config_url())
        .args([
            "--company",
            "acme",
            "relay",
            "--migrate",
            "--name",
            "cli-relay-2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Reaped::new(cmd.spawn().unwrap());
    let lines = child.child().stdout.take().unwrap();
    let mut lines = BufReader::new(lines).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("relay cli-relay-2 delivering the outbox of company acme"),
        "{first}"
    );
    // The tables exist now: an event enqueued is delivered by it.
    let outbox = Outbox::for_client(&client(&emu));
    numbered(1)
        .enqueue_in(&outbox, &db.pool, "secret-user-1")
        .await
        .unwrap();
    assert!(
        emu.wait_for(
            |calls| calls.iter().any(|c| c.is_accepted_event()),
            Duration::from_secs(60)
        )
        .await
    );
    until("the row is deleted", || async {
        db.count("pending").await == 0
    })
    .await;
    signal("-TERM", child.id());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let output = child.take().wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let report = rest.join("\n");
    assert!(
        report.contains("relay cli-relay-2 stopped: 1 claimed, 1 delivered"),
        "{report}"
    );
    let err = stderr(&output);
    assert!(
        err.contains("stopping: finishing what is in flight"),
        "{err}"
    );
    assert!(
        !err.contains("gamooga outbox relay: started"),
        "RUST_LOG=error: {err}"
    );
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_stops_the_relay_at_once_and_its_row_stays() {
    let Some(db) = test_db("second_signal", true).await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let outbox = Outbox::for_client(&client(&emu));
    numbered(1)
        .enqueue_in(&outbox, &db.pool, "secret-user-1")
        .await
        .unwrap();
    // Its attempt hangs: the first Ctrl-C's grace (60 s) would wait for it.
    emu.set_latency(Some(Duration::from_secs(60)));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gamooga"));
    cmd.env_remove("GAMOOGA_BACKEND")
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", &db.url)
        .env("GAMOOGA_COMPANY_ID", "acme")
        .env("GAMOOGA_CONFIG_URL", emu.config_url())
        .args(["relay", "--timeout-ms", "120000", "--grace-ms", "60000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Reaped::new(cmd.spawn().unwrap());
    let err = child.child().stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    until("the row is leased", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM gamooga_outbox WHERE leased_by IS NOT NULL",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    signal("-INT", child.id());
    let stopping = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(stopping.starts_with("stopping:"), "{stopping}");
    signal("-INT", child.id());
    let output = child.take().wait_with_output().unwrap();
    reader.join().unwrap();
    assert_eq!(output.status.code(), Some(130), "{:?}", output.status);
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.starts_with("stopped at once")),
        "{rest:?}"
    );
    assert!(!stdout(&output).contains("stopped:"), "no report");
    // Nothing was lost: the row is still in the table, for the end of its lease.
    assert_eq!(db.count("pending").await, 1);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_tools_list_without_personal_data_replay_and_purge() {
    let Some(db) = test_db("tools", true).await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu);
    let outbox = Outbox::for_client(&client);
    // Two rejected events (dead letters) and one still pending.
    for seq in 0..2 {
        numbered(seq)
            .enqueue_in(&outbox, &db.pool, &format!("secret-user-{seq}"))
            .await
            .unwrap();
    }
    emu.fail_next(2, 400);
    let relay = Relay::new(db.pool.clone(), client.clone())
        .idle_poll(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    until("two dead letters", || async { db.count("dead").await == 2 }).await;
    relay.shutdown(Duration::from_secs(5)).await;
    numbered(9)
        .enqueue_in(&outbox, &db.pool, "secret-user-9")
        .await
        .unwrap();

    let out = gamooga(&emu, &db)
        .args(["outbox", "stats", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stats = &json_lines(&out)[0];
    assert_eq!(stats["company"], "acme");
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(stats["due"], 1);

    // Listed without ids or values by default, in text and JSON.
    for json in [false, true] {
        let mut cmd = gamooga(&emu, &db);
        cmd.args(["outbox", "dead"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.assert().success().get_output().clone();
        let text = stdout(&out);
        assert!(!text.contains("secret-"), "{text}");
        if json {
            let dead = json_lines(&out);
            assert_eq!(dead.len(), 2);
            assert_eq!(dead[0]["reason"], "rejected");
            assert_eq!(dead[0]["endpoint"], "evwid");
            assert_eq!(dead[0]["attempts"], 1);
            assert!(dead[0]["last_error"].as_str().unwrap().contains("400"));
            assert_eq!(dead[0]["request"], Value::Null);
        } else {
            assert_eq!(text.lines().count(), 2, "{text}");
            assert!(
                text.lines()
                    .all(|l| l.contains("evwid  rejected  1 attempt(s)")),
                "{text}"
            );
        }
    }
    // --requests shows them, decoded here by the url crate.
    let out = gamooga(&emu, &db)
        .args(["outbox", "dead", "--json", "--requests", "--limit", "1"])
        .assert()
        .success()
        .get_output()
        .clone();
    let dead = json_lines(&out);
    assert_eq!(dead.len(), 1);
    let query = common::query_pairs(&format!("http://x{}", dead[0]["request"].as_str().unwrap()));
    assert!(
        query.contains(&("u".into(), "secret-user-0".into())),
        "{query:?}"
    );
    let first_id = dead[0]["id"].as_i64().unwrap();

    // Purge asks first.
    let out = gamooga(&emu, &db)
        .args(["outbox", "purge"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert_eq!(db.count("dead").await, 2);

    // Replay one by id: pending again; a relay delivers it.
    let out = gamooga(&emu, &db)
        .args(["outbox", "replay", "--json", "--id", &first_id.to_string()])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json_lines(&out)[0]["replayed"], 1);
    assert_eq!((db.count("pending").await, db.count("dead").await), (2, 1));
    let relay = Relay::new(db.pool.clone(), client.clone())
        .idle_poll(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    until("both pending delivered", || async {
        db.count("pending").await == 0
    })
    .await;
    relay.shutdown(Duration::from_secs(5)).await;
    let users: Vec<String> = emu
        .events()
        .into_iter()
        .filter(|c| c.is_accepted_event())
        .filter_map(|c| c.user_id)
        .collect();
    assert!(users.contains(&"secret-user-0".to_owned()), "{users:?}");
    assert!(!users.contains(&"secret-user-1".to_owned()), "{users:?}");

    // Purge by reason, with --yes: the other dead letter goes.
    let out = gamooga(&emu, &db)
        .args(["outbox", "purge", "--reason", "rejected", "--yes"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out).trim(), "removed 1 dead letter(s)");
    assert_eq!(db.count("dead").await, 0);
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_without_tables_is_an_error_with_the_hint() {
    let Some(db) = test_db("empty", false).await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let out = gamooga(&emu, &db)
        .args(["outbox", "stats"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("--migrate"), "{}", stderr(&out));
    db.drop_schema().await;
}

/// Needs no database: refused before connecting.
#[test]
fn relay_and_outbox_bad_flags() {
    let emu_less = || {
        let mut cmd = common::bare();
        cmd.env_remove("DATABASE_URL")
            .env("GAMOOGA_COMPANY_ID", "acme");
        cmd
    };
    let out = emu_less()
        .arg("relay")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("no database: pass --database-url URL or set DATABASE_URL"));
    let out = emu_less()
        .args(["outbox", "dead"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("no database"));
    for bad in [
        &["relay", "--max-elapsed-s", "soon"][..],
        &["relay", "--batch-size", "-1"],
        &["relay", "--lease-ms", "many"],
        &["outbox", "replay", "--id", "x"],
        &["outbox", "replay", "--id", "1", "--reason", "rejected"],
        &["outbox", "frobnicate"],
    ] {
        emu_less()
            .args(bad)
            .args(["--database-url", "postgres://nobody@127.0.0.1:1/none"])
            .assert()
            .code(2);
    }
    // A setting out of range is named before the database is tried (it is unreachable here).
    let out = emu_less()
        .args([
            "relay",
            "--batch-size",
            "0",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(
        stderr(&out).contains("batch_size 0 is not within 1 to 10,000"),
        "{}",
        stderr(&out)
    );
    // An unreachable database is a failure (exit 1), and the URL's password is not printed.
    let out = emu_less()
        .args([
            "relay",
            "--database-url",
            "postgres://nobody:hunter2@127.0.0.1:1/none",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
    // No company: named.
    let out = common::bare()
        .args([
            "outbox",
            "stats",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("no company id"), "{}", stderr(&out));
}
