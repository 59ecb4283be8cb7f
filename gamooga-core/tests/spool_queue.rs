//! The spool under the queue: durable before enqueue returns, removed after a 200, replayed
//! after a restart and after SIGKILL, dead letters kept and replayable, bad files refused.
#![cfg(feature = "spool")]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use gamooga_core::error::SpoolErrorKind;
use gamooga_core::queue::{DeadLetterReason, Overflow, QueueConfig, Tag};
use gamooga_core::retry::RetryPolicy;
use gamooga_core::spool::Spool;
use gamooga_core::{Client, CustomEvent, Error, Properties};
use gamooga_emulator::{Emulator, RecordedCall};

const CHILD_ENV: &str = "GAMOOGA_SPOOL_CRASH_CHILD";

fn seq_event(seq: u64) -> CustomEvent {
    CustomEvent::new("seq", Properties::new().number("seq", seq).unwrap())
}

fn seq_of(call: &RecordedCall) -> Option<u64> {
    call.event_property("seq")?.value.parse().ok()
}

fn client(emu_config_url: &str) -> Client {
    Client::builder("acme")
        .config_url(emu_config_url)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn quick_retry() -> RetryPolicy {
    // 30 attempts: at a 30% failure rate an event is never dead-lettered in practice
    // (0.3^30 per event), so the crash test cannot fail by chance.
    RetryPolicy::background()
        .max_attempts(30)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(100))
}

/// The child half of the crash test: enqueues forever, printing each accepted seq. Ignored in
/// normal runs; the parent starts it with `--ignored`.
#[tokio::test]
#[ignore = "the child half of a_sigkilled_process_loses_no_accepted_event, which runs it"]
async fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // only meaningful when started by `a_sigkilled_process_loses_no_accepted_event`
    };
    let (spool, config_url) = spec.split_once('|').unwrap();
    let client = client(config_url);
    let queue = client
        .queue(
            QueueConfig::default()
                .spool(spool)
                .concurrency(4)
                .retry(quick_retry()),
        )
        .unwrap();
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for seq in 0.. {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
        writeln!(out, "accepted {seq}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_process_loses_no_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("outbox.db");
    let emu = Emulator::builder()
        .max_recorded(100_000)
        .start()
        .await
        .unwrap();
    emu.set_failure_rate(0.3, 503); // some events wait for a retry when the child dies

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{}|{}", spool.display(), emu.config_url()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The reader keeps reading until the child is gone, so the child never meets a closed
    // pipe: it dies of the SIGKILL, mid-run, and every line it wrote is counted.
    let stdout = child.stdout.take().unwrap();
    let (first_400, reached) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut accepted = HashSet::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(seq) = line.strip_prefix("accepted ") {
                accepted.insert(seq.parse::<u64>().unwrap());
                if accepted.len() == 400 {
                    let _ = first_400.send(());
                }
            }
        }
        accepted
    });
    tokio::task::spawn_blocking(move || reached.recv_timeout(Duration::from_secs(120)))
        .await
        .unwrap()
        .expect("the child accepted 400 events");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the child died of SIGKILL: {status:?}"
        );
    }
    let mut accepted = reader.join().unwrap();
    assert!(accepted.len() >= 400);

    let left = Spool::open(&spool).unwrap().pending().unwrap();
    emu.set_failure_rate(0.0, 503);
    let queue = client(&emu.config_url())
        .queue(QueueConfig::default().spool(&spool).retry(quick_retry()))
        .unwrap();
    assert_eq!(
        queue.stats().enqueued,
        left,
        "the restart replays the pending rows"
    );
    let report = queue.shutdown(Duration::from_secs(60)).await;
    assert!(report.completed, "{report:?}");
    assert_eq!(report.still_spooled, 0);
    let delivered: HashSet<u64> = emu.events().iter().filter_map(seq_of).collect();
    accepted.retain(|seq| !delivered.contains(seq));
    assert!(
        accepted.is_empty(),
        "accepted but never delivered: {accepted:?}"
    );
    assert_eq!(Spool::open(&spool).unwrap().pending().unwrap(), 0);
}

#[tokio::test]
async fn delivered_rows_are_removed_and_undelivered_ones_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let c = client(&emu.config_url());

    let queue = c.queue(QueueConfig::default().spool(&path)).unwrap();
    for seq in 0..20 {
        queue.try_track("user-1", &seq_event(seq)).unwrap();
    }
    queue.flush().await;
    assert_eq!(queue.stats().delivered, 20);
    emu.go_down().await;
    for seq in 20..30 {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
    }
    let report = queue.shutdown(Duration::from_millis(300)).await;
    assert!(!report.completed);
    assert_eq!(report.still_spooled, 10, "{report:?}");
    assert_eq!(
        report.abandoned, 0,
        "spooled events are not dead-lettered at the deadline"
    );
    assert_eq!(Spool::open(&path).unwrap().pending().unwrap(), 10);

    emu.come_up().await.unwrap();
    let queue = c.queue(QueueConfig::default().spool(&path)).unwrap();
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.delivered, 10, "{report:?}");
    let seqs: Vec<u64> = emu.events().iter().filter_map(seq_of).collect();
    for seq in 0..30 {
        assert!(seqs.contains(&seq), "seq {seq} delivered");
    }
    assert_eq!(Spool::open(&path).unwrap().pending().unwrap(), 0);
}

#[tokio::test]
async fn dead_letters_stay_in_the_spool_and_can_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let c = client(&emu.config_url());
    let queue = c
        .queue(QueueConfig::default().spool(&path).concurrency(1))
        .unwrap();
    // Resolve first, so the injected 400 hits the event, not newnaconf.
    c.backend().await.unwrap();
    emu.fail_next(1, 400);
    queue.try_track("user-1", &seq_event(1)).unwrap();
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.dead_lettered, 1, "{report:?}");

    let spool = Spool::open(&path).unwrap();
    let dead = spool.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, Some(DeadLetterReason::Rejected));
    assert!(dead[0].last_error.as_deref().unwrap().contains("400"));
    assert!(dead[0].request.query().contains("ky=seq&vl=1&tp=n"));
    assert_eq!(spool.replay_dead_letters().unwrap(), 1);

    let queue = c.queue(QueueConfig::default().spool(&path)).unwrap();
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(
        emu.events().iter().filter_map(seq_of).collect::<Vec<_>>(),
        [1]
    );
    assert!(spool.dead_letters().unwrap().is_empty());
}

#[tokio::test]
async fn a_corrupt_or_unwritable_spool_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(
        &corrupt,
        b"this is not an SQLite database, not at all....".repeat(200),
    )
    .unwrap();
    let c = Client::builder("acme")
        .backend("127.0.0.1:9")
        .build()
        .unwrap();
    for path in [corrupt, dir.path().join("no-such-dir").join("outbox.db")] {
        let err = c.queue(QueueConfig::default().spool(&path)).unwrap_err();
        let Error::Spool { kind, .. } = &err else {
            panic!("expected a spool error, got {err:?}");
        };
        assert!(
            matches!(kind, SpoolErrorKind::NotASpool | SpoolErrorKind::Io),
            "{kind:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}

#[tokio::test]
async fn one_queue_per_spool_file() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let first = client(&emu.config_url())
        .queue(QueueConfig::default().spool(&spool))
        .unwrap();
    match client(&emu.config_url()).queue(QueueConfig::default().spool(&spool)) {
        Err(
            err @ Error::Spool {
                kind: SpoolErrorKind::InUse,
                ..
            },
        ) => assert!(err.to_string().contains("in use"), "{err}"),
        other => panic!("a second queue on the same spool: {other:?}"),
    }
    first.shutdown(Duration::from_secs(5)).await;
    drop(first);
    // Once the first writer is gone, the spool can be opened again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client(&emu.config_url()).queue(QueueConfig::default().spool(&spool)) {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the spool stayed locked: {e}"),
        }
    }
}

/// The first row: with the spool, 3,000 events; the company information answers an
/// HTML page with status 200 for its first 3 requests, then recovers. It used to
/// dead-letter 66 events as `rejected` within a second; now none: they wait for the resolver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_company_info_for_three_requests_dead_letters_nothing() {
    const EVENTS: u64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = std::sync::Arc::new(
        Emulator::builder()
            .max_recorded(100_000)
            .start()
            .await
            .unwrap(),
    );
    emu.set_newnaconf_body(Some("<html><body>Service Unavailable</body></html>".into()));
    // Answers HTML to the first 3 company-information requests only.
    let watcher = {
        let emu = emu.clone();
        tokio::spawn(async move {
            while emu.count("newnaconf") < 3 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            emu.set_newnaconf_body(None);
        })
    };
    let dead = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = dead.clone();
    let queue = client(&emu.config_url())
        .queue(
            QueueConfig::default()
                .spool(&path)
                .dead_letter(move |dl| sink.lock().unwrap().push(dl.reason())),
        )
        .unwrap();
    for seq in 0..EVENTS {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
    }
    let report = queue.shutdown(Duration::from_secs(60)).await;
    watcher.await.unwrap();
    assert!(report.completed, "{report:?}");
    assert_eq!(*dead.lock().unwrap(), [], "nothing dead-lettered");
    assert_eq!(
        (report.delivered, report.dead_lettered),
        (EVENTS, 0),
        "{report:?}"
    );
    assert!(report.stats.resolution_pauses >= 1, "{report:?}");
    let html = emu
        .calls()
        .iter()
        .filter(|c| c.endpoint == "newnaconf")
        .count();
    assert!(html >= 4, "3 HTML answers, then a good one: {html}");
    assert_eq!(Spool::open(&path).unwrap().pending().unwrap(), 0);
}

/// `spool.db`, `-wal`, `-shm` and `-lock` are created 0600 whatever the umask (they held
/// user ids and property values readable by every local user under umask 022).
#[tokio::test]
async fn spool_files_are_private_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: umask only sets the process's file-creation mask; 022 is the usual default.
    unsafe { libc::umask(0o022) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let emu = Emulator::start().await.unwrap();
    let queue = client(&emu.config_url())
        .queue(QueueConfig::default().spool(&path))
        .unwrap();
    queue.track("secret-user-42", &seq_event(1)).await.unwrap();
    let files: Vec<std::path::PathBuf> = ["", "-wal", "-shm", "-lock"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            p.into()
        })
        .collect();
    for file in &files {
        let mode = std::fs::metadata(file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        // And as `stat` shows it.
        let out = Command::new("stat")
            .args(["-c", "%a"])
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "600",
            "{}",
            file.display()
        );
    }
    queue.shutdown(Duration::from_secs(10)).await;
}

/// Replay rebuilds the URL path from the endpoint: a row whose stored `path` was tampered
/// with is sent where its endpoint goes, never where the file says.
#[tokio::test]
async fn replay_ignores_a_tampered_path_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let c = client(&emu.config_url());
    c.backend().await.unwrap();
    emu.go_down().await;
    let queue = c.queue(QueueConfig::default().spool(&path)).unwrap();
    for seq in 0..3 {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
    }
    let report = queue.shutdown(Duration::from_millis(200)).await;
    assert_eq!(report.still_spooled, 3, "{report:?}");
    let changed = rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE gamooga_outbox SET path = '/vpr/../admin/?x=1#'", [])
        .unwrap();
    assert_eq!(changed, 3);

    emu.come_up().await.unwrap();
    let queue = c.queue(QueueConfig::default().spool(&path)).unwrap();
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.delivered, 3, "{report:?}");
    let calls: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.endpoint != "newnaconf")
        .collect();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.path == "/evwid/" && c.is_accepted()),
        "{calls:?}"
    );
}

/// Replay reads the rows left by an earlier run in pages within the capacity (it read
/// them all at start), and `flush` waits for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_pages_rows_within_the_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::builder()
        .max_recorded(10_000)
        .start()
        .await
        .unwrap();
    let c = client(&emu.config_url());
    c.backend().await.unwrap();
    emu.go_down().await;
    let queue = c.queue(QueueConfig::default().spool(&path)).unwrap();
    for seq in 0..100 {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
    }
    assert_eq!(
        queue
            .shutdown(Duration::from_millis(100))
            .await
            .still_spooled,
        100
    );

    emu.come_up().await.unwrap();
    let capacity = 10;
    let queue = c
        .queue(
            QueueConfig::default()
                .spool(&path)
                .capacity(capacity)
                .concurrency(2),
        )
        .unwrap();
    let start = queue.stats();
    assert_eq!(start.enqueued, capacity as u64, "{start:?}");
    assert_eq!(start.spool_backlog, 90, "{start:?}");
    let watch = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut most = 0;
            while queue.stats().delivered < 100 {
                most = most.max(queue.stats().depth);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            most
        })
    };
    assert!(queue.flush_timeout(Duration::from_secs(30)).await);
    let stats = queue.stats();
    assert_eq!(
        (stats.delivered, stats.replayed, stats.spool_backlog),
        (100, 100, 0),
        "{stats:?}"
    );
    assert!(
        watch.await.unwrap() <= capacity as u64,
        "never more than the capacity in memory"
    );
    let mut seqs: Vec<u64> = emu.events().iter().filter_map(seq_of).collect();
    seqs.sort();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>(), "each once, none twice");
    queue.shutdown(Duration::from_secs(5)).await;
    assert_eq!(Spool::open(&path).unwrap().pending().unwrap(), 0);
}

/// Dead letters are kept up to a bound; the pruned ones are counted.
#[tokio::test]
async fn spool_dead_letters_are_pruned_past_their_bound() {
    use gamooga_core::spool::DeadLetterRetention;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let c = client(&emu.config_url());
    c.backend().await.unwrap();
    let queue = c
        .queue(
            QueueConfig::default()
                .spool(&path)
                .concurrency(1)
                .spool_dead_letters(DeadLetterRetention::unbounded().max_count(Some(5))),
        )
        .unwrap();
    emu.fail_next(12, 400);
    for seq in 0..12 {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
    }
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.dead_lettered, 12, "{report:?}");
    assert_eq!(report.stats.dead_letters_pruned, 7, "{report:?}");
    let kept = Spool::open(&path).unwrap().dead_letters().unwrap();
    assert_eq!(kept.len(), 5);
}

/// Dropping the last handle of a spooled queue keeps its events spooled (no dead letters):
/// the next queue on the file delivers them.
#[tokio::test]
async fn dropping_a_spooled_queue_keeps_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let c = client(&emu.config_url());
    c.backend().await.unwrap();
    emu.go_down().await;
    let hooked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let h = hooked.clone();
    let queue = c
        .queue(QueueConfig::default().spool(&path).dead_letter(move |_| {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }))
        .unwrap();
    for seq in 0..5 {
        queue.track("user-1", &seq_event(seq)).await.unwrap();
    }
    drop(queue);
    assert_eq!(hooked.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(Spool::open(&path).unwrap().pending().unwrap(), 5);
}

/// The tags a dead-letter hook was handed, in order.
type Tags = std::sync::Arc<std::sync::Mutex<Vec<Option<Tag>>>>;

/// A dead-letter hook that keeps the tags it is handed.
fn tag_collector() -> (
    Tags,
    impl Fn(gamooga_core::queue::DeadLetter) + Send + Sync + 'static,
) {
    let tags = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = tags.clone();
    (tags, move |dl: gamooga_core::queue::DeadLetter| {
        keep.lock().unwrap().push(dl.tag().cloned())
    })
}

#[tokio::test]
async fn tags_come_back_with_dead_letters_and_move_the_cursor_with_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let emu = Emulator::start().await.unwrap();
    let c = client(&emu.config_url());
    c.backend().await.unwrap();
    let (tags, hook) = tag_collector();
    let queue = c
        .queue(
            QueueConfig::default()
                .spool(&path)
                .concurrency(1)
                .dead_letter(hook),
        )
        .unwrap();
    emu.fail_next(2, 400);
    for seq in 0..10u64 {
        let request = queue.calls().track("user-1", &seq_event(seq)).unwrap();
        let tag = Tag::new("seqs", 100 + seq).with_extra(seq);
        if seq % 2 == 0 {
            queue.enqueue_tagged(request, tag).await.unwrap();
        } else {
            queue.try_enqueue_tagged(request, tag).unwrap();
        }
    }
    queue.mark_position(Tag::new("seqs", 110).with_extra(10));
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(
        (report.delivered, report.dead_lettered),
        (8, 2),
        "{report:?}"
    );

    // The dead letters name exactly the events that did not arrive.
    let arrived: HashSet<u64> = emu.events().iter().filter_map(seq_of).collect();
    let mut dead: Vec<u64> = tags
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.as_ref().expect("a tag").extra())
        .collect();
    dead.sort();
    let missing: Vec<u64> = (0..10).filter(|s| !arrived.contains(s)).collect();
    assert_eq!(dead, missing);

    let spool = Spool::open_existing(&path).unwrap();
    let cursor = spool.cursor("seqs").unwrap().expect("a cursor");
    assert_eq!(
        (
            cursor.position,
            cursor.extra,
            cursor.accepted,
            cursor.delivered,
            cursor.marked
        ),
        (110, 10, 10, 8, 1)
    );
    let stored: Vec<u64> = spool
        .dead_letters()
        .unwrap()
        .iter()
        .map(|d| d.tag.as_ref().unwrap().extra())
        .collect();
    assert_eq!(stored, missing, "the dead rows keep their tags");

    // Replayed from the spool and refused again: the hook gets the stored tag.
    assert_eq!(spool.replay_dead_letters().unwrap(), 2);
    emu.fail_next(2, 400);
    let (tags, hook) = tag_collector();
    let queue = c
        .queue(QueueConfig::default().spool(&path).dead_letter(hook))
        .unwrap();
    let report = queue.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.dead_lettered, 2, "{report:?}");
    let mut again: Vec<u64> = tags
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.as_ref().expect("the stored tag").extra())
        .collect();
    again.sort();
    assert_eq!(again, missing);
}

#[tokio::test]
async fn a_memory_queue_gives_tags_back_too() {
    let c = Client::builder("acme")
        .backend("127.0.0.1:9")
        .build()
        .unwrap();
    let (tags, hook) = tag_collector();
    let queue = c
        .queue(
            QueueConfig::default()
                .capacity(1)
                .overflow(Overflow::DropNewest)
                .dead_letter(hook),
        )
        .unwrap();
    let request = |seq| queue.calls().track("user-1", &seq_event(seq)).unwrap();
    queue
        .try_enqueue_tagged(request(1), Tag::new("a", 1))
        .unwrap();
    queue
        .try_enqueue_tagged(request(2), Tag::new("a", 2))
        .unwrap();
    // The second was dropped (full) with its tag; the first is dead-lettered at shutdown.
    queue.shutdown(Duration::from_millis(50)).await;
    let got: Vec<u64> = tags
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.as_ref().unwrap().position())
        .collect();
    assert_eq!(got, [2, 1]);
}
