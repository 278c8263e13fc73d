//! Queries of the auditors' SLA report (`crate::report`): the TP claims of a
//! receipt period with what became of them, the settlement runs, and the
//! files each run recorded.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::{FromRow, Row};

use super::{Result, Store, StoreError, on_pool};

/// One accepted TP claim of the period, borrowed from the database row (no
/// allocation per row: the report streams millions of them).
#[derive(Debug)]
pub struct SlaClaimRow<'r> {
    pub origin: &'r str,
    /// The member's centre de gestion; `None` when the member is unknown
    /// (a TP claim does not need a known member).
    pub centre: Option<&'r str>,
    pub received_date: NaiveDate,
    /// As recorded at import (the calendar's 4th working day after receipt).
    pub deadline: NaiveDate,
    /// Business date of the run that paid it (runs are unique per business
    /// date); `None` while unpaid.
    pub paid_run_date: Option<NaiveDate>,
    /// Held at least once by a run (payee without valid bank details);
    /// looked up only for a claim not paid on time, whose lateness it
    /// explains (false for the others).
    pub held: bool,
    /// Only for a claim not paid on time (unpaid, or paid by a run executing
    /// after its recorded deadline): the few that can be late, and the only
    /// ones the report lists. Leaving them out of the on-time rows spares
    /// the database and the client most of the bytes.
    pub detail: Option<ClaimDetail<'r>>,
}

#[derive(Debug)]
pub struct ClaimDetail<'r> {
    pub ps_id: &'r str,
    pub invoice_no: i64,
    pub amc_due_cents: i64,
    /// When the claim's file was imported (RFC 3339, UTC).
    pub imported_at: Option<&'r str>,
}

/// "Not paid on time" (unpaid, or paid by a run executing after the
/// deadline) gates the detail columns and the two scalar subqueries (held,
/// import time): run for every claim, a sub-select is an index look-up per
/// row, millions of them in a month.
const SLA_CLAIMS: &str = "SELECT c.origin, a.centre, c.received_date, c.deadline, \
      r.business_date AS paid_run_date, \
      CASE WHEN r.execution_date IS NULL OR r.execution_date > c.deadline \
        THEN EXISTS (SELECT 1 FROM run_holds h WHERE h.ps_id = c.ps_id AND h.invoice_no = c.invoice_no) \
        ELSE FALSE END AS held, \
      CASE WHEN r.execution_date IS NULL OR r.execution_date > c.deadline THEN c.ps_id END AS ps_id, \
      CASE WHEN r.execution_date IS NULL OR r.execution_date > c.deadline THEN c.invoice_no END AS invoice_no, \
      CASE WHEN r.execution_date IS NULL OR r.execution_date > c.deadline THEN c.amc_due_cents END AS amc_due_cents, \
      CASE WHEN r.execution_date IS NULL OR r.execution_date > c.deadline \
        THEN (SELECT i.imported_at FROM imports i WHERE i.sha256 = c.import_sha256) END AS imported_at \
    FROM claims c \
    LEFT JOIN adherents a ON a.adherent_id = c.adherent_id \
    LEFT JOIN payment_claims pc ON pc.ps_id = c.ps_id AND pc.invoice_no = c.invoice_no \
    LEFT JOIN payments p ON p.reference = pc.reference \
    LEFT JOIN runs r ON r.run_id = p.run_id \
    WHERE c.status = 'accepted' AND c.mode = 'TP' \
      AND c.received_date >= $1 AND c.received_date <= $2";

/// A settlement run as the report's ledger shows it.
#[derive(Clone, Debug, FromRow)]
pub struct LedgerRun {
    pub run_id: String,
    pub business_date: NaiveDate,
    pub execution_date: NaiveDate,
    pub state: String,
    /// When the run was planned (RFC 3339, UTC): claims imported after it
    /// could not be in it.
    pub created_at: String,
    pub payments: i64,
    pub amount_cents: i64,
}

/// A file recorded for a run.
#[derive(Clone, Debug, FromRow)]
pub struct LedgerFile {
    pub path: String,
    pub sha256: String,
    pub bytes: i64,
}

/// Files of a run's bulk folders (`rsp/`, `statements/`), counted.
#[derive(Clone, Debug, FromRow)]
pub struct LedgerFolder {
    pub folder: String,
    pub files: i64,
    pub bytes: i64,
}

const BULK_FOLDERS: &str = "(path LIKE 'rsp/%' OR path LIKE 'statements/%')";

impl Store {
    /// Streams the accepted TP claims received from `from` to `to`
    /// (inclusive), in no particular order.
    pub async fn stream_sla_claims<E: From<StoreError>>(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        mut f: impl FnMut(SlaClaimRow<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        on_pool!(self, p => {
            let mut rows = sqlx::query(SLA_CLAIMS).bind(from).bind(to).fetch(p);
            while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                let ps_id: Option<&str> = row.try_get(6).map_err(StoreError::from)?;
                let invoice_no: Option<i64> = row.try_get(7).map_err(StoreError::from)?;
                let amc_due_cents: Option<i64> = row.try_get(8).map_err(StoreError::from)?;
                let detail = match (ps_id, invoice_no, amc_due_cents) {
                    (Some(ps_id), Some(invoice_no), Some(amc_due_cents)) => Some(ClaimDetail {
                        ps_id,
                        invoice_no,
                        amc_due_cents,
                        imported_at: row.try_get(9).map_err(StoreError::from)?,
                    }),
                    _ => None,
                };
                let claim = SlaClaimRow {
                    origin: row.try_get(0).map_err(StoreError::from)?,
                    centre: row.try_get(1).map_err(StoreError::from)?,
                    received_date: row.try_get(2).map_err(StoreError::from)?,
                    deadline: row.try_get(3).map_err(StoreError::from)?,
                    paid_run_date: row.try_get(4).map_err(StoreError::from)?,
                    held: row.try_get(5).map_err(StoreError::from)?,
                    detail,
                };
                f(claim)?;
            }
        });
        Ok(())
    }

    /// Every settlement run, by business date (a few hundred a year).
    pub async fn ledger_runs(&self) -> Result<Vec<LedgerRun>> {
        let sql = "SELECT run_id, business_date, execution_date, state, created_at, payments, \
                   amount_cents FROM runs ORDER BY business_date";
        Ok(on_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await?))
    }

    /// The files of a run one by one, except the bulk folders (one RSP per
    /// practitioner: tens of thousands), which [`Store::ledger_folders`] counts.
    pub async fn ledger_files(&self, run_id: &str) -> Result<Vec<LedgerFile>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT path, sha256, bytes FROM run_files WHERE run_id = $1 AND NOT {BULK_FOLDERS} \
             ORDER BY path"
        ));
        Ok(on_pool!(self, p => sqlx::query_as(sql).bind(run_id).fetch_all(p).await?))
    }

    pub async fn ledger_folders(&self, run_id: &str) -> Result<Vec<LedgerFolder>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT CASE WHEN path LIKE 'rsp/%' THEN 'rsp' ELSE 'statements' END AS folder, \
               COUNT(*) AS files, CAST(SUM(bytes) AS BIGINT) AS bytes \
             FROM run_files WHERE run_id = $1 AND {BULK_FOLDERS} GROUP BY 1 ORDER BY 1"
        ));
        Ok(on_pool!(self, p => sqlx::query_as(sql).bind(run_id).fetch_all(p).await?))
    }

    /// Practitioners' names, for the penalties table.
    pub async fn practitioner_names(&self) -> Result<Vec<(String, String)>> {
        let sql = "SELECT ps_id, name FROM practitioners ORDER BY ps_id";
        Ok(on_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await?))
    }
}
