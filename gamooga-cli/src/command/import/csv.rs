//! CSV rows, streamed with the csv crate's own parser (`csv-core`), one record at a time.
//!
//! Why not `csv::Reader`: it keeps a record in memory however long it grows, so one quote that
//! is never closed would read the rest of the file into a single field (memory unbounded,
//! every later row lost), and it cannot go back to the line after a broken record. Driving
//! `csv-core` directly keeps each record within [`MAX_ROW_BYTES`] and its raw bytes at hand,
//! so a broken record is reported (line and column) and reading goes on at its next line.
//!
//! A record is refused, and reading resumes on the line after its first one, when its
//! quoting is broken:
//!
//! - a quote is never closed, a closing quote is followed by anything but the delimiter or
//!   the end of the record, or an unquoted field holds a `"` (RFC 4180 allows none of these;
//!   `csv-core` would read them leniently and, for the first two, run on into later lines);
//! - it runs over several lines and has more or fewer fields than the header (a stray quote
//!   closed by another one lines later);
//! - it is longer than [`MAX_ROW_BYTES`].
//!
//! A one-line record with more or fewer fields than the header is refused too.

use std::io::{self, BufRead};

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::source::{read_line_bounded, BadRow, Next, Record, RowPos, MAX_ROW_BYTES};
use crate::error::CliError;

/// One CSV row: the header's names and this row's fields.
#[derive(Debug)]
pub struct CsvRow<'a> {
    headers: &'a [String],
    /// The fields, one after the other (each checked as UTF-8 on its own, so every span
    /// starts and ends on a character boundary).
    text: &'a str,
    spans: &'a [(usize, usize)],
}

impl<'a> CsvRow<'a> {
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let i = self.headers.iter().position(|h| h == name)?;
        self.spans.get(i).map(|&(s, e)| &self.text[s..e])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        let text = self.text;
        self.headers
            .iter()
            .map(String::as_str)
            .zip(self.spans.iter().map(move |&(s, e)| &text[s..e]))
    }
}

/// A record as `csv-core` parsed it, before it is checked.
struct Parsed {
    start: RowPos,
    end: RowPos,
    /// The record's bytes in `raw` (blank lines before it and its terminator left out).
    body: std::ops::Range<usize>,
    fields: usize,
}

/// What reading one record gave.
enum Raw {
    Record(Parsed),
    /// Longer than [`MAX_ROW_BYTES`] before it ended.
    TooLong {
        start: RowPos,
    },
    End,
}

/// Reads CSV records with their positions; see the [module docs](self).
pub struct CsvReader<R> {
    input: R,
    core: Reader,
    delimiter: u8,
    headers: Vec<String>,
    /// Bytes to parse again before reading more (after a broken record).
    refeed: Vec<u8>,
    refeed_at: usize,
    /// The bytes consumed for the record being read: from `pos` on.
    raw: Vec<u8>,
    /// Where `raw` starts.
    pos: RowPos,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The current record's fields, checked as UTF-8 (offsets into `out`).
    spans: Vec<(usize, usize)>,
}

fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

impl<R: BufRead> CsvReader<R> {
    /// A reader of `input`. With `start`, the header is `headers` and `input` starts at that
    /// position; otherwise the first record is read as the header (an empty input has none).
    pub fn new(
        input: R,
        delimiter: u8,
        start: Option<(Vec<String>, RowPos)>,
    ) -> Result<Self, CliError> {
        let mut reader = CsvReader {
            input,
            core: ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            headers: Vec::new(),
            refeed: Vec::new(),
            refeed_at: 0,
            raw: Vec::with_capacity(4096),
            pos: RowPos::START,
            out: vec![0; 4096],
            ends: vec![0; 64],
            spans: Vec::new(),
        };
        match start {
            Some((headers, pos)) => {
                reader.headers = headers;
                reader.pos = pos;
                // Not at the start of the file: no byte-order mark to strip.
                reader.core_started();
            }
            None => reader.read_header()?,
        }
        Ok(reader)
    }

    /// Marks the parser as past the start of the input, so a byte-order mark later is data.
    fn core_started(&mut self) {
        // csv-core strips a byte-order mark only before its first read; a blank line read
        // at the start of a record changes nothing else.
        let mut out = [0u8; 1];
        let mut ends = [0usize; 1];
        let _ = self.core.read_record(b"\n", &mut out, &mut ends);
    }

    fn read_header(&mut self) -> Result<(), CliError> {
        let io = |e| CliError::io("reading the CSV header", e);
        let parsed = match self.read_raw().map_err(io)? {
            Raw::End => return Ok(()),
            Raw::TooLong { .. } => {
                return Err(CliError::usage(format!(
                    "the CSV header line is longer than {MAX_ROW_BYTES} bytes"
                )))
            }
            Raw::Record(p) => p,
        };
        if quoting_error(&self.raw[parsed.body.clone()], self.delimiter).is_some() {
            return Err(CliError::usage(format!(
                "the CSV header (line {}) has broken quoting",
                parsed.start.line
            )));
        }
        let mut headers = Vec::with_capacity(parsed.fields);
        let mut start = 0;
        for (i, &end) in self.ends[..parsed.fields].iter().enumerate() {
            let name = std::str::from_utf8(&self.out[start..end]).map_err(|_| {
                CliError::usage(format!("CSV header column {} is not valid UTF-8", i + 1))
            })?;
            if name.is_empty() {
                return Err(CliError::usage(format!(
                    "CSV header column {} has no name",
                    i + 1
                )));
            }
            if headers.iter().any(|h| h == name) {
                return Err(CliError::usage(format!(
                    "the CSV header names the column `{name}` twice"
                )));
            }
            headers.push(name.to_owned());
            start = end;
        }
        self.headers = headers;
        Ok(())
    }

    /// The header's column names (empty for an empty input).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn into_headers(self) -> Vec<String> {
        self.headers
    }

    /// Where the next record may start.
    pub fn position(&self) -> RowPos {
        self.pos
    }

    /// Parses one record into `out`/`ends`, its bytes into `raw`.
    fn read_raw(&mut self) -> io::Result<Raw> {
        self.raw.clear();
        let (mut nout, mut nend) = (0, 0);
        loop {
            let from_refeed = self.refeed_at < self.refeed.len();
            let input: &[u8] = if from_refeed {
                &self.refeed[self.refeed_at..]
            } else {
                self.input.fill_buf()?
            };
            let (result, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.raw.extend_from_slice(&input[..nin]);
            if from_refeed {
                self.refeed_at += nin;
            } else {
                self.input.consume(nin);
            }
            nout += o;
            nend += e;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let len = self.out.len() * 2;
                    self.out.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => return Ok(Raw::Record(self.finish(nend))),
                ReadRecordResult::End => {
                    self.pos.offset += self.raw.len() as u64;
                    self.pos.line += count_lines(&self.raw);
                    return Ok(Raw::End);
                }
            }
            if self.raw.len() > MAX_ROW_BYTES {
                let lead = self.lead();
                let start = RowPos {
                    offset: self.pos.offset + lead as u64,
                    line: self.pos.line + count_lines(&self.raw[..lead]),
                };
                return Ok(Raw::TooLong { start });
            }
        }
    }

    /// Blank-line bytes before the record in `raw`.
    fn lead(&self) -> usize {
        self.raw
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count()
    }

    fn finish(&mut self, fields: usize) -> Parsed {
        let lead = self.lead();
        let mut body_end = self.raw.len();
        while body_end > lead && matches!(self.raw[body_end - 1], b'\n' | b'\r') {
            body_end -= 1;
        }
        let start = RowPos {
            offset: self.pos.offset + lead as u64,
            line: self.pos.line + count_lines(&self.raw[..lead]),
        };
        let end = RowPos {
            offset: self.pos.offset + self.raw.len() as u64,
            line: self.pos.line + count_lines(&self.raw),
        };
        self.pos = end;
        Parsed {
            start,
            end,
            body: lead..body_end,
            fields,
        }
    }

    /// Starts parsing again on the line after the one at `raw[from..]`'s start: the rest of
    /// `raw` is parsed again, then the input. `start` is where `raw[from]` is.
    fn resync(&mut self, from: usize, start: RowPos) {
        let next_line = memchr::memchr(b'\n', &self.raw[from..]).map(|i| from + i + 1);
        let Some(next) = next_line else {
            // The record was one line: parsing goes on after it as it is.
            return;
        };
        let mut refeed = self.raw[next..].to_vec();
        refeed.extend_from_slice(&self.refeed[self.refeed_at..]);
        self.refeed = refeed;
        self.refeed_at = 0;
        self.pos = RowPos {
            offset: start.offset + (next - from) as u64,
            line: start.line + 1,
        };
        self.core = ReaderBuilder::new().delimiter(self.delimiter).build();
        self.core_started();
    }

    /// The 1-based field where the quoting breaks in `body`: where a quoted field spans a
    /// line end, or where the quote that is never closed opens.
    fn broken_field(&self, body: &[u8]) -> usize {
        let (mut field, mut open_in, mut quoted) = (1, 1, false);
        for &b in body {
            if b == b'"' {
                quoted = !quoted;
                if quoted {
                    open_in = field;
                }
            } else if !quoted && b == self.delimiter {
                field += 1;
            } else if quoted && b == b'\n' {
                return open_in;
            }
        }
        open_in
    }

    fn column_name(&self, field: usize) -> String {
        match self.headers.get(field - 1) {
            Some(name) => name.clone(),
            None => format!("#{field}"),
        }
    }

    fn raw_text(&self, range: std::ops::Range<usize>) -> String {
        let bytes = &self.raw[range];
        let cut = bytes.len().min(1024);
        String::from_utf8_lossy(&bytes[..cut]).into_owned()
    }

    /// The next row, a row that could not be read, or the end.
    pub fn next(&mut self) -> io::Result<Next<'_>> {
        let parsed = match self.read_raw()? {
            Raw::End => return Ok(Next::End),
            Raw::TooLong { start } => {
                let lead = (start.offset - self.pos.offset) as usize;
                let column = self.broken_field(&self.raw[lead..]);
                let bad = BadRow {
                    start,
                    end: start,
                    column: Some(self.column_name(column)),
                    at_char: None,
                    reason: format!(
                        "the row is longer than {MAX_ROW_BYTES} bytes: broken quoting (a quote \
                         that is never closed?)"
                    ),
                    raw: Some(self.raw_text(lead..lead + 1024.min(self.raw.len() - lead))),
                };
                if memchr::memchr(b'\n', &self.raw[lead..]).is_some() {
                    self.resync(lead, start);
                } else {
                    // One line longer than the limit: skip to its end.
                    let mut rest = Vec::new();
                    let (skipped, _) = read_line_bounded(&mut self.input, &mut rest, 0)?;
                    self.pos = RowPos {
                        offset: start.offset + (self.raw.len() - lead + skipped) as u64,
                        line: start.line + 1,
                    };
                    self.core = ReaderBuilder::new().delimiter(self.delimiter).build();
                    self.core_started();
                }
                let end = self.pos;
                return Ok(Next::Bad(BadRow { end, ..bad }));
            }
            Raw::Record(parsed) => parsed,
        };
        let body = &self.raw[parsed.body.clone()];
        let multiline = memchr::memchr(b'\n', body).is_some();
        let bad_quote = quoting_error(body, self.delimiter);
        let expected = self.headers.len();
        if bad_quote.is_some() || (multiline && parsed.fields != expected) {
            let column = bad_quote.unwrap_or_else(|| self.broken_field(body));
            let reason = if bad_quote.is_some() {
                "broken quoting: a quote that is never closed, text right after a closing \
                 quote, or a `\"` inside an unquoted field"
                    .to_owned()
            } else {
                format!(
                    "broken quoting: a quoted field runs over {} lines and the row has {} \
                     fields where the header has {expected}",
                    count_lines(body) + 1,
                    parsed.fields
                )
            };
            let bad = BadRow {
                start: parsed.start,
                end: parsed.end,
                column: Some(self.column_name(column)),
                at_char: None,
                reason,
                raw: Some(self.raw_text(parsed.body.clone())),
            };
            if multiline {
                let from = parsed.body.start;
                self.resync(from, parsed.start);
            }
            return Ok(Next::Bad(BadRow {
                end: self.pos,
                ..bad
            }));
        }
        if parsed.fields != expected {
            return Ok(Next::Bad(BadRow {
                start: parsed.start,
                end: parsed.end,
                column: None,
                at_char: None,
                reason: format!(
                    "the row has {} field(s) where the header has {expected}",
                    parsed.fields
                ),
                raw: Some(self.raw_text(parsed.body.clone())),
            }));
        }
        self.spans.clear();
        let mut from = 0;
        for (i, &end) in self.ends[..parsed.fields].iter().enumerate() {
            if std::str::from_utf8(&self.out[from..end]).is_err() {
                return Ok(Next::Bad(BadRow {
                    start: parsed.start,
                    end: parsed.end,
                    column: Some(self.column_name(i + 1)),
                    at_char: None,
                    reason: "not valid UTF-8".into(),
                    raw: None,
                }));
            }
            self.spans.push((from, end));
            from = end;
        }
        // Every field is valid UTF-8 on its own, so their concatenation is too.
        let text = std::str::from_utf8(&self.out[..from])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "CSV fields are not UTF-8"))?;
        Ok(Next::Row {
            start: parsed.start,
            end: parsed.end,
            record: Record::Csv(CsvRow {
                headers: &self.headers,
                text,
                spans: &self.spans,
            }),
        })
    }
}

/// Where a record's quoting breaks RFC 4180, as a 1-based field number: a quote never
/// closed, a closing quote followed by anything but the delimiter or the record's end, or a
/// `"` in an unquoted field. `None` when the quoting is sound. `body` is the record without
/// its terminator.
fn quoting_error(body: &[u8], delimiter: u8) -> Option<usize> {
    let (mut field, mut i) = (1, 0);
    loop {
        if body.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let Some(close) = memchr::memchr(b'"', &body[i..]).map(|j| i + j) else {
                    return Some(field); // never closed
                };
                if body.get(close + 1) == Some(&b'"') {
                    i = close + 2; // an escaped quote
                    continue;
                }
                i = close + 1;
                break;
            }
            match body.get(i) {
                None => return None,
                Some(&b) if b == delimiter => {
                    i += 1;
                    field += 1;
                }
                Some(_) => return Some(field),
            }
        } else {
            let end = memchr::memchr(delimiter, &body[i..]).map_or(body.len(), |j| i + j);
            if memchr::memchr(b'"', &body[i..end]).is_some() {
                return Some(field);
            }
            if end == body.len() {
                return None;
            }
            i = end + 1;
            field += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// What a reader yields: rows as (line, offset, fields) or bad rows as (line, column).
    #[derive(Debug, PartialEq)]
    enum Got {
        Row(u64, u64, Vec<String>),
        Bad(u64, Option<String>),
    }

    fn read_all<R: BufRead>(reader: &mut CsvReader<R>) -> Vec<Got> {
        let mut got = Vec::new();
        loop {
            match reader.next().unwrap() {
                Next::Row { start, record, .. } => {
                    let Record::Csv(row) = record else {
                        unreachable!()
                    };
                    got.push(Got::Row(
                        start.line,
                        start.offset,
                        row.iter().map(|(_, v)| v.to_owned()).collect(),
                    ));
                }
                Next::Bad(bad) => got.push(Got::Bad(bad.start.line, bad.column)),
                Next::End => return got,
            }
        }
    }

    fn reader(text: &str) -> CsvReader<Cursor<Vec<u8>>> {
        CsvReader::new(Cursor::new(text.as_bytes().to_vec()), b',', None).unwrap()
    }

    fn row(line: u64, offset: u64, fields: &[&str]) -> Got {
        Got::Row(line, offset, fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn rows_have_their_line_and_offset_with_crlf_bom_and_quoted_newlines() {
        let text =
            "\u{feff}id,text\r\n1,plain\r\n\r\n2,\"two\r\nlines\"\r\n3,\"a \"\"quote\"\"\"\r\n";
        let mut r = reader(text);
        assert_eq!(r.headers(), ["id", "text"]);
        let got = read_all(&mut r);
        let at = |needle: &str| text.find(needle).unwrap() as u64;
        assert_eq!(
            got,
            [
                row(2, at("1,plain"), &["1", "plain"]),
                row(4, at("2,\""), &["2", "two\r\nlines"]),
                row(6, at("3,\""), &["3", "a \"quote\""]),
            ]
        );
        assert_eq!(r.position().offset, text.len() as u64);
    }

    #[test]
    fn a_broken_quote_is_reported_and_reading_goes_on_at_the_next_line() {
        let text = "id,a,b\n1,x,y\n2,\"open,y\n3,x,y\n4,x\"y,z\n5,x,y\n6,\"x\n";
        let got = read_all(&mut reader(text));
        assert_eq!(
            got,
            [
                row(2, 7, &["1", "x", "y"]),
                Got::Bad(3, Some("a".into())),
                row(4, text.find("3,x").unwrap() as u64, &["3", "x", "y"]),
                Got::Bad(5, Some("a".into())),
                row(6, text.find("5,x").unwrap() as u64, &["5", "x", "y"]),
                Got::Bad(7, Some("a".into())),
            ]
        );
    }

    #[test]
    fn quoting_errors_name_their_field() {
        let q = |s: &str| quoting_error(s.as_bytes(), b',');
        assert_eq!(q(r#"a,"b,c",d"#), None);
        assert_eq!(q(r#""a ""q"" b","",x"#), None);
        assert_eq!(q("1,\"two\nlines\",3"), None);
        assert_eq!(q(""), None);
        assert_eq!(q(r#"a,"b"#), Some(2));
        assert_eq!(q(r#"a,"b"c,d"#), Some(2));
        assert_eq!(q(r#"a,b"c,d"#), Some(2));
        assert_eq!(q(r#"a,b,5" screen"#), Some(3));
    }

    #[test]
    fn wrong_field_counts_and_bad_utf8_are_bad_rows() {
        let mut bytes = b"id,a\n1\n2,x,y\n3,".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"\n4,ok\n");
        let mut r = CsvReader::new(Cursor::new(bytes), b',', None).unwrap();
        assert_eq!(
            read_all(&mut r),
            [
                Got::Bad(2, None),
                Got::Bad(3, None),
                Got::Bad(4, Some("a".into())),
                row(5, 18, &["4", "ok"]),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_never_reads_more_than_the_row_limit() {
        // After the broken row, more than the limit of well-formed rows.
        let mut text = String::from("id,v\n1,\"never closed\n");
        let mut n = 2;
        while text.len() < MAX_ROW_BYTES * 2 {
            text.push_str(&format!("{n},value-{n}\n"));
            n += 1;
        }
        let mut r = reader(&text);
        let got = read_all(&mut r);
        assert_eq!(got[0], Got::Bad(2, Some("v".into())));
        // Every later row is read, in order, with its own line number.
        assert_eq!(got.len() as u64, n - 1);
        for (i, g) in got[1..].iter().enumerate() {
            let k = i as u64 + 2;
            let Got::Row(line, _, fields) = g else {
                panic!("{g:?}")
            };
            assert_eq!((*line, fields[0].as_str()), (k + 1, k.to_string().as_str()));
        }
        assert!(
            r.raw.capacity() <= 2 * MAX_ROW_BYTES + 64 * 1024,
            "{}",
            r.raw.capacity()
        );
    }

    #[test]
    fn one_line_over_the_limit_is_skipped() {
        let text = format!("id,v\n1,{}\n2,ok\n", "x".repeat(MAX_ROW_BYTES + 10));
        let got = read_all(&mut reader(&text));
        assert_eq!(got.len(), 2);
        assert!(matches!(got[0], Got::Bad(2, _)));
        assert_eq!(got[1], row(3, (text.len() - 5) as u64, &["2", "ok"]));
    }

    #[test]
    fn starting_at_a_row_end_reads_the_same_rows_as_reading_through() {
        let text = "id,v\r\n1,a\r\n2,\"b\r\nb\"\r\n3,c\n4,d\n";
        let mut full = reader(text);
        let mut ends = Vec::new();
        let mut all = Vec::new();
        while let Next::Row { end, record, .. } = full.next().unwrap() {
            let Record::Csv(row) = record else {
                unreachable!()
            };
            all.push(row.iter().map(|(_, v)| v.to_owned()).collect::<Vec<_>>());
            ends.push(end);
        }
        for (k, end) in ends.iter().enumerate() {
            let rest = text.as_bytes()[end.offset as usize..].to_vec();
            let mut r = CsvReader::new(
                Cursor::new(rest),
                b',',
                Some((vec!["id".into(), "v".into()], *end)),
            )
            .unwrap();
            let got = read_all(&mut r);
            let fields: Vec<Vec<String>> = got
                .iter()
                .map(|g| match g {
                    Got::Row(_, _, f) => f.clone(),
                    bad => panic!("{bad:?}"),
                })
                .collect();
            assert_eq!(fields, all[k + 1..], "from {end}");
            // Line numbers and offsets are the file's, not the slice's.
            if let Some(Got::Row(line, offset, _)) = got.first() {
                let expected = full_positions(text)[k + 1];
                assert_eq!((*line, *offset), expected);
            }
        }
    }

    fn full_positions(text: &str) -> Vec<(u64, u64)> {
        read_all(&mut reader(text))
            .into_iter()
            .map(|g| match g {
                Got::Row(l, o, _) => (l, o),
                bad => panic!("{bad:?}"),
            })
            .collect()
    }
}
