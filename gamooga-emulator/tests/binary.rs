//! The `gamooga-emulator` binary: help, printed lines and the JSON lines file.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_gamooga-emulator");
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn help_explains_every_option() {
    let output = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "--port",
        "--company",
        "--seed",
        "--max-recorded",
        "--json",
        "--quiet",
        "--plan",
        "--inspector-port",
        "| summary |",
        "/newnaconf/",
        "/evwidj/",
        "/_emulator/calls",
        "/_emulator/reset",
        "-> 200",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[tokio::test]
async fn bad_arguments_fail_with_a_message() {
    let output = Command::new(BIN)
        .args(["--port", "many"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--port"));
}

/// Starts the binary on a free port and returns it with its backend address.
async fn spawn(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, stderr.next_line())
        .await
        .expect("the binary says where it listens")
        .unwrap()
        .expect("a line on stderr");
    let backend = line
        .rsplit("backend ")
        .next()
        .and_then(|rest| rest.split(',').next())
        .expect("backend in the first line")
        .to_owned();
    // Keep reading stderr, as a terminal would.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, backend)
}

#[tokio::test]
async fn prints_one_line_per_call_and_writes_json_lines() {
    let json_path = std::env::temp_dir().join(format!("gamooga-emu-{}.jsonl", std::process::id()));
    let (mut child, backend) = spawn(&["--json", json_path.to_str().unwrap()]).await;
    let http = reqwest::Client::new();
    let ok = http
        .get(format!(
            "http://{backend}/evwid/?c=acme&u=user-42&e=purchase&ky=amount&vl=12.5&tp=n\
             &ky=sku&vl=A%26B&tp=s"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = http
        .get(format!("http://{backend}/evwid/?c=acme&u=user-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for _ in 0..2 {
        let line = tokio::time::timeout(WAIT, stdout.next_line())
            .await
            .unwrap()
            .unwrap();
        lines.push(line.expect("a printed line"));
    }
    assert_eq!(
        lines[0],
        r#"evwid  acme  u=user-42  purchase  amount=12.5 (n)  sku="A&B" (s)  -> 200"#
    );
    assert_eq!(
        lines[1],
        "evwid  acme  u=user-42  -> 400 missing parameter 'e'"
    );

    // The JSON lines file holds the same calls (flushed after each batch).
    let mut records = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&json_path).unwrap_or_default();
        records = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect();
        if records.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["event_properties"][1]["value"], "A&B");
    assert_eq!(records[1]["rejection"], "missing parameter 'e'");
    child.kill().await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&json_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the JSON lines hold user ids: owner only");
    }
    let _ = std::fs::remove_file(&json_path);
}

/// What a client sends is printed with its control characters escaped: a user id with a
/// newline (or an escape sequence in an event name) cannot split a call over two lines or
/// drive the terminal, so the next call's line is still the next line.
#[tokio::test]
async fn control_characters_in_a_call_stay_on_its_line() {
    let (mut child, backend) = spawn(&[]).await;
    let http = reqwest::Client::new();
    for query in [
        "c=acme&u=user%0A42&e=buy%1B%5B2J&ky=note&vl=a%0Db&tp=s",
        "c=acme&u=user-7&e=purchase",
    ] {
        http.get(format!("http://{backend}/evwid/?{query}"))
            .send()
            .await
            .unwrap();
    }
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for _ in 0..2 {
        let line = tokio::time::timeout(WAIT, stdout.next_line())
            .await
            .unwrap()
            .unwrap();
        lines.push(line.expect("a printed line"));
    }
    assert!(
        lines[0].starts_with(r#"evwid  acme  u=user\n42  buy\u{1b}[2J  note="a\rb" (s)  -> "#),
        "{:?}",
        lines[0]
    );
    assert!(!lines[0].chars().any(char::is_control), "{:?}", lines[0]);
    assert_eq!(lines[1], "evwid  acme  u=user-7  purchase  -> 200");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn checks_calls_against_a_plan_file_and_prints_the_inspector_address() {
    let plan = std::env::temp_dir().join(format!("gamooga-emu-plan-{}.json", std::process::id()));
    std::fs::write(
        &plan,
        r#"{"events": [{"name": "purchase", "properties": [
              {"name": "amount", "datatype": "n", "optional": false}]}],
            "visitor_properties": []}"#,
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--plan", plan.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(WAIT, stderr.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("a line on stderr")
    };
    let first = next().await;
    let backend = first.rsplit("backend ").next().unwrap().to_owned();
    let second = next().await;
    let inspector = second
        .split_whitespace()
        .last()
        .expect("the inspector's address")
        .to_owned();
    assert!(inspector.starts_with("http://127.0.0.1:") && inspector.ends_with("/_emulator/"));
    let http = reqwest::Client::new();
    let page = http.get(&inspector).send().await.unwrap();
    assert_eq!(page.status(), 200);
    http.get(format!(
        "http://{backend}/evwid/?c=acme&u=u1&e=purchase&ky=amount&vl=1&tp=s"
    ))
    .send()
    .await
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        line.ends_with("-> 200 (plan: property 'amount' is sent as s, planned as n)"),
        "{line}"
    );
    let summary = http
        .get(format!("{inspector}summary"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["plan_violations"], 1);
    child.kill().await.unwrap();
    let _ = std::fs::remove_file(&plan);
}

#[tokio::test]
async fn a_bad_plan_file_fails_with_the_reason() {
    let output = Command::new(BIN)
        .args(["--port", "0", "--plan", "/nonexistent/plan.json"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the tracking plan /nonexistent/plan.json"),
        "{stderr}"
    );
}
