//! Where rows come from: a CSV or NDJSON file (or standard input), read as a stream with
//! every row's position in the file, so an import can start again at any row.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::ValueEnum;
use serde_json::{Map, Value};

use super::csv::{CsvReader, CsvRow};
use super::ndjson::NdjsonReader;
use crate::error::CliError;

/// The longest row read, in bytes (a CSV record with its quoted newlines, an NDJSON line).
/// A longer one is refused (with a CSV quote that is never closed, the rest of the file would
/// otherwise be read as one field) and reading goes on after it.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header line (RFC 4180 quoting)
    Csv,
    /// Tab-separated values with a header line (CSV quoting, tab delimiter)
    Tsv,
    /// One JSON object per line
    Ndjson,
}

impl Format {
    /// The format a file name says: `.csv`, `.tsv`, `.ndjson` / `.jsonl`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// A position in the input: the byte offset of a row's first byte and its line number
/// (1-based). The end of a row is the position where the next one may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowPos {
    pub offset: u64,
    pub line: u64,
}

impl RowPos {
    /// The start of the input.
    pub const START: RowPos = RowPos { offset: 0, line: 1 };

    /// Parses `BYTE:LINE` (what an interrupted import prints).
    pub fn parse(text: &str) -> Result<RowPos, String> {
        let (offset, line) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not BYTE:LINE"))?;
        let offset = offset
            .parse()
            .map_err(|_| format!("`{offset}` is not a byte offset"))?;
        let line: u64 = line
            .parse()
            .map_err(|_| format!("`{line}` is not a line number"))?;
        if line == 0 {
            return Err("line numbers start at 1".into());
        }
        Ok(RowPos { offset, line })
    }
}

impl std::fmt::Display for RowPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.offset, self.line)
    }
}

/// One cell of a row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// A CSV field.
    Text(&'a str),
    /// A value of an NDJSON object.
    Json(&'a Value),
}

/// One row, borrowed from the reader.
#[derive(Debug)]
pub enum Record<'a> {
    Csv(CsvRow<'a>),
    Json(&'a Map<String, Value>),
}

impl<'a> Record<'a> {
    /// The cell of column `name`, if the row has it.
    pub fn get(&self, name: &str) -> Option<Cell<'a>> {
        match self {
            Record::Csv(row) => row.get(name).map(Cell::Text),
            Record::Json(map) => map.get(name).map(Cell::Json),
        }
    }

    /// Every (column, cell), in the file's order.
    pub fn for_each<E>(
        &self,
        mut f: impl FnMut(&'a str, Cell<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Record::Csv(row) => {
                for (name, value) in row.iter() {
                    f(name, Cell::Text(value))?;
                }
            }
            Record::Json(map) => {
                for (name, value) in map.iter() {
                    f(name, Cell::Json(value))?;
                }
            }
        }
        Ok(())
    }

    /// The row as a JSON object (for the rejects file).
    pub fn to_json(&self) -> Value {
        match self {
            Record::Csv(row) => Value::Object(
                row.iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect(),
            ),
            Record::Json(map) => Value::Object((*map).clone()),
        }
    }
}

/// A row the reader could not read (broken quoting, bad JSON, too long, ...).
#[derive(Debug, Clone)]
pub struct BadRow {
    pub start: RowPos,
    pub end: RowPos,
    /// The column, when the problem is in one (a CSV column number as `#3` when the header
    /// does not name it).
    pub column: Option<String>,
    /// For a line that is not valid JSON: the 1-based character where parsing failed.
    pub at_char: Option<u64>,
    pub reason: String,
    /// The start of the row's text, when there is one worth showing.
    pub raw: Option<String>,
}

/// What the reader found next.
#[derive(Debug)]
pub enum Next<'a> {
    Row {
        start: RowPos,
        end: RowPos,
        record: Record<'a>,
    },
    Bad(BadRow),
    End,
}

/// Counts the bytes read, for the progress bar.
pub struct Counted<R> {
    inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Input = BufReader<Counted<Box<dyn Read + Send>>>;

/// A reader of rows of either format.
pub enum Source {
    Csv(Box<CsvReader<Input>>),
    Ndjson(NdjsonReader<Input>),
}

/// The input, its size when known (for the ETA), and the bytes read so far.
pub struct Opened {
    pub source: Source,
    /// Bytes from the start position to the end of the file; `None` for standard input.
    pub size: Option<u64>,
    pub read: Arc<AtomicU64>,
}

const BUFFER: usize = 256 * 1024;

fn input(reader: Box<dyn Read + Send>, read: &Arc<AtomicU64>) -> Input {
    BufReader::with_capacity(
        BUFFER,
        Counted {
            inner: reader,
            count: read.clone(),
        },
    )
}

/// Opens `path` (`None`: standard input) in `format`, to read from `start` (the start of the
/// input when `None`; files only). A CSV file's header is always read from its first line.
pub fn open(
    path: Option<&Path>,
    format: Format,
    start: Option<RowPos>,
) -> Result<Opened, CliError> {
    let read = Arc::new(AtomicU64::new(0));
    let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
    let Some(path) = path else {
        if start.is_some() {
            return Err(CliError::usage(
                "--start-at needs a file: standard input cannot be re-read",
            ));
        }
        let stdin: Box<dyn Read + Send> = Box::new(io::stdin());
        let source = match format {
            Format::Csv | Format::Tsv => Source::Csv(Box::new(CsvReader::new(
                input(stdin, &read),
                delimiter,
                None,
            )?)),
            Format::Ndjson => Source::Ndjson(NdjsonReader::new(input(stdin, &read), RowPos::START)),
        };
        return Ok(Opened {
            source,
            size: None,
            read,
        });
    };
    let what = path.display();
    let open = || {
        File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CliError::usage(format!("{what}: no such file")),
            _ => CliError::io(&what, e),
        })
    };
    let len = open()?
        .metadata()
        .map_err(|e| CliError::io(&what, e))?
        .len();
    let start = start.unwrap_or(RowPos::START);
    if start.offset > len {
        return Err(CliError::usage(format!(
            "--start-at {start}: {what} has only {len} bytes"
        )));
    }
    let at = |offset: u64| -> Result<Box<dyn Read + Send>, CliError> {
        let mut file = open()?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| CliError::io(&what, e))?;
        Ok(Box::new(file))
    };
    let source = match format {
        Format::Csv | Format::Tsv => {
            let mut reader = CsvReader::new(input(at(0)?, &read), delimiter, None)?;
            if start != RowPos::START {
                let header_end = reader.position();
                if start < header_end {
                    return Err(CliError::usage(format!(
                        "--start-at {start} is inside the header line of {what}"
                    )));
                }
                let headers = reader.into_headers();
                read.store(0, Ordering::Relaxed);
                reader = CsvReader::new(
                    input(at(start.offset)?, &read),
                    delimiter,
                    Some((headers, start)),
                )?;
            }
            Source::Csv(Box::new(reader))
        }
        Format::Ndjson => Source::Ndjson(NdjsonReader::new(input(at(start.offset)?, &read), start)),
    };
    Ok(Opened {
        source,
        size: Some(len - start.offset),
        read,
    })
}

impl Source {
    /// The next row, a row that could not be read, or the end. An `Err` is an I/O error:
    /// reading cannot go on.
    pub fn next(&mut self) -> Result<Next<'_>, CliError> {
        match self {
            Source::Csv(r) => r
                .next()
                .map_err(|e| CliError::io("reading the CSV input", e)),
            Source::Ndjson(r) => r
                .next()
                .map_err(|e| CliError::io("reading the NDJSON input", e)),
        }
    }
}

/// Reads from a `BufRead`: fills `buf` with the next line (its `\n` included) up to `max`
/// bytes, or skips it when it is longer. Returns the bytes consumed and whether the line was
/// longer than `max` (then `buf` holds only its start).
pub fn read_line_bounded<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok((consumed, too_long));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            too_long = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        input.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, too_long));
        }
    }
}
