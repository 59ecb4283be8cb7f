//! [`Tag`]: where an enqueued event came from, as its caller says. A leaf module (it knows
//! nothing else), so the delivery queue, the dead letters and the spool all use it without
//! importing each other. Re-exported from [`crate::queue`].

use std::fmt;
use std::sync::Arc;

/// A caller's mark on an event it enqueues ([`Queue::enqueue_tagged`]): the input it came
/// from (`source`), its place in that input (`position`: a byte offset, a row number, a log
/// offset) and one more number the caller wants back (`extra`: a line number, say).
///
/// The queue never reads it; it gives it back:
///
/// - in the event's [`DeadLetter`](crate::queue::DeadLetter) ([`tag`](crate::queue::DeadLetter::tag)),
///   so a failure can name the row it came from;
/// - with a spool, stored in the event's row, so a dead letter of an earlier run names its
///   row too;
/// - with a spool, as a **cursor** per source: the greatest position among the tagged events
///   written to the spool, committed in the same transaction as their rows
///   ([`Spool::cursor`](crate::spool::Spool::cursor)). An importer that enqueues its rows in
///   order can start again after the cursor, after any stop, a crash included, without
///   losing or re-reading an accepted row.
///
/// The source is a name the caller picks (not personal data: it is logged and shown by
/// `Debug`). Positions are stored as SQLite integers: above `i64::MAX` they are kept as
/// `i64::MAX`.
///
/// [`Queue::enqueue_tagged`]: crate::queue::Queue::enqueue_tagged
///
/// ```
/// use gamooga::queue::Tag;
/// let tag = Tag::new("orders.csv", 1_024).with_extra(17);
/// assert_eq!((tag.source(), tag.position(), tag.extra()), ("orders.csv", 1_024, 17));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    source: Arc<str>,
    position: u64,
    extra: u64,
}

impl Tag {
    /// A tag for the event at `position` in `source` (`extra` 0). Cloning an `Arc<str>`
    /// source for every event costs no allocation.
    pub fn new(source: impl Into<Arc<str>>, position: u64) -> Tag {
        Tag {
            source: source.into(),
            position,
            extra: 0,
        }
    }

    /// Sets the extra number given back with the tag.
    pub fn with_extra(mut self, extra: u64) -> Tag {
        self.extra = extra;
        self
    }

    /// The input the event came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The source as shared text (cheap to clone).
    pub fn source_arc(&self) -> &Arc<str> {
        &self.source
    }

    /// The event's place in its source; cursors keep the greatest.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The caller's extra number.
    pub fn extra(&self) -> u64 {
        self.extra
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("source", &&*self.source)
            .field("position", &self.position)
            .field("extra", &self.extra)
            .finish()
    }
}
