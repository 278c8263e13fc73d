//! Reading a contract CSV: header by name, fields by column, and every
//! problem pinned to its line and column.

use std::fs::File;
use std::io::{BufReader, Read};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use csv::ByteRecord;

use super::{ImportError, Problem, Problems, Source};
use crate::domain::InvalidValue;

/// Longest cell we accept at all; a 10 MB "name" is an attack or a broken
/// export, not data.
const MAX_CELL_BYTES: usize = 4_096;

/// The columns a file must have and may have (contract §2).
pub(crate) struct Spec {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

pub(crate) struct CsvFile {
    reader: csv::Reader<Box<dyn Read + Send>>,
    pub file: String,
    columns: Vec<(&'static str, usize)>,
    pub rows: i64,
}

impl CsvFile {
    /// Opens the file and checks its header. `None` when the header has
    /// problems (already recorded): the rows cannot be read without it.
    pub fn open(
        src: &Source<'_>,
        spec: &Spec,
        problems: &mut Problems,
    ) -> Result<Option<CsvFile>, ImportError> {
        let f = File::open(src.path).map_err(|source| ImportError::Io {
            path: src.path.display().to_string(),
            source,
        })?;
        let input = Box::new(BufReader::with_capacity(1 << 20, f));
        Ok(Self::from_reader(src.name.clone(), input, spec, problems))
    }

    /// [`CsvFile::open`] on any byte stream (`file` names it in problems).
    pub fn from_reader(
        file: String,
        input: Box<dyn Read + Send>,
        spec: &Spec,
        problems: &mut Problems,
    ) -> Option<CsvFile> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(input);
        let header_problem = |column: &str, message: String| Problem {
            file: file.clone(),
            line: 1,
            column: column.into(),
            message,
        };
        let headers = match reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                problems.push(header_problem(
                    "(header)",
                    format!("unreadable header: {e}"),
                ));
                return None;
            }
        };
        if headers.is_empty() || (headers.len() == 1 && strip_bom(&headers[0]).is_empty()) {
            problems.push(header_problem(
                "(file)",
                "empty file: expected a header row".into(),
            ));
            return None;
        }
        // Excel's "Unicode text" export: every column name would otherwise
        // be reported missing, which hides the real cause.
        if headers[0].starts_with(b"\xFF\xFE") || headers[0].starts_with(b"\xFE\xFF") {
            problems.push(header_problem(
                "(file)",
                "UTF-16 text: the file must be UTF-8".into(),
            ));
            return None;
        }
        let mut columns = Vec::new();
        let before = problems.total;
        for (i, raw) in headers.iter().enumerate() {
            let raw = if i == 0 { strip_bom(raw) } else { raw };
            let Ok(name) = std::str::from_utf8(raw) else {
                problems.push(header_problem(
                    "(header)",
                    format!("column {} name is not valid UTF-8", i + 1),
                ));
                continue;
            };
            let Some(known) = spec
                .required
                .iter()
                .chain(spec.optional)
                .find(|c| **c == name)
            else {
                // A known name behind stray spaces or a second byte-order
                // mark would otherwise surface only as "missing column".
                let trimmed = name.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
                if trimmed != name
                    && spec
                        .required
                        .iter()
                        .chain(spec.optional)
                        .any(|c| *c == trimmed)
                {
                    problems.push(header_problem(
                        trimmed,
                        format!(
                            "column name {:?} has stray spaces or a byte-order mark",
                            clip(name)
                        ),
                    ));
                }
                continue; // extra columns are tolerated and ignored
            };
            if columns.iter().any(|(c, _)| c == known) {
                problems.push(header_problem(
                    known,
                    "column appears twice in the header".into(),
                ));
            }
            columns.push((*known, i));
        }
        for req in spec.required {
            if !columns.iter().any(|(c, _)| c == req) {
                problems.push(header_problem(req, "missing column".into()));
            }
        }
        (problems.total == before).then_some(CsvFile {
            reader,
            file,
            columns,
            rows: 0,
        })
    }

    /// Reads the next record into `rec`; returns its line, or `None` at the
    /// end. A record of the wrong shape is recorded as a problem and skipped.
    pub fn next(
        &mut self,
        rec: &mut ByteRecord,
        problems: &mut Problems,
    ) -> Result<Option<u64>, ImportError> {
        loop {
            match self.reader.read_byte_record(rec) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    self.rows += 1;
                    return Ok(Some(rec.position().map_or(0, |p| p.line())));
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    let message = match e.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => {
                            format!("expected {expected_len} fields, found {len}")
                        }
                        csv::ErrorKind::Io(io) => {
                            return Err(ImportError::Io {
                                path: self.file.clone(),
                                source: std::io::Error::new(io.kind(), io.to_string()),
                            });
                        }
                        other => format!("unreadable record: {other:?}"),
                    };
                    self.rows += 1;
                    problems.push(Problem {
                        file: self.file.clone(),
                        line,
                        column: "(row)".into(),
                        message,
                    });
                }
            }
        }
    }

    pub fn row<'a>(
        &'a self,
        line: u64,
        rec: &'a ByteRecord,
        problems: &'a mut Problems,
    ) -> Row<'a> {
        Row {
            csv: self,
            line,
            rec,
            problems,
            ok: true,
        }
    }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

/// One record being validated. Accessors return `None` on a problem (and
/// record it), so a row reports all its bad fields at once.
pub(crate) struct Row<'a> {
    csv: &'a CsvFile,
    pub line: u64,
    rec: &'a ByteRecord,
    problems: &'a mut Problems,
    /// False once any field of the row had a problem.
    pub ok: bool,
}

impl Row<'_> {
    pub fn problem(&mut self, column: &str, message: impl Into<String>) {
        self.ok = false;
        self.problems.push(Problem {
            file: self.csv.file.clone(),
            line: self.line,
            column: column.into(),
            message: message.into(),
        });
    }

    /// The cell: `Ok(None)` when empty or absent, `Err(())` when unreadable
    /// (already recorded).
    fn cell(&mut self, column: &'static str) -> Result<Option<String>, ()> {
        let Some(idx) = self
            .csv
            .columns
            .iter()
            .find(|(c, _)| *c == column)
            .map(|c| c.1)
        else {
            return Ok(None);
        };
        let raw = self.rec.get(idx).unwrap_or_default();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > MAX_CELL_BYTES {
            self.problem(
                column,
                format!(
                    "value too long ({} bytes, at most {MAX_CELL_BYTES})",
                    raw.len()
                ),
            );
            return Err(());
        }
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => {
                self.problem(column, "not valid UTF-8 (the file must be UTF-8)");
                Err(())
            }
        }
    }

    fn required_cell(&mut self, column: &'static str) -> Option<String> {
        match self.cell(column) {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                self.problem(column, "required value is empty");
                None
            }
            Err(()) => None,
        }
    }

    /// Applies `check` to a present cell; `Ok(None)` when empty, `Err(())`
    /// when present but invalid (recorded).
    fn optional<T>(
        &mut self,
        column: &'static str,
        check: impl FnOnce(&mut Self, String) -> Option<T>,
    ) -> Result<Option<T>, ()> {
        match self.cell(column)? {
            None => Ok(None),
            Some(s) => check(self, s).map(Some).ok_or(()),
        }
    }

    fn parsed<T: FromStr<Err = InvalidValue>>(
        &mut self,
        column: &'static str,
        s: &str,
    ) -> Option<T> {
        match s.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(column, e.0);
                None
            }
        }
    }

    pub fn req<T: FromStr<Err = InvalidValue>>(&mut self, column: &'static str) -> Option<T> {
        let s = self.required_cell(column)?;
        self.parsed(column, &s)
    }

    pub fn opt<T: FromStr<Err = InvalidValue>>(
        &mut self,
        column: &'static str,
    ) -> Result<Option<T>, ()> {
        self.optional(column, |r, s| r.parsed(column, &s))
    }

    /// Free text: no control characters, at most `max` characters.
    pub fn text(&mut self, column: &'static str, max: usize) -> Option<String> {
        let s = self.required_cell(column)?;
        self.check_text(column, s, max)
    }

    pub fn opt_text(&mut self, column: &'static str, max: usize) -> Result<Option<String>, ()> {
        self.optional(column, |r, s| r.check_text(column, s, max))
    }

    fn check_text(&mut self, column: &'static str, s: String, max: usize) -> Option<String> {
        if s.chars().any(char::is_control) {
            self.problem(column, "control characters are not allowed");
            return None;
        }
        if s.trim().is_empty() {
            self.problem(column, "value is blank");
            return None;
        }
        if s.chars().count() > max {
            self.problem(column, format!("too long (at most {max} characters)"));
            return None;
        }
        Some(s)
    }

    pub fn date(&mut self, column: &'static str) -> Option<NaiveDate> {
        let s = self.required_cell(column)?;
        self.parse_date(column, &s)
    }

    pub fn opt_date(&mut self, column: &'static str) -> Result<Option<NaiveDate>, ()> {
        self.optional(column, |r, s| r.parse_date(column, &s))
    }

    fn parse_date(&mut self, column: &'static str, s: &str) -> Option<NaiveDate> {
        let shaped = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if shaped => Some(d),
            _ => {
                self.problem(
                    column,
                    format!("not a date: {:?} (expected YYYY-MM-DD)", clip(s)),
                );
                None
            }
        }
    }

    pub fn timestamp(&mut self, column: &'static str) -> Option<DateTime<FixedOffset>> {
        let s = self.required_cell(column)?;
        match DateTime::parse_from_rfc3339(&s) {
            Ok(t) => Some(t),
            Err(_) => {
                self.problem(column, format!("not a timestamp: {:?} (expected RFC 3339 with an offset, e.g. 2026-11-30T09:15:00+01:00)", clip(&s)));
                None
            }
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}
