//! `tpsettle demo`: a whole synthetic day on the configured database
//! (SQLite by default): generate, import, settle, and say where the files are.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::generator::{self, GenSpec};
use crate::import::{self, ImportOutcome, Kind};
use crate::settlement::{RunReport, SettleError, Settlement};

/// Size of the demo day: big enough to show every case (Noémie, HTP,
/// rejections, holds, late claims), small enough to run in seconds.
pub const DEMO_PRACTITIONERS: usize = 300;
pub const DEMO_CLAIMS: usize = 10_000;
pub const DEMO_SEED: u64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("generating the demo data: {0}")]
    Generate(#[from] generator::GenError),
    #[error("importing the demo data: {0}")]
    Import(#[from] import::ImportError),
    #[error(transparent)]
    Settle(#[from] SettleError),
}

pub struct DemoSummary {
    pub input_dir: PathBuf,
    pub imports: Vec<ImportOutcome>,
    pub report: RunReport,
}

/// Runs the demo day for `date` (the business date to settle).
pub async fn run_for(
    s: &Settlement<'_>,
    out: &Path,
    date: NaiveDate,
) -> Result<DemoSummary, DemoError> {
    let input_dir = out.join("input");
    let spec = GenSpec {
        practitioners: DEMO_PRACTITIONERS,
        claims: DEMO_CLAIMS,
        seed: DEMO_SEED,
        date,
    };
    generator::generate(&spec, s.calendar, &input_dir)?;
    let mut imports = Vec::new();
    for (kind, file) in [
        (Kind::Practitioners, "practitioners.csv"),
        (Kind::Adherents, "adherents.csv"),
        (Kind::Claims, "claims.csv"),
        (Kind::Claims, "claims-resent.csv"),
    ] {
        imports.push(import::import_file(s.store, s.calendar, kind, &input_dir.join(file)).await?);
    }
    let report = s.settle(date, out).await?;
    Ok(DemoSummary {
        input_dir,
        imports,
        report,
    })
}

/// The demo for `date`, by default today's date in Paris.
pub async fn run(
    s: &Settlement<'_>,
    out: &Path,
    date: Option<NaiveDate>,
) -> Result<DemoSummary, DemoError> {
    let today = || {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Paris)
            .date_naive()
    };
    run_for(s, out, date.unwrap_or_else(today)).await
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Demo day generated in {}/", self.input_dir.display())?;
        for i in &self.imports {
            writeln!(f, "  {i}")?;
        }
        writeln!(f)?;
        write!(f, "{}", self.report)?;
        writeln!(f)?;
        writeln!(f, "Look at:")?;
        writeln!(
            f,
            "  {}   (run manifest, SHA-256 of every file)",
            self.report.manifest_path().display()
        )?;
        writeln!(
            f,
            "  {}/sepa/   (pain.001 for the bank)",
            self.report.run_dir.display()
        )?;
        writeln!(
            f,
            "  {}/rsp/    (RSP returns; decode one with: tpsettle rsp decode FILE)",
            self.report.run_dir.display()
        )
    }
}
