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

/// An outage, read from the log: one WARN from the queue when deliveries start failing
/// (naming where they go and the error), one INFO when they recover, retries at DEBUG
/// only, and no user id in anything logged above DEBUG. (Before, an outage logged nothing
/// above DEBUG until shutdown.)
#[tokio::test]
async fn an_outage_logs_one_warning_and_one_recovery_without_user_ids() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .build()
        .unwrap();
    client.backend().await.unwrap();
    let queue = client
        .queue(
            QueueConfig::default().concurrency(4).retry(
                RetryPolicy::background()
                    .max_attempts(1000)
                    .initial_backoff(Duration::from_millis(10))
                    .max_backoff(Duration::from_millis(50))
                    .max_elapsed(None),
            ),
        )
        .unwrap();
    let event = CustomEvent::new(
        "login",
        Properties::new().string("email", "alice@example.com"),
    );
    let send = |from: usize| {
        for i in from..from + 20 {
            queue
                .try_track(&format!("secret-user-{i}"), &event)
                .unwrap();
        }
    };
    send(0);
    queue.flush().await;
    emu.go_down().await;
    send(20);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queue.stats().retried < 40 {
        assert!(std::time::Instant::now() < deadline, "{:?}", queue.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failing = queue.stats();
    assert!(failing.failing_since.is_some(), "{failing:?}");
    let last_error = failing.last_error.clone().expect("the last error is shown");
    emu.come_up().await.unwrap();
    queue.flush().await;
    send(40);
    queue.flush().await;
    let stats = queue.stats();
    assert_eq!((stats.delivered, stats.dead_lettered), (60, 0), "{stats:?}");
    assert_eq!(stats.failing_since, None, "recovered: {stats:?}");

    let lines = capture.lines();
    let queue_lines = |level: Level| -> Vec<String> {
        lines
            .iter()
            .filter(|(l, line)| *l == level && line.starts_with("event gamooga_core::queue"))
            .map(|(_, line)| line.clone())
            .collect()
    };
    let warnings = queue_lines(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("are failing"), "{warnings:?}");
    assert!(
        warnings[0].contains("company acme"),
        "names where: {warnings:?}"
    );
    assert!(
        warnings[0].contains(&last_error),
        "names the error: {warnings:?}"
    );
    let infos = queue_lines(Level::INFO);
    assert_eq!(infos.len(), 1, "{infos:#?}");
    assert!(infos[0].contains("recovered"), "{infos:?}");
    assert!(
        lines
            .iter()
            .any(|(l, line)| *l == Level::DEBUG && line.contains("attempt failed")),
        "retries are logged at debug"
    );
    for (level, line) in &lines {
        if *level <= Level::INFO {
            assert!(
                !line.contains("secret-user"),
                "a user id at {level}: {line}"
            );
            assert!(
                !line.contains("alice"),
                "a property value at {level}: {line}"
            );
        }
    }
    queue.shutdown(Duration::from_secs(5)).await;
}

/// An existing spool file other users can read gets a warning naming it.
#[cfg(feature = "spool")]
#[tokio::test]
async fn a_spool_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let client = Client::builder("acme")
        .backend("127.0.0.1:9")
        .build()
        .unwrap();
    let queue = client.queue(QueueConfig::default().spool(&path)).unwrap();
    let warnings: Vec<String> = capture
        .lines()
        .into_iter()
        .filter(|(l, _)| *l == Level::WARN)
        .map(|(_, line)| line)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&path.display().to_string()),
        "{warnings:?}"
    );
    assert!(warnings[0].contains("other users"), "{warnings:?}");
    queue.shutdown(Duration::from_secs(1)).await;
}
