//! `gamooga spool stats|dead|replay|purge` on spools of every kind: an import's (with its
//! checkpoint and tagged dead letters), one of format version 1, one in use, and files that
//! are not spools.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{bare, events_per_user, gamooga, json_lines, stderr, stdout};
use gamooga_emulator::Emulator;

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// A spool as format version 1 wrote it: one pending row, one dead letter.
fn write_v1(path: &Path) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE gamooga_outbox (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT NOT NULL,
                 method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL, body TEXT,
                 enqueued_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                 dead_reason TEXT, last_error TEXT);
             INSERT INTO gamooga_outbox (endpoint, method, path, query, enqueued_ms)
                 VALUES ('evwid', 'GET', '/evwid/', 'c=acme&u=old-1&e=legacy&tm={now}', {now});
             INSERT INTO gamooga_outbox (endpoint, method, path, query, enqueued_ms, attempts,
                                         dead_reason, last_error)
                 VALUES ('evwid', 'GET', '/evwid/', 'c=acme&u=old-2&e=legacy&tm={now}', {now},
                         2, 'retries_exhausted', 'HTTP 503');
             PRAGMA user_version = 1;"
        ))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_1_spool_is_read_as_it_is_and_replayed() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.spool");
    write_v1(&path);
    let arg = path.display().to_string();

    let output = gamooga(&emu)
        .args(["spool", "stats", &arg, "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stats = &json_lines(&output)[0];
    assert_eq!(stats["version"], 1);
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead_letters"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["dead_by_reason"]["retries_exhausted"], 1);
    assert_eq!(stats["cursors"], serde_json::json!([]));
    let output = gamooga(&emu)
        .args(["--json", "spool", "dead", &arg])
        .output()
        .unwrap();
    let dead = json_lines(&output);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["tag"], serde_json::Value::Null);
    assert_eq!(dead[0]["last_error"], "HTTP 503");
    assert_eq!(user_version(&path), 1, "looking changes nothing");

    // Replay: the dead letter is pending again, the queue migrates the file and delivers both.
    let output = gamooga(&emu)
        .args(["--json", "spool", "replay", &arg])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let replay = &json_lines(&output)[0];
    assert_eq!(
        (
            replay["marked_pending"].as_u64(),
            replay["delivered"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let seen = events_per_user(&emu);
    assert_eq!((seen.get("old-1"), seen.get("old-2")), (Some(&1), Some(&1)));
    assert_eq!(user_version(&path), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_is_not_a_spool_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, just some words\n".repeat(100)).unwrap();
    let missing = dir.path().join("missing.spool");
    for (path, expected) in [
        (&text, "not a gamooga spool"),
        (&missing, "no such file"),
        (&dir.path().to_path_buf(), "not a file"),
    ] {
        for sub in ["stats", "dead", "purge"] {
            let output = bare().args(["spool", sub]).arg(path).output().unwrap();
            assert_eq!(output.status.code(), Some(2), "{sub} {}", path.display());
            assert!(
                stderr(&output).contains(expected),
                "{sub}: {}",
                stderr(&output)
            );
        }
    }
    assert!(!missing.exists());
    assert_eq!(
        std::fs::read_to_string(&text).unwrap().len(),
        "not a database, just some words\n".len() * 100
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_spool_shows_its_checkpoint_and_tagged_dead_letters() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    let rows: String = (0..40)
        .map(|i| format!("{{\"user_id\":\"user-{i}\",\"seq\":{i}}}\n"))
        .collect();
    std::fs::write(&file, &rows).unwrap();
    gamooga::Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap()
        .backend()
        .await
        .unwrap();
    emu.fail_next(5, 400);
    let output = gamooga(&emu)
        .arg("import")
        .arg(&file)
        .args(["--event", "order", "--concurrency", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let spool = dir.path().join("rows.ndjson.gamooga-spool");
    let arg = spool.display().to_string();

    let output = gamooga(&emu)
        .args(["--json", "spool", "stats", &arg])
        .output()
        .unwrap();
    let stats = &json_lines(&output)[0];
    assert_eq!(stats["version"], 2);
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead_letters"].as_u64()),
        (Some(0), Some(5))
    );
    assert!(stats["bytes"].as_u64().unwrap() > 0);
    let cursor = &stats["cursors"][0];
    assert!(
        cursor["source"].as_str().unwrap().starts_with("import:"),
        "{cursor}"
    );
    let last_row = rows.trim_end().rfind('\n').unwrap() + 1;
    assert_eq!(
        (cursor["position"].as_u64(), cursor["extra"].as_u64()),
        (Some(last_row as u64), Some(40)),
        "the last row: its byte offset and line"
    );
    assert_eq!(
        (
            cursor["accepted"].as_u64(),
            cursor["delivered"].as_u64(),
            cursor["marked"].as_u64()
        ),
        (Some(40), Some(35), Some(0))
    );
    let text = stdout(
        &gamooga(&emu)
            .args(["spool", "stats", &arg])
            .output()
            .unwrap(),
    );
    assert!(
        text.contains("line 40") && text.contains("rejected: 5"),
        "{text}"
    );

    // Dead letters, a page at a time, each with the line of its row.
    let seen = events_per_user(&emu);
    let missing: Vec<u64> = (0..40u64)
        .filter(|i| !seen.contains_key(&format!("user-{i}")))
        .map(|i| i + 1)
        .collect();
    let output = gamooga(&emu)
        .args(["--json", "spool", "dead", &arg, "--limit", "2"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&output).len(), 2);
    let output = gamooga(&emu)
        .args(["--json", "spool", "dead", &arg])
        .output()
        .unwrap();
    let lines: Vec<u64> = json_lines(&output)
        .iter()
        .map(|d| d["tag"]["extra"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, missing);
    let text = stdout(
        &gamooga(&emu)
            .args(["spool", "dead", &arg])
            .output()
            .unwrap(),
    );
    assert!(text.contains(&format!("(line {})", missing[0])), "{text}");

    // In use by a queue: looking works, replaying and purging wait their turn.
    let client = gamooga::Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap();
    let queue = client
        .queue(gamooga::queue::QueueConfig::default().spool(&spool))
        .unwrap();
    let output = gamooga(&emu)
        .args(["spool", "stats", &arg])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let output = gamooga(&emu)
        .args(["spool", "replay", &arg])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("in use"), "{}", stderr(&output));
    queue.shutdown(Duration::from_secs(5)).await;
    drop(queue);

    let output = gamooga(&emu)
        .args(["--json", "spool", "purge", &arg, "--yes"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&output)[0]["removed"], 5);
}
