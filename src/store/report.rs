//! Queries of the auditors' SLA report (`crate::report`): the TP claims of a
//! receipt period with what became of them, the settlement runs, and the
//! files each run recorded.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::{FromRow, Row};

use super::{Result, Store, StoreError, on_pool};

/// Accepted TP claims of the period with what became of them, borrowed
/// from the database row (no allocation per row). A row stands for
/// `claims` claims that share every field: the on-time ones come as the
/// counts their runs recorded (migration 0008), a few hundred rows a run;
/// the others, the few that can be late and the only ones the report
/// lists, one by one with their detail.
#[derive(Debug)]
pub struct SlaClaimRow<'r> {
    pub origin: &'r str,
    /// The member's centre de gestion (when the run paid the claim, or now
    /// for an unpaid one); `None` when the member is unknown (a TP claim
    /// does not need a known member).
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
    /// How many claims the row stands for: 1 when it has a detail.
    pub claims: i64,
    /// Only for a claim not paid on time (unpaid, or paid by a run executing
    /// after its recorded deadline).
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

/// What the runs paid of the period, as counted when each was planned.
/// The groups a run paid late are itemised in `sla_late_paid`: streamed
/// from there, and only counted here, to check the two agree.
const SLA_PAID_COUNTS: &str = "SELECT t.origin, t.centre, t.received_date, t.deadline, \
      r.business_date, r.execution_date, t.claims \
    FROM sla_paid_counts t JOIN runs r ON r.run_id = t.run_id \
    WHERE t.received_date >= $1 AND t.received_date <= $2";

/// Both itemised reads give these columns, in this order (see
/// [`detail_row`]), from their table `x`: the claim, whether a run ever
/// held it, when its file was imported. The import time is a sub-select by
/// key, one index look-up a listed claim, so that `claims` (the whole
/// history) is never joined.
macro_rules! detail_columns {
    () => {
        "x.ps_id, x.invoice_no, x.amc_due_cents, \
         EXISTS (SELECT 1 FROM run_holds h WHERE h.ps_id = x.ps_id AND h.invoice_no = x.invoice_no), \
         (SELECT i.imported_at FROM claims c JOIN imports i ON i.sha256 = c.import_sha256 \
          WHERE c.ps_id = x.ps_id AND c.invoice_no = x.invoice_no)"
    };
}

/// Claims of the period paid after their deadline, by the run that did.
const SLA_LATE_PAID: &str = concat!(
    "SELECT x.origin, x.centre, x.received_date, x.deadline, r.business_date, ",
    detail_columns!(),
    " FROM sla_late_paid x JOIN runs r ON r.run_id = x.run_id \
    WHERE x.received_date >= $1 AND x.received_date <= $2"
);

/// TP claims of the period still unpaid (held, or waiting for a run).
const SLA_UNPAID: &str = concat!(
    "SELECT x.origin, a.centre, x.received_date, x.deadline, CAST(NULL AS DATE), ",
    detail_columns!(),
    " FROM unpaid_claims x LEFT JOIN adherents a ON a.adherent_id = x.adherent_id \
    WHERE x.payee_kind = 'practitioner' AND x.received_date >= $1 AND x.received_date <= $2"
);

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
        let mut counted_late = 0i64;
        on_pool!(self, p => {
            let mut rows = sqlx::query(SLA_PAID_COUNTS).bind(from).bind(to).fetch(p);
            while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                let deadline: NaiveDate = row.try_get(3).map_err(StoreError::from)?;
                let executed: NaiveDate = row.try_get(5).map_err(StoreError::from)?;
                let claims: i64 = row.try_get(6).map_err(StoreError::from)?;
                if executed > deadline {
                    counted_late += claims;
                    continue;
                }
                f(SlaClaimRow {
                    origin: row.try_get(0).map_err(StoreError::from)?,
                    centre: row.try_get(1).map_err(StoreError::from)?,
                    received_date: row.try_get(2).map_err(StoreError::from)?,
                    deadline,
                    paid_run_date: Some(row.try_get(4).map_err(StoreError::from)?),
                    held: false,
                    claims,
                    detail: None,
                })?;
            }
        });
        let mut itemised_late = 0i64;
        for sql in [SLA_LATE_PAID, SLA_UNPAID] {
            on_pool!(self, p => {
                let mut rows = sqlx::query(sql).bind(from).bind(to).fetch(p);
                while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                    let claim = detail_row(&row).map_err(StoreError::from)?;
                    itemised_late += i64::from(claim.paid_run_date.is_some());
                    f(claim)?;
                }
            });
        }
        if counted_late != itemised_late {
            return Err(StoreError::Corrupt(format!(
                "from {from} to {to}, the runs counted {counted_late} claims paid late \
                 but listed {itemised_late}"
            ))
            .into());
        }
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

/// A claim read one by one (columns as in [`SLA_LATE_PAID`]).
fn detail_row<'r, R: Row>(row: &'r R) -> sqlx::Result<SlaClaimRow<'r>>
where
    usize: sqlx::ColumnIndex<R>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    NaiveDate: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SlaClaimRow {
        origin: row.try_get(0)?,
        centre: row.try_get(1)?,
        received_date: row.try_get(2)?,
        deadline: row.try_get(3)?,
        paid_run_date: row.try_get(4)?,
        held: row.try_get(8)?,
        claims: 1,
        detail: Some(ClaimDetail {
            ps_id: row.try_get(5)?,
            invoice_no: row.try_get(6)?,
            amc_due_cents: row.try_get(7)?,
            imported_at: row.try_get(9)?,
        }),
    })
}
