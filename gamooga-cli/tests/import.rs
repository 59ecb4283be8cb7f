//! `gamooga import` and `gamooga spool` against an emulator: delivery, the rejects file,
//! bad files, dead letters, `--rate`, standard input, Ctrl-C and going on with `--start-at`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    events_per_user, gamooga, json_lines, rejects, signal, spawnable, stderr, stdout, Reaped,
};
use gamooga_emulator::{Emulator, RecordedProperty};
use serde_json::Value;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn ndjson_rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"user_id\":\"user-{i}\",\"seq\":{i},\"sku\":\"SKU-{}\"}}\n",
                i % 7
            )
        })
        .collect()
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

const ORDERS: &str = "\
user_id,amount,sku,gift,zip
u1,12.5,A&B,true,007
u2,abc,x,false,1
,3,z,true,1
u4,5,x\"y,true,1
u5,6,\"multi
line\",false,2
u6,7
u7,8,\"quoted, comma\",TRUE,3
";

#[tokio::test(flavor = "multi_thread")]
async fn csv_rows_are_delivered_and_bad_rows_go_to_the_rejects_file_with_their_line() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    write(&file, ORDERS);
    let output = gamooga(&emu)
        .args(["--json", "import"])
        .arg(&file)
        .args(["--event", "purchase", "--types", "amount=n,zip=s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary = &json_lines(&output)[0];
    assert_eq!(summary["rows"], 7);
    assert_eq!(summary["invalid"], 4);
    assert_eq!(summary["accepted"], 3);
    assert_eq!(summary["delivered"], 3);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["spool"], Value::Null);
    let rejects_path = dir.path().join("orders.csv.rejects.ndjson");
    assert_eq!(summary["rejects_file"], rejects_path.display().to_string());

    let mut events = emu.events();
    events.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let users: Vec<_> = events.iter().map(|e| e.user_id.clone().unwrap()).collect();
    assert_eq!(users, ["u1", "u5", "u7"]);
    assert_eq!(
        events[0].event_properties,
        [
            RecordedProperty::new("amount", "12.5", 'n'),
            RecordedProperty::new("sku", "A&B", 's'),
            RecordedProperty::new("gift", "true", 'b'),
            RecordedProperty::new("zip", "007", 's'),
        ]
    );
    assert_eq!(
        events[1].event_property("sku").unwrap().value,
        "multi\nline"
    );
    assert_eq!(
        events[2].event_property("sku").unwrap().value,
        "quoted, comma"
    );
    assert_eq!(events[2].event_property("gift").unwrap().datatype, 'b');

    let lines = rejects(&rejects_path);
    let got: Vec<(u64, Value, bool)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["kind"], "invalid");
            (
                l["line"].as_u64().unwrap(),
                l["column"].clone(),
                l["reason"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "amount".into(), true),
            (4, "user_id".into(), true),
            (5, "sku".into(), true),
            (8, Value::Null, true),
        ]
    );
    assert!(lines[0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a number"));
    assert_eq!(lines[0]["row"]["user_id"], "u2");
    assert!(lines[2]["reason"].as_str().unwrap().contains("quoting"));
    assert!(lines[3]["reason"].as_str().unwrap().contains("field"));
    // The byte offset is where the row starts.
    assert_eq!(
        lines[1]["byte"].as_u64().unwrap() as usize,
        ORDERS.find("\n,3,z").unwrap() + 1
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&rejects_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Everything delivered and nothing dead: the spool is gone.
    assert_eq!(
        files_in(dir.path()),
        BTreeSet::from([
            "orders.csv".to_owned(),
            "orders.csv.rejects.ndjson".to_owned()
        ])
    );

    // Run again, fixed: the old rejects file does not linger.
    write(&file, "user_id,amount\nu9,1\n");
    let output = gamooga(&emu)
        .args(["import"])
        .arg(&file)
        .args(["--event", "purchase"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("1 delivered"),
        "{}",
        stdout(&output)
    );
    assert!(!rejects_path.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn ndjson_from_standard_input_with_json_types_and_bad_lines() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = concat!(
        "{\"uid\":\"a\",\"kind\":\"view\",\"n\":1.5,\"ok\":true,\"s\":\"12\",\"skip\":null,\"at\":\"2025-11-26T09:40:00Z\"}\n",
        "\n",
        "{\"uid\":\"b\",\"kind\":\"view\",\"nested\":{\"x\":1}}\n",
        "this is not json\n",
        "[1,2]\n",
        "{\"kind\":\"view\"}\n",
        "{\"uid\":42,\"kind\":\"buy\",\"at\":1764150000123}\n",
    );
    let output = gamooga(&emu)
        .current_dir(dir.path())
        .args([
            "--json",
            "import",
            "-",
            "--format",
            "ndjson",
            "--user-col",
            "uid",
        ])
        .args(["--event-col", "kind", "--time-col", "at"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary = &json_lines(&output)[0];
    assert_eq!(summary["file"], "standard input");
    assert_eq!(
        (summary["rows"].as_u64(), summary["delivered"].as_u64()),
        (Some(6), Some(2))
    );

    let mut events = emu.events();
    events.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    assert_eq!(events[0].user_id.as_deref(), Some("42"));
    assert_eq!(events[0].event.as_deref(), Some("buy"));
    assert_eq!(events[0].tm, Some(1_764_150_000_123));
    assert_eq!(events[1].tm, Some(1_764_150_000_000));
    assert_eq!(
        events[1].event_properties,
        [
            RecordedProperty::new("n", "1.5", 'n'),
            RecordedProperty::new("ok", "true", 'b'),
            RecordedProperty::new("s", "12", 's'),
        ]
    );
    let lines = rejects(&dir.path().join("gamooga-stdin.rejects.ndjson"));
    let got: Vec<(u64, Value)> = lines
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["column"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "nested".into()),
            (4, Value::Null),
            (5, Value::Null),
            (6, "uid".into())
        ]
    );
    assert_eq!(lines[1]["char"], 2); // "th": `t` could start `true`
    assert!(lines[2]["reason"]
        .as_str()
        .unwrap()
        .contains("not a JSON object"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_refused_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    write(&d("empty.csv"), "");
    write(&d("empty.ndjson"), "");
    write(&d("nouser.csv"), "id,amount\n1,2\n");
    write(&d("dup.csv"), "user_id,a,a\nu,1,2\n");
    write(&d("ok.csv"), "user_id,amount\nu,1\n");
    write(&d("data.txt"), "user_id\nu\n");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["missing.csv".into()], "no such file"),
        (vec!["empty.csv".into()], "is empty"),
        (vec!["empty.ndjson".into()], "is empty"),
        (vec!["nouser.csv".into()], "--user-col"),
        (
            vec!["nouser.csv".into(), "--user-col".into(), "uid".into()],
            "no column `uid`",
        ),
        (vec!["dup.csv".into()], "twice"),
        (
            vec!["ok.csv".into(), "--types".into(), "amout=n".into()],
            "amout",
        ),
        (
            vec!["ok.csv".into(), "--types".into(), "amount=x".into()],
            "not a datatype",
        ),
        (
            vec!["ok.csv".into(), "--time-col".into(), "when".into()],
            "--time-col",
        ),
        (vec!["ok.csv".into(), "--rate".into(), "0".into()], "--rate"),
        (vec!["data.txt".into()], "--format"),
        (vec!["-".into()], "--format"),
        (
            vec!["ok.csv".into(), "--start-at".into(), "99999:3".into()],
            "bytes",
        ),
    ];
    for (args, expected) in cases {
        let output = gamooga(&emu)
            .current_dir(dir.path())
            .arg("import")
            .args(&args)
            .args(["--event", "e"])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {expected:?} not in {}",
            stderr(&output)
        );
    }
    assert!(emu.events().is_empty());
    // No spool, no rejects file left behind.
    let left: Vec<_> = files_in(dir.path())
        .into_iter()
        .filter(|f| f.contains("spool") || f.contains("rejects"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // An empty input is fine when asked for.
    let output = gamooga(&emu)
        .arg("import")
        .arg(d("empty.csv"))
        .args(["--event", "e", "--allow-empty"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_gamooga_refuses_are_dead_letters_with_their_line_and_the_spool_tends_them() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    write(&file, &ndjson_rows(40));
    emu.fail_next(3, 400);
    let output = gamooga(&emu)
        .args(["--json", "import"])
        .arg(&file)
        .args(["--event", "order"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary = &json_lines(&output)[0];
    assert_eq!(
        (summary["delivered"].as_u64(), summary["failed"].as_u64()),
        (Some(37), Some(3))
    );
    let spool = dir.path().join("rows.ndjson.gamooga-spool");
    assert_eq!(
        summary["spool"],
        spool.display().to_string(),
        "dead letters keep the spool"
    );

    // The rejects file names exactly the lines of the rows that did not arrive.
    let seen = events_per_user(&emu);
    let missing: BTreeSet<u64> = (0..40u64)
        .filter(|i| !seen.contains_key(&format!("user-{i}")))
        .map(|i| i + 1)
        .collect();
    let lines = rejects(&dir.path().join("rows.ndjson.rejects.ndjson"));
    let dead: BTreeSet<u64> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["kind"], "dead_letter");
            assert_eq!(l["dead_letter_reason"], "rejected");
            assert_eq!(l["endpoint"], "evwid");
            assert!(l["reason"].as_str().unwrap().contains("400"), "{l}");
            l["line"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(missing.len(), 3);
    assert_eq!(dead, missing);

    // spool stats / dead / purge / replay.
    let spool_arg = spool.display().to_string();
    let output = gamooga(&emu)
        .args(["--json", "spool", "stats", &spool_arg])
        .output()
        .unwrap();
    let stats = &json_lines(&output)[0];
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead_letters"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(stats["dead_by_reason"]["rejected"], 3);

    let output = gamooga(&emu)
        .args(["--json", "spool", "dead", &spool_arg, "--requests"])
        .output()
        .unwrap();
    let dead_letters = json_lines(&output);
    assert_eq!(dead_letters.len(), 3);
    for d in &dead_letters {
        assert_eq!(d["reason"], "rejected");
        assert_eq!(d["attempts"], 1);
        let query = d["request"].as_str().unwrap();
        assert!(query.starts_with("/evwid/?c=acme&u=user-"), "{query}");
    }

    let output = gamooga(&emu)
        .args(["spool", "purge", &spool_arg])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--yes"));

    let output = gamooga(&emu)
        .args(["--json", "spool", "replay", &spool_arg])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let replay = &json_lines(&output)[0];
    assert_eq!(
        (
            replay["marked_pending"].as_u64(),
            replay["delivered"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let seen = events_per_user(&emu);
    assert!(
        (0..40).all(|i| seen.get(&format!("user-{i}")) == Some(&1)),
        "{seen:?}"
    );

    let output = gamooga(&emu)
        .args(["--json", "spool", "stats", &spool_arg])
        .output()
        .unwrap();
    let stats = &json_lines(&output)[0];
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead_letters"].as_u64()),
        (Some(0), Some(0))
    );

    // Purge removes dead letters.
    let other = dir.path().join("other.ndjson");
    write(&other, &ndjson_rows(5));
    emu.fail_next(2, 422);
    let output = gamooga(&emu)
        .arg("import")
        .arg(&other)
        .args(["--event", "e"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let other_spool = dir
        .path()
        .join("other.ndjson.gamooga-spool")
        .display()
        .to_string();
    // --mark-only makes the dead letters pending without sending anything.
    let calls_before = emu.calls().len();
    let output = gamooga(&emu)
        .args(["--json", "spool", "replay", &other_spool, "--mark-only"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&output)[0]["marked_pending"], 2);
    assert_eq!(emu.calls().len(), calls_before, "--mark-only sends nothing");
    let output = gamooga(&emu)
        .args(["--json", "spool", "stats", &other_spool])
        .output()
        .unwrap();
    let stats = &json_lines(&output)[0];
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead_letters"].as_u64()),
        (Some(2), Some(0))
    );
    // Refused again: dead letters again, and the exit status says so.
    emu.fail_next(2, 422);
    let output = gamooga(&emu)
        .args(["spool", "replay", &other_spool])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let output = gamooga(&emu)
        .args(["--json", "spool", "purge", &other_spool, "--yes"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&output)[0]["removed"], 2);

    // A spool that is not there is not created.
    let nowhere = dir.path().join("nowhere.spool");
    let output = gamooga(&emu)
        .args(["spool", "stats"])
        .arg(&nowhere)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!nowhere.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_spreads_rows_over_time() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    write(&file, &ndjson_rows(11));
    let start = Instant::now();
    let output = gamooga(&emu)
        .arg("import")
        .arg(&file)
        .args(["--event", "tick", "--rate", "10"])
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    // 11 rows at 10 per second: the last is sent at least 1 s after the first.
    assert!(took >= Duration::from_secs(1), "{took:?}");
    let tms: Vec<u64> = emu.events().iter().map(|e| e.tm.unwrap()).collect();
    assert_eq!(tms.len(), 11);
    // Each row is stamped when it is read: the reader is at most three rows ahead (the one
    // being paced, the one in the channel, the one waiting to go in), so the stamps of rows
    // 0 and 10 are at least 10 - 3 rows apart, 700 ms, less the scheduling noise.
    let spread = tms.iter().max().unwrap() - tms.iter().min().unwrap();
    assert!(spread >= 600, "rows stamped within {spread} ms");
}

/// NDJSON rows `user-0..n`, every `invalid_every`-th without a user id (refused).
fn ndjson_rows_with_invalid(n: usize, invalid_every: usize) -> String {
    (0..n)
        .map(|i| {
            if i % invalid_every == invalid_every - 1 {
                format!("{{\"seq\":{i}}}\n")
            } else {
                format!("{{\"user_id\":\"user-{i}\",\"seq\":{i}}}\n")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_ctrl_c_the_same_command_goes_on_after_the_checkpoint() {
    const ROWS: usize = 3000;
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    write(&file, &ndjson_rows_with_invalid(ROWS, 100));
    let args = |cmd: &mut std::process::Command| {
        cmd.args(["--json", "import"]).arg(&file).args([
            "--event",
            "order",
            "--shutdown-timeout",
            "1",
        ]);
    };
    let mut first = spawnable(&emu);
    args(&mut first);
    let child = Reaped::new(
        first
            .args(["--rate", "1000"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(
        emu.wait_for(|calls| calls.len() > 300, Duration::from_secs(60))
            .await,
        "the import did not start"
    );
    // Gamooga goes away: rows keep being accepted into the spool, none is delivered.
    emu.go_down().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal("-INT", child.id());
    let child = child.take();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let run1 = json_lines(&output).remove(0);
    assert_eq!(run1["interrupted"], true);
    let spooled = run1["still_spooled"].as_u64().unwrap();
    assert!(spooled > 0, "{run1}");
    let err = stderr(&output);
    assert!(err.contains("Run the same command again"), "{err}");
    assert!(!err.contains("--start-at"), "no position to copy: {err}");
    let read = run1["rows"].as_u64().unwrap();
    assert!((read as usize) < ROWS, "{run1}");
    emu.come_up().await.unwrap();

    // Two rows of the backlog are refused this time: dead letters, named by their line.
    gamooga::Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap()
        .backend()
        .await
        .unwrap();
    emu.fail_next(2, 400);
    let mut again = spawnable(&emu);
    args(&mut again);
    let output = again.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let run2 = &json_lines(&output)[0];
    assert_eq!(run2["replayed"].as_u64(), Some(spooled), "{run2}");
    assert_eq!(run2["replayed_delivered"].as_u64(), Some(spooled - 2));
    assert_eq!(run2["replayed_failed"], 2);
    assert_eq!(run2["unconfirmed_replayed"], 0, "run 1 stopped cleanly");
    // Every row was handled by run 1 (skipped now) or read now, once.
    assert_eq!(
        run2["skipped"].as_u64().unwrap() + run2["rows"].as_u64().unwrap(),
        ROWS as u64,
        "{run2}"
    );
    assert_eq!(run2["skipped"].as_u64(), Some(read), "{run2}");
    assert_eq!(run2["skipped_delivered"], run1["delivered"], "{run2}");
    assert_eq!(
        run2["skipped_rejected"].as_u64(),
        Some(read / 100),
        "every 100th row is invalid"
    );

    let seen = events_per_user(&emu);
    let rejects = rejects(&dir.path().join("rows.ndjson.rejects.ndjson"));
    // Invalid rows: each listed once over both runs, with its line.
    let invalid: Vec<u64> = rejects
        .iter()
        .filter(|l| l["kind"] == "invalid")
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..ROWS as u64)
        .filter(|i| i % 100 == 99)
        .map(|i| i + 1)
        .collect();
    assert_eq!(invalid, expected);
    // The two dead letters of replayed rows: their lines, from the tags stored in the spool.
    let dead: BTreeSet<u64> = rejects
        .iter()
        .filter(|l| l["kind"] == "dead_letter")
        .map(|l| {
            l["line"]
                .as_u64()
                .expect("a replayed dead letter has its line")
        })
        .collect();
    let missing: BTreeSet<u64> = (0..ROWS as u64)
        .filter(|i| i % 100 != 99 && !seen.contains_key(&format!("user-{i}")))
        .map(|i| i + 1)
        .collect();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead, missing, "every other row arrived");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let ambiguous = run1["ambiguous"].as_u64().unwrap() + run2["ambiguous"].as_u64().unwrap();
    assert!(
        duplicates as u64 <= ambiguous,
        "{duplicates} duplicates, {ambiguous} ambiguous"
    );
    // Dead letters keep the spool (with its checkpoint); the journal of attempts is gone.
    let spool = dir.path().join("rows.ndjson.gamooga-spool");
    assert_eq!(run2["spool"], spool.display().to_string());
    assert!(!dir
        .path()
        .join("rows.ndjson.gamooga-spool-attempts")
        .exists());

    // Run again: nothing left to read, nothing sent again.
    let calls = emu.calls().len();
    let mut third = spawnable(&emu);
    args(&mut third);
    let output = third.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let run3 = &json_lines(&output)[0];
    assert_eq!(run3["rows"], 0, "{run3}");
    assert_eq!(run3["skipped"].as_u64(), Some(ROWS as u64), "{run3}");
    assert_eq!(emu.calls().len(), calls);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_at_overrides_the_checkpoint_and_start_over_forgets_it() {
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    let text = ndjson_rows(10);
    write(&file, &text);
    // --start-at the 8th row (line 8): rows 7, 8, 9 only.
    let offset = text.match_indices('\n').nth(6).unwrap().0 + 1;
    let output = gamooga(&emu)
        .args(["--json", "import"])
        .arg(&file)
        .args(["--event", "e", "--start-at", &format!("{offset}:8")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let mut users: Vec<String> = events_per_user(&emu).into_keys().collect();
    users.sort();
    assert_eq!(users, ["user-7", "user-8", "user-9"]);

    // A checkpoint of another file of this name (its start differs) is not applied.
    emu.go_down().await;
    let child = Reaped::new(
        spawnable(&emu)
            .args(["--json", "import"])
            .arg(&file)
            .args(["--event", "e", "--shutdown-timeout", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let spool = dir.path().join("rows.ndjson.gamooga-spool");
    // Wait until the 10 rows are accepted (the emulator is down: they stay pending).
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(out) = gamooga(&emu)
            .args(["--json", "spool", "stats"])
            .arg(&spool)
            .output()
        {
            if out.status.success() && json_lines(&out)[0]["pending"] == 10 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal("-INT", child.id());
    let child = child.take();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    write(&file, &text.replace("user-0\"", "user-zero\""));
    emu.come_up().await.unwrap();
    let output = gamooga(&emu)
        .arg("import")
        .arg(&file)
        .args(["--event", "e"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--start-over"),
        "{}",
        stderr(&output)
    );

    // --start-over: the 10 pending rows of the old file first, then the whole new file.
    emu.reset();
    let output = gamooga(&emu)
        .args(["--json", "import"])
        .arg(&file)
        .args(["--event", "e", "--start-over"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let run = &json_lines(&output)[0];
    assert_eq!(
        (run["replayed"].as_u64(), run["rows"].as_u64()),
        (Some(10), Some(10))
    );
    let seen = events_per_user(&emu);
    assert_eq!(seen.get("user-zero"), Some(&1));
    assert_eq!(seen.get("user-0"), Some(&1), "the old file's pending row");
    assert_eq!(seen.get("user-5"), Some(&2), "in both files");
    assert!(!spool.exists(), "done and empty: the spool is removed");
}
