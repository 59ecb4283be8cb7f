//! NDJSON rows: one JSON object per line, read line by line within [`MAX_ROW_BYTES`].

use std::io::{self, BufRead};

use serde_json::{Map, Value};

use super::source::{read_line_bounded, BadRow, Next, Record, RowPos, MAX_ROW_BYTES};

/// Reads NDJSON objects with their positions. Blank lines are skipped; a line that is not a
/// JSON object, or is longer than [`MAX_ROW_BYTES`], is a bad row and reading goes on.
pub struct NdjsonReader<R> {
    input: R,
    line: Vec<u8>,
    pos: RowPos,
    object: Map<String, Value>,
}

impl<R: BufRead> NdjsonReader<R> {
    /// A reader of `input`, which starts at `start`.
    pub fn new(input: R, start: RowPos) -> Self {
        NdjsonReader {
            input,
            line: Vec::with_capacity(1024),
            pos: start,
            object: Map::new(),
        }
    }

    /// The next row, a row that could not be read, or the end.
    pub fn next(&mut self) -> io::Result<Next<'_>> {
        loop {
            self.line.clear();
            let start = self.pos;
            let (consumed, too_long) =
                read_line_bounded(&mut self.input, &mut self.line, MAX_ROW_BYTES)?;
            if consumed == 0 {
                return Ok(Next::End);
            }
            let ended = self.line.last() == Some(&b'\n') || too_long;
            self.pos = RowPos {
                offset: start.offset + consumed as u64,
                line: start.line + u64::from(ended),
            };
            let end = self.pos;
            if too_long {
                return Ok(Next::Bad(BadRow {
                    start,
                    end,
                    column: None,
                    at_char: None,
                    reason: format!("the line is longer than {MAX_ROW_BYTES} bytes"),
                    raw: Some(String::from_utf8_lossy(&self.line[..1024]).into_owned()),
                }));
            }
            let text = self.line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Value>(text) {
                Ok(Value::Object(map)) => {
                    self.object = map;
                    return Ok(Next::Row {
                        start,
                        end,
                        record: Record::Json(&self.object),
                    });
                }
                Ok(other) => {
                    let kind = match other {
                        Value::Array(_) => "an array",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    return Ok(Next::Bad(BadRow {
                        start,
                        end,
                        column: None,
                        at_char: None,
                        reason: format!("the line is {kind}, not a JSON object"),
                        raw: Some(lossy_start(text)),
                    }));
                }
                Err(e) => {
                    return Ok(Next::Bad(BadRow {
                        start,
                        end,
                        column: None,
                        at_char: Some(e.column() as u64),
                        reason: format!("not valid JSON: {e}"),
                        raw: Some(lossy_start(text)),
                    }));
                }
            }
        }
    }
}

fn lossy_start(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).into_owned()
}
