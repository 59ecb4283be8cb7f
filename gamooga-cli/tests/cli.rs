//! The binary against an emulator: send, identify, resolve, configuration, bad flags and the
//! emulator subcommand.

mod common;

use std::io::BufRead;
use std::time::Duration;

use common::{bare, gamooga, json_lines, query_pairs, signal, stderr, stdout, Reaped};
use gamooga_emulator::{Emulator, RecordedProperty};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The properties every send test uses: inference, explicit types, `=` and `:` in values.
const PROPS: [&str; 7] = [
    "amount=12.5",
    "q=a=b",
    "at=12:30",
    "code=007",
    "zip=12:s",
    "vip=true",
    "note=1:n:s",
];

fn with_props(args: &mut Vec<&str>) {
    for p in PROPS {
        args.push("-p");
        args.push(p);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn send_dry_run_prints_the_exact_request_and_sends_nothing() {
    let emu = Emulator::start().await.unwrap();
    let mut args = vec![
        "--json",
        "send",
        "purchase",
        "--user",
        "user 42",
        "--dry-run",
    ];
    with_props(&mut args);
    args.extend(["--at", "2025-11-26T09:40:00Z"]);
    let output = gamooga(&emu).args(&args).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["dry_run"], true);
    assert_eq!(line["endpoint"], "evwid");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["body"], serde_json::Value::Null);
    let url = line["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/evwid/?", emu.backend())),
        "{url}"
    );
    assert_eq!(
        query_pairs(url),
        pairs(&[
            ("c", "acme"),
            ("u", "user 42"),
            ("e", "purchase"),
            ("ky", "amount"),
            ("vl", "12.5"),
            ("tp", "n"),
            ("ky", "q"),
            ("vl", "a=b"),
            ("tp", "s"),
            ("ky", "at"),
            ("vl", "12:30"),
            ("tp", "s"),
            ("ky", "code"),
            ("vl", "007"),
            ("tp", "s"),
            ("ky", "zip"),
            ("vl", "12"),
            ("tp", "s"),
            ("ky", "vip"),
            ("vl", "true"),
            ("tp", "b"),
            ("ky", "note"),
            ("vl", "1:n"),
            ("tp", "s"),
            ("tm", "1764150000000"),
        ])
    );
    // The company information was fetched to name the backend; no event was sent.
    assert_eq!(emu.count("newnaconf"), 1);
    assert!(emu.events().is_empty(), "{:?}", emu.events());

    // The text form is the request line.
    let output = gamooga(&emu).args(&args[1..]).output().unwrap();
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(text.trim_end(), format!("GET {url}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn send_dry_run_of_evwidj_shows_the_json_body() {
    let emu = Emulator::start().await.unwrap();
    let output = gamooga(&emu)
        .args([
            "--json",
            "--evwid",
            "post",
            "send",
            "purchase",
            "-u",
            "u1",
            "--dry-run",
        ])
        .args([
            "-p",
            "amount=12.5",
            "-p",
            "sku=A&B",
            "-p",
            "gift=false",
            "--at",
            "1764150000000",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let line = &json_lines(&output)[0];
    assert_eq!(line["endpoint"], "evwidj");
    assert_eq!(line["method"], "POST");
    let url = line["url"].as_str().unwrap();
    assert_eq!(
        query_pairs(url),
        pairs(&[
            ("c", "acme"),
            ("u", "u1"),
            ("e", "purchase"),
            ("tm", "1764150000000")
        ])
    );
    let body: serde_json::Value = serde_json::from_str(line["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"amount": 12.5, "sku": "A&B", "gift": false})
    );
    assert!(emu.events().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn send_delivers_with_inferred_and_explicit_datatypes() {
    let emu = Emulator::start().await.unwrap();
    let mut args = vec!["--json", "send", "purchase", "-u", "user-42"];
    with_props(&mut args);
    args.extend(["--at", "1764150000123"]);
    let output = gamooga(&emu).args(&args).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let line = &json_lines(&output)[0];
    assert_eq!(line["endpoint"], "evwid");
    assert_eq!(line["status"], 200);
    let events = emu.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.user_id.as_deref(), Some("user-42"));
    assert_eq!(e.event.as_deref(), Some("purchase"));
    assert_eq!(e.tm, Some(1_764_150_000_123));
    assert_eq!(
        e.event_properties,
        [
            RecordedProperty::new("amount", "12.5", 'n'),
            RecordedProperty::new("q", "a=b", 's'),
            RecordedProperty::new("at", "12:30", 's'),
            RecordedProperty::new("code", "007", 's'),
            RecordedProperty::new("zip", "12", 's'),
            RecordedProperty::new("vip", "true", 'b'),
            RecordedProperty::new("note", "1:n", 's'),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn send_chooses_the_endpoint_as_the_library_does() {
    let emu = Emulator::start().await.unwrap();
    let vid = "0123456789abcdef";
    let run = |args: &[&str]| {
        let output = gamooga(&emu).arg("--json").args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        json_lines(&output)
            .iter()
            .map(|l| l["endpoint"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run(&["send", "signup", "-u", "u1", "--visitor-prop", "city=Tokyo"]),
        ["evvprwid"]
    );
    assert_eq!(
        run(&["send", "view", "--visitor", vid, "-p", "page=2"]),
        ["ev"]
    );
    assert_eq!(
        run(&[
            "send",
            "view",
            "--visitor",
            vid,
            "--visitor-prop",
            "vip=true"
        ]),
        ["ev", "vpr"]
    );
    assert_eq!(
        run(&["send", "--visitor", vid, "--visitor-prop", "city=Osaka"]),
        ["vpr"]
    );
    let long = format!("text={}", "x".repeat(3000));
    assert_eq!(
        run(&["send", "review", "-u", "u1", "-p", &long]),
        ["evwidj"]
    );

    let calls: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.endpoint != "newnaconf")
        .collect();
    let endpoints: Vec<&str> = calls.iter().map(|c| c.endpoint.as_str()).collect();
    assert_eq!(endpoints, ["evvprwid", "ev", "ev", "vpr", "vpr", "evwidj"]);
    assert!(calls.iter().all(|c| c.is_accepted()), "{calls:?}");
    assert_eq!(
        calls[0].visitor_property("city"),
        Some(&RecordedProperty::new("city", "Tokyo", 's'))
    );
    assert_eq!(
        calls[4].visitor_property("city"),
        Some(&RecordedProperty::new("city", "Osaka", 's'))
    );
    assert_eq!(
        calls[5].event_property("text").map(|p| p.value.len()),
        Some(3000)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_are_usage_errors_and_send_nothing() {
    let emu = Emulator::start().await.unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["send", "e", "-u", "u1", "--visitor", "v1"],
            "cannot be used with",
        ),
        (&["send", "e", "-u", "u1", "-p", "novalue"], "NAME=VALUE"),
        (
            &["send", "e", "-u", "u1", "-p", "vip=yes:b"],
            "not true or false",
        ),
        (&["send", "e", "-u", "u1", "-p", "n=abc:n"], "not a number"),
        (&["send", "e", "-u", "u1", "--at", "1764150000"], "seconds"),
        (&["send", "e", "-u", "u1", "--at", "yesterday"], "RFC 3339"),
        (&["send", "e"], "--user"),
        (&["send", "-u", "u1", "--visitor-prop", "a=1"], "--visitor"),
        (
            &["send", "e", "-u", "u1", "--no-such-flag"],
            "unexpected argument",
        ),
        (&["send", "e", "-u", ""], "user id is empty"),
        (&["import"], "required"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, expected) in cases {
        let output = gamooga(&emu).args(*args).output().unwrap();
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
    assert!(emu.events().is_empty(), "{:?}", emu.events());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_configuration_is_named_with_how_to_set_it() {
    let output = bare().args(["send", "e", "-u", "u1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--company") && err.contains("GAMOOGA_COMPANY_ID"),
        "{err}"
    );

    for args in [
        &["identify", "u1"][..],
        &["resolve"],
        &["import", "x.csv", "--event", "e"],
    ] {
        let output = bare().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains("GAMOOGA_COMPANY_ID"), "{args:?}");
    }

    // A config URL that is not one is a usage error too, naming the problem.
    let output = bare()
        .args([
            "--company",
            "acme",
            "--config-url",
            "ftp://example.com",
            "resolve",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("configuration"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_win_over_the_environment() {
    let emu = Emulator::start().await.unwrap();
    let output = gamooga(&emu)
        .env("GAMOOGA_CONFIG_URL", "http://127.0.0.1:9") // nothing listens there
        .args([
            "--json",
            "--config-url",
            &emu.config_url(),
            "--company",
            "shop",
        ])
        .args(["send", "ping", "-u", "u1"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(emu.events()[0].company.as_deref(), Some("shop"));
}

#[tokio::test(flavor = "multi_thread")]
async fn identify_looks_up_and_links() {
    let emu = Emulator::start().await.unwrap();
    let output = gamooga(&emu)
        .args(["identify", "user-42"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let vid = stdout(&output).trim().to_owned();
    assert_eq!(Some(vid.clone()), emu.visitor_of("user-42"));

    let output = gamooga(&emu)
        .args(["--json", "identify", "user-42"])
        .output()
        .unwrap();
    let line = &json_lines(&output)[0];
    assert_eq!(line["user_id"], "user-42");
    assert_eq!(line["visitor_id"], vid.as_str());
    assert_eq!(line["linked"], false);

    let output = gamooga(&emu)
        .args([
            "--json",
            "identify",
            "user-7",
            "--visitor",
            "0123456789abcdef",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(json_lines(&output)[0]["linked"], true);
    assert_eq!(
        emu.visitor_of("user-7").as_deref(),
        Some("0123456789abcdef")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_says_where_the_backend_came_from() {
    let emu = Emulator::start().await.unwrap();
    let output = gamooga(&emu).args(["--json", "resolve"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let line = &json_lines(&output)[0];
    assert_eq!(line["company"], "acme");
    assert_eq!(line["backend"], format!("http://{}", emu.backend()));
    assert_eq!(line["source"], "company_info");
    assert_eq!(line["origin"], "env");
    assert_eq!(line["company_origin"], "env");
    assert_eq!(
        line["company_info_url"],
        format!("{}/newnaconf/acme/", emu.config_url())
    );
    assert_eq!(line["company_info_status"], 200);
    assert!(line["elapsed_ms"].as_f64().unwrap() >= line["company_info_ms"].as_f64().unwrap());
    assert_eq!(emu.count("newnaconf"), 1);

    // A company given as the argument; text for people.
    let output = gamooga(&emu)
        .args(["resolve", "other-co"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(
        text.contains("other-co") && text.contains("/newnaconf/other-co/"),
        "{text}"
    );
    assert_eq!(emu.count("newnaconf"), 2);

    // A fixed backend: nothing is fetched.
    let output = gamooga(&emu)
        .env("GAMOOGA_BACKEND", emu.backend())
        .args(["--json", "resolve"])
        .output()
        .unwrap();
    let line = &json_lines(&output)[0];
    assert_eq!(line["source"], "fixed");
    assert_eq!(line["origin"], "env");
    assert_eq!(line["company_info_url"], serde_json::Value::Null);
    assert_eq!(emu.count("newnaconf"), 2);

    // A company information answer without a backend is a failure, named.
    emu.set_newnaconf_body(Some("<html>maintenance</html>".into()));
    let output = gamooga(&emu).args(["resolve"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("newnaconf"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_subcommand_serves_checks_a_plan_and_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let calls_file = dir.path().join("calls.ndjson");
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"{"events": [{"name": "ping", "properties": [
              {"name": "n", "datatype": "n", "optional": false}]}],
            "visitor_properties": []}"#,
    )
    .unwrap();
    let mut child = Reaped::new(
        std::process::Command::new(env!("CARGO_BIN_EXE_gamooga"))
            .args(["emulator", "--port", "0", "--inspector-port", "0", "--json"])
            .arg(&calls_file)
            .arg("--plan")
            .arg(&plan)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // "gamooga emulator listening: config URL http://127.0.0.1:PORT, backend 127.0.0.1:PORT"
    let mut first = String::new();
    std::io::BufReader::new(child.child().stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let config_url = first
        .split("config URL ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no config URL in {first:?}"))
        .to_owned();

    // `n` is planned as a number and sent as text: a plan violation, still answered 200.
    let output = bare()
        .args(["--company", "acme", "--config-url", &config_url])
        .args(["send", "ping", "-u", "u1", "-p", "n=one"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // One line per call: newnaconf first, then the event.
    let line = std::io::BufReader::new(child.child().stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with("evwid"))
        .expect("a line for the event");
    assert!(
        line.contains("evwid") && line.contains("plan: property 'n' is sent as s, planned as n"),
        "{line}"
    );
    // The calls file is flushed after every call.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let recorded = loop {
        let text = std::fs::read_to_string(&calls_file).unwrap_or_default();
        if text.lines().count() >= 2 || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let calls: Vec<serde_json::Value> = recorded
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 2, "{recorded}");
    assert_eq!(calls[1]["endpoint"], "evwid");
    assert_eq!(calls[1]["user_id"], "u1");
    assert_eq!(calls[1]["status"], 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&calls_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the calls hold user ids: owner only");
    }

    signal("-TERM", child.id());
    let status = child.take().wait().unwrap();
    assert_eq!(status.code(), Some(0));

    // The output flag is not the emulator's; a plan that is not there is named.
    let output = bare()
        .args(["--json", "emulator", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--json FILE"),
        "{}",
        stderr(&output)
    );
    let output = bare()
        .args(["emulator", "--port", "0", "--inspector-port", "0", "--plan"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("missing.json"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_output_flag_goes_before_or_after_the_subcommand() {
    let emu = Emulator::start().await.unwrap();
    for args in [
        ["--json", "resolve"].as_slice(),
        ["resolve", "--json"].as_slice(),
    ] {
        let output = gamooga(&emu).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(json_lines(&output)[0]["company"], "acme", "{args:?}");
    }
}
