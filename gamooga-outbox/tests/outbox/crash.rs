//! A committed event survives the process dying right after the commit: a child process
//! (this test binary, run again) commits an order with its event, leaves a second one in an
//! open transaction, and SIGKILLs itself. No relay ran in it. A relay started afterwards
//! delivers the committed event, and only it.

use crate::common;

use std::time::Duration;

use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx;
use gamooga::outbox::{Outbox, Relay};
use gamooga::{Calls, CustomEvent, Properties};
use gamooga_emulator::Emulator;

/// Set in the child: the database URL of the parent's schema.
const CHILD_URL: &str = "GAMOOGA_OUTBOX_CRASH_CHILD_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_then_killed_is_delivered_and_uncommitted_is_not() {
    let Some(db) = common::test_db("crash").await else {
        return;
    };
    sqlx::query("CREATE TABLE orders (id bigint PRIMARY KEY, sku text NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();

    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::child_commits_then_kills_itself",
            "--include-ignored",
            "--nocapture",
        ])
        .env(CHILD_URL, &db.url)
        .status()
        .expect("run the child");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the child died by SIGKILL: {status:?}"
        );
    }

    // What the dead process left: the committed order and its event; nothing of the open
    // transaction.
    let orders: Vec<String> = sqlx::query_scalar("SELECT sku FROM orders ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(orders, ["COMMITTED"]);
    assert_eq!(db.count(Some("pending")).await, 1);

    let emu = Emulator::start().await.unwrap();
    let relay = Relay::new(db.pool(4).await, common::client("acme", &emu))
        .start()
        .await
        .unwrap();
    assert!(
        emu.wait_for(
            |c| c.iter().any(|c| c.event.is_some()),
            Duration::from_secs(20)
        )
        .await,
        "the committed event was delivered after the crash"
    );
    let report = relay.shutdown(Duration::from_secs(5)).await;
    let events = emu.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_property("sku").unwrap().value, "COMMITTED");
    assert_eq!(events[0].user_id.as_deref(), Some("user-committed"));
    assert_eq!(report.stats.delivered, 1);
    assert_eq!(db.count(None).await, 0);
    db.drop_schema().await;
}

fn purchase(sku: &str) -> CustomEvent {
    CustomEvent::new("purchase", Properties::new().string("sku", sku))
}

/// The child: run by the test above with `CHILD_URL` set (does nothing otherwise).
#[test]
#[ignore = "run in a child process by committed_then_killed_is_delivered_and_uncommitted_is_not"]
fn child_commits_then_kills_itself() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let outbox = Outbox::new(Calls::new("acme").unwrap());
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO orders VALUES (1, 'COMMITTED')")
            .execute(&mut *tx)
            .await
            .unwrap();
        purchase("COMMITTED")
            .enqueue_in(&outbox, &mut *tx, "user-committed")
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut open = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO orders VALUES (2, 'NEVER-COMMITTED')")
            .execute(&mut *open)
            .await
            .unwrap();
        purchase("NEVER-COMMITTED")
            .enqueue_in(&outbox, &mut *open, "user-open")
            .await
            .unwrap();
        // Right after the commit, with a transaction open: no destructor, no flush, no
        // rollback message.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        unreachable!("SIGKILL ends the process");
    });
}
