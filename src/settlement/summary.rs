//! The one-screen summary a finance operator reads after a run.

use std::fmt;
use std::path::PathBuf;

use crate::domain::Amount;
use crate::store::runs::{PublishedFile, Run, RunState, RunSums};

#[derive(Debug)]
pub struct RunReport {
    pub run: Run,
    pub run_dir: PathBuf,
    pub sums: RunSums,
    pub rejected: u64,
    pub held: u64,
    pub late: u64,
    pub files: Vec<PublishedFile>,
    /// The state the run was found in, when it already existed.
    pub resumed_from: Option<RunState>,
}

impl RunReport {
    pub fn manifest_path(&self) -> PathBuf {
        self.run_dir.join(super::manifest::MANIFEST)
    }
}

fn euros(cents: i64) -> String {
    Amount::from_cents(cents)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("{cents} cents"))
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, s) = (&self.run, &self.sums);
        let how = match self.resumed_from {
            None => "new run",
            Some(RunState::Completed) => "already completed: files rewritten and checked",
            Some(_) => "resumed after an interruption",
        };
        let count = |prefix: &str| {
            self.files
                .iter()
                .filter(|f| f.path.starts_with(prefix))
                .count()
        };
        writeln!(f, "Settlement run {} ({how})", r.run_id)?;
        writeln!(
            f,
            "  business date    {}   execution date {}",
            r.business_date, r.execution_date
        )?;
        writeln!(
            f,
            "  transfers        {:>8}   EUR {:>16}",
            s.payments(),
            euros(s.cents())
        )?;
        writeln!(
            f,
            "    practitioners  {:>8}   EUR {:>16}   (tiers-payant)",
            s.practitioner_payments,
            euros(s.practitioner_cents)
        )?;
        writeln!(
            f,
            "    members        {:>8}   EUR {:>16}   (hors tiers-payant)",
            s.adherent_payments,
            euros(s.adherent_cents)
        )?;
        writeln!(f, "  claims paid      {:>8}", s.claims)?;
        writeln!(
            f,
            "  rejected         {:>8}   returned in the RSP files",
            self.rejected
        )?;
        writeln!(
            f,
            "  held             {:>8}   payee without valid bank details: paid by a later run",
            self.held
        )?;
        writeln!(
            f,
            "  late             {:>8}   past the 4-working-day deadline (listed in the manifest)",
            self.late
        )?;
        let letters = self
            .files
            .iter()
            .filter(|f| f.path.starts_with("statements/") && !f.path.contains("print-batch"))
            .count();
        writeln!(
            f,
            "  statements       {letters:>8}   paper letters for Noémie payments (print batch: statements/print-batch-*.pdf)"
        )?;
        writeln!(f, "  files            {}/", self.run_dir.display())?;
        writeln!(
            f,
            "    sepa/ {}   rsp/ {}   statements/ {}   manifest.json",
            count("sepa/"),
            count("rsp/"),
            count("statements/")
        )
    }
}
