//! CSV import (contract §2): parse and validate at the edge, then load.
//!
//! A file is all-or-nothing: every problem found is reported as
//! `FILE:LINE: COLUMN: message` and nothing is written. A file already
//! imported (same SHA-256) is a no-op. Business rejections (R01–R05) are not
//! problems: the claim is kept, marked rejected, and returned in the RSP.

mod claims;
mod csvfile;
mod parties;

use std::fmt;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::store::parties::ImportRecord;
use crate::store::{Store, StoreError};

pub use crate::store::claims::ClaimCounts;

/// What kind of file is imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Practitioners,
    Adherents,
    Claims,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Practitioners => "practitioners",
            Kind::Adherents => "adherents",
            Kind::Claims => "claims",
        }
    }
}

/// One problem of a refused file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Problems of one file: all counted, the first [`Problems::KEPT`] kept, so a
/// file with a million bad lines neither floods the terminal nor the memory.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    pub kept: Vec<Problem>,
    pub total: usize,
}

impl Problems {
    pub const KEPT: usize = 200;

    pub fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.kept.len() < Self::KEPT {
            self.kept.push(p);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.kept {
            writeln!(f, "{p}")?;
        }
        if self.total > self.kept.len() {
            writeln!(f, "… and {} more problems", self.total - self.kept.len())?;
        }
        write!(
            f,
            "file refused ({} problems): nothing was imported",
            self.total
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Refused(Problems),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// This exact file was imported before: nothing changed.
    AlreadyImported { previous: ImportRecord },
    Imported {
        record: ImportRecord,
        /// Claims only: the rules' verdicts.
        claims: Option<ClaimCounts>,
        /// Practitioners and adherents: bank-detail entries added or corrected.
        bank_details_changed: u64,
    },
}

impl fmt::Display for ImportOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportOutcome::AlreadyImported { previous: p } => write!(
                f,
                "{}: already imported on {} (sha256 {}): nothing changed",
                p.file_name, p.imported_at, p.sha256
            ),
            ImportOutcome::Imported {
                record: r,
                claims,
                bank_details_changed,
            } => {
                write!(
                    f,
                    "{}: {} {} rows imported",
                    r.file_name, r.rows_read, r.kind
                )?;
                match claims {
                    Some(c) => write!(
                        f,
                        " — {} accepted, {} rejected, {} identical re-sends ignored, {} duplicates (R03)",
                        c.accepted, c.rejected, c.ignored, c.duplicates
                    )?,
                    None => write!(
                        f,
                        " — {bank_details_changed} bank-detail entries added or changed"
                    )?,
                }
                Ok(())
            }
        }
    }
}

/// Imports one CSV file of the given kind.
pub async fn import_file(
    store: &Store,
    cal: &Calendar,
    kind: Kind,
    path: &Path,
) -> Result<ImportOutcome, ImportError> {
    let sha256 = file_sha256(path)?;
    let mut tx = store.begin().await?;
    tx.wait_for_other_imports().await?;
    if let Some(previous) = tx.find_import(&sha256).await? {
        tx.rollback().await?;
        return Ok(ImportOutcome::AlreadyImported { previous });
    }
    let source = Source {
        path,
        name: display_name(path),
        sha256,
    };
    let result = match kind {
        Kind::Practitioners => parties::import_practitioners(&mut tx, &source).await,
        Kind::Adherents => parties::import_adherents(&mut tx, &source).await,
        Kind::Claims => claims::import_claims(&mut tx, cal, &source).await,
    };
    match result {
        Ok(outcome) => {
            crash_point!("import.before_commit");
            tx.commit().await?;
            if let ImportOutcome::Imported { record, .. } = &outcome {
                tracing::info!(file = %record.file_name, kind = %record.kind, rows = record.rows_read,
                    accepted = record.accepted, rejected = record.rejected, sha256 = %record.sha256, "file imported");
            }
            Ok(outcome)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// What [`validate`] found.
#[derive(Debug, Default, Clone)]
pub struct Validation {
    /// Records read after the header (well-formed or not).
    pub rows: u64,
    /// Records that passed every check of their own.
    pub valid_rows: u64,
    pub problems: Problems,
}

/// Parses and validates `bytes` as a file of `kind`, exactly as
/// [`import_file`] does before it touches the database, and without one:
/// for fuzzing, and for a caller that wants the problems of a file first.
/// `file` names the file in the problems. Not checked here, because the
/// database does it: a duplicate (`ps_id`, `invoice_no`) inside a claims
/// file (found when the file is staged) and the business rules R01–R05.
pub fn validate(kind: Kind, file: &str, bytes: &[u8], cal: &Calendar) -> Validation {
    let mut problems = Problems::default();
    let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
    let spec = match kind {
        Kind::Claims => &claims::CLAIMS,
        _ => parties::spec(kind),
    };
    let csv = csvfile::CsvFile::from_reader(file.to_owned(), input, spec, &mut problems);
    let read = match kind {
        Kind::Claims => claims::validate(csv, cal, &mut problems),
        _ => parties::validate(kind, csv, &mut problems),
    };
    // Reading from memory cannot fail with an I/O error.
    let (rows, valid) = read.unwrap_or_default();
    Validation {
        rows: rows as u64,
        valid_rows: valid as u64,
        problems,
    }
}

/// The file being imported.
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub name: String,
    pub sha256: String,
}

impl Source<'_> {
    fn record(
        &self,
        kind: Kind,
        rows: i64,
        accepted: i64,
        rejected: i64,
        ignored: i64,
    ) -> ImportRecord {
        ImportRecord {
            sha256: self.sha256.clone(),
            kind: kind.as_str().into(),
            file_name: self.name.clone(),
            rows_read: rows,
            accepted,
            rejected,
            ignored,
            imported_at: crate::store::timestamp(chrono::Utc::now()),
        }
    }
}

/// What the blocking thread that parsed a file returned: its result, or
/// its panic resumed here, or why it never finished.
fn parser_result<T>(
    joined: Result<Result<T, ImportError>, tokio::task::JoinError>,
    src: &Source<'_>,
) -> Result<T, ImportError> {
    match joined {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(ImportError::Io {
            path: src.path.display().to_string(),
            source: std::io::Error::other(format!("reading stopped: {e}")),
        }),
    }
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn file_sha256(path: &Path) -> Result<String, ImportError> {
    let io = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
