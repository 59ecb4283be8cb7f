//! The inspector's JSON API (what the page and CI use), over real HTTP.

use std::time::Duration;

use gamooga::prelude::*;
use gamooga_emulator::{Emulator, Plan, PlanViolation, RateLimit};
use serde_json::{json, Value};

use crate::support::{client, get, send, WAIT};

async fn inspect(emu: &Emulator, path: &str) -> (u16, Value) {
    let (status, body) = send(client().get(format!("{}{path}", emu.inspector_url()))).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

async fn post(emu: &Emulator, path: &str, body: Value) -> (u16, Value) {
    let (status, body) = send(
        client()
            .post(format!("{}{path}", emu.inspector_url()))
            .body(body.to_string()),
    )
    .await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
#[allow(dead_code)] // Only its schema is used.
struct Purchase {
    sku: String,
    amount: f64,
    coupon: Option<String>,
}

#[derive(VisitorProps)]
#[allow(dead_code)]
struct Profile {
    city: String,
    vip: bool,
}

fn sdk_plan() -> Plan {
    let exported = TrackingPlan::new()
        .event::<Purchase>()
        .visitor::<Profile>()
        .to_json();
    Plan::from_json(&exported).expect("the SDK's export loads")
}

#[tokio::test]
async fn the_plan_the_sdk_exports_checks_every_call() {
    let emu = Emulator::builder().plan(sdk_plan()).start().await.unwrap();
    get(
        &emu,
        "/evwid/?c=acme&u=a&e=purchase&ky=sku&vl=A&tp=s&ky=amount&vl=1&tp=n",
    )
    .await;
    get(
        &emu,
        "/evwid/?c=acme&u=a&e=purchase&ky=sku&vl=A&tp=s&ky=coupon&vl=1&tp=n",
    )
    .await;
    get(
        &emu,
        "/evvprwid/?e=refund&c=acme&u=a&vky=city&vvl=x&vtp=s&vky=age&vvl=3&vtp=n",
    )
    .await;
    get(&emu, "/vpr/?c=acme&v=v1&p=vip&vl=yes&tp=s").await;
    // Rejected calls are not checked against the plan.
    get(&emu, "/evwid/?c=acme&u=a&e=nope&ky=x&vl=y&tp=n").await;
    let calls = emu.calls();
    assert_eq!(calls[0].plan_violations, []);
    assert_eq!(
        calls[1].plan_violations,
        [
            PlanViolation::WrongDatatype {
                property: "coupon".into(),
                visitor: false,
                planned: "s".into(),
                sent: 'n'
            },
            PlanViolation::MissingProperty {
                property: "amount".into()
            }
        ]
    );
    assert_eq!(
        calls[2].plan_violations,
        [
            PlanViolation::UnplannedEvent {
                event: "refund".into()
            },
            PlanViolation::UnplannedProperty {
                property: "age".into(),
                visitor: true
            }
        ]
    );
    assert_eq!(calls[3].plan_violations.len(), 1, "vip is planned as b");
    assert_eq!(calls[4].plan_violations, []);
    assert_eq!(emu.plan_violations().len(), 3);
    assert!(calls[1]
        .to_string()
        .contains("(plan: property 'amount' is planned"));
}

#[tokio::test]
async fn summary_counts_per_event_by_outcome() {
    let emu = Emulator::builder().plan(sdk_plan()).start().await.unwrap();
    get(
        &emu,
        "/evwid/?c=acme&u=a&e=purchase&ky=sku&vl=A&tp=s&ky=amount&vl=1&tp=n",
    )
    .await;
    get(&emu, "/evwid/?c=acme&u=a&e=purchase").await;
    get(&emu, "/evwid/?c=acme&u=a&e=purchase&tm=12").await;
    emu.fail_next(1, 503);
    get(&emu, "/evwid/?c=acme&u=a&e=login").await;
    let (status, summary) = inspect(&emu, "summary").await;
    assert_eq!(status, 200);
    assert_eq!(
        summary,
        json!({
            "total_calls": 4, "accepted": 2, "rejected": 1, "faulted": 1,
            "plan_violations": 2, "plan_loaded": true,
            "endpoints": {"evwid": 4},
            "events": [
                {"event": "login", "calls": 1, "accepted": 0, "rejected": 0, "faulted": 1,
                 "plan_violations": 1},
                {"event": "purchase", "calls": 3, "accepted": 2, "rejected": 1, "faulted": 0,
                 "plan_violations": 1}
            ]
        })
    );
    assert_eq!(serde_json::to_value(emu.summary()).unwrap(), summary);
}

#[tokio::test]
async fn calls_take_the_pages_filters() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evwid/?c=acme&u=alice&e=buy").await;
    get(&emu, "/evwid/?c=acme&u=bob&e=buy&ky=a&vl=x&tp=n").await;
    get(&emu, "/evwid/?c=other&u=bob&e=view").await;
    get(&emu, "/ev/?c=acme&v=visitor1&e=buy").await;
    let seqs = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["seq"].as_u64().unwrap())
            .collect()
    };
    for (query, expected) in [
        ("calls?event=buy", vec![1, 2, 4]),
        ("calls?event=buy&status=rejected", vec![2]),
        ("calls?company=other", vec![3]),
        ("calls?id=bob", vec![2, 3]),
        ("calls?id=visitor1&endpoint=ev", vec![4]),
        ("calls?q=VIEW", vec![3]),
        ("calls?status=accepted&limit=2", vec![3, 4]),
        ("events?company=acme", vec![1, 4]),
        ("rejected?id=bob", vec![2]),
    ] {
        let (status, calls) = inspect(&emu, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(seqs(&calls), expected, "{query}");
    }
    let (status, error) = inspect(&emu, "calls?evnt=buy").await;
    assert_eq!(status, 400);
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("unknown filter 'evnt'"));
}

#[tokio::test]
async fn a_call_in_detail_has_headers_the_offending_range_and_the_visitor_after_it() {
    let emu = Emulator::start().await.unwrap();
    send(
        client()
            .get(format!(
                "http://{}/evvprwid/?e=x&c=acme&u=a&vky=tier&vvl=gold&vtp=s",
                emu.backend()
            ))
            .header("user-agent", "gamooga-rust/test"),
    )
    .await;
    get(
        &emu,
        "/evvprwid/?e=x&c=acme&u=a&vky=tier&vvl=platinum&vtp=s",
    )
    .await;
    get(&emu, "/evwid/?c=acme&u=a&e=buy&ky=n&vl=1&tp=q").await;
    let (_, first) = inspect(&emu, "calls/1").await;
    let headers = first["call"]["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["user-agent", "gamooga-rust/test"])),
        "{headers:?}"
    );
    assert_eq!(
        first["visitor_properties_after"],
        json!([{"name": "tier", "value": "gold", "datatype": "s"}])
    );
    let (_, second) = inspect(&emu, "calls/2").await;
    assert_eq!(second["visitor_properties_after"][0]["value"], "platinum");
    let (_, third) = inspect(&emu, "calls/3").await;
    let raw = third["call"]["raw_query"].as_str().unwrap();
    let range = &third["call"]["offending_range"];
    let (start, end) = (
        range["start"].as_u64().unwrap() as usize,
        range["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&raw[start..end], "tp=q");
    let (status, _) = inspect(&emu, "calls/99").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_schema_shows_datatypes_seen_and_drift() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evwid/?c=acme&u=a&e=buy&ky=amount&vl=1&tp=n").await;
    get(
        &emu,
        "/evwid/?c=acme&u=a&e=buy&ky=amount&vl=one&tp=s&ky=sku&vl=A&tp=s",
    )
    .await;
    let (_, schema) = inspect(&emu, "schema").await;
    let buy = &schema["events"][0];
    assert_eq!(buy["event"], "buy");
    assert_eq!(buy["calls"], 2);
    assert_eq!(buy["planned"], Value::Null);
    assert_eq!(buy["properties"][0]["datatypes"], "sn");
    assert_eq!(buy["properties"][0]["drift"], true);
    assert_eq!(buy["properties"][1]["drift"], false);
    assert!(buy["first_seen_ms"].as_u64().unwrap() <= buy["last_seen_ms"].as_u64().unwrap());
}

#[tokio::test]
async fn the_plan_is_loaded_read_and_removed_over_http() {
    let emu = Emulator::start().await.unwrap();
    let (_, none) = inspect(&emu, "plan").await;
    assert_eq!(none, Value::Null);
    let exported = TrackingPlan::new().event::<Purchase>().to_json();
    let (status, loaded) = send(
        client()
            .post(format!("{}plan", emu.inspector_url()))
            .body(exported.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let loaded: Value = serde_json::from_str(&loaded).unwrap();
    assert_eq!(loaded["events"][0]["name"], "purchase");
    get(&emu, "/evwid/?c=acme&u=a&e=other").await;
    assert_eq!(emu.plan_violations().len(), 1);

    let (status, refused) = post(
        &emu,
        "plan",
        json!({"events": [{"name": "e",
        "properties": [{"name": "a", "datatype": "x"}]}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(refused["error"].as_str().unwrap().contains("datatype 'x'"));

    let (status, _) = send(client().delete(format!("{}plan", emu.inspector_url()))).await;
    assert_eq!(status, 200);
    get(&emu, "/evwid/?c=acme&u=a&e=other").await;
    assert_eq!(emu.plan_violations().len(), 1, "no plan, no new violation");
}

#[tokio::test]
async fn faults_are_set_and_shown_over_http() {
    let emu = Emulator::start().await.unwrap();
    let (status, state) = post(
        &emu,
        "faults",
        json!({"fail_next": {"n": 1, "status": 503, "retry_after": 2}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        state["fail_next"],
        json!({"remaining": 1, "status": 503, "retry_after": 2})
    );
    let (status, _) = get(&emu, "/evwid/?c=acme&u=a&e=x").await;
    assert_eq!(status, 503);
    let (_, state) = inspect(&emu, "faults").await;
    assert_eq!(state["fail_next"], Value::Null);

    post(
        &emu,
        "faults",
        json!({"rate_limit": {"per_second": 1, "burst": 1}}),
    )
    .await;
    assert_eq!(
        emu.faults().rate_limit,
        Some(RateLimit::per_second(1.0).burst(1))
    );
    post(&emu, "faults", json!({"drop_rate": {"rate": 0.5}})).await;
    assert_eq!(emu.faults().drop_rate, Some(0.5));
    post(&emu, "faults", json!("clear")).await;
    assert!(!emu.faults().is_active());

    let (status, refused) = post(&emu, "faults", json!({"explode": {}})).await;
    assert_eq!(status, 400);
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("not a fault command"));

    // Going down from the inspector refuses the API's connections; its own port stays up.
    let (_, state) = post(&emu, "faults", json!("go_down")).await;
    assert_eq!(state["up"], false);
    assert!(client()
        .get(format!("http://{}/evwid/?c=acme&u=a&e=x", emu.backend()))
        .send()
        .await
        .is_err());
    let (_, state) = post(&emu, "faults", json!("come_up")).await;
    assert_eq!(state["up"], true);
    assert_eq!(get(&emu, "/evwid/?c=acme&u=a&e=x").await.0, 200);
}

#[tokio::test]
async fn the_composer_goes_through_validation_and_faults() {
    let emu = Emulator::builder()
        .companies(["acme"])
        .start()
        .await
        .unwrap();
    let (_, ok) = post(
        &emu,
        "compose",
        json!({"path": "/evwidj/", "query": "c=acme&u=a&e=buy", "body": "{\"n\": 1}"}),
    )
    .await;
    assert_eq!(ok["status"], 200);
    assert_eq!(emu.events()[0].event_property("n").unwrap().datatype, 'n');
    let (_, refused) = post(
        &emu,
        "compose",
        json!({"path": "/evwid/", "query": "c=acme2&u=a&e=buy"}),
    )
    .await;
    assert_eq!(refused["status"], 404);
    assert!(refused["body"]
        .as_str()
        .unwrap()
        .contains("unknown company 'acme2'"));
    emu.fail_next_with_retry_after(1, 429, 3);
    let (_, limited) = post(
        &emu,
        "compose",
        json!({"path": "evwid/", "query": "c=acme&u=a&e=buy"}),
    )
    .await;
    assert_eq!(limited["status"], 429);
    assert_eq!(limited["retry_after"], "3");
    assert_eq!(emu.total_calls(), 3);
}

#[tokio::test]
async fn both_ports_serve_the_inspector_and_the_page_is_embedded() {
    let emu = Emulator::start().await.unwrap();
    let (status, page) = send(client().get(emu.inspector_url())).await;
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"app.js\"></script>"));
    // No network beyond this server: every asset the page loads is relative.
    for asset in ["app.js", "style.css"] {
        let (status, body) = send(client().get(format!("{}{asset}", emu.inspector_url()))).await;
        assert_eq!(status, 200, "{asset}");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{asset}"
        );
    }
    assert!(!page.contains("http://") && !page.contains("https://"));
    let (status, _) = send(client().get(format!("{}/_emulator/summary", emu.config_url()))).await;
    assert_eq!(status, 200, "the API's port serves the JSON API too");
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = no_redirect
        .get(format!("http://{}/", emu.inspector_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), 302);
    assert_eq!(root.headers()["location"], "/_emulator/");
    assert_eq!(emu.total_calls(), 0, "inspector requests are not recorded");
}

/// Reads server-sent events until `done` holds for one message's JSON.
async fn read_until(
    response: &mut reqwest::Response,
    buffer: &mut String,
    done: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some(data) = event.strip_prefix("data: ") {
                    let message: Value = serde_json::from_str(data.trim()).unwrap();
                    if done(&message) {
                        return message;
                    }
                }
            }
            let chunk = response
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("the message came")
}

#[tokio::test]
async fn the_stream_sends_new_calls_in_batches_with_the_fault_state() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evwid/?c=acme&u=a&e=before").await;
    let mut stream = client()
        .get(format!("{}stream?status=accepted", emu.inspector_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let first = read_until(&mut stream, &mut buffer, |_| true).await;
    assert_eq!(first["replace"], true);
    assert_eq!(first["rows"][0]["event"], "before");

    for i in 0..5 {
        get(&emu, &format!("/evwid/?c=acme&u=a&e=live{i}")).await;
    }
    get(&emu, "/evwid/?c=acme&u=a").await; // rejected: filtered out
    emu.fail_next(2, 503);
    let last = read_until(&mut stream, &mut buffer, |m| {
        m["rows"]
            .as_array()
            .unwrap()
            .iter()
            .for_each(|r| assert_eq!(r["status"], 200, "only accepted calls"));
        m["faults"]["fail_next"]["remaining"] == 2 && m["total"] == 7
    })
    .await;
    assert_eq!(last["replace"], false);
    assert_eq!(last["rejected"], 1);
    assert_eq!(last["accepted"], 6);
}

#[tokio::test]
async fn rate_limit_and_latency_over_http() {
    let emu = Emulator::start().await.unwrap();
    emu.set_rate_limit(Some(RateLimit::per_second(0.5).burst(2)));
    let url = format!("http://{}/evwid/?c=acme&u=a&e=x", emu.backend());
    let http = client();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let r = http.get(&url).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if let Some(v) = r.headers().get("retry-after") {
            retry_after = Some(v.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    // 0.5 calls a second: the next token is 2 s away at most (rounded up, at least 1).
    assert!(matches!(retry_after, Some(1..=2)), "{retry_after:?}");
    let limited = emu.calls().pop().unwrap();
    assert!(limited
        .fault
        .unwrap()
        .starts_with("rate limit 429 retry-after"));
    emu.set_rate_limit(None);

    emu.set_latency(Some(Duration::from_millis(150)));
    let started = std::time::Instant::now();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(emu.faults().latency_ms, Some(150));
    assert_eq!(
        emu.calls().pop().unwrap().fault,
        None,
        "latency is not a fault of the call"
    );
}

#[tokio::test]
async fn wait_for_follows_resets() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evwid/?c=acme&u=a&e=one").await;
    emu.reset();
    get(&emu, "/evwid/?c=acme&u=a&e=two").await;
    assert!(
        emu.wait_for(
            |calls| calls.len() == 1 && calls[0].event.as_deref() == Some("two"),
            Duration::from_millis(500)
        )
        .await
    );
}
