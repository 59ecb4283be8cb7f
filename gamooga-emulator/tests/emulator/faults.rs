//! Every fault a test can script.

use std::time::{Duration, Instant};

use gamooga_emulator::Emulator;
use tokio::io::AsyncReadExt;

use crate::support::{client, get, send, WAIT};

const EVENT: &str = "/evwid/?c=acme&u=u1&e=buy";

#[tokio::test]
async fn fail_next_fails_that_many_backend_calls() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_next(2, 503);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(&emu, EVENT).await.0);
    }
    assert_eq!(statuses, vec![503, 503, 200]);
    let calls = emu.calls();
    assert_eq!(calls[0].fault.as_deref(), Some("fail 503"));
    assert_eq!(calls[0].status, 503);
    // The failed calls are still parsed and counted, but are not events.
    assert_eq!(calls[0].event.as_deref(), Some("buy"));
    assert_eq!(emu.count("evwid"), 3);
    assert_eq!(emu.events().len(), 1);
    assert!(emu.rejected().is_empty());
}

#[tokio::test]
async fn fail_next_leaves_newnaconf_alone() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_next(1, 500);
    let (status, _) = send(client().get(format!("{}/newnaconf/acme/", emu.config_url()))).await;
    assert_eq!(status, 200);
    assert_eq!(get(&emu, EVENT).await.0, 500);
}

#[tokio::test]
async fn fail_next_with_retry_after_sends_the_header() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_next_with_retry_after(1, 429, 7);
    let response = client()
        .get(format!("http://{}{EVENT}", emu.backend()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(
        emu.calls()[0].fault.as_deref(),
        Some("fail 429 retry-after 7")
    );
    assert_eq!(get(&emu, EVENT).await.0, 200);
}

#[tokio::test]
async fn delay_next_delays_the_answer() {
    let emu = Emulator::start().await.unwrap();
    emu.delay_next(1, Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(get(&emu, EVENT).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(emu.calls()[0].fault.as_deref(), Some("delay 300ms"));
    assert_eq!(get(&emu, EVENT).await.0, 200);
    assert_eq!(emu.calls()[1].fault, None);
}

#[tokio::test]
async fn a_delay_combines_with_a_failure() {
    let emu = Emulator::start().await.unwrap();
    emu.delay_next(1, Duration::from_millis(10));
    emu.fail_next(1, 502);
    assert_eq!(get(&emu, EVENT).await.0, 502);
    assert_eq!(
        emu.calls()[0].fault.as_deref(),
        Some("delay 10ms, fail 502")
    );
}

#[tokio::test]
async fn drop_next_closes_without_an_answer() {
    let emu = Emulator::start().await.unwrap();
    emu.drop_next(1);
    let error = client()
        .get(format!("http://{}{EVENT}", emu.backend()))
        .send()
        .await
        .expect_err("no answer");
    assert!(!error.is_status(), "{error:?}");
    let call = &emu.calls()[0];
    assert_eq!((call.status, call.fault.as_deref()), (0, Some("drop")));
    assert_eq!(get(&emu, EVENT).await.0, 200);
    assert_eq!(emu.count("evwid"), 2);
}

async fn statuses_with_rate(seed: u64, rate: f64, n: usize) -> Vec<u16> {
    let emu = Emulator::builder().seed(seed).start().await.unwrap();
    emu.set_failure_rate(rate, 503);
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(get(&emu, EVENT).await.0);
    }
    statuses
}

#[tokio::test]
async fn failure_rate_is_seeded_and_reproducible() {
    let a = statuses_with_rate(5, 0.5, 40).await;
    let b = statuses_with_rate(5, 0.5, 40).await;
    assert_eq!(a, b);
    let failed = a.iter().filter(|s| **s == 503).count();
    assert!(failed > 0 && failed < 40, "{a:?}");
    assert!(statuses_with_rate(5, 1.0, 5)
        .await
        .iter()
        .all(|s| *s == 503));
}

#[tokio::test]
async fn failure_rate_zero_turns_it_off() {
    let emu = Emulator::start().await.unwrap();
    emu.set_failure_rate(1.0, 500);
    assert_eq!(get(&emu, EVENT).await.0, 500);
    assert_eq!(emu.calls()[0].fault.as_deref(), Some("random 500"));
    emu.set_failure_rate(0.0, 500);
    assert_eq!(get(&emu, EVENT).await.0, 200);
}

async fn newnaconf(emu: &Emulator) -> (u16, String) {
    send(client().get(format!("{}/newnaconf/acme/", emu.config_url()))).await
}

#[tokio::test]
async fn set_evbk_moves_the_backend() {
    let emu = Emulator::start().await.unwrap();
    emu.set_evbk(Some("127.0.0.1:1".to_owned()));
    let (_, body) = newnaconf(&emu).await;
    let conf: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(conf["evbk"], "127.0.0.1:1");
    assert_eq!(emu.calls()[0].fault.as_deref(), Some("evbk 127.0.0.1:1"));
    emu.set_evbk(None);
    let (_, body) = newnaconf(&emu).await;
    let conf: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(conf["evbk"], emu.backend());
}

#[tokio::test]
async fn set_newnaconf_body_answers_garbage() {
    let emu = Emulator::start().await.unwrap();
    emu.set_newnaconf_body(Some("<html>oops".to_owned()));
    assert_eq!(newnaconf(&emu).await, (200, "<html>oops".to_owned()));
    emu.set_newnaconf_body(None);
    assert!(newnaconf(&emu).await.1.contains(&emu.backend()));
}

#[tokio::test]
async fn fail_newnaconf_next_fails_only_newnaconf() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_newnaconf_next(2, 500);
    assert_eq!(newnaconf(&emu).await.0, 500);
    assert_eq!(get(&emu, EVENT).await.0, 200);
    assert_eq!(newnaconf(&emu).await.0, 500);
    assert_eq!(newnaconf(&emu).await.0, 200);
    assert_eq!(emu.count("newnaconf"), 3);
    assert_eq!(emu.calls()[0].fault.as_deref(), Some("fail 500"));
}

#[tokio::test]
async fn go_down_refuses_connections_and_come_up_serves_the_same_port() {
    let emu = Emulator::start().await.unwrap();
    let addr = emu.addr();
    assert_eq!(get(&emu, EVENT).await.0, 200);
    // An open keep-alive connection is closed too.
    let mut open = tokio::net::TcpStream::connect(addr).await.unwrap();

    emu.go_down().await;
    assert!(!emu.is_up());
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "connection accepted while down");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, open.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(client()
        .get(format!("http://{}{EVENT}", emu.backend()))
        .send()
        .await
        .is_err());

    emu.come_up().await.unwrap();
    assert!(emu.is_up());
    assert_eq!(emu.addr(), addr);
    assert_eq!(get(&emu, EVENT).await.0, 200);
    assert_eq!(emu.count("evwid"), 2, "calls are kept across down and up");
    emu.come_up().await.unwrap(); // already up: no-op
}

#[tokio::test]
async fn dropping_the_emulator_stops_the_server() {
    let emu = Emulator::start().await.unwrap();
    let addr = emu.addr();
    drop(emu);
    // The accept task ends on the next poll; give it a moment, without timing asserts.
    let mut refused = false;
    for _ in 0..2000 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused);
}
