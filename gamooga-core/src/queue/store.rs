//! [`Store`]: where accepted events are kept besides memory. One type, whatever the
//! features: with the `spool` feature and a spool configured it writes to
//! [`crate::spool`]; otherwise every method does nothing. The `cfg`s live here and nowhere
//! else in the queue's logic.

// Without the `spool` feature nothing commits: the intake side is unused.
#![cfg_attr(not(feature = "spool"), allow(dead_code))]

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use crate::call::Request;
use crate::dead_letter::DeadLetterReason;
use crate::error::Error;
use crate::queue::config::QueueConfig;
use crate::tag::Tag;

/// The spool rows an earlier run left, when the store opened.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backlog {
    /// How many.
    pub(super) count: u64,
    /// The highest row id among them.
    pub(super) through: i64,
}

/// A row read back for replay.
pub(super) struct Replayed {
    pub(super) row: i64,
    pub(super) request: Request,
    pub(super) enqueued_at: SystemTime,
    pub(super) tag: Option<Arc<Tag>>,
}

/// A page of rows read back.
pub(super) struct Page {
    pub(super) rows: Vec<Replayed>,
    /// The highest row id looked at.
    pub(super) last: i64,
    /// Nothing is left to read.
    pub(super) exhausted: bool,
}

/// Why a store write did not confirm.
pub(super) enum WriteError {
    /// It was not written.
    Failed(String),
    /// The writer stopped before saying: it may or may not be written.
    Unconfirmed(String),
}

/// A store write under way: resolves once it is committed and taken in.
pub(super) type Write =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), WriteError>> + Send>>;

/// A committed (or failed) insert, handed to the [`Intake`].
pub(super) struct Commit<'a> {
    pub(super) token: u64,
    pub(super) request: &'a Arc<Request>,
    pub(super) enqueued_at: SystemTime,
    pub(super) tag: Option<&'a Arc<Tag>>,
    /// The row, or `None` when the write failed.
    pub(super) row: Option<i64>,
}

/// Takes committed inserts in (the queue), on the store's writer thread, before the
/// inserting callers are told.
pub(super) trait Intake: Send + Sync {
    fn committed(&self, commits: &[Commit<'_>]);
}

/// What [`Store::open`] found.
pub(super) struct Opened {
    pub(super) store: Store,
    /// Rows left by an earlier run (`None` in memory or with nothing left).
    pub(super) backlog: Option<Backlog>,
    /// The first page of them (within the capacity).
    pub(super) first: Option<Page>,
}

/// The queue's store: a spool, or nothing.
pub(super) struct Store {
    #[cfg(feature = "spool")]
    spool: Option<spooled::Spooled>,
}

impl Store {
    /// Opens the store `config` asks for, reading the first page of the backlog (at most
    /// the capacity).
    pub(super) fn open(config: &QueueConfig) -> Result<Opened, Error> {
        #[cfg(feature = "spool")]
        if let Some(path) = &config.spool {
            return spooled::open(path, config);
        }
        let _ = config;
        Ok(Opened {
            store: Store {
                #[cfg(feature = "spool")]
                spool: None,
            },
            backlog: None,
            first: None,
        })
    }

    /// Whether events are written here before they are accepted.
    pub(super) fn is_durable(&self) -> bool {
        #[cfg(feature = "spool")]
        return self.spool.is_some();
        #[cfg(not(feature = "spool"))]
        false
    }

    /// Sets where committed inserts go.
    pub(super) fn set_intake(&self, intake: Weak<dyn Intake>) {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            s.set_intake(intake);
        }
        #[cfg(not(feature = "spool"))]
        let _ = intake;
    }

    /// Writes an event, blocking until it is committed and taken in.
    pub(super) fn insert_blocking(
        &self,
        token: u64,
        request: Arc<Request>,
        enqueued_at: SystemTime,
        tag: Option<Arc<Tag>>,
    ) -> Result<(), WriteError> {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            return s.insert_blocking(token, request, enqueued_at, tag);
        }
        let _ = (token, request, enqueued_at, tag);
        Err(WriteError::Failed("no spool".into()))
    }

    /// Writes an event (sent at once); resolves once it is committed and taken in.
    pub(super) fn insert(
        &self,
        token: u64,
        request: Arc<Request>,
        enqueued_at: SystemTime,
        tag: Option<Arc<Tag>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), WriteError>> + Send>> {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            return Box::pin(s.insert(token, request, enqueued_at, tag));
        }
        let _ = (token, request, enqueued_at, tag);
        Box::pin(std::future::ready(Err(WriteError::Failed(
            "no spool".into(),
        ))))
    }

    /// Forgets a delivered row.
    pub(super) fn delete(&self, row: i64) {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            s.writer.delete(row);
        }
        #[cfg(not(feature = "spool"))]
        let _ = row;
    }

    /// Records a dead letter: on its row (`row` != 0), or as a new dead row (with its tag).
    #[allow(clippy::too_many_arguments)] // one dead letter's fields, passed through
    pub(super) fn dead(
        &self,
        row: i64,
        request: &Arc<Request>,
        enqueued_at: SystemTime,
        tag: Option<&Arc<Tag>>,
        reason: DeadLetterReason,
        attempts: u32,
        note: Option<String>,
    ) {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            s.writer.dead(crate::spool::DeadRow {
                row: (row != 0).then_some(row),
                request: request.clone(),
                enqueued_at,
                tag: tag.cloned(),
                reason,
                attempts,
                error: note,
            });
        }
        #[cfg(not(feature = "spool"))]
        let _ = (row, request, enqueued_at, tag, reason, attempts, note);
    }

    /// Advances `tag`'s cursor with no event, in order with the writes before it (nothing
    /// without a spool).
    pub(super) fn mark(&self, tag: Tag) {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            s.writer.mark(tag);
        }
        #[cfg(not(feature = "spool"))]
        let _ = tag;
    }

    /// Reads the next page of rows left by an earlier run.
    pub(super) async fn read_page(
        &self,
        after: i64,
        through: i64,
        limit: usize,
    ) -> Result<Page, String> {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            return s
                .writer
                .read_page(after, through, limit)
                .await
                .map(spooled::page);
        }
        let _ = (after, through, limit);
        Err("no spool".into())
    }

    /// Resolves once everything written so far is committed.
    pub(super) async fn sync(&self) {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            s.writer.sync().await;
        }
    }

    /// Lets another queue open the store (after shutdown).
    pub(super) fn release(&self) {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            s.writer.release_lock();
        }
    }

    /// Dead letters pruned so far.
    pub(super) fn pruned(&self) -> u64 {
        #[cfg(feature = "spool")]
        if let Some(s) = &self.spool {
            return s.writer.pruned();
        }
        0
    }
}

#[cfg(feature = "spool")]
mod spooled {
    //! The spool behind [`Store`]: type conversions and the commit sink.

    use std::path::Path;
    use std::sync::{Arc, OnceLock, Weak};
    use std::time::SystemTime;

    use super::{Backlog, Commit, Intake, Opened, Page, Replayed, Store, WriteError};
    use crate::call::Request;
    use crate::error::Error;
    use crate::queue::config::QueueConfig;
    use crate::spool::{CommitSink, Committed, InsertError, SpoolWriter};
    use crate::tag::Tag;

    pub(super) struct Spooled {
        pub(super) writer: SpoolWriter,
        sink: Arc<Sink>,
    }

    /// Forwards the spool's commits to the queue's [`Intake`].
    struct Sink(OnceLock<Weak<dyn Intake>>);

    impl CommitSink for Sink {
        fn committed(&self, batch: &[Committed<'_>]) {
            let Some(intake) = self.0.get().and_then(Weak::upgrade) else {
                return;
            };
            let commits: Vec<Commit<'_>> = batch
                .iter()
                .map(|c| Commit {
                    token: c.token,
                    request: c.request,
                    enqueued_at: c.enqueued_at,
                    tag: c.tag,
                    row: c.row.ok(),
                })
                .collect();
            intake.committed(&commits);
        }
    }

    pub(super) fn page(p: crate::spool::Page) -> Page {
        Page {
            rows: p
                .rows
                .into_iter()
                .map(|r| Replayed {
                    row: r.id,
                    request: r.request,
                    enqueued_at: r.enqueued_at,
                    tag: r.tag,
                })
                .collect(),
            last: p.last,
            exhausted: p.exhausted,
        }
    }

    fn write_error(e: InsertError) -> WriteError {
        match e {
            InsertError::Failed(m) => WriteError::Failed(m),
            InsertError::Unconfirmed(m) => WriteError::Unconfirmed(m),
        }
    }

    pub(super) fn open(path: &Path, config: &QueueConfig) -> Result<Opened, Error> {
        let opened = SpoolWriter::open(path, config.spool_dead_letters, config.capacity)?;
        let sink = Arc::new(Sink(OnceLock::new()));
        opened
            .writer
            .set_sink(Arc::downgrade(&sink) as Weak<dyn CommitSink>);
        let backlog = (opened.backlog.count > 0).then_some(Backlog {
            count: opened.backlog.count,
            through: opened.backlog.through,
        });
        if let Some(b) = &backlog {
            tracing::info!(events = b.count, "gamooga queue: replaying the spool");
        }
        Ok(Opened {
            store: Store {
                spool: Some(Spooled {
                    writer: opened.writer,
                    sink,
                }),
            },
            backlog,
            first: Some(page(opened.first)),
        })
    }

    impl Spooled {
        pub(super) fn set_intake(&self, intake: Weak<dyn Intake>) {
            let _ = self.sink.0.set(intake);
        }

        pub(super) fn insert_blocking(
            &self,
            token: u64,
            request: Arc<Request>,
            enqueued_at: SystemTime,
            tag: Option<Arc<Tag>>,
        ) -> Result<(), WriteError> {
            self.writer
                .insert_blocking(token, request, enqueued_at, tag)
                .map_err(write_error)
        }

        pub(super) fn insert(
            &self,
            token: u64,
            request: Arc<Request>,
            enqueued_at: SystemTime,
            tag: Option<Arc<Tag>>,
        ) -> impl std::future::Future<Output = Result<(), WriteError>> + Send + 'static {
            let sent = self.writer.insert(token, request, enqueued_at, tag);
            async move { sent.await.map_err(write_error) }
        }
    }
}
