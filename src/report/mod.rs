//! The auditors' SLA report (contract §5): for the TP claims received in a
//! period, how many were paid on time against the four-working-day promise,
//! the delays, the late claims and why, penalties, and the settlement runs
//! that paid them, as CSV and Parquet for tools and one HTML page for people.
//!
//! ```text
//! store::report ──rows──► outcome (calendar: deadline, working days, cause)
//!                        └► batch (column builders → polars chunks)
//!                            └► sla (polars lazy: daily, breakdown, delays, late list, penalties)
//!                                └► files (CSV + Parquet, deterministic) └► html + svg (sla.html)
//! ```
//!
//! Reproducible: unpaid claims are judged as of the last run's execution
//! date (the *status date*), never the clock, so the same database gives the
//! same CSV and Parquet bytes; only the page's generation time changes.

// polars is behind the default `report` feature so that builds which never
// report (the fuzz targets) skip its long compilation.
#[cfg(feature = "report")]
mod batch;
#[cfg(feature = "report")]
mod files;
#[cfg(feature = "report")]
mod generate;
#[cfg(feature = "report")]
mod html;
#[cfg(feature = "report")]
mod outcome;
pub mod penalty;
#[cfg(feature = "report")]
mod sla;
#[cfg(feature = "report")]
mod svg;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::store::StoreError;
use crate::store::report::{LedgerFile, LedgerFolder, LedgerRun};

#[cfg(feature = "report")]
pub use generate::sla_report;
#[cfg(feature = "report")]
pub use outcome::Cause;

/// Rows of the late list (and of the penalties table) shown in the page;
/// the CSV files have them all.
pub const LATE_ROWS_SHOWN: usize = 1_000;

/// The page's file name.
pub const HTML_FILE: &str = "sla.html";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the period is empty: --from {from} is after --to {to}")]
    Period { from: NaiveDate, to: NaiveDate },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[cfg(feature = "report")]
    #[error("report computation: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[cfg(not(feature = "report"))]
    #[error("this build of tpsettle has no SLA report (built without the `report` feature)")]
    NotBuilt,
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("report template: {0}")]
    Template(String),
    /// Figures that must agree do not: nothing is trusted, the report stops.
    #[error("report figures disagree: {0}")]
    Invariant(String),
}

/// A written file, for the page's list of files and the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

impl WrittenFile {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A run of the ledger with its files.
#[derive(Clone, Debug)]
pub struct LedgerEntry {
    pub run: LedgerRun,
    /// Files listed one by one (SEPA, manifest…).
    pub files: Vec<LedgerFile>,
    /// Bulk folders (RSP returns, statements), counted.
    pub folders: Vec<LedgerFolder>,
}

/// The period's headline figures and the files written.
#[derive(Clone, Debug, PartialEq)]
pub struct SlaSummary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Execution date of the last run recorded; `None` without any run.
    pub status_date: Option<NaiveDate>,
    pub claims: i64,
    pub paid: i64,
    pub on_time: i64,
    pub late: i64,
    pub late_paid: i64,
    pub late_unpaid: i64,
    pub pending: i64,
    /// On time ÷ (on time + late), in percent, two decimals.
    pub on_time_pct: Option<f64>,
    /// `None` when no penalty scale is configured.
    pub penalty_total_cents: Option<i64>,
    pub runs: usize,
    pub deadline_mismatches: u64,
    pub files: Vec<WrittenFile>,
}

impl SlaSummary {
    pub fn html_path(&self) -> Option<&Path> {
        self.files
            .iter()
            .map(|f| f.path.as_path())
            .find(|p| p.file_name().is_some_and(|n| n == HTML_FILE))
    }
}

impl fmt::Display for SlaSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "SLA report for claims received {} to {} (status as of {}):",
            self.from,
            self.to,
            self.status_date
                .map_or_else(|| "no run yet".to_owned(), |d| d.to_string())
        )?;
        writeln!(
            f,
            "  {} TP claims: {} paid on time, {} late ({} paid late, {} unpaid), {} pending",
            self.claims, self.on_time, self.late, self.late_paid, self.late_unpaid, self.pending
        )?;
        match self.on_time_pct {
            Some(p) => writeln!(f, "  on-time rate {p:.2} %")?,
            None => writeln!(f, "  on-time rate: no decided claim")?,
        }
        if let Some(c) = self.penalty_total_cents {
            writeln!(f, "  penalties EUR {}", rust_decimal::Decimal::new(c, 2))?;
        }
        if self.deadline_mismatches > 0 {
            writeln!(
                f,
                "  warning: {} recorded deadlines differ from the current calendar",
                self.deadline_mismatches
            )?;
        }
        for file in &self.files {
            writeln!(f, "  {}", file.path.display())?;
        }
        Ok(())
    }
}

/// Without the `report` feature there is nothing to build the report with.
#[cfg(not(feature = "report"))]
pub async fn sla_report(
    _store: &crate::store::Store,
    _config: &crate::config::Config,
    _calendar: &crate::calendar::Calendar,
    from: NaiveDate,
    to: NaiveDate,
    _out_dir: &Path,
) -> Result<SlaSummary, ReportError> {
    if from > to {
        return Err(ReportError::Period { from, to });
    }
    Err(ReportError::NotBuilt)
}

/// Paths of the files a report writes into its folder (penalties only when
/// a scale is configured).
pub fn file_names(penalties: bool) -> Vec<PathBuf> {
    let mut stems = vec![
        "sla_daily",
        "sla_breakdown",
        "sla_delays",
        "late_claims",
        "run_ledger",
    ];
    if penalties {
        stems.push("penalties");
    }
    let mut out: Vec<PathBuf> = stems
        .iter()
        .flat_map(|s| [format!("{s}.csv"), format!("{s}.parquet")])
        .map(PathBuf::from)
        .collect();
    out.push(PathBuf::from(HTML_FILE));
    out
}
