//! A feed file as a header and rows, read one row at a time: the delimiter found from the
//! header line, the text decoded, and each row tagged with the physical line it starts on.
//! Knows nothing of what the columns mean.
//!
//! The parsing is `csv_core`'s; this module feeds it by hand rather than through
//! `csv::Reader` for two things that reader does not give: the line a row starts on
//! (its `Position` counts from the end of the previous row, so blank lines and CRLF
//! files shift it) and whether the file ended inside a quoted field (it accepts that as
//! a field).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Chain, Cursor, Read};

use csv_core::{ReadRecordResult, ReaderBuilder};
use encoding_rs::WINDOWS_1250;
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::{Encoding, FeedError};

/// The longest row kept, in bytes: past it the row is refused and skipped without being
/// held, so a quote left open near the top of a big file cannot fill the memory.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// The most fields a row may have, for the same reason.
const MAX_ROW_FIELDS: usize = 1 << 14;
/// How much of the file is read at a time.
const CHUNK: usize = 64 * 1024;

/// The header line: column names as written, and where each known name is.
pub(super) struct Header {
    /// Trimmed, as the file has them: errors name the column the way the retailer wrote it.
    names: Vec<String>,
    /// Lower case, spaces as underscores (`Sale Price` is `sale_price`) → position.
    index: HashMap<String, usize>,
}

/// One row of the file, its fields as text.
pub(super) struct Row<'h> {
    /// Physical 1-based line the row starts on; the header is line 1.
    pub line: u64,
    fields: Vec<String>,
    header: &'h Header,
}

/// What `csv_core` made of one record, its fields in `Table::out` and `Table::ends`.
struct Record {
    line: u64,
    fields: usize,
    /// The file ended inside a quoted field of this record.
    truncated: bool,
    /// Longer than `MAX_ROW_BYTES` or `MAX_ROW_FIELDS`: its fields were not kept.
    oversized: bool,
}

/// A file whose first line was read ahead.
pub(super) type Peeked<B> = Chain<Cursor<Vec<u8>>, B>;

/// The rows of one file after its header.
pub(super) struct Table<B> {
    input: B,
    parser: csv_core::Reader,
    /// Physical line of the next byte `input` gives.
    line: u64,
    header: Header,
    /// The current record's fields, back to back, and where each ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Set after an error past which nothing can be read (the file cut short, a read failed).
    finished: bool,
}

/// `input` decoded to UTF-8: Windows-1250 transcoded; UTF-8 passed through unchecked so
/// a bad byte is reported at its row; a BOM dropped (a UTF-16 one decoded, as Excel's
/// "Unicode text" writes).
pub(super) fn decode<R: Read>(input: R, encoding: Encoding) -> BufReader<impl Read> {
    let mut builder = DecodeReaderBytesBuilder::new();
    builder.strip_bom(true);
    match encoding {
        Encoding::Utf8 => builder.utf8_passthru(true),
        Encoding::Windows1250 => builder.encoding(Some(WINDOWS_1250)).bom_override(true),
    };
    BufReader::with_capacity(CHUNK, builder.build(input))
}

impl<B: BufRead> Table<B> {
    /// Reads the header line and checks that it has every `required` column (given in
    /// the normalized form). An error here means no rows.
    pub fn open(mut input: B, required: &[&str]) -> Result<Table<Peeked<B>>, FeedError> {
        // The first line with content (or the first CHUNK bytes), read to find the
        // delimiter and then put back in front of the rest.
        let mut first = Vec::new();
        loop {
            let limit = (CHUNK - first.len()) as u64;
            match (&mut input).take(limit).read_until(b'\n', &mut first) {
                Ok(0) => break,
                Ok(_) if first.iter().any(|&b| b != b'\n' && b != b'\r') => break,
                Ok(_) => continue,
                Err(e) => return Err(FeedError::new(1, None, format!("the file could not be read: {e}"))),
            }
        }
        let parser = ReaderBuilder::new().delimiter(delimiter(&first)).build();
        let input = Cursor::new(first).chain(input);
        let empty = Header { names: Vec::new(), index: HashMap::new() };
        let mut table = Table { input, parser, line: 1, header: empty, out: vec![0; 1024], ends: vec![0; 64], finished: false };
        let names = match table.next_fields() {
            None => return Err(FeedError::new(1, None, "the file is empty".into())),
            Some(Err(e)) => return Err(e),
            Some(Ok((_, names))) => names,
        };
        let mut index = HashMap::new();
        // Unnamed columns (a spreadsheet's trailing empty ones) are unknown columns.
        for (i, name) in names.iter().enumerate().filter(|(_, name)| !name.is_empty()) {
            let key = name.to_lowercase().replace(' ', "_");
            if index.insert(key, i).is_some() {
                let message = format!("the column {name} is in the header twice");
                return Err(FeedError::new(1, Some(name.clone()), message));
            }
        }
        let missing: Vec<&str> = required.iter().copied().filter(|name| !index.contains_key(*name)).collect();
        if let Some(first) = missing.first() {
            let found = names.join(", ");
            let message = format!("the header lacks the required column(s) {} (it has: {found})", missing.join(", "));
            return Err(FeedError::new(1, Some(first.to_string()), message));
        }
        table.header = Header { names, index };
        Ok(table)
    }

    /// The next row with content (rows of empty fields, as spreadsheets leave, are
    /// skipped), or why it cannot be read. `None` at the end of the file, or after an
    /// error that ends the reading.
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, FeedError>> {
        loop {
            let (line, fields) = match self.next_fields()? {
                Ok(row) => row,
                Err(e) => return Some(Err(e)),
            };
            if fields.iter().all(String::is_empty) {
                continue;
            }
            let (found, expected) = (fields.len(), self.header.names.len());
            if found != expected {
                let message = format!("the row has {found} fields but the header has {expected}: a delimiter or a quote is out of place");
                return Some(Err(FeedError::new(line, None, message)));
            }
            return Some(Ok(Row { line, fields, header: &self.header }));
        }
    }

    /// The next record's fields as trimmed UTF-8 text, with its line.
    fn next_fields(&mut self) -> Option<Result<(u64, Vec<String>), FeedError>> {
        if self.finished {
            return None;
        }
        let record = match self.next_record() {
            Ok(record) => record?,
            Err(e) => {
                self.finished = true;
                return Some(Err(FeedError::new(self.line, None, format!("the file could not be read: {e}"))));
            }
        };
        let column = |i: usize| self.header.names.get(i).cloned();
        let count = if record.oversized { 0 } else { record.fields };
        let fields = (0..count).map(|i| &self.out[if i == 0 { 0 } else { self.ends[i - 1] }..self.ends[i]]);
        if record.truncated {
            self.finished = true;
            // The open field is the last: it began after the newlines of the ones before.
            let newlines: usize = fields.take(count.saturating_sub(1)).map(|f| f.iter().filter(|&&b| b == b'\n').count()).sum();
            let message = "the file ends inside this quoted field: it was cut short, or the field's closing quote is missing";
            let open = if record.oversized { None } else { column(count.saturating_sub(1)) };
            return Some(Err(FeedError::new(record.line + newlines as u64, open, message.into())));
        }
        if record.oversized {
            let message = format!("the row is longer than {MAX_ROW_BYTES} bytes or {MAX_ROW_FIELDS} fields: a quote near its start may lack its closing quote");
            return Some(Err(FeedError::new(record.line, None, message)));
        }
        let mut texts = Vec::with_capacity(count);
        for (i, field) in fields.enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => texts.push(text.trim().to_string()),
                Err(_) => return Some(Err(FeedError::new(record.line, column(i), not_utf8(field)))),
            }
        }
        Some(Ok((record.line, texts)))
    }

    /// Feeds `csv_core` until it has a whole record. Blank lines before a record are
    /// skipped here (the parser would skip them too) so that the record's line is known.
    fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        let mut line = None;
        let (mut nout, mut nend) = (0, 0);
        let (mut oversized, mut truncated, mut at_end) = (false, false, false);
        loop {
            let chunk = self.input.fill_buf()?;
            if line.is_none() {
                let blank = chunk.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
                let empty = chunk.is_empty();
                self.line += chunk[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
                self.input.consume(blank);
                if blank > 0 {
                    continue;
                }
                if empty {
                    return Ok(None);
                }
                line = Some(self.line);
            }
            let chunk = self.input.fill_buf()?;
            // At the end of the file one newline more tells whether a quoted field is
            // still open: it ends the record unless a quote swallows it.
            let sentinel = chunk.is_empty() && !at_end;
            let input: &[u8] = if sentinel { b"\n" } else { chunk };
            if nout == self.out.len() {
                if self.out.len() >= MAX_ROW_BYTES {
                    (oversized, nout) = (true, 0);
                } else {
                    self.out.resize(self.out.len() * 2, 0);
                }
            }
            if nend == self.ends.len() {
                if self.ends.len() >= MAX_ROW_FIELDS {
                    (oversized, nend) = (true, 0);
                } else {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
            }
            let (result, nin, n_out, n_end) = self.parser.read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            if sentinel {
                // Taken without ending the record: a quote swallowed it.
                at_end = nin == 1;
                truncated = at_end && result != ReadRecordResult::Record;
            } else {
                self.line += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
                self.input.consume(nin);
            }
            (nout, nend) = (nout + n_out, nend + n_end);
            match result {
                ReadRecordResult::Record => return Ok(Some(Record { line: line.unwrap_or(self.line), fields: nend, truncated, oversized })),
                ReadRecordResult::End => return Ok(None),
                _ => continue,
            }
        }
    }
}

impl Row<'_> {
    /// The trimmed text of column `name` (normalized, as `sale_price`); `None` when it is
    /// empty or the file has no such column.
    pub fn text(&self, name: &str) -> Option<&str> {
        let i = *self.header.index.get(name)?;
        self.fields.get(i).map(String::as_str).filter(|text| !text.is_empty())
    }

    /// An error about this row's column `name`, named as the header writes it.
    pub fn error(&self, name: &str, message: String) -> FeedError {
        let column = self.header.index.get(name).and_then(|&i| self.header.names.get(i)).cloned();
        FeedError::new(self.line, Some(column.unwrap_or_else(|| name.to_string())), message)
    }

    /// Column `name` read by `parse`; `None` when empty.
    pub fn parse<T>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, FeedError> {
        self.text(name).map(parse).transpose().map_err(|why| self.error(name, why))
    }

    /// Column `name`, which may not be empty.
    pub fn required(&self, name: &str) -> Result<String, FeedError> {
        let what = name.replace('_', " ");
        self.text(name).map(str::to_string).ok_or_else(|| self.error(name, format!("the {what} is empty")))
    }
}

/// The delimiter the header line has most of: tab (Google's own format), comma, or
/// semicolon (the CSV of a spreadsheet set to Polish). Tab when there is none.
fn delimiter(start: &[u8]) -> u8 {
    let header = start.split(|&b| b == b'\n').find(|line| line.iter().any(|&b| b != b'\r')).unwrap_or_default();
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    [b',', b';'].into_iter().fold(b'\t', |best, d| if count(d) > count(best) { d } else { best })
}

/// Why a field that is not UTF-8 was refused, with what it says in the encoding it
/// most likely has (this is a hub for Polish and British shops).
fn not_utf8(field: &[u8]) -> String {
    let (text, _) = WINDOWS_1250.decode_without_bom_handling(field);
    let text: String = text.chars().take(40).collect();
    format!("the text is not UTF-8; read as Windows-1250 it says \"{text}\": if that is right, pass --encoding windows-1250")
}
