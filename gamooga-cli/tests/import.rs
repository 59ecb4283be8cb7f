//! `gamooga import` and `gamooga spool` against an emulator: delivery, the rejects file,
//! bad files, dead letters, `--rate`, standard input, Ctrl-C and going on with `--start-at`.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{events_per_user, gamooga, json_lines, rejects, spawnable, stderr, stdout};
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
    // Each row is stamped when it is read, at most two rows ahead of its send time.
    let spread = tms.iter().max().unwrap() - tms.iter().min().unwrap();
    assert!(spread >= 700, "rows stamped within {spread} ms");
}

/// The `--start-at BYTE:LINE` an interrupted import printed.
fn printed_start_at(err: &str) -> String {
    let at = err
        .split("--start-at ")
        .nth(1)
        .unwrap_or_else(|| panic!("no --start-at in {err}"));
    at.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_keeps_accepted_rows_spooled_and_start_at_goes_on_without_loss() {
    const ROWS: usize = 3000;
    let emu = Emulator::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.ndjson");
    write(&file, &ndjson_rows(ROWS));
    let child = spawnable(&emu)
        .args(["--json", "import"])
        .arg(&file)
        .args([
            "--event",
            "order",
            "--rate",
            "1000",
            "--shutdown-timeout",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        emu.wait_for(|calls| calls.len() > 300, Duration::from_secs(60))
            .await,
        "the import did not start"
    );
    // Gamooga goes away: rows keep being accepted into the spool, none is delivered.
    emu.go_down().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let first = json_lines(&output).remove(0);
    assert_eq!(first["interrupted"], true);
    let spooled = first["still_spooled"].as_u64().unwrap();
    assert!(spooled > 0, "{first}");
    let start_at = printed_start_at(&stderr(&output));
    assert_eq!(first["resume_at"], start_at.as_str());
    let read = first["rows"].as_u64().unwrap();
    assert!((read as usize) < ROWS, "{first}");
    emu.come_up().await.unwrap();

    // Running it again without --start-at would send rows twice: refused, with the way out.
    let output = gamooga(&emu)
        .arg("import")
        .arg(&file)
        .args(["--event", "order"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--start-at") && err.contains("spool replay") && err.contains("--start-over"),
        "{err}"
    );

    let output = gamooga(&emu)
        .args(["--json", "import"])
        .arg(&file)
        .args(["--event", "order", "--start-at", &start_at])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let second = &json_lines(&output)[0];
    assert_eq!(second["replayed"].as_u64(), Some(spooled));
    assert_eq!(second["replayed_delivered"].as_u64(), Some(spooled));
    assert_eq!(
        second["rows"].as_u64().unwrap() + read,
        ROWS as u64,
        "{second}"
    );
    assert_eq!(second["spool"], Value::Null);

    // Every row arrived; duplicates no more than the attempts whose outcome was unknown.
    let seen: HashMap<String, usize> = events_per_user(&emu);
    let missing: Vec<usize> = (0..ROWS)
        .filter(|i| !seen.contains_key(&format!("user-{i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} rows missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let ambiguous = first["ambiguous"].as_u64().unwrap() + second["ambiguous"].as_u64().unwrap();
    assert!(
        duplicates as u64 <= ambiguous,
        "{duplicates} duplicates, {ambiguous} ambiguous"
    );
    assert!(!dir.path().join("rows.ndjson.gamooga-spool").exists());
}
