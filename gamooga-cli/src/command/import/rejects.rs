//! The rejects file, `FILE.rejects.ndjson`: one JSON object per refused row, created on the
//! first one, readable by its owner only (it holds the rows' data). Each line is handed to
//! the kernel (flushed) as it is written, before the import's checkpoint moves past its row,
//! so a kill loses no line of a row the next run skips.
//!
//! Fields (stable):
//!
//! | field | what |
//! |---|---|
//! | `kind` | `"invalid"` (refused before sending: the reader or the SDK's checks), `"dead_letter"` (refused or given up on after sending), or `"not_queued"` (the spool could not store it: the import stopped there) |
//! | `line` | the row's first line (1-based); `null` for a dead letter of a spool written without row positions (an older version, `gamooga spool replay` of another file) |
//! | `byte` | the byte offset of the row's first byte; `null` as `line` |
//! | `column` | the column at fault, when there is one |
//! | `char` | for a line that is not valid JSON, where parsing failed |
//! | `reason` | why, for people |
//! | `row` | the row as a JSON object (invalid rows that could be read) |
//! | `raw` | the start of the row's text (rows that could not be read) |
//! | `dead_letter_reason` | `rejected`, `retries_exhausted`, `unresolved`, `panicked`, `overflow`, `shutdown_deadline`, `queue_dropped` |
//! | `attempts`, `endpoint`, `request` | for dead letters: attempts made, the call, and the request (`method`, `path`, `query`, `body`) to send it again; `endpoint` and `request` also for rows not queued |

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use gamooga::queue::DeadLetter;
use gamooga::Request;
use serde_json::{json, Value};

use super::source::{BadRow, RowPos};
use crate::error::CliError;

/// The rejects file, written as rows are refused.
pub struct Rejects {
    path: PathBuf,
    /// Append (an import resumed with `--start-at`) rather than start a new file.
    append: bool,
    file: Option<BufWriter<File>>,
    count: u64,
    error: Option<String>,
}

impl Rejects {
    /// A rejects file at `path`; without `append`, a file left by an earlier run is removed
    /// now, so what is there at the end is this run's.
    pub fn new(path: PathBuf, append: bool) -> Result<Self, CliError> {
        if !append {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CliError::io(path.display(), e)),
            }
        }
        Ok(Rejects {
            path,
            append,
            file: None,
            count: 0,
            error: None,
        })
    }

    /// Rows written by this run.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn write(&mut self, record: Value) {
        self.count += 1;
        if self.error.is_some() {
            return;
        }
        if self.file.is_none() {
            let mut options = OpenOptions::new();
            options.create(true).write(true);
            if self.append {
                options.append(true);
            } else {
                options.truncate(true);
            }
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&self.path) {
                Ok(f) => self.file = Some(BufWriter::new(f)),
                Err(e) => {
                    self.error = Some(format!("{}: {e}", self.path.display()));
                    return;
                }
            }
        }
        if let Some(file) = &mut self.file {
            let written = serde_json::to_writer(&mut *file, &record)
                .map_err(std::io::Error::from)
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.flush());
            if let Err(e) = written {
                self.error = Some(format!("{}: {e}", self.path.display()));
            }
        }
    }

    /// A row the reader could not read.
    pub fn bad_row(&mut self, bad: &BadRow) {
        self.write(json!({
            "kind": "invalid",
            "line": bad.start.line,
            "byte": bad.start.offset,
            "column": bad.column,
            "char": bad.at_char,
            "reason": bad.reason,
            "raw": bad.raw,
        }));
    }

    /// A row read but refused by the mapping or the SDK's checks.
    pub fn refused(&mut self, start: RowPos, column: Option<&str>, reason: &str, row: Value) {
        self.write(json!({
            "kind": "invalid",
            "line": start.line,
            "byte": start.offset,
            "column": column,
            "reason": reason,
            "row": row,
        }));
    }

    /// A dead letter of the queue, from the row at `start` (`None`: its row is not known).
    pub fn dead_letter(&mut self, start: Option<RowPos>, dl: &DeadLetter) {
        let request = dl.request();
        let reason = match dl.error() {
            Some(e) => format!("{}: {e}", dl.reason()),
            None => dl.reason().to_string(),
        };
        self.write(json!({
            "kind": "dead_letter",
            "line": start.map(|p| p.line),
            "byte": start.map(|p| p.offset),
            "column": null,
            "reason": reason,
            "dead_letter_reason": dl.reason().as_str(),
            "attempts": dl.attempts(),
            "endpoint": request.endpoint().name(),
            "request": request_json(request),
        }));
    }

    /// A row whose enqueue failed (the spool could not store it): the import stops.
    pub fn not_queued(&mut self, start: RowPos, reason: &str, request: Option<&Request>) {
        self.write(json!({
            "kind": "not_queued",
            "line": start.line,
            "byte": start.offset,
            "column": null,
            "reason": reason,
            "endpoint": request.map(|r| r.endpoint().name()),
            "request": request.map(request_json),
        }));
    }

    /// Flushes the file; an error writing it at any point is reported here.
    pub fn finish(&mut self) -> Result<(), CliError> {
        if let Some(file) = &mut self.file {
            if let Err(e) = file.flush() {
                self.error
                    .get_or_insert(format!("{}: {e}", self.path.display()));
            }
        }
        match &self.error {
            Some(e) => Err(CliError::failed(format!(
                "cannot write the rejects file {e}"
            ))),
            None => Ok(()),
        }
    }
}

/// A request as JSON, to send it again.
fn request_json(request: &Request) -> Value {
    json!({
        "method": request.method().as_str(),
        "path": request.path(),
        "query": request.query(),
        "body": request.body(),
    })
}
