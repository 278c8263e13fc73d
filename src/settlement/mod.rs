//! The settlement run of one business date (contract §3).
//!
//! A run is a state machine recorded in the database:
//!
//! 1. **planned**: one transaction fixes which claims are paid to whom,
//!    which are held and which rejections are returned. From here on the
//!    run's content never changes; `payment_claims` (primary key on the
//!    claim) makes a second payment of a claim impossible.
//! 2. **files_written**: the SEPA file and the RSP returns are written from
//!    that content under temporary names, their sums checked against the
//!    database, then synced and renamed into place, and their SHA-256
//!    recorded.
//! 3. **completed**: the manifest is published.
//!
//! A crash anywhere leaves a state from which `settle` for the same date
//! resumes; files are rewritten byte for byte (everything in them, the
//! creation time included, comes from the database).

mod bank_file;
mod manifest;
mod returns;
mod summary;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use tracing::Instrument;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::output::{self, OutputError, StagedFile};
use crate::store::runs::{HoldReasons, NewRun, PublishedFile, Run, RunState, RunSums};
use crate::store::{Store, StoreError};

pub use summary::RunReport;

/// The name of the settlement job's lock.
pub const LOCK_NAME: &str = "settlement";

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(
        "another settlement is running (lock held by {holder} since {since}); try again when it has finished"
    )]
    Busy { holder: String, since: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write run file {0}")]
    Output(#[from] OutputError),
    #[error("SEPA file: {0}")]
    Sepa(#[from] crate::sepa::SepaError),
    #[error("RSP return: {0}")]
    Rsp(#[from] crate::rsp::RspError),
    #[error("paper statements: {0}")]
    Statement(#[from] crate::statement::StatementError),
    /// Sums disagree between the database and a file: nothing is published.
    #[error("run {run_id} aborted before publishing: {detail}")]
    Invariant { run_id: String, detail: String },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// What a settlement needs: the database, the configuration, the calendar.
pub struct Settlement<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub calendar: &'a Calendar,
}

/// A run's identifier, also the SEPA `MsgId` and the prefix of every
/// payment reference: one run per business date.
pub fn run_id(date: NaiveDate) -> String {
    format!("RUN-{}", date.format("%Y%m%d"))
}

impl Settlement<'_> {
    /// Settles `date`, writing under `out_dir/<run_id>/`. For a date already
    /// settled, rewrites the same files and returns the same run.
    pub async fn settle(&self, date: NaiveDate, out_dir: &Path) -> Result<RunReport, SettleError> {
        let lock = match self.store.try_lock(LOCK_NAME).await? {
            Ok(lock) => lock,
            Err(h) => {
                return Err(SettleError::Busy {
                    holder: h.holder,
                    since: h.since,
                });
            }
        };
        let result = self.settle_locked(date, out_dir).await;
        lock.release().await?;
        result
    }

    async fn settle_locked(
        &self,
        date: NaiveDate,
        out_dir: &Path,
    ) -> Result<RunReport, SettleError> {
        let (run, resumed_from) = match self.store.find_run(date).await? {
            Some(run) => {
                tracing::info!(run_id = %run.run_id, state = ?run.state, "run exists: resuming and rewriting its files");
                let state = run.state;
                (run, Some(state))
            }
            None => (self.plan(date).await?, None),
        };
        let span = tracing::info_span!("run", run_id = %run.run_id);
        self.write_run(run, resumed_from, out_dir)
            .instrument(span)
            .await
    }

    /// Steps 2 and 3 for a planned run (or a run being resumed).
    async fn write_run(
        &self,
        run: Run,
        resumed_from: Option<RunState>,
        out_dir: &Path,
    ) -> Result<RunReport, SettleError> {
        let run_dir = out_dir.join(&run.run_id);
        // A day with nothing to pay or return still gets its folder and
        // manifest (no file would create the folder, and syncing it failed).
        std::fs::create_dir_all(&run_dir).map_err(|source| OutputError {
            path: run_dir.display().to_string(),
            source,
        })?;
        let leftovers = output::remove_partials(&run_dir)?;
        if leftovers > 0 {
            tracing::warn!(
                leftovers,
                "removed temporary files of an interrupted attempt"
            );
        }
        let sums = self.store.run_sums(&run.run_id).await?;
        check_database_sums(&run, &sums)?;
        let files = self.write_and_publish(&run, &run_dir, &sums).await?;
        let started = Instant::now();
        let (manifest, notes) = manifest::write(self, &run, &run_dir, &files).await?;
        tracing::info!(
            bytes = manifest.bytes,
            elapsed_ms = elapsed_ms(started),
            "manifest written"
        );
        self.publish(&run_dir, std::slice::from_ref(&manifest))?;
        crash_point!("settle.before_complete");
        let mut tx = self.store.begin().await?;
        tx.record_run_files(&run.run_id, &[published(&manifest)])
            .await?;
        tx.set_run_state(
            &run.run_id,
            RunState::Completed,
            Some(&crate::store::timestamp(chrono::Utc::now())),
        )
        .await?;
        tx.commit().await?;
        let (rejected, held, late) = (notes.rejected, notes.held, notes.late);
        tracing::info!(
            payments = sums.payments(),
            amount_cents = sums.cents(),
            rejected,
            held,
            late,
            "run completed"
        );
        let mut all_files = files;
        all_files.push(published(&manifest));
        Ok(RunReport {
            run,
            run_dir,
            sums,
            rejected,
            held,
            late,
            files: all_files,
            resumed_from,
        })
    }

    /// Step 1: the run's content, in one transaction.
    async fn plan(&self, date: NaiveDate) -> Result<Run, SettleError> {
        let run_id = run_id(date);
        let execution_date = self.calendar.next_target2_business_day_on_or_after(date);
        let created_at = crate::store::timestamp(chrono::Utc::now());
        let reasons = HoldReasons {
            practitioner: format!("practitioner has no bank details valid on {execution_date}"),
            adherent: format!("member has no bank details valid on {execution_date}"),
        };
        let mut tx = self.store.begin().await?;
        let new = NewRun {
            run_id: &run_id,
            business_date: date,
            execution_date,
            created_at: &created_at,
        };
        let started = Instant::now();
        let run = tx.plan_run(&new, &reasons).await?;
        crash_point!("plan.before_commit");
        tx.commit().await?;
        tracing::info!(run_id = %run.run_id, %execution_date, payments = run.payments, amount_cents = run.amount_cents,
            elapsed_ms = elapsed_ms(started), "run planned");
        Ok(run)
    }

    /// Step 2: SEPA and RSP files, checked against the database before any
    /// of them is published.
    async fn write_and_publish(
        &self,
        run: &Run,
        run_dir: &Path,
        sums: &RunSums,
    ) -> Result<Vec<PublishedFile>, SettleError> {
        let mut staged: Vec<StagedFile> = Vec::new();
        let result = self.write_checked(run, run_dir, sums, &mut staged).await;
        if let Err(e) = result {
            staged.into_iter().for_each(StagedFile::discard);
            return Err(e);
        }
        let started = Instant::now();
        self.publish(run_dir, &staged)?;
        crash_point!("settle.before_files_recorded");
        // Each staged file is dropped as it becomes a published one: a
        // national day's 870,000 are not held twice.
        let files: Vec<PublishedFile> = staged.into_iter().map(|f| published(&f)).collect();
        let mut tx = self.store.begin().await?;
        tx.record_run_files(&run.run_id, &files).await?;
        tx.set_run_state(&run.run_id, RunState::FilesWritten, None)
            .await?;
        tx.commit().await?;
        tracing::info!(
            files = files.len(),
            elapsed_ms = elapsed_ms(started),
            "files published and recorded"
        );
        Ok(files)
    }

    async fn write_checked(
        &self,
        run: &Run,
        run_dir: &Path,
        sums: &RunSums,
        staged: &mut Vec<StagedFile>,
    ) -> Result<(), SettleError> {
        // The bank file and the returns read the run at the same time (two
        // statements, two connections): the SEPA file is written while the
        // database builds the practitioners' rows.
        let mut rsp_files = Vec::new();
        let (sepa, rsp) = tokio::join!(
            self.write_bank_file(run, run_dir, sums),
            self.write_returns(run, run_dir, &mut rsp_files)
        );
        // Whatever failed, every file written is staged, to be discarded.
        let mut ctrl_sum_cents = None;
        let sepa = sepa.map(|written| {
            if let Some((file, ctrl)) = written {
                staged.push(file);
                ctrl_sum_cents = Some(ctrl);
            }
        });
        staged.extend(rsp_files);
        sepa?;
        check_file_sums(run, sums, ctrl_sum_cents, &rsp?)?;
        // Paper statements (Noémie-origin payments): each letter's total
        // must be the Noémie part of its transfer in the database.
        let sender = (&self.config.mutuelle).into();
        let statements = crate::statement::write_run(self.store, sender, run, run_dir).await?;
        let mismatch = statements.mismatch();
        staged.extend(statements.files);
        invariant(run, mismatch.is_none(), || mismatch.unwrap_or_default())?;
        Ok(())
    }

    /// The SEPA file with its control sum in cents, if the run pays anyone.
    async fn write_bank_file(
        &self,
        run: &Run,
        run_dir: &Path,
        sums: &RunSums,
    ) -> Result<Option<(StagedFile, i64)>, SettleError> {
        if sums.payments() == 0 {
            return Ok(None);
        }
        let started = Instant::now();
        let (file, ctrl_sum_cents) = bank_file::write(self, run, run_dir, sums).await?;
        tracing::info!(
            bytes = file.bytes,
            elapsed_ms = elapsed_ms(started),
            "SEPA file written"
        );
        Ok(Some((file, ctrl_sum_cents)))
    }

    async fn write_returns(
        &self,
        run: &Run,
        run_dir: &Path,
        staged: &mut Vec<StagedFile>,
    ) -> Result<returns::RspSums, SettleError> {
        let started = Instant::now();
        let rsp = returns::write(self, run, run_dir, staged).await?;
        tracing::info!(
            files = staged.len(),
            elapsed_ms = elapsed_ms(started),
            "RSP returns written"
        );
        Ok(rsp)
    }

    fn publish(&self, run_dir: &Path, files: &[StagedFile]) -> Result<(), SettleError> {
        output::sync_dir(run_dir)?;
        output::publish_all(files)?;
        output::sync_dir(run_dir)?;
        Ok(())
    }
}

fn published(f: &StagedFile) -> PublishedFile {
    PublishedFile {
        path: f.rel_path.clone(),
        sha256: f.sha256(),
        bytes: f.bytes as i64,
    }
}

/// The database must agree with itself before any file is written: the
/// payments' total, the run's recorded total and the paid claims' total.
fn check_database_sums(run: &Run, sums: &RunSums) -> Result<(), SettleError> {
    invariant(run, sums.cents() == sums.claims_cents, || {
        format!(
            "payments total {} cents <> paid claims total {} cents",
            sums.cents(),
            sums.claims_cents
        )
    })?;
    invariant(
        run,
        sums.cents() == run.amount_cents && sums.payments() == run.payments,
        || {
            format!(
                "run records {} payments / {} cents, payments table has {} / {}",
                run.payments,
                run.amount_cents,
                sums.payments(),
                sums.cents()
            )
        },
    )
}

fn invariant(run: &Run, ok: bool, detail: impl FnOnce() -> String) -> Result<(), SettleError> {
    if ok {
        return Ok(());
    }
    let detail = detail();
    tracing::error!(run_id = %run.run_id, %detail, "money invariant violated");
    Err(SettleError::Invariant {
        run_id: run.run_id.clone(),
        detail,
    })
}

/// The bank file's control sum and the returns' transfers against the
/// run's payments in the database: nothing is published if they disagree.
fn check_file_sums(
    run: &Run,
    sums: &RunSums,
    sepa_ctrl_sum_cents: Option<i64>,
    rsp: &returns::RspSums,
) -> Result<(), SettleError> {
    if let Some(ctrl_sum_cents) = sepa_ctrl_sum_cents {
        invariant(run, ctrl_sum_cents == sums.cents(), || {
            format!(
                "SEPA control sum {ctrl_sum_cents} cents <> payments {} cents",
                sums.cents()
            )
        })?;
    }
    invariant(run, rsp.transfers_cents == sums.practitioner_cents, || {
        format!(
            "RSP 071 total {} cents <> practitioner payments {} cents",
            rsp.transfers_cents, sums.practitioner_cents
        )
    })?;
    invariant(run, rsp.transfers == sums.practitioner_payments, || {
        format!(
            "{} RSP transfers <> {} practitioner payments",
            rsp.transfers, sums.practitioner_payments
        )
    })
}

/// For the step timings in the log: where a slow run spends its time.
fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The folder of a run under `out_dir`.
pub fn run_dir(out_dir: &Path, date: NaiveDate) -> PathBuf {
    out_dir.join(run_id(date))
}
