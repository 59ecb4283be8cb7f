//! The inspector end to end: a real headless Chromium (driven by WebDriver through
//! chromedriver) has the page open while the SDK sends calls to the emulator.
//!
//! Calls go through the SDK (`gamooga::Client`); the few calls the SDK cannot make (it never
//! sends an invalid call) are raw HTTP. Each test serializes on one lock: one browser at a
//! time on a 2-core machine.

mod browser;

use std::time::Duration;

use browser::{launch, Browser};
use gamooga::prelude::*;
use gamooga::{Client, CustomEvent, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn sdk(emu: &Emulator, company: &str) -> Client {
    Client::builder(company)
        .config_url(emu.config_url())
        .retry(RetryPolicy::none())
        .build()
        .expect("a client")
}

fn purchase(sku: &str, amount: f64) -> CustomEvent {
    CustomEvent::new(
        "purchase",
        Properties::new()
            .string("sku", sku)
            .number("amount", amount)
            .expect("a finite amount"),
    )
}

fn signup() -> CustomEvent {
    CustomEvent::new("signup", Properties::new().string("plan", "pro"))
}

/// Opens the page and waits until its stream is live; marks the window so a reload shows.
async fn open(browser: &Browser, url: &str) {
    browser.client.goto(url).await.expect("the page loads");
    browser
        .wait_until(
            "the stream is live",
            "return document.getElementById('conn').textContent === 'live'",
        )
        .await;
    browser
        .eval("window.__notReloaded = true; return true")
        .await;
}

/// One browser at a time (the lock, held by the caller), an emulator with default settings,
/// and its page open and live; `None` where the browser is missing outside CI.
async fn live_page() -> Option<(tokio::sync::MutexGuard<'static, ()>, Browser, Emulator)> {
    let one = ONE_BROWSER.lock().await;
    let browser = launch(1280, 800).await?;
    let emu = Emulator::start().await.unwrap();
    open(&browser, &emu.inspector_url()).await;
    Some((one, browser, emu))
}

async fn not_reloaded(browser: &Browser) -> bool {
    browser.eval("return window.__notReloaded === true").await == serde_json::Value::Bool(true)
}

#[tokio::test]
async fn rows_appear_live_and_rejected_calls_show_their_reason() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = launch(1280, 800).await else {
        return;
    };
    let emu = Emulator::builder()
        .companies(["acme"])
        .start()
        .await
        .unwrap();
    open(&browser, &emu.inspector_url()).await;

    let client = sdk(&emu, "acme");
    for (i, sku) in ["A&B", "C D", "E+F"].iter().enumerate() {
        client
            .track(&format!("user-{i}"), &purchase(sku, 12.5))
            .await
            .unwrap();
    }
    // A typo'd company: the SDK's own call, refused by the emulator.
    let typo = sdk(&emu, "acmee");
    assert!(typo.track("user-9", &purchase("X", 1.0)).await.is_err());
    // The SDK never sends an invalid call: this one is raw HTTP.
    let bad = format!(
        "http://{}/evwid/?c=acme&u=user-7&e=purchase&ky=amount&vl=abc&tp=n",
        emu.backend()
    );
    assert_eq!(reqwest::get(bad).await.unwrap().status(), 400);

    browser
        .wait_until(
            "the three purchases and both rejected calls are shown",
            "return document.querySelectorAll('#calls-body tr:not(.spacer)').length === 6",
        )
        .await;
    assert!(not_reloaded(&browser).await, "rows came without a reload");
    let rows = browser.rows().await;
    // Newest first: the raw rejected call, the typo'd company, the purchases, newnaconf.
    assert!(
        rows[0].contains("400") && rows[0].contains("is not a finite number"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("404") && rows[1].contains("unknown company 'acmee'"),
        "{rows:?}"
    );
    assert!(
        rows[2].contains("user-2") && rows[2].contains("E+F"),
        "{rows:?}"
    );
    let rejected = browser
        .eval("return document.querySelectorAll('#calls-body tr.rejected').length")
        .await;
    assert_eq!(rejected, 2);

    // The detail of the rejected call highlights the offending parameter.
    browser.click("#calls-body tr.rejected button").await;
    browser
        .wait_until(
            "the detail highlights the offending parameter",
            "const m = document.querySelector('#d-body mark'); return !!m && m.textContent === 'vl=abc'",
        )
        .await;
    let detail = browser
        .eval("return document.getElementById('d-body').innerText")
        .await;
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains("Rejected: property 'amount' has type n but value 'abc'"),
        "{detail}"
    );
    assert!(detail.contains("host\t127.0.0.1:"), "headers: {detail}");

    // And an accepted call's detail: headers (the SDK's User-Agent), properties, tm, visitor.
    browser
        .click("#calls-body tr:not(.rejected)[data-status='200'] button")
        .await;
    browser
        .wait_until(
            "the detail of an accepted call",
            "return document.getElementById('d-title').textContent.includes('→ 200')",
        )
        .await;
    let detail = browser
        .eval("return document.getElementById('d-body').innerText")
        .await;
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains("gamooga-rust/"),
        "the SDK's User-Agent: {detail}"
    );
    assert!(
        detail.contains("n (number)") && detail.contains("before arrival"),
        "{detail}"
    );
    assert!(
        detail.contains("The visitor's properties after this call"),
        "{detail}"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_filter_hides_the_rest_and_survives_a_reload() {
    let Some((_one, browser, emu)) = live_page().await else {
        return;
    };
    let client = sdk(&emu, "acme");
    for i in 0..3 {
        client
            .track(&format!("buyer-{i}"), &purchase("A", 1.0))
            .await
            .unwrap();
        client
            .track(&format!("joiner-{i}"), &signup())
            .await
            .unwrap();
    }
    browser
        .wait_until(
            "all calls are shown",
            "return document.querySelectorAll('#calls-body tr:not(.spacer)').length === 7",
        )
        .await;

    browser.type_into("#f-event", "signup").await;
    browser
        .wait_until(
            "only the signups are shown",
            "const rows = [...document.querySelectorAll('#calls-body tr:not(.spacer)')]; \
             return rows.length === 3 && rows.every(r => r.querySelector('td.event').textContent === 'signup')",
        )
        .await;
    let address = browser.client.current_url().await.unwrap();
    assert_eq!(address.query(), Some("event=signup"));

    browser.client.refresh().await.unwrap();
    browser
        .wait_until(
            "the reloaded page keeps the filter",
            "const rows = [...document.querySelectorAll('#calls-body tr:not(.spacer)')]; \
             return document.getElementById('f-event').value === 'signup' && rows.length === 3 \
                && rows.every(r => r.querySelector('td.event').textContent === 'signup')",
        )
        .await;
    // New calls are filtered as they arrive.
    client.track("late", &purchase("B", 2.0)).await.unwrap();
    client.track("late", &signup()).await.unwrap();
    browser
        .wait_until(
            "the new signup arrives, the purchase does not",
            "const rows = [...document.querySelectorAll('#calls-body tr:not(.spacer)')]; \
             return rows.length === 4 && rows[0].innerText.includes('u=late')",
        )
        .await;
    let rows = browser.rows().await;
    assert!(rows.iter().all(|r| r.contains("signup")), "{rows:?}");
    browser.close().await;
}

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
}

#[tokio::test]
async fn a_plan_uploaded_in_the_page_flags_violations() {
    let Some((_one, browser, emu)) = live_page().await else {
        return;
    };

    // The plan the SDK exports, uploaded through the page's file input.
    let plan = TrackingPlan::new().event::<Purchase<'static>>().to_json();
    let file = std::env::temp_dir().join(format!("gamooga-plan-{}.json", std::process::id()));
    std::fs::write(&file, &plan).unwrap();
    browser.click("#tab-plan").await;
    let input = browser
        .client
        .find(fantoccini::Locator::Css("#plan-file"))
        .await
        .unwrap();
    input.send_keys(file.to_str().unwrap()).await.unwrap();
    browser
        .wait_until(
            "the plan is loaded",
            "return document.getElementById('plan-status').textContent.includes('1 events')",
        )
        .await;
    let _ = std::fs::remove_file(&file);
    browser.click("#tab-calls").await;

    let client = sdk(&emu, "acme");
    client
        .track(
            "u1",
            &Purchase {
                sku: "A",
                amount: 3.0,
            },
        )
        .await
        .unwrap();
    // The same event name with `amount` as a string: a datatype other than planned.
    let drifted = CustomEvent::new(
        "purchase",
        Properties::new().string("sku", "B").string("amount", "3"),
    );
    client.track("u2", &drifted).await.unwrap();
    client.track("u3", &signup()).await.unwrap();

    browser
        .wait_until(
            "the violations are flagged",
            "return document.querySelectorAll('#calls-body tr.violating').length === 2",
        )
        .await;
    let rows = browser.rows().await;
    assert!(
        rows[0].contains("event 'signup' is not in the plan"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("property 'amount' is sent as s, planned as n"),
        "{rows:?}"
    );
    assert!(
        !rows[2].contains("plan"),
        "the planned call is clean: {rows:?}"
    );
    assert_eq!(emu.plan_violations().len(), 2);
    let violations = browser
        .eval("return document.getElementById('t-violations').textContent")
        .await;
    assert_eq!(violations, "2");

    // The schema view shows the drift of `amount` and the unplanned event.
    browser.click("#tab-schema").await;
    browser
        .wait_until(
            "the schema shows drift",
            "const t = document.getElementById('schema-events').innerText; \
             return t.includes('amount: s+n (drift)') && t.includes('not planned')",
        )
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_fault_set_from_the_page_makes_the_next_sdk_call_fail() {
    let Some((_one, browser, emu)) = live_page().await else {
        return;
    };
    let client = sdk(&emu, "acme");
    client.track("u1", &purchase("A", 1.0)).await.unwrap();

    browser.click("#tab-faults").await;
    browser.type_into("#fail-n", "1").await;
    browser.type_into("#fail-status", "503").await;
    browser.type_into("#fail-retry", "2").await;
    browser.click("#fail-apply").await;
    browser
        .wait_until(
            "the fault state shows the failure to come",
            "return document.getElementById('fault-state').textContent \
               .includes('fail next 1 with 503 (Retry-After 2 s)')",
        )
        .await;

    let failed = client.track("u1", &purchase("B", 2.0)).await.unwrap_err();
    match failed {
        gamooga::Error::Http {
            status,
            retry_after,
            ..
        } => {
            assert_eq!(status, 503);
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("expected HTTP 503, got {other}"),
    }
    client.track("u1", &purchase("C", 3.0)).await.unwrap();
    browser
        .wait_until(
            "the fault is used up and the failed call shown",
            "return document.getElementById('fault-state').textContent === 'Faults: none' \
               && document.querySelectorAll('#calls-body tr.faulted').length === 1",
        )
        .await;

    // Going down from the page refuses the SDK's connections; coming up serves again.
    browser.click("#go-down").await;
    browser
        .wait_until(
            "the page shows the API down",
            "return document.getElementById('fault-state').textContent.includes('API DOWN')",
        )
        .await;
    assert!(!emu.is_up());
    let refused = client.track("u1", &purchase("D", 4.0)).await.unwrap_err();
    assert!(
        matches!(refused, gamooga::Error::Connection { .. }),
        "{refused}"
    );
    browser.click("#come-up").await;
    browser
        .wait_until(
            "the page shows the API up",
            "return document.getElementById('fault-state').textContent === 'Faults: none'",
        )
        .await;
    client.track("u1", &purchase("E", 5.0)).await.unwrap();
    browser.close().await;
}

#[tokio::test]
async fn the_composers_call_appears_in_the_stream() {
    let Some((_one, browser, emu)) = live_page().await else {
        return;
    };

    browser.click("#tab-compose").await;
    browser
        .type_into("#c-query", "c=acme&u=composer-1&e=composed&ky=n&vl=1&tp=n")
        .await;
    browser.click("#c-send").await;
    browser
        .wait_until(
            "the composer shows Gamooga's answer",
            "return document.getElementById('c-result').textContent.startsWith('200')",
        )
        .await;
    // A call Gamooga would refuse: the answer says why.
    browser
        .type_into("#c-query", "c=acme&u=composer-1&e=composed&ky=n&vl=x&tp=n")
        .await;
    browser.click("#c-send").await;
    browser
        .wait_until(
            "the composer shows the rejection",
            "return document.getElementById('c-result').textContent.includes('is not a finite number')",
        )
        .await;

    browser.click("#tab-calls").await;
    browser
        .wait_until(
            "both composed calls are in the stream",
            "const rows = [...document.querySelectorAll('#calls-body tr:not(.spacer)')]; \
             return rows.length === 2 && rows.every(r => r.innerText.includes('u=composer-1'))",
        )
        .await;
    let events = emu.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.as_deref(), Some("composed"));
    assert!(events[0]
        .header("user-agent")
        .is_some_and(|ua| ua.contains("composer")));
    browser.close().await;
}

#[tokio::test]
async fn the_page_keeps_a_bounded_history_and_says_what_it_left_out() {
    let Some((_one, browser, emu)) = live_page().await else {
        return;
    };
    // 1,500 calls from 16 tasks at once: more than the page keeps (1,000 rows).
    let client = sdk(&emu, "acme");
    let mut tasks = Vec::new();
    for t in 0..16 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..94 {
                if t * 94 + i >= 1499 {
                    break;
                }
                client
                    .track(&format!("bulk-{t}-{i}"), &purchase("A", 1.0))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(emu.total_calls(), 1500, "1,499 events and one newnaconf");
    browser
        .wait_until(
            "the page counts every call",
            "return document.getElementById('t-total').textContent === '1,500' \
               && document.getElementById('shown').textContent.includes('of 1,500 calls')",
        )
        .await;
    // The table is virtual: scroll it from top to bottom a view at a time, and collect the
    // rows as the page draws them (each row keeps its element, so an element seen twice is
    // one row). A gap row stands for calls left out of a burst: `-n`.
    let scrolled = browser
        .eval_async(
            "const done = arguments[arguments.length - 1]; \
             const wrap = document.getElementById('calls-wrap'); \
             const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); \
             (async () => { \
               const seen = new Set(); const rows = []; let most = 0; \
               wrap.scrollTop = 0; await frame(); \
               for (;;) { \
                 const drawn = [...document.querySelectorAll('#calls-body tr:not(.spacer)')]; \
                 most = Math.max(most, drawn.length); \
                 for (const r of drawn) { \
                   if (seen.has(r)) continue; \
                   seen.add(r); \
                   rows.push(r.dataset.seq ? Number(r.dataset.seq) : -Number(r.innerText.replace(/[^0-9]/g, ''))); \
                 } \
                 if (wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 1) break; \
                 wrap.scrollTop += wrap.clientHeight; \
                 await frame(); \
               } \
               done({ rows, most }); \
             })();",
        )
        .await;
    let rows: Vec<i64> = serde_json::from_value(scrolled["rows"].clone()).unwrap();
    let most = scrolled["most"].as_u64().unwrap();
    let kept = rows.iter().filter(|r| **r > 0).count() as u64;
    assert!((200..=1000).contains(&kept), "{kept} rows kept");
    // Only the rows in view (and a margin) are in the document at once.
    assert!(most < 100, "{most} rows drawn at once, of {kept}");
    let shown = browser
        .eval("return document.getElementById('shown').textContent")
        .await;
    assert_eq!(
        shown,
        format!(
            "Showing the newest {} of 1,500 calls · {} left out",
            group(kept),
            group(1500 - kept)
        )
    );
    // Newest first; where a burst was too fast to show in full, a row says how many calls
    // were left out there, and they add up.
    assert_eq!(rows.first(), Some(&1500));
    let mut expected = 1500;
    for row in &rows {
        if *row < 0 {
            expected += row; // a gap: that many calls were skipped
        } else {
            assert_eq!(
                *row, expected,
                "rows and gaps account for every call: {rows:?}"
            );
            expected -= 1;
        }
    }
    browser.close().await;
}

#[tokio::test]
async fn a_reader_scrolled_down_keeps_their_place_while_calls_arrive() {
    let Some((_one, browser, emu)) = live_page().await else {
        return;
    };
    let client = sdk(&emu, "acme");
    for i in 0..120 {
        client
            .track(&format!("reader-{i}"), &purchase("A", 1.0))
            .await
            .unwrap();
    }
    let counted = |n: usize| {
        format!("return document.getElementById('t-total').textContent.replace(/,/g, '') === '{n}'")
    };
    browser
        .wait_until("the page counts 121 calls", &counted(121))
        .await;
    // The call under a point in the middle of the table, once the page has drawn.
    let call_in_view = "const done = arguments[arguments.length - 1]; \
        requestAnimationFrame(() => requestAnimationFrame(() => { \
          const r = document.getElementById('calls-wrap').getBoundingClientRect(); \
          const tr = document.elementFromPoint(r.left + 40, r.top + r.height / 2).closest('tr'); \
          done(tr && tr.dataset.seq ? Number(tr.dataset.seq) : null); \
        }));";
    let at_top = browser.eval_async(call_in_view).await;
    browser
        // To the bottom, the oldest calls: the table must grow before it can scroll further.
        .eval("const w = document.getElementById('calls-wrap'); w.scrollTop = w.scrollHeight; return true")
        .await;
    let before = browser.eval_async(call_in_view).await;
    assert!(
        before
            .as_u64()
            .is_some_and(|seq| seq < at_top.as_u64().unwrap()),
        "scrolled to older calls: {at_top} then {before}"
    );
    for i in 0..30 {
        client
            .track(&format!("later-{i}"), &purchase("B", 2.0))
            .await
            .unwrap();
    }
    browser
        .wait_until("the page counts 151 calls", &counted(151))
        .await;
    let after = browser.eval_async(call_in_view).await;
    assert_eq!(before, after, "the call in view stays in view");
    // Back at the top, the newest call shows.
    browser
        .eval("document.getElementById('calls-wrap').scrollTop = 0; return true")
        .await;
    browser
        .wait_until(
            "the newest call is drawn at the top",
            "return document.querySelector('#calls-body tr[data-seq]').dataset.seq === '151'",
        )
        .await;
    browser.close().await;
}

/// `1234` as `1,234`, as the page writes numbers.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
