//! Attempt counts agree everywhere: the error's count, each logged retry and the calls the
//! server saw. Alone in its binary: a test that captures log events must not share
//! callsites with tests running concurrently without a subscriber (tracing caches a
//! callsite's interest globally).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gamooga_core::{Client, CustomEvent, Properties, RetryPolicy};
use gamooga_emulator::Emulator;

fn event() -> CustomEvent {
    CustomEvent::new("login", Properties::new().string("method", "sso"))
}

/// Captures the messages and `error` fields of events at INFO and above.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    // Asked at every event rather than cached per callsite: other tests in this binary hit
    // the same callsites concurrently without a subscriber.
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn attempt_counts_agree_in_the_error_the_log_and_the_server() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder("acme")
        .config_url(emu.config_url())
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    client.backend().await.unwrap();
    emu.fail_next(10, 503);
    let err = client.track("u", &event()).await.unwrap_err();
    assert_eq!(emu.count("evwid"), 3);
    assert_eq!(err.attempts(), Some(3));
    assert!(err.to_string().contains("after 3 attempt(s)"), "{err}");

    // Each logged retry says the count of its own attempt, and the last one gives up.
    let lines = capture.0.lock().unwrap().clone();
    let retries: Vec<_> = lines.iter().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 2, "{lines:?}");
    for (i, line) in retries.iter().enumerate() {
        let n = i + 1;
        assert!(line.contains(&format!("attempt={n}")), "{line}");
        assert!(line.contains(&format!("after {n} attempt(s)")), "{line}");
    }
    let giving_up: Vec<_> = lines.iter().filter(|l| l.contains("giving up")).collect();
    assert_eq!(giving_up.len(), 1, "{lines:?}");
    assert!(
        giving_up[0].contains("after 3 attempt(s)"),
        "{}",
        giving_up[0]
    );
}
