//! Personal data stays out of logs above DEBUG and out of `Debug`: through an outage, a
//! rejection, an undecodable row and a recovery, no user id or property value is logged at
//! INFO or above; errors and dead letters print without them.

use crate::common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx;
use gamooga::outbox::{Error, Outbox, Relay};
use gamooga::{CustomEvent, Properties};
use gamooga_emulator::Emulator;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const USER: &str = "secret-user-77";
const VALUE: &str = "secret-value-99";

/// Every event and span from every thread: (level, text).
#[derive(Default, Clone)]
struct Capture {
    lines: Arc<Mutex<Vec<(Level, String)>>>,
    next_id: Arc<AtomicU64>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(format!("span {}:", span.metadata().name()));
        span.record(&mut fields);
        self.lines
            .lock()
            .unwrap()
            .push((*span.metadata().level(), fields.0));
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut fields = Fields("span record:".into());
        values.record(&mut fields);
        self.lines.lock().unwrap().push((Level::TRACE, fields.0));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(format!(
            "{} {}:",
            event.metadata().level(),
            event.metadata().target()
        ));
        event.record(&mut fields);
        self.lines
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");
        capture
    })
}

fn secret_event() -> CustomEvent {
    CustomEvent::new("signup", Properties::new().string("email", VALUE))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_personal_is_logged_above_debug() {
    let capture = capture();
    let Some(db) = common::test_db("privacy").await else {
        return;
    };
    let emu = Emulator::start().await.unwrap();
    let client = common::client("acme", &emu);
    let outbox = Outbox::for_client(&client);
    // An outage first (every call 503), then one rejection, and a row that does not decode.
    emu.set_failure_rate(1.0, 503);
    for _ in 0..5 {
        secret_event()
            .enqueue_in(&outbox, &db.pool, USER)
            .await
            .unwrap();
    }
    let tampered = format!("c=acme&u={USER}&e=signup&ky=email&vl={VALUE}&tp=s#");
    sqlx::query("INSERT INTO gamooga_outbox (company, endpoint, method, query) VALUES ('acme', 'evwid', 'GET', $1)")
        .bind(&tampered)
        .execute(&db.pool)
        .await
        .unwrap();
    let relay = Relay::new(db.pool(4).await, client)
        .retry(common::patient())
        .start()
        .await
        .unwrap();
    assert!(
        emu.wait_for(
            |c| c.iter().filter(|c| c.status == 503).count() >= 10,
            Duration::from_secs(20)
        )
        .await
    );
    emu.set_failure_rate(0.0, 503);
    emu.fail_next(1, 400);
    let accepted = |c: &[gamooga_emulator::RecordedCall]| {
        c.iter()
            .filter(|c| c.status == 200 && c.event.is_some())
            .count()
    };
    assert!(
        emu.wait_for(|c| accepted(c) == 4, Duration::from_secs(30))
            .await
    );
    let report = relay.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.dead_letters.rejected, 1, "{report:?}");
    assert_eq!(report.stats.undecodable, 1, "{report:?}");

    let lines = capture.lines.lock().unwrap().clone();
    let loud: Vec<&(Level, String)> = lines
        .iter()
        .filter(|(level, _)| *level <= Level::INFO)
        .collect();
    // The log said what happened...
    let has = |level: Level, text: &str| {
        loud.iter()
            .any(|(l, line)| *l == level && line.contains(text))
    };
    assert!(has(Level::WARN, "deliveries are failing"), "{loud:#?}");
    assert!(has(Level::INFO, "deliveries recovered"), "{loud:#?}");
    assert!(has(Level::WARN, "an event is dead"), "{loud:#?}");
    assert!(has(Level::WARN, "cannot be decoded"), "{loud:#?}");
    // ...and never whose event, or what was in it.
    for (level, line) in &loud {
        assert!(
            !line.contains(USER) && !line.contains(VALUE),
            "{level}: {line}"
        );
    }
    // The dead letters print without them too.
    for dead in outbox.dead_letters(&db.pool, 10).await.unwrap() {
        let debug = format!("{dead:?}");
        assert!(!debug.contains(USER) && !debug.contains(VALUE), "{debug}");
    }
    let debug = format!("{report:?} {outbox:?}");
    assert!(!debug.contains(USER) && !debug.contains(VALUE), "{debug}");
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_errors_print_without_the_rows_they_quote() {
    let Some(db) = common::test_db("dberror").await else {
        return;
    };
    // PostgreSQL's DETAIL of a unique violation quotes the key: "Key (u)=(secret-user-77)".
    sqlx::query("CREATE TABLE users (u text PRIMARY KEY)")
        .execute(&db.pool)
        .await
        .unwrap();
    let insert = || {
        sqlx::query("INSERT INTO users VALUES ($1)")
            .bind(USER)
            .execute(&db.pool)
    };
    insert().await.unwrap();
    let error: Error = insert().await.unwrap_err().into();
    let full = format!("{:?}", error.database().unwrap());
    assert!(
        full.contains(USER),
        "the full error is there when asked for: {full}"
    );
    for shown in [format!("{error}"), format!("{error:?}")] {
        assert!(shown.contains("23505"), "the code is shown: {shown}");
        assert!(!shown.contains(USER), "{shown}");
    }
    // An id refused at the call site: its position named, not the id.
    let outbox = Outbox::new(gamooga::Calls::new("acme").unwrap());
    let refused = secret_event()
        .enqueue_in(&outbox, &db.pool, "bad\nuser")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Invalid(_)));
    let shown = format!("{refused} {refused:?}");
    assert!(
        !shown.contains("bad\nuser") && !shown.contains(VALUE),
        "{shown}"
    );
    db.drop_schema().await;
}
