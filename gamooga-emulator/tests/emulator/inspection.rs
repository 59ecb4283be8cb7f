//! The inspection API, in Rust and as JSON over HTTP.

use std::time::Duration;

use gamooga_emulator::Emulator;

use crate::support::{client, get, send, WAIT};

#[tokio::test]
async fn calls_are_recorded_in_order_with_sequence_numbers() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/id/?c=acme&u=a").await;
    get(&emu, "/evwid/?c=acme&u=a&e=x").await;
    get(&emu, "/evwid/?c=acme&u=a").await;
    let calls = emu.calls();
    let seen: Vec<(u64, &str, u16)> = calls
        .iter()
        .map(|c| (c.seq, c.endpoint.as_str(), c.status))
        .collect();
    assert_eq!(
        seen,
        vec![(1, "id", 200), (2, "evwid", 200), (3, "evwid", 400)]
    );
    assert_eq!(emu.events().len(), 1);
    assert_eq!(emu.rejected().len(), 1);
    assert_eq!(emu.total_calls(), 3);
    assert_eq!(emu.counts().get("evwid"), Some(&2));
}

#[tokio::test]
async fn recording_is_bounded_but_counts_are_exact() {
    let emu = Emulator::builder().max_recorded(2).start().await.unwrap();
    for i in 0..5 {
        get(&emu, &format!("/evwid/?c=acme&u=u{i}&e=x")).await;
    }
    let kept: Vec<Option<String>> = emu.calls().into_iter().map(|c| c.user_id).collect();
    assert_eq!(kept, vec![Some("u3".to_owned()), Some("u4".to_owned())]);
    assert_eq!(emu.count("evwid"), 5);
    assert_eq!(emu.total_calls(), 5);
}

#[tokio::test]
async fn wait_for_sees_calls_made_elsewhere() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("http://{}/evwid/?c=acme&u=bg&e=late", emu.backend());
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client().get(url).send().await.map(|r| r.status().as_u16())
    });
    let arrived = emu
        .wait_for(
            |calls| calls.iter().any(|c| c.event.as_deref() == Some("late")),
            WAIT,
        )
        .await;
    assert!(arrived);
    assert_eq!(sender.await.unwrap().unwrap(), 200);
}

#[tokio::test]
async fn wait_for_gives_up_after_the_timeout() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evwid/?c=acme&u=a&e=x").await;
    assert!(
        !emu.wait_for(|calls| calls.len() >= 2, Duration::from_millis(100))
            .await
    );
    assert!(
        emu.wait_for(|calls| calls.len() == 1, Duration::from_millis(100))
            .await
    );
}

#[tokio::test]
async fn reset_clears_calls_counts_visitors_and_faults() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evvprwid/?e=x&c=acme&u=a&vky=k&vvl=v&vtp=s").await;
    let visitor = emu.visitor_of("a").unwrap();
    emu.fail_next(5, 503);
    emu.reset();
    assert!(emu.calls().is_empty());
    assert_eq!(emu.count("evvprwid"), 0);
    assert_eq!(emu.visitor_of("a"), None);
    assert!(emu.visitor_properties(&visitor).is_empty());
    assert_eq!(get(&emu, "/evwid/?c=acme&u=a&e=x").await.0, 200);
    assert_eq!(emu.calls()[0].seq, 1);
}

async fn inspect(emu: &Emulator, path: &str) -> serde_json::Value {
    let (status, body) = send(client().get(format!("{}/_emulator/{path}", emu.config_url()))).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn calls_as_json_over_http() {
    let emu = Emulator::start().await.unwrap();
    get(
        &emu,
        "/evwid/?c=acme&u=u1&e=buy&ky=sku&vl=A%26B&tp=s&tm=1700000000000",
    )
    .await;
    get(&emu, "/evwid/?c=acme&u=u1&e=buy&ky=n&vl=x&tp=n").await;
    let calls = inspect(&emu, "calls").await;
    assert_eq!(calls, serde_json::to_value(emu.calls()).unwrap());
    assert_eq!(calls[0]["event_properties"][0]["value"], "A&B");
    assert_eq!(calls[0]["event_properties"][0]["datatype"], "s");
    assert_eq!(calls[0]["tm"], 1_700_000_000_000u64);
    assert!(calls[1]["rejection"]
        .as_str()
        .unwrap()
        .contains("not a finite number"));
    assert_eq!(inspect(&emu, "events").await.as_array().unwrap().len(), 1);
    assert_eq!(inspect(&emu, "rejected").await.as_array().unwrap().len(), 1);
    assert_eq!(inspect(&emu, "counts").await["evwid"], 2);
    let visitor = emu.visitor_of("u1").unwrap();
    get(
        &emu,
        &format!("/vpr/?c=acme&v={visitor}&p=tier&vl=gold&tp=s"),
    )
    .await;
    let props = inspect(&emu, &format!("visitors/{visitor}")).await;
    assert_eq!(
        props,
        serde_json::json!([{"name": "tier", "value": "gold", "datatype": "s"}])
    );
    // Inspection is not recorded.
    assert_eq!(emu.calls().len(), 3);
}

#[tokio::test]
async fn reset_over_http() {
    let emu = Emulator::start().await.unwrap();
    get(&emu, "/evwid/?c=acme&u=u1&e=buy").await;
    let url = format!("{}/_emulator/reset", emu.config_url());
    let (status, _) = send(client().get(&url)).await;
    assert_eq!(status, 405, "reset needs POST");
    assert_eq!(emu.calls().len(), 1);
    let (status, body) = send(client().post(&url)).await;
    assert_eq!((status, body.as_str()), (200, r#"{"result":"success"}"#));
    assert!(emu.calls().is_empty());
    let (status, _) = send(client().get(format!("{}/_emulator/nope", emu.config_url()))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn on_call_sees_every_call_in_order() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let emu = Emulator::builder()
        .on_call(move |call| sink.lock().unwrap().push(call.to_string()))
        .start()
        .await
        .unwrap();
    get(
        &emu,
        "/evwid/?c=acme&u=user-42&e=purchase&ky=amount&vl=12.5&tp=n&ky=sku&vl=A%26B&tp=s",
    )
    .await;
    get(&emu, "/evwid/?c=acme&u=user-42").await;
    let lines = seen.lock().unwrap().clone();
    assert_eq!(
        lines,
        vec![
            r#"evwid  acme  u=user-42  purchase  amount=12.5 (n)  sku="A&B" (s)  -> 200"#
                .to_owned(),
            "evwid  acme  u=user-42  -> 400 missing parameter 'e'".to_owned(),
        ]
    );
}

#[tokio::test]
async fn stored_calls_read_back_exactly_as_they_arrived() {
    // Calls are kept compactly and decoded again when looked at: what a test reads later
    // must be exactly what was decoded on arrival.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let emu = Emulator::builder()
        .on_call(move |call| sink.lock().unwrap().push(call.clone()))
        .start()
        .await
        .unwrap();
    send(client().get(format!("{}/newnaconf/ac%20me/", emu.config_url()))).await;
    get(
        &emu,
        "/evwid/?c=acme&u=u1&e=buy&ky=a&vl=1&tp=n&tm=1700000000000",
    )
    .await;
    get(&emu, "/evwid/?c=acme&u=u1&e=buy&ky=a&vl=x&tp=n").await;
    get(&emu, "/evvprwid/?e=x&c=acme&u=u2&vky=k&vvl=v&vtp=s").await;
    get(&emu, "/id/?c=acme&u=u3&v=abc").await;
    emu.fail_next(1, 503);
    get(&emu, "/ev/?c=acme&v=abc&e=y").await;
    for body in [r#"{"a":1,"b":"x"}"#, r#"{"a":null}"#] {
        crate::support::post_json(&emu, "/evwidj/?c=acme&u=u1&e=j", body).await;
    }
    // A body that is not UTF-8 is rejected, and reads back the same.
    let (status, _) = send(
        client()
            .post(format!("http://{}/evwidj/?c=acme&u=u1&e=j", emu.backend()))
            .header("content-type", "application/json")
            .body(b"{\"a\":\"\xff\"}".to_vec()),
    )
    .await;
    assert_eq!(status, 400);
    send(
        client()
            .post(format!("http://{}/evwidj/?c=acme&u=u1&e=j", emu.backend()))
            .body(r#"{"a":1}"#),
    )
    .await;
    get(&emu, "/unknown?x=1").await;
    let arrived = seen.lock().unwrap().clone();
    assert_eq!(arrived.len(), 11);
    assert_eq!(emu.calls(), arrived);
    assert_eq!(arrived[0].company.as_deref(), Some("ac me"));
}

#[test]
fn public_types_can_be_shared_across_tasks() {
    fn shared<T: Send + Sync>() {}
    shared::<Emulator>();
    shared::<gamooga_emulator::EmulatorBuilder>();
    shared::<gamooga_emulator::RecordedCall>();
}

#[tokio::test]
async fn recorded_calls_round_trip_through_json() {
    let emu = Emulator::start().await.unwrap();
    get(
        &emu,
        "/evvprwid/?e=x&c=acme&u=a&eky=n&evl=1.5&etp=n&vky=k&vvl=v&vtp=s",
    )
    .await;
    let (_, body) = send(client().get(format!("{}/_emulator/calls", emu.config_url()))).await;
    let calls: Vec<gamooga_emulator::RecordedCall> = serde_json::from_str(&body).unwrap();
    assert_eq!(calls, emu.calls());
}
