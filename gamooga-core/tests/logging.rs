//! Logging: each call runs in a `gamooga` span with `endpoint` and `company`, user ids
//! appear only at debug level, and a queue dropped without `shutdown` says what it left.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use gamooga_core::queue::{Deliver, Queue, QueueConfig};
use gamooga_core::{Calls, Client, CustomEvent, Error, Properties, Request, RetryPolicy};
use gamooga_emulator::Emulator;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Everything logged: (level, "name: field=value ...") for spans and events.
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

impl Capture {
    fn push(&self, level: Level, line: String) {
        self.lines.lock().unwrap().push((level, line));
    }
    fn lines(&self) -> Vec<(Level, String)> {
        self.lines.lock().unwrap().clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(format!("span {}:", span.metadata().name()));
        span.record(&mut fields);
        self.push(*span.metadata().level(), fields.0);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut fields = Fields("span record:".into());
        values.record(&mut fields);
        self.push(Level::TRACE, fields.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(format!("event {}:", event.metadata().target()));
        event.record(&mut fields);
        self.push(*event.metadata().level(), fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn spans_name_the_call_and_user_ids_stay_at_debug() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(
            RetryPolicy::default()
                .max_attempts(4)
                .initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let user = "secret-user-7731";
    emu.fail_next(1, 503);
    emu.drop_next(1);
    let event = CustomEvent::new("login", Properties::new().string("method", "sso"));
    client.track(user, &event).await.unwrap();
    client.identify(user).await.unwrap();
    emu.fail_next(5, 503);
    client.track(user, &event).await.unwrap_err();

    let lines = capture.lines();
    let spans: Vec<_> = lines
        .iter()
        .filter(|(_, l)| l.starts_with("span gamooga:"))
        .map(|(_, l)| l.as_str())
        .collect();
    assert!(
        spans.contains(&r#"span gamooga: endpoint="evwid" company="acme""#),
        "{spans:?}"
    );
    assert!(
        spans.contains(&r#"span gamooga: endpoint="id" company="acme""#),
        "{spans:?}"
    );
    // Retries and giving up are logged above debug, without the user id.
    let loud: Vec<_> = lines
        .iter()
        .filter(|(level, _)| *level <= Level::INFO)
        .collect();
    assert!(loud.iter().any(|(_, l)| l.contains("retrying")), "{loud:?}");
    assert!(
        loud.iter().any(|(_, l)| l.contains("giving up")),
        "{loud:?}"
    );
    for (level, line) in &loud {
        assert!(!line.contains(user), "{level}: {line}");
    }
    // The URL with the user id is there at debug level, for debugging.
    assert!(
        lines
            .iter()
            .any(|(level, l)| *level == Level::DEBUG && l.contains(user)),
        "{lines:?}"
    );
}

/// A deliverer whose calls never finish: everything accepted stays in flight or queued.
struct Stuck;

impl Deliver for Stuck {
    fn deliver<'a>(
        &'a self,
        _: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn dropping_a_queue_without_shutdown_warns_with_the_count_left_behind() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let queue = Queue::new(
        Stuck,
        Calls::new("acme").unwrap(),
        QueueConfig::default().concurrency(2),
    )
    .unwrap();
    let event = CustomEvent::new("login", Properties::new().string("method", "sso"));
    for _ in 0..5 {
        queue.try_track("user-1", &event).unwrap();
    }
    let clone = queue.clone();
    drop(queue);
    assert!(
        !capture.lines().iter().any(|(l, _)| *l == Level::WARN),
        "a clone is still alive: no warning yet"
    );
    drop(clone);

    let warnings: Vec<_> = capture
        .lines()
        .into_iter()
        .filter(|(level, _)| *level == Level::WARN)
        .map(|(_, line)| line)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("count=5"), "{warnings:?}");
    assert!(warnings[0].contains("shutdown"), "{warnings:?}");
}
