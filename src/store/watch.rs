//! Queries of the late-payment watch and of `/metrics`: unpaid accepted
//! claims, the runs since a date, pending totals.

use chrono::NaiveDate;
use sqlx::FromRow;

use super::{Result, Store, on_pool};

/// An accepted claim no payment covers, with what explains it.
#[derive(Clone, Debug, FromRow)]
pub struct UnpaidClaim {
    pub ps_id: String,
    pub invoice_no: i64,
    pub mode: String,
    pub received_date: NaiveDate,
    pub deadline: NaiveDate,
    pub amc_due_cents: i64,
    /// Reason of the latest run that held it, if any.
    pub hold_reason: Option<String>,
    /// When its file was imported (RFC 3339, UTC).
    pub imported_at: Option<String>,
}

/// A settlement run, as the watch needs it.
#[derive(Clone, Debug, FromRow)]
pub struct RunStamp {
    pub run_id: String,
    pub business_date: NaiveDate,
    pub created_at: String,
    pub state: String,
}

/// Pending (accepted, unpaid) claims: count and total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub claims: i64,
    pub amount_cents: i64,
}

/// Driven by `unpaid_claims` (today's backlog), each claim's own row read by
/// key: the watch looks every few minutes and must not read the history.
const UNPAID_DUE_BY: &str = "SELECT c.ps_id, c.invoice_no, c.mode, c.received_date, c.deadline, \
      c.amc_due_cents, \
      (SELECT h.reason FROM run_holds h JOIN runs r ON r.run_id = h.run_id \
        WHERE h.ps_id = c.ps_id AND h.invoice_no = c.invoice_no \
        ORDER BY r.business_date DESC LIMIT 1) AS hold_reason, \
      i.imported_at \
    FROM unpaid_claims u \
    JOIN claims c ON c.ps_id = u.ps_id AND c.invoice_no = u.invoice_no \
    LEFT JOIN imports i ON i.sha256 = c.import_sha256 \
    WHERE u.deadline <= $1 \
    ORDER BY c.deadline, c.ps_id, c.invoice_no";

impl Store {
    /// Accepted claims not paid whose deadline is on or before `horizon`,
    /// by deadline then key.
    pub async fn unpaid_due_by(&self, horizon: NaiveDate) -> Result<Vec<UnpaidClaim>> {
        Ok(on_pool!(self, p =>
            sqlx::query_as(UNPAID_DUE_BY).bind(horizon).fetch_all(p).await?))
    }

    /// Settlement runs of business dates after `after`, oldest first.
    pub async fn runs_after(&self, after: NaiveDate) -> Result<Vec<RunStamp>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT run_id, business_date, created_at, state FROM runs \
             WHERE business_date > $1 ORDER BY business_date")
            .bind(after).fetch_all(p).await?))
    }

    /// All accepted claims not yet in a payment.
    pub async fn pending_claims(&self) -> Result<Pending> {
        let (claims, amount_cents): (i64, i64) = on_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(amc_due_cents), 0) AS BIGINT) FROM unpaid_claims")
            .fetch_one(p).await?);
        Ok(Pending {
            claims,
            amount_cents,
        })
    }

    /// True when the database answers (for `/health`).
    pub async fn ping(&self) -> Result<()> {
        let _: i64 = on_pool!(self, p =>
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(p).await?);
        Ok(())
    }
}
