//! Settlement runs: planning as set-based SQL in one transaction, and the
//! ordered streams from which the run's files are written.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::FromRow;

use super::{
    Backend, Result, Store, StoreError, Tx, on_pool, on_tx, rows_per_statement, stream_rows,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Payments, holds and rejections are recorded: the run's content is fixed.
    Planned,
    /// SEPA and RSP files are published and their SHA-256 recorded.
    FilesWritten,
    /// The manifest is published: the run is done.
    Completed,
}

impl RunState {
    fn as_str(self) -> &'static str {
        match self {
            RunState::Planned => "planned",
            RunState::FilesWritten => "files_written",
            RunState::Completed => "completed",
        }
    }

    fn parse(s: &str) -> Result<RunState> {
        match s {
            "planned" => Ok(RunState::Planned),
            "files_written" => Ok(RunState::FilesWritten),
            "completed" => Ok(RunState::Completed),
            other => Err(StoreError::Corrupt(format!("unknown run state {other:?}"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub run_id: String,
    pub business_date: NaiveDate,
    pub execution_date: NaiveDate,
    pub state: RunState,
    /// Frozen when planned; written into the files so re-runs are identical.
    pub created_at: String,
    pub completed_at: Option<String>,
    pub payments: i64,
    pub amount_cents: i64,
}

#[derive(FromRow)]
struct RunRow {
    run_id: String,
    business_date: NaiveDate,
    execution_date: NaiveDate,
    state: String,
    created_at: String,
    completed_at: Option<String>,
    payments: i64,
    amount_cents: i64,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Run> {
        Ok(Run {
            state: RunState::parse(&r.state)?,
            run_id: r.run_id,
            business_date: r.business_date,
            execution_date: r.execution_date,
            created_at: r.created_at,
            completed_at: r.completed_at,
            payments: r.payments,
            amount_cents: r.amount_cents,
        })
    }
}

/// Values bound per `run_files` row.
const RUN_FILE_BINDS: usize = 4;

const RUN_COLUMNS: &str = "run_id, business_date, execution_date, state, created_at, completed_at, payments, amount_cents";

/// What a new run needs to be planned.
pub struct NewRun<'a> {
    pub run_id: &'a str,
    pub business_date: NaiveDate,
    pub execution_date: NaiveDate,
    pub created_at: &'a str,
}

impl Store {
    pub async fn find_run(&self, business_date: NaiveDate) -> Result<Option<Run>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE business_date = $1"
        ));
        let row: Option<RunRow> =
            on_pool!(self, p => sqlx::query_as(sql).bind(business_date).fetch_optional(p).await?);
        row.map(Run::try_from).transpose()
    }

    /// The most recent runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<Run>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY business_date DESC LIMIT $1"
        ));
        let rows: Vec<RunRow> =
            on_pool!(self, p => sqlx::query_as(sql).bind(limit).fetch_all(p).await?);
        rows.into_iter().map(Run::try_from).collect()
    }

    /// SHA-256 recorded for each file of a run, by path.
    pub async fn run_files(&self, run_id: &str) -> Result<Vec<(String, String)>> {
        let sql = "SELECT path, sha256 FROM run_files WHERE run_id = $1 ORDER BY path";
        Ok(on_pool!(self, p => sqlx::query_as(sql).bind(run_id).fetch_all(p).await?))
    }
}

impl Tx {
    /// Fixes the content of a run: which claims it pays to whom, which it
    /// holds, which rejections it returns. Everything reads one snapshot of
    /// the due claims, so a concurrent import cannot slip a claim into a
    /// payment without its amount.
    pub async fn plan_run(&mut self, run: &NewRun<'_>, labels: &HoldReasons) -> Result<Run> {
        // The claims the run takes leave what is left to pay in the same
        // statement as they are read on PostgreSQL (read committed: a
        // second statement would also see claims committed in between);
        // SQLite has one writer, this transaction since its first insert.
        let take_due: &[&str] = match self {
            Tx::Postgres(_) => &[TAKE_DUE_PG],
            Tx::Sqlite(_) => &[SNAPSHOT_DUE, TAKE_DUE],
        };
        let sla_paid_counts = INSERT_SLA_PAID_COUNTS.replace("{adherents}", members(self));
        let sla_late_paid = INSERT_SLA_LATE_PAID.replace("{adherents}", members(self));
        on_tx!(self, c => {
            sqlx::query("INSERT INTO runs (run_id, business_date, execution_date, state, created_at, payments, amount_cents) \
                         VALUES ($1, $2, $3, 'planned', $4, 0, 0)")
                .bind(run.run_id).bind(run.business_date).bind(run.execution_date).bind(run.created_at)
                .execute(&mut **c).await?;
            sqlx::query("DROP TABLE IF EXISTS run_due").execute(&mut **c).await?;
            sqlx::query("CREATE TEMP TABLE run_due (ps_id TEXT NOT NULL, invoice_no BIGINT NOT NULL, \
                         amc_due_cents BIGINT NOT NULL, payee_kind TEXT NOT NULL, payee_id TEXT NOT NULL, \
                         origin TEXT NOT NULL, deadline DATE NOT NULL, received_date DATE NOT NULL, \
                         adherent_id TEXT NOT NULL, care_date DATE NOT NULL)")
                .execute(&mut **c).await?;
            for sql in take_due {
                sqlx::query(*sql).bind(run.business_date).execute(&mut **c).await?;
            }
            crash_point!("plan.after_snapshot");
            sqlx::query("CREATE INDEX run_due_payee ON run_due (payee_kind, payee_id)").execute(&mut **c).await?;
            sqlx::query(INSERT_PAYMENTS).bind(run.run_id).bind(run.execution_date).execute(&mut **c).await?;
            let held = sqlx::query(INSERT_HOLDS).bind(run.run_id).bind(&labels.practitioner)
                .bind(&labels.adherent).execute(&mut **c).await?.rows_affected();
            if held > 0 {
                sqlx::query(RETURN_HELD).bind(run.run_id).execute(&mut **c).await?;
                sqlx::query(DROP_HELD).bind(run.run_id).execute(&mut **c).await?;
            }
            sqlx::query(INSERT_PAYMENT_CLAIMS).bind(run.run_id).execute(&mut **c).await?;
            crash_point!("plan.after_payments");
            sqlx::query(sqlx::AssertSqlSafe(sla_paid_counts)).bind(run.run_id).execute(&mut **c).await?;
            sqlx::query(sqlx::AssertSqlSafe(sla_late_paid)).bind(run.run_id).bind(run.execution_date)
                .execute(&mut **c).await?;
            sqlx::query(INSERT_REJECTIONS).bind(run.run_id).bind(run.business_date).execute(&mut **c).await?;
            crash_point!("plan.after_rejections");
            sqlx::query(DELETE_RETURNED).bind(run.run_id).execute(&mut **c).await?;
            sqlx::query("DROP TABLE run_due").execute(&mut **c).await?;
            sqlx::query("UPDATE runs SET payments = (SELECT COUNT(*) FROM payments WHERE run_id = $1), \
                         amount_cents = COALESCE((SELECT SUM(amount_cents) FROM payments WHERE run_id = $1), 0) \
                         WHERE run_id = $1")
                .bind(run.run_id).execute(&mut **c).await?;
        });
        let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"));
        let row: RunRow =
            on_tx!(self, c => sqlx::query_as(sql).bind(run.run_id).fetch_one(&mut **c).await?);
        Run::try_from(row)
    }

    /// Records the published files. A file already recorded must have the
    /// same hash: a re-run that produced other bytes is a bug or tampering,
    /// and must stop the run rather than be papered over. (A national day
    /// publishes ~90,000 files: one read and multi-row inserts, not two
    /// statements a file.)
    pub async fn record_run_files(&mut self, run_id: &str, files: &[PublishedFile]) -> Result<()> {
        let recorded: Vec<(String, String)> = on_tx!(self, c =>
            sqlx::query_as("SELECT path, sha256 FROM run_files WHERE run_id = $1")
                .bind(run_id).fetch_all(&mut **c).await?);
        let recorded: std::collections::HashMap<String, String> = recorded.into_iter().collect();
        let mut new = Vec::with_capacity(files.len());
        for f in files {
            match recorded.get(&f.path) {
                Some(sha) if *sha == f.sha256 => {}
                Some(sha) => {
                    return Err(StoreError::Corrupt(format!(
                        "run {run_id}: {} now hashes to {} but was recorded as {sha}",
                        f.path, f.sha256
                    )));
                }
                None => new.push(f),
            }
        }
        for chunk in new.chunks(rows_per_statement(RUN_FILE_BINDS)) {
            on_tx!(self, c => {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO run_files (run_id, path, sha256, bytes) ");
                qb.push_values(chunk, |mut b, f| {
                    b.push_bind(run_id).push_bind(&f.path).push_bind(&f.sha256).push_bind(f.bytes);
                });
                qb.build().execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(())
    }

    pub async fn set_run_state(
        &mut self,
        run_id: &str,
        state: RunState,
        completed_at: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, c => sqlx::query("UPDATE runs SET state = $2, completed_at = COALESCE(completed_at, $3) WHERE run_id = $1")
            .bind(run_id).bind(state.as_str()).bind(completed_at).execute(&mut **c).await?.rows_affected());
        Ok(())
    }
}

/// Reasons written for held claims (contract §3: held, never dropped).
pub struct HoldReasons {
    pub practitioner: String,
    pub adherent: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PublishedFile {
    pub path: String,
    pub sha256: String,
    #[serde(skip)]
    pub bytes: i64,
}

/// Accepted, unpaid claims received before the business date, with payee:
/// read from `unpaid_claims`, never from the whole history (see migration
/// 0006). (A plain CREATE then INSERT: PostgreSQL takes no bind parameters
/// in `CREATE TABLE AS`.) In claim-key order, so that the run's
/// `payment_claims` rows go into their primary key in order instead of at
/// random: on SQLite a national day's planning takes ~30 % less.
const SNAPSHOT_DUE: &str = "INSERT INTO run_due (ps_id, invoice_no, amc_due_cents, payee_kind, \
      payee_id, origin, deadline, received_date, adherent_id, care_date) \
    SELECT ps_id, invoice_no, amc_due_cents, payee_kind, payee_id, origin, deadline, \
      received_date, adherent_id, care_date \
    FROM unpaid_claims WHERE received_date < $1 \
    ORDER BY ps_id, invoice_no";

/// The snapshot's claims leave `unpaid_claims` at once, paid or not: a
/// run pays nearly all it takes, and giving back the few it holds
/// ([`RETURN_HELD`]) costs less than finding the paid ones again among the
/// ~1 M claims left to pay (a join on PostgreSQL, 3–4.5 s of a national day;
/// docs/performance.md). Exactly the snapshot leaves: a claim imported
/// while the run plans stays unpaid. SQLite: [`SNAPSHOT_DUE`], then this,
/// with no other writer in between.
const TAKE_DUE: &str = "DELETE FROM unpaid_claims WHERE received_date < $1";

/// PostgreSQL: the snapshot is what the delete returns.
const TAKE_DUE_PG: &str = "WITH taken AS (DELETE FROM unpaid_claims WHERE received_date < $1 \
      RETURNING ps_id, invoice_no, amc_due_cents, payee_kind, payee_id, origin, deadline, \
        received_date, adherent_id, care_date) \
    INSERT INTO run_due (ps_id, invoice_no, amc_due_cents, payee_kind, payee_id, origin, \
      deadline, received_date, adherent_id, care_date) \
    SELECT ps_id, invoice_no, amc_due_cents, payee_kind, payee_id, origin, deadline, \
      received_date, adherent_id, care_date FROM taken \
    ORDER BY ps_id, invoice_no";

/// A held claim stays to pay: the next run takes it again...
const RETURN_HELD: &str = "INSERT INTO unpaid_claims (ps_id, invoice_no, received_date, deadline, \
      amc_due_cents, payee_kind, payee_id, origin, adherent_id, care_date) \
    SELECT d.ps_id, d.invoice_no, d.received_date, d.deadline, d.amc_due_cents, d.payee_kind, \
      d.payee_id, d.origin, d.adherent_id, d.care_date \
    FROM run_holds h JOIN run_due d ON d.ps_id = h.ps_id AND d.invoice_no = h.invoice_no \
    WHERE h.run_id = $1";

/// ...and leaves the snapshot, which then holds exactly the claims the run
/// pays: the statements after it read it whole instead of asking, for each
/// of a national day's ~1 M claims, whether it was held.
const DROP_HELD: &str = "DELETE FROM run_due WHERE (ps_id, invoice_no) IN \
    (SELECT ps_id, invoice_no FROM run_holds WHERE run_id = $1)";

/// A payment's reference (the SEPA EndToEndId), deterministic: run ($1),
/// kind, payee, read from the row named `$t`. One expression for the
/// payment and its claims, so that they cannot disagree (were they to, the
/// foreign key from `payment_claims` would stop the run).
macro_rules! reference {
    ($t:literal) => {
        concat!(
            "$1 || '-' || CASE WHEN ",
            $t,
            ".payee_kind = 'practitioner' THEN 'P' ELSE 'A' END || ",
            $t,
            ".payee_id"
        )
    };
}

/// One payment per payee with bank details valid on the execution date.
const INSERT_PAYMENTS: &str = concat!(
    "INSERT INTO payments (reference, run_id, payee_kind, payee_id, \
      amount_cents, claims_count, iban, bic, account_holder, bank_valid_from) \
    SELECT ",
    reference!("t"),
    ", \
      $1, t.payee_kind, t.payee_id, t.total, t.n, b.iban, b.bic, b.account_holder, b.valid_from \
    FROM (SELECT payee_kind, payee_id, SUM(amc_due_cents) AS total, COUNT(*) AS n \
          FROM run_due GROUP BY payee_kind, payee_id) t \
    JOIN bank_details b ON b.holder_kind = t.payee_kind AND b.holder_id = t.payee_id \
      AND b.valid_from = (SELECT MAX(b2.valid_from) FROM bank_details b2 \
                          WHERE b2.holder_kind = t.payee_kind AND b2.holder_id = t.payee_id \
                            AND b2.valid_from <= $2)"
);

/// Every claim left in the snapshot once the held ones are out is paid,
/// under its payee's payment, its reference computed rather than joined:
/// the snapshot is read in its own (key) order, so the rows go into the
/// primary key in order (on PostgreSQL, joined with the payments, a nested
/// loop in payment order: a national day 8.7 s against 7.3 s;
/// docs/performance.md).
const INSERT_PAYMENT_CLAIMS: &str = concat!(
    "INSERT INTO payment_claims (ps_id, invoice_no, reference, \
      amount_cents, origin, deadline, care_date) \
    SELECT d.ps_id, d.invoice_no, ",
    reference!("d"),
    ", d.amc_due_cents, d.origin, d.deadline, d.care_date FROM run_due d"
);

/// What the SLA report needs of the run's paid TP claims (migration 0008):
/// counts by receipt date, deadline, origin and the member's centre...
/// Read from the snapshot once the held claims are out of it ([`DROP_HELD`]),
/// not joined with the payments: those were written by this transaction,
/// so PostgreSQL's statistics know none of them; joined, it estimated a few
/// rows, looked the members up one by one, and took 5.2 s of a national day
/// where this takes 1.4 s. `{adherents}`: see [`members`].
const INSERT_SLA_PAID_COUNTS: &str = "INSERT INTO sla_paid_counts (run_id, received_date, \
      deadline, origin, centre, claims) \
    SELECT $1, d.received_date, d.deadline, d.origin, a.centre, COUNT(*) FROM run_due d \
    LEFT JOIN {adherents} ON a.adherent_id = d.adherent_id \
    WHERE d.payee_kind = 'practitioner' \
    GROUP BY d.received_date, d.deadline, d.origin, a.centre";

/// How the SLA statements read a member's centre: on SQLite from the
/// index that holds it beside the key (migration 0011), which its planner,
/// without statistics, passes over for the unique key and a look-up in the
/// table (3.7 s against 1.6 s for a national day's ~1 M members).
fn members(tx: &Tx) -> &'static str {
    match tx {
        Tx::Postgres(_) => "adherents a",
        Tx::Sqlite(_) => "adherents a INDEXED BY adherents_centre",
    }
}

/// ...and, one by one, those it pays after their deadline ($2: the run's
/// execution date), for the late list.
const INSERT_SLA_LATE_PAID: &str = "INSERT INTO sla_late_paid (ps_id, invoice_no, run_id, \
      received_date, deadline, origin, centre, amc_due_cents) \
    SELECT d.ps_id, d.invoice_no, $1, d.received_date, d.deadline, d.origin, a.centre, \
      d.amc_due_cents FROM run_due d \
    LEFT JOIN {adherents} ON a.adherent_id = d.adherent_id \
    WHERE d.payee_kind = 'practitioner' AND d.deadline < $2";

const INSERT_HOLDS: &str = "INSERT INTO run_holds (run_id, ps_id, invoice_no, reason) \
    SELECT $1, d.ps_id, d.invoice_no, \
      CASE WHEN d.payee_kind = 'practitioner' THEN $2 ELSE $3 END \
    FROM run_due d WHERE NOT EXISTS (SELECT 1 FROM payments p \
      WHERE p.run_id = $1 AND p.payee_kind = d.payee_kind AND p.payee_id = d.payee_id)";

/// Rejections not yet returned: the engine's and R01/R02/R04/R05 (claims),
/// and R03 (duplicates), from `unreturned_rejections` (migration 0006).
/// Each is returned once, ever (primary key of `run_rejections`); all those
/// received before the business date are returned by this run, so they all
/// leave the table...
const INSERT_REJECTIONS: &str = "INSERT INTO run_rejections (run_id, ps_id, invoice_no, \
      dup_import_sha256, dup_line, code) \
    SELECT $1, ps_id, invoice_no, dup_import_sha256, dup_line, code FROM unreturned_rejections \
    WHERE received_date < $2";

/// ...by their keys, not by date: on PostgreSQL (read committed) a second
/// statement by date would also delete, unreturned, the rejections of an
/// import committed in between (seen in CI: 60 of them). A day's
/// rejections are a few thousand rows.
const DELETE_RETURNED: &str = "DELETE FROM unreturned_rejections \
    WHERE (ps_id, invoice_no, dup_import_sha256, dup_line) IN \
      (SELECT ps_id, invoice_no, dup_import_sha256, dup_line FROM run_rejections WHERE run_id = $1)";

// ---- Streams for the files -------------------------------------------------

/// A payment with what the bank file needs about its payee.
#[derive(FromRow, Debug)]
pub struct PaymentLine {
    pub reference: String,
    pub payee_kind: String,
    pub payee_id: String,
    pub amount_cents: i64,
    pub claims_count: i64,
    pub iban: String,
    pub bic: Option<String>,
    pub account_holder: String,
    pub address_line: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// A practitioner's RSP content: who, and the invoice lines in file order.
#[derive(Debug)]
pub struct RspPayee {
    pub ps_id: String,
    /// None for a practitioner unknown to us (R01).
    pub ps_name: Option<String>,
    pub lines: Vec<RspLine>,
}

/// One invoice line of a practitioner's RSP. `section`: 1 paid to the
/// practitioner (under its transfer), 2 rejected, 3 HTP *signalement*.
/// Read from a JSON array in this field order (see [`RSP_PAYEES`]).
#[derive(serde::Deserialize, Debug)]
pub struct RspLine {
    pub section: i64,
    pub reference: Option<String>,
    pub transfer_cents: Option<i64>,
    pub invoice_no: i64,
    pub origin: String,
    pub care_date: NaiveDate,
    pub requested_cents: i64,
    pub paid_cents: i64,
    pub code: Option<String>,
    pub label: Option<String>,
}

impl RspLine {
    /// Lines go in the file by section, invoice and reject code; the other
    /// fields only break ties (the same invoice sent twice, each copy
    /// rejected as a duplicate), so that rewriting a run writes the same
    /// bytes whatever order the database returned them in.
    #[allow(clippy::type_complexity)]
    fn file_order(
        &self,
    ) -> (
        i64,
        i64,
        &Option<String>,
        &str,
        NaiveDate,
        i64,
        i64,
        &Option<String>,
        &Option<String>,
        Option<i64>,
    ) {
        (
            self.section,
            self.invoice_no,
            &self.code,
            &self.origin,
            self.care_date,
            self.requested_cents,
            self.paid_cents,
            &self.label,
            &self.reference,
            self.transfer_cents,
        )
    }
}

#[derive(FromRow)]
struct RspPayeeRow {
    ps_id: String,
    ps_name: Option<String>,
    lines: String,
}

impl TryFrom<RspPayeeRow> for RspPayee {
    type Error = StoreError;
    fn try_from(r: RspPayeeRow) -> Result<RspPayee> {
        let mut lines: Vec<RspLine> = serde_json::from_str(&r.lines)
            .map_err(|e| StoreError::Corrupt(format!("RSP lines of {}: {e}", r.ps_id)))?;
        lines.sort_by(|a, b| a.file_order().cmp(&b.file_order()));
        Ok(RspPayee {
            ps_id: r.ps_id,
            ps_name: r.ps_name,
            lines,
        })
    }
}

/// A payment with the keys of its claims, for the manifest.
#[derive(Debug)]
pub struct PaidPayment {
    pub reference: String,
    pub payee_kind: String,
    pub payee_id: String,
    pub amount_cents: i64,
    /// The account paid (unmasked: callers mask it before it leaves).
    pub iban: String,
    /// Which entry of the payee's bank-detail history was used.
    pub bank_valid_from: String,
    /// (`ps_id`, `invoice_no`), in that order.
    pub claims: Vec<(String, i64)>,
}

/// [`PaidPayment`] as read: the claim keys packed as `ps_id:invoice,…`.
/// sqlx hands SQLite rows over from its worker thread one at a time, a few
/// microseconds each; one row a payment instead of one a claim takes the
/// manifest's read of a national day from ~5 s to under 2.
#[derive(FromRow)]
struct PaidPaymentRow {
    reference: String,
    payee_kind: String,
    payee_id: String,
    amount_cents: i64,
    iban: String,
    bank_valid_from: String,
    claims: String,
}

impl TryFrom<PaidPaymentRow> for PaidPayment {
    type Error = StoreError;
    fn try_from(r: PaidPaymentRow) -> Result<PaidPayment> {
        let mut claims: Vec<(String, i64)> = r
            .claims
            .split(',')
            .map(|key| {
                key.split_once(':')
                    .and_then(|(ps, inv)| Some((ps.to_owned(), inv.parse().ok()?)))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("payment {}: claim key {key:?}", r.reference))
                    })
            })
            .collect::<Result<_>>()?;
        // In key order, made here rather than inside the aggregate: a third
        // (SQLite) to a half (PostgreSQL) of the query's time on a national
        // day (docs/performance.md).
        claims.sort_unstable();
        Ok(PaidPayment {
            reference: r.reference,
            payee_kind: r.payee_kind,
            payee_id: r.payee_id,
            amount_cents: r.amount_cents,
            iban: r.iban,
            bank_valid_from: r.bank_valid_from,
            claims,
        })
    }
}

/// (ps_id, invoice_no, text): a rejection's code, a hold's reason, or a
/// late claim's deadline.
#[derive(FromRow, Debug)]
pub struct ClaimNote {
    pub ps_id: String,
    pub invoice_no: i64,
    pub note: String,
}

/// Sums that must agree across the database and every file of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSums {
    pub practitioner_payments: i64,
    pub practitioner_cents: i64,
    pub adherent_payments: i64,
    pub adherent_cents: i64,
    /// Sum of the amounts of the claims linked to the run's payments.
    pub claims_cents: i64,
    pub claims: i64,
}

impl RunSums {
    pub fn payments(&self) -> i64 {
        self.practitioner_payments + self.adherent_payments
    }
    pub fn cents(&self) -> i64 {
        self.practitioner_cents + self.adherent_cents
    }
}

const PAYMENT_LINES: &str = "SELECT p.reference, p.payee_kind, p.payee_id, p.amount_cents, \
      p.claims_count, p.iban, p.bic, p.account_holder, \
      COALESCE(pr.address_line, a.address_line) AS address_line, \
      COALESCE(pr.postcode, a.postcode) AS postcode, COALESCE(pr.city, a.city) AS city, \
      COALESCE(pr.country, a.country) AS country \
    FROM payments p \
    LEFT JOIN practitioners pr ON p.payee_kind = 'practitioner' AND pr.ps_id = p.payee_id \
    LEFT JOIN adherents a ON p.payee_kind = 'adherent' AND a.adherent_id = p.payee_id \
    WHERE p.run_id = $1 ORDER BY p.payee_kind DESC, p.reference";

/// The RSP of every practitioner concerned by the run, one row each, its
/// invoice lines aggregated as a JSON array of arrays in [`RspLine`] field
/// order. (One row an invoice cost ~10 µs each through sqlx's SQLite
/// worker thread, half the RSP step of a national day; JSON rather than a
/// separator because reject labels are free text.) `{agg}` and `{arr}` are
/// the backend's JSON aggregate and array functions.
///
/// A paid claim's line is read from its own `payment_claims` row, without
/// a look-up into `claims` (~900,000 a national day, 1.3-1.5 s on
/// PostgreSQL): the row has the origin and the date of care
/// (`{care_date}`), and the amount asked is the amount paid, as a run pays
/// a claim's AMC part whole. Rejected claims still read theirs (the label).
///
/// The lines come in no particular order ([`RspPayee::try_from`] sorts
/// them), and the name is looked up once per practitioner, after grouping:
/// a sort inside the aggregate and a join before it cost a national day
/// 1.5 s of 7 on PostgreSQL and 1.2 s of 3.5 on SQLite.
const RSP_PAYEES: &str = "SELECT g.ps_id, \
      (SELECT pr.name FROM practitioners pr WHERE pr.ps_id = g.ps_id) AS ps_name, g.lines \
    FROM (SELECT x.ps_id, CAST({agg}({arr}(x.section, x.reference, x.transfer_cents, \
      x.invoice_no, x.origin, x.care_date, x.requested_cents, x.paid_cents, x.code, x.label)) \
      AS TEXT) AS lines \
    FROM ( \
    SELECT pc.ps_id, CAST(1 AS BIGINT) AS section, p.reference, p.amount_cents AS transfer_cents, \
      pc.invoice_no, pc.origin, {care_date} AS care_date, pc.amount_cents AS requested_cents, \
      pc.amount_cents AS paid_cents, CAST(NULL AS TEXT) AS code, CAST(NULL AS TEXT) AS label \
    FROM payments p JOIN payment_claims pc ON pc.reference = p.reference \
    WHERE p.run_id = $1 AND p.payee_kind = 'practitioner' \
    UNION ALL \
    SELECT c.ps_id, 2, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), c.invoice_no, c.origin, \
      c.care_date, c.amc_due_cents, 0, r.code, c.reject_label \
    FROM run_rejections r JOIN claims c ON c.ps_id = r.ps_id AND c.invoice_no = r.invoice_no \
    WHERE r.run_id = $1 AND r.dup_line = 0 \
    UNION ALL \
    SELECT d.ps_id, 2, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), d.invoice_no, d.origin, \
      d.care_date, d.amc_due_cents, 0, r.code, $2 \
    FROM run_rejections r JOIN claim_duplicates d \
      ON d.import_sha256 = r.dup_import_sha256 AND d.line = r.dup_line \
    WHERE r.run_id = $1 AND r.dup_line > 0 \
    UNION ALL \
    SELECT pc.ps_id, 3, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), pc.invoice_no, pc.origin, \
      {care_date}, pc.amount_cents, pc.amount_cents, CAST(NULL AS TEXT), CAST(NULL AS TEXT) \
    FROM payments p JOIN payment_claims pc ON pc.reference = p.reference \
    WHERE p.run_id = $1 AND p.payee_kind = 'adherent') x \
    GROUP BY x.ps_id) g ORDER BY g.ps_id";

/// A paid claim's date of care, from its own row (migration 0010), or from
/// `claims` for one paid before the column existed (NULL; `COALESCE` only
/// evaluates the look-up for those).
const PAID_CARE_DATE: &str = "COALESCE(pc.care_date, (SELECT c.care_date FROM claims c \
    WHERE c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no))";

/// (Grouped by the payments' primary key: PostgreSQL then accepts the
/// payment's other columns, SQLite always does.)
const PAID_PAYMENTS: &str = "SELECT p.reference, p.payee_kind, p.payee_id, p.amount_cents, \
      p.iban, CAST(p.bank_valid_from AS TEXT) AS bank_valid_from, \
      string_agg(pc.ps_id || ':' || CAST(pc.invoice_no AS TEXT), ',') AS claims \
    FROM payments p JOIN payment_claims pc ON pc.reference = p.reference \
    WHERE p.run_id = $1 GROUP BY p.reference ORDER BY p.payee_kind DESC, p.reference";

const REJECTED: &str = "SELECT ps_id, invoice_no, code AS note FROM run_rejections \
    WHERE run_id = $1 ORDER BY ps_id, invoice_no, dup_import_sha256, dup_line";

const HELD: &str = "SELECT ps_id, invoice_no, reason AS note FROM run_holds \
    WHERE run_id = $1 ORDER BY ps_id, invoice_no";

/// Paid after the deadline in this run, or held with the deadline passed.
/// (A paid claim carries its deadline; only the holds look theirs up.)
const LATE: &str = "SELECT k.ps_id, k.invoice_no, CAST(k.deadline AS TEXT) AS note FROM ( \
      SELECT pc.ps_id, pc.invoice_no, pc.deadline FROM payments p \
      JOIN payment_claims pc ON pc.reference = p.reference \
      WHERE p.run_id = $1 AND pc.deadline < $2 \
      UNION ALL SELECT c.ps_id, c.invoice_no, c.deadline FROM run_holds h \
      JOIN claims c ON c.ps_id = h.ps_id AND c.invoice_no = h.invoice_no \
      WHERE h.run_id = $1 AND c.deadline < $2) k \
    ORDER BY k.ps_id, k.invoice_no";

impl Store {
    pub async fn stream_payment_lines<E: From<StoreError>>(
        &self,
        run_id: &str,
        mut f: impl FnMut(PaymentLine) -> Result<(), E>,
    ) -> Result<(), E> {
        stream_rows!(self, PaymentLine, PAYMENT_LINES, [run_id], f)
    }

    /// The run's RSP content, one practitioner at a time, by `ps_id`.
    pub async fn stream_rsp_payees<E: From<StoreError>>(
        &self,
        run_id: &str,
        r03_label: &str,
        mut f: impl FnMut(RspPayee) -> Result<(), E>,
    ) -> Result<(), E> {
        let (agg, arr) = match self.backend() {
            Backend::Postgres => ("json_agg", "json_build_array"),
            Backend::Sqlite => ("json_group_array", "json_array"),
        };
        let sql = RSP_PAYEES
            .replace("{agg}", agg)
            .replace("{arr}", arr)
            .replace("{care_date}", PAID_CARE_DATE);
        let mut g = |row: RspPayeeRow| f(RspPayee::try_from(row)?);
        stream_rows!(
            self,
            RspPayeeRow,
            sqlx::AssertSqlSafe(sql),
            [run_id, r03_label],
            g
        )
    }

    /// The run's payments in file order, each with its claims.
    pub async fn stream_paid_payments<E: From<StoreError>>(
        &self,
        run_id: &str,
        mut f: impl FnMut(PaidPayment) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut g = |row: PaidPaymentRow| f(PaidPayment::try_from(row)?);
        stream_rows!(self, PaidPaymentRow, PAID_PAYMENTS, [run_id], g)
    }

    pub async fn stream_rejected<E: From<StoreError>>(
        &self,
        run_id: &str,
        mut f: impl FnMut(ClaimNote) -> Result<(), E>,
    ) -> Result<(), E> {
        stream_rows!(self, ClaimNote, REJECTED, [run_id], f)
    }

    pub async fn stream_held<E: From<StoreError>>(
        &self,
        run_id: &str,
        mut f: impl FnMut(ClaimNote) -> Result<(), E>,
    ) -> Result<(), E> {
        stream_rows!(self, ClaimNote, HELD, [run_id], f)
    }

    pub async fn stream_late<E: From<StoreError>>(
        &self,
        run_id: &str,
        execution_date: NaiveDate,
        mut f: impl FnMut(ClaimNote) -> Result<(), E>,
    ) -> Result<(), E> {
        stream_rows!(self, ClaimNote, LATE, [run_id, execution_date], f)
    }

    /// The run's sums as the database sees them, for the end-of-run checks.
    pub async fn run_sums(&self, run_id: &str) -> Result<RunSums> {
        // Two passes, one per table: the claims' join is the expensive one,
        // so it is made once for both its count and its sum.
        let by_payee = "SELECT \
            COALESCE(SUM(CASE WHEN payee_kind = 'practitioner' THEN 1 ELSE 0 END), 0), \
            CAST(COALESCE(SUM(CASE WHEN payee_kind = 'practitioner' THEN amount_cents ELSE 0 END), 0) AS BIGINT), \
            COALESCE(SUM(CASE WHEN payee_kind = 'adherent' THEN 1 ELSE 0 END), 0), \
            CAST(COALESCE(SUM(CASE WHEN payee_kind = 'adherent' THEN amount_cents ELSE 0 END), 0) AS BIGINT) \
            FROM payments WHERE run_id = $1";
        let claims = "SELECT CAST(COALESCE(SUM(pc.amount_cents), 0) AS BIGINT), COUNT(*) \
            FROM payment_claims pc JOIN payments p ON p.reference = pc.reference WHERE p.run_id = $1";
        let (r, c): ((i64, i64, i64, i64), (i64, i64)) = on_pool!(self, p => (
            sqlx::query_as(by_payee).bind(run_id).fetch_one(p).await?,
            sqlx::query_as(claims).bind(run_id).fetch_one(p).await?,
        ));
        Ok(RunSums {
            practitioner_payments: r.0,
            practitioner_cents: r.1,
            adherent_payments: r.2,
            adherent_cents: r.3,
            claims_cents: c.0,
            claims: c.1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payee(lines: &str) -> RspPayee {
        RspPayee::try_from(RspPayeeRow {
            ps_id: "100000001".into(),
            ps_name: None,
            lines: lines.into(),
        })
        .expect("lines parse")
    }

    fn order(p: &RspPayee) -> Vec<(i64, i64, Option<&str>, i64)> {
        p.lines
            .iter()
            .map(|l| {
                (
                    l.section,
                    l.invoice_no,
                    l.code.as_deref(),
                    l.requested_cents,
                )
            })
            .collect()
    }

    /// The manifest lists a payment's claims in key order, whatever order
    /// the aggregate gave them in.
    #[test]
    fn a_payments_claims_are_put_in_key_order() {
        let p = PaidPayment::try_from(PaidPaymentRow {
            reference: "RUN-20261201-A200000001".into(),
            payee_kind: "adherent".into(),
            payee_id: "200000001".into(),
            amount_cents: 1500,
            iban: "FR7630006000011234567890189".into(),
            bank_valid_from: "2026-01-01".into(),
            claims: "100000002:5,100000001:12,100000001:9".into(),
        })
        .expect("claims parse");
        let keys: Vec<(&str, i64)> = p.claims.iter().map(|(ps, n)| (ps.as_str(), *n)).collect();
        assert_eq!(
            keys,
            [("100000001", 9), ("100000001", 12), ("100000002", 5)]
        );
    }

    /// The query returns lines unordered: the file order is made here, the
    /// same whatever order they arrive in, copies of one invoice included.
    #[test]
    fn rsp_lines_are_put_in_file_order_whatever_order_they_come_in() {
        let lines = [
            r#"[3, null, null, 7, "DRE", "2026-11-20", 500, 500, null, null]"#,
            r#"[2, null, null, 4, "DRE", "2026-11-20", 900, 0, "R03", "Doublon"]"#,
            r#"[1, "RUN-20261201-P100000001", 1500, 9, "DRE", "2026-11-20", 1000, 1000, null, null]"#,
            r#"[2, null, null, 4, "DRE", "2026-11-20", 700, 0, "R03", "Doublon"]"#,
            r#"[2, null, null, 4, "DRE", "2026-11-20", 800, 0, "R02", "Pas d'accord"]"#,
            r#"[1, "RUN-20261201-P100000001", 1500, 2, "NOEMIE", "2026-11-19", 500, 500, null, null]"#,
        ];
        let expected = vec![
            (1, 2, None, 500),
            (1, 9, None, 1000),
            (2, 4, Some("R02"), 800),
            (2, 4, Some("R03"), 700),
            (2, 4, Some("R03"), 900),
            (3, 7, None, 500),
        ];
        let forward = payee(&format!("[{}]", lines.join(",")));
        let backward: Vec<&str> = lines.iter().rev().copied().collect();
        let backward = payee(&format!("[{}]", backward.join(",")));
        assert_eq!(order(&forward), expected);
        assert_eq!(order(&backward), expected);
    }
}
