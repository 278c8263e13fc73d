//! What the paper statements of a run are made of.
//!
//! Who gets one: every practitioner paid in the run for at least one
//! NOEMIE-origin claim (necessarily a TP claim: HTP claims are paid to
//! members). Nothing is stored for statements: who got one in an earlier
//! run follows from that run's payments, so re-running a date gives the
//! same statements.
//!
//! "Rejected since the last statement": NOEMIE-origin rejections returned
//! (`run_rejections`) by a run R of this practitioner with
//! `L < R.business_date <= D`, where D is this run's business date and L
//! the business date of the practitioner's latest statement before D (the
//! latest earlier run that paid it for a NOEMIE claim; none: no lower
//! bound). Each rejection is thus listed on exactly one statement, the
//! first one on or after the run that returned it in the RSP.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::FromRow;

use super::{Backend, Result, Store, StoreError, on_pool};

/// One statement's head: the practitioner, the transfer, and the NOEMIE
/// part of the transfer as the database adds it up.
#[derive(FromRow, Debug, Clone)]
pub struct StatementHead {
    pub ps_id: String,
    pub name: String,
    pub address_line: String,
    pub postcode: String,
    pub city: String,
    pub country: String,
    pub reference: String,
    pub amount_cents: i64,
    pub iban: String,
    pub account_holder: String,
    pub noemie_cents: i64,
    pub noemie_claims: i64,
}

/// A NOEMIE-origin claim paid in the run (health data: `beneficiary`).
#[derive(FromRow, Debug)]
pub struct StatementPaid {
    pub ps_id: String,
    pub invoice_no: i64,
    pub care_date: NaiveDate,
    pub beneficiary: String,
    pub billed_cents: i64,
    pub amo_paid_cents: i64,
    pub paid_cents: i64,
}

/// A NOEMIE-origin rejection to list on the statement.
#[derive(FromRow, Debug)]
pub struct StatementRejected {
    pub ps_id: String,
    pub invoice_no: i64,
    pub care_date: NaiveDate,
    pub beneficiary: Option<String>,
    pub requested_cents: i64,
    pub code: String,
    pub label: String,
}

/// Who gets a letter: the run's practitioner payments holding a
/// NOEMIE-origin claim, with the postcode that orders the print batch.
const KEYS: &str = "SELECT p.payee_id AS ps_id, pr.postcode \
    FROM payments p JOIN practitioners pr ON pr.ps_id = p.payee_id \
    WHERE p.run_id = $1 AND p.payee_kind = 'practitioner' \
      AND EXISTS (SELECT 1 FROM payment_claims pc \
        WHERE pc.reference = p.reference AND pc.origin = 'NOEMIE')";

/// The heads of the run's practitioners `{ids}` (a volume's, `$2`).
const HEADS: &str = "SELECT p.payee_id AS ps_id, pr.name, pr.address_line, pr.postcode, \
      pr.city, pr.country, p.reference, p.amount_cents, p.iban, p.account_holder, \
      CAST(SUM(pc.amount_cents) AS BIGINT) AS noemie_cents, COUNT(*) AS noemie_claims \
    FROM payments p \
    JOIN practitioners pr ON pr.ps_id = p.payee_id \
    JOIN payment_claims pc ON pc.reference = p.reference \
    WHERE p.run_id = $1 AND p.payee_kind = 'practitioner' AND p.payee_id IN ({ids}) \
      AND pc.origin = 'NOEMIE' \
    GROUP BY p.payee_id, pr.name, pr.address_line, pr.postcode, pr.city, pr.country, \
      p.reference, p.amount_cents, p.iban, p.account_holder";

/// The paid NOEMIE claims of the run's practitioners `{ids}` (a volume's, `$2`).
const PAID: &str = "SELECT pc.ps_id, pc.invoice_no, c.care_date, c.beneficiary, \
      c.billed_cents, c.amo_paid_cents, pc.amount_cents AS paid_cents \
    FROM payments p JOIN payment_claims pc ON pc.reference = p.reference \
    JOIN claims c ON c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no \
    WHERE p.run_id = $1 AND p.payee_kind = 'practitioner' AND p.payee_id IN ({ids}) \
      AND pc.origin = 'NOEMIE' \
    ORDER BY pc.ps_id, pc.invoice_no";

/// Practitioners named in one query: a print-batch volume's (on
/// PostgreSQL, one parameter each: well under its 65,535).
const PRACTITIONERS_PER_QUERY: usize = 10_000;

/// A volume's practitioners as the queries above read them: the SQL for
/// `{ids}` (from parameter `$first` on) and, on SQLite, the one value to
/// bind for it. Each database gets its cheap form:
/// - SQLite: one JSON array of `ps_id`s, read back as a set. SQLite looks
///   each `$n` parameter up by name in a list, when it parses the query
///   and again at every bind: 10,000 of them cost ~0.5 s a query on its
///   only thread (~4 s of a national day's statements).
/// - PostgreSQL: one parameter a practitioner (bound by the caller). From
///   a JSON array its planner guesses 100 rows and chose plans that took
///   25-50 s a volume instead of under a second.
fn id_set(backend: Backend, first: usize, ids: &[&str]) -> Result<(String, Option<String>)> {
    Ok(match backend {
        Backend::Sqlite => (
            format!("SELECT value FROM json_each(${first})"),
            Some(serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        ),
        Backend::Postgres => {
            let params: Vec<String> = (first..first + ids.len())
                .map(|i| format!("${i}"))
                .collect();
            (params.join(", "), None)
        }
    })
}

/// No statement of this practitioner between the run that returned the
/// rejection (`rr`) and this run: one in a run S with
/// `rr.business_date <= S.business_date < D` already listed it.
const NOT_LISTED: &str = "NOT EXISTS (SELECT 1 FROM payments p2 \
      JOIN runs r2 ON r2.run_id = p2.run_id \
      WHERE p2.payee_kind = 'practitioner' AND p2.payee_id = r.ps_id \
        AND r2.business_date >= rr.business_date AND r2.business_date < $2 \
        AND EXISTS (SELECT 1 FROM payment_claims yc \
          WHERE yc.reference = p2.reference AND yc.origin = 'NOEMIE'))";

/// Noémie rejections of the run's paid practitioners `{ids}` (a volume's,
/// `$4`, all of whom get a letter: testing "paid for a NOEMIE claim" here
/// would probe every claim of their payments; their rejections are few,
/// found by the primary key).
fn rejected_sql() -> String {
    format!(
        "SELECT x.ps_id, x.invoice_no, x.care_date, x.beneficiary, x.requested_cents, x.code, x.label \
    FROM ( \
      SELECT r.ps_id, r.invoice_no, rr.business_date AS returned_on, c.care_date, \
        c.beneficiary, c.amc_due_cents AS requested_cents, r.code, c.reject_label AS label, \
        r.dup_import_sha256, r.dup_line \
      FROM payments p \
      JOIN run_rejections r ON r.ps_id = p.payee_id \
      JOIN runs rr ON rr.run_id = r.run_id \
      JOIN claims c ON c.ps_id = r.ps_id AND c.invoice_no = r.invoice_no \
      WHERE p.run_id = $1 AND p.payee_kind = 'practitioner' AND p.payee_id IN ({{ids}}) \
        AND r.dup_line = 0 AND c.origin = 'NOEMIE' AND rr.business_date <= $2 AND {NOT_LISTED} \
      UNION ALL \
      SELECT r.ps_id, r.invoice_no, rr.business_date, d.care_date, CAST(NULL AS TEXT), \
        d.amc_due_cents, r.code, $3, r.dup_import_sha256, r.dup_line \
      FROM payments p \
      JOIN run_rejections r ON r.ps_id = p.payee_id \
      JOIN runs rr ON rr.run_id = r.run_id \
      JOIN claim_duplicates d ON d.import_sha256 = r.dup_import_sha256 AND d.line = r.dup_line \
      WHERE p.run_id = $1 AND p.payee_kind = 'practitioner' AND p.payee_id IN ({{ids}}) \
        AND r.dup_line > 0 AND d.origin = 'NOEMIE' AND rr.business_date <= $2 AND {NOT_LISTED} \
    ) x ORDER BY x.ps_id, x.invoice_no, x.returned_on, x.dup_import_sha256, x.dup_line"
    )
}

/// Runs the query `$sql` for each slice of at most
/// [`PRACTITIONERS_PER_QUERY`] practitioners of `$ids`, binding `$binds`
/// then the slice as [`id_set`] reads it, and calls `$f` on each row of
/// type `$row`; errors leave the enclosing function.
macro_rules! by_practitioners {
    ($store:expr, $row:ty, $sql:expr, [$($bind:expr),*], $ids:expr, $f:expr) => {
        let backend = $store.backend();
        let first = 1 + [$(stringify!($bind)),*].len();
        for ids in $ids.chunks(PRACTITIONERS_PER_QUERY) {
            let (set, json) = id_set(backend, first, ids)?;
            let sql = $sql.replace("{ids}", &set);
            on_pool!($store, p => {
                let mut q = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql.as_str()))$(.bind($bind))*;
                match &json {
                    Some(json) => q = q.bind(json.as_str()),
                    None => {
                        for id in ids {
                            q = q.bind(*id);
                        }
                    }
                }
                let mut rows = q.fetch(p);
                while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                    $f(row)?;
                }
            });
        }
    };
}

impl Store {
    /// Every statement of the run: (`ps_id`, postcode), in no particular
    /// order.
    pub async fn statement_keys(&self, run_id: &str) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, p => sqlx::query_as(KEYS).bind(run_id).fetch_all(p).await?))
    }

    /// The heads of the statements of the run's practitioners `ps_ids`
    /// (those paid for a NOEMIE claim), in no particular order.
    pub async fn statement_heads(
        &self,
        run_id: &str,
        ps_ids: &[&str],
    ) -> Result<Vec<StatementHead>> {
        let mut heads = Vec::with_capacity(ps_ids.len());
        let mut keep = |h| -> Result<()> {
            heads.push(h);
            Ok(())
        };
        by_practitioners!(self, StatementHead, HEADS, [run_id], ps_ids, keep);
        Ok(heads)
    }

    /// The paid NOEMIE claims of the run's practitioners `ps_ids`, each
    /// practitioner's by invoice (practitioners in no particular order).
    pub async fn stream_statement_paid<E: From<StoreError>>(
        &self,
        run_id: &str,
        ps_ids: &[&str],
        mut f: impl FnMut(StatementPaid) -> Result<(), E>,
    ) -> Result<(), E> {
        by_practitioners!(self, StatementPaid, PAID, [run_id], ps_ids, f);
        Ok(())
    }

    /// The NOEMIE rejections to list on the statements of the run's paid
    /// practitioners `ps_ids`, each practitioner's by invoice.
    /// `business_date` is the run's; `r03_label` the label printed for
    /// duplicates.
    pub async fn stream_statement_rejected<E: From<StoreError>>(
        &self,
        run_id: &str,
        business_date: NaiveDate,
        r03_label: &str,
        ps_ids: &[&str],
        mut f: impl FnMut(StatementRejected) -> Result<(), E>,
    ) -> Result<(), E> {
        by_practitioners!(
            self,
            StatementRejected,
            rejected_sql(),
            [run_id, business_date, r03_label],
            ps_ids,
            f
        );
        Ok(())
    }
}
