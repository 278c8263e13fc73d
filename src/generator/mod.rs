//! Realistic synthetic input for `gen` and `demo`: the three CSV files of
//! contract §2, plus `claims-resent.csv`, deterministic for a seed.
//!
//! Determinism: every random draw comes from `ChaCha8Rng` seeded from the
//! seed, one stream per file (so a change in the members' draws does not
//! reshuffle the practitioners), nothing iterates a hash map, and the output
//! is formatted by hand from integers. The same seed, date and calendar give
//! the same bytes on every platform.
//!
//! Scale: claims are streamed to disk as they are drawn; memory grows with
//! the practitioners and members (a quarter of the claims, 4 bytes each),
//! not with the claims. See `docs/formats-generator.md` for the
//! distributions.

mod adherents;
mod claims;
mod csv_out;
mod ids;
mod names;
mod practitioners;
mod profession;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::calendar::Calendar;

/// File names written into the output directory.
pub const PRACTITIONERS_FILE: &str = practitioners::FILE;
pub const ADHERENTS_FILE: &str = adherents::FILE;
pub const CLAIMS_FILE: &str = claims::FILE;
/// Re-sent claims: import after `claims.csv`.
pub const CLAIMS_RESENT_FILE: &str = claims::RESENT_FILE;

/// Upper bounds that keep identifiers within their formats: practitioner
/// numbers unique per department, invoice numbers within 9 digits.
pub const MAX_PRACTITIONERS: usize = 1_000_000;
pub const MAX_CLAIMS: usize = 30_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSpec {
    pub practitioners: usize,
    pub claims: usize,
    pub seed: u64,
    /// The business date of the settlement run the data is for: every claim
    /// is received on one of the 15 working days before it.
    pub date: NaiveDate,
}

impl GenSpec {
    /// Members: `max(100, claims / 4)`, so each has a few claims on average.
    pub fn adherent_count(&self) -> usize {
        (self.claims / 4).max(100)
    }

    fn validate(&self) -> Result<(), GenError> {
        if self.claims > 0 && self.practitioners == 0 {
            return Err(GenError::Spec(
                "claims need at least one practitioner".to_owned(),
            ));
        }
        if self.practitioners > MAX_PRACTITIONERS {
            return Err(GenError::Spec(format!(
                "at most {MAX_PRACTITIONERS} practitioners"
            )));
        }
        if self.claims > MAX_CLAIMS {
            return Err(GenError::Spec(format!("at most {MAX_CLAIMS} claims")));
        }
        Ok(())
    }
}

/// Planted anomalies, by the import rule (contract §2) they must trigger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AnomalyCounts {
    /// R01: claims in `claims.csv` from a `ps_id` not in `practitioners.csv`.
    pub r01_unknown_practitioner: usize,
    /// R02: TP claims from a practitioner without TP agreement.
    pub r02_tp_without_agreement: usize,
    /// R03: rows of `claims-resent.csv` with a known key and other amounts.
    pub r03_duplicate_changed: usize,
    /// R04: `amc_due` = 0.
    pub r04_amc_due_zero: usize,
    /// R04: `amc_due` > `billed − amo_paid`.
    pub r04_amc_due_over: usize,
    /// R05: HTP claims for a member not in `adherents.csv`.
    pub r05_unknown_adherent: usize,
}

/// What was written, for the command's output and for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GenSummary {
    /// Rows of `practitioners.csv`.
    pub practitioners: usize,
    /// Of which with an empty `tp_agreement_from`.
    pub practitioners_without_tp_agreement: usize,
    /// Of which without bank details: their TP payments must be held.
    pub practitioners_without_bank: usize,
    /// Rows of `adherents.csv`.
    pub adherents: usize,
    /// Of which without bank details: their HTP payments must be held.
    pub adherents_without_bank: usize,
    /// Rows of `claims.csv`.
    pub claims: usize,
    pub noemie: usize,
    pub htp: usize,
    /// `status=rejected` by the claims engine.
    pub rejected: usize,
    /// Earliest and latest local receipt dates (none without claims).
    pub received_from: Option<NaiveDate>,
    pub received_to: Option<NaiveDate>,
    /// Claims whose deadline is before the run date: late whatever happens.
    pub received_past_deadline: usize,
    /// Rows of `claims-resent.csv`.
    pub resent: usize,
    /// Of which byte-identical to their row in `claims.csv` (to be ignored).
    pub resent_identical: usize,
    pub anomalies: AnomalyCounts,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("invalid generator request: {0}")]
    Spec(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
}

/// The random stream of one file: same seed, independent sequences.
fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

/// Writes `practitioners.csv`, `adherents.csv`, `claims.csv` and
/// `claims-resent.csv` into `out_dir` (created if needed). Each file appears
/// under its name only once complete.
pub fn generate(spec: &GenSpec, cal: &Calendar, out_dir: &Path) -> Result<GenSummary, GenError> {
    spec.validate()?;
    fs::create_dir_all(out_dir).map_err(|source| GenError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let (mut ps, ps_counts) = practitioners::write(
        &mut stream(spec.seed, 1),
        spec.practitioners,
        spec.date,
        out_dir,
    )?;
    let (members, member_counts) = adherents::write(
        &mut stream(spec.seed, 2),
        spec.adherent_count(),
        spec.date,
        out_dir,
    )?;
    let world = claims::World {
        claims: spec.claims,
        date: spec.date,
        cal,
        practitioners: &mut ps,
        members: &members,
    };
    let (c, anomalies) = claims::write(&mut stream(spec.seed, 3), world, out_dir)?;
    Ok(GenSummary {
        practitioners: ps_counts.rows,
        practitioners_without_tp_agreement: ps_counts.without_tp,
        practitioners_without_bank: ps_counts.without_bank,
        adherents: member_counts.rows,
        adherents_without_bank: member_counts.without_bank,
        claims: c.rows,
        noemie: c.noemie,
        htp: c.htp,
        rejected: c.rejected,
        received_from: c.first_received,
        received_to: c.last_received,
        received_past_deadline: c.past_deadline,
        resent: c.resent_rows,
        resent_identical: c.resent_identical,
        anomalies,
    })
}

impl std::fmt::Display for GenSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.anomalies;
        writeln!(
            f,
            "practitioners.csv  {:>9} rows ({} without TP agreement, {} without bank details)",
            self.practitioners,
            self.practitioners_without_tp_agreement,
            self.practitioners_without_bank
        )?;
        writeln!(
            f,
            "adherents.csv      {:>9} rows ({} without bank details)",
            self.adherents, self.adherents_without_bank
        )?;
        writeln!(
            f,
            "claims.csv         {:>9} rows ({} Noémie, {} HTP, {} rejected by the engine, {} already past their deadline)",
            self.claims, self.noemie, self.htp, self.rejected, self.received_past_deadline
        )?;
        if let (Some(from), Some(to)) = (self.received_from, self.received_to) {
            writeln!(f, "                   received {from} to {to}")?;
        }
        writeln!(
            f,
            "claims-resent.csv  {:>9} rows ({} identical re-sends)",
            self.resent, self.resent_identical
        )?;
        write!(
            f,
            "anomalies          R01 {}  R02 {}  R03 {}  R04 {}  R05 {}",
            a.r01_unknown_practitioner,
            a.r02_tp_without_agreement,
            a.r03_duplicate_changed,
            a.r04_amc_due_zero + a.r04_amc_due_over,
            a.r05_unknown_adherent
        )
    }
}
