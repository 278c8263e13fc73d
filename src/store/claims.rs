//! Claims import: bulk load into a staging table, then the business rules
//! R01–R05 as set-based SQL, all inside the import's transaction.

use chrono::NaiveDate;
use sqlx::{QueryBuilder, Row};

use super::{Result, StoreError, Tx, on_tx, rows_per_statement};
use crate::domain::{
    AdherentId, Amount, ClaimStatus, InvoiceNo, Mode, Origin, PsId, RejectCode, Sensitive,
};

/// Values bound per staged row on SQLite (the columns of `STAGE_COLUMNS`).
const STAGE_BINDS: usize = 18;

/// A syntactically valid claims.csv row, ready for the staging table.
pub struct StagedClaim {
    pub line: i64,
    pub ps_id: PsId,
    pub invoice_no: InvoiceNo,
    pub origin: Origin,
    pub mode: Mode,
    /// As received (RFC 3339 with its offset).
    pub received_at: String,
    /// Europe/Paris date of receipt: starts the 4-working-day clock.
    pub received_date: NaiveDate,
    pub deadline: NaiveDate,
    pub care_date: NaiveDate,
    pub adherent_id: AdherentId,
    pub beneficiary: Sensitive<String>,
    pub billed: Amount,
    pub amo_paid: Amount,
    pub amc_due: Amount,
    pub status: ClaimStatus,
    pub reject: Option<(RejectCode, String)>,
    /// Identifies the content, so that a re-sent identical claim is ignored
    /// and a different one under the same key is a duplicate (R03).
    pub content_sha256: String,
}

/// French labels of our own import rules, as returned in the RSP.
pub const RULE_LABELS: [(&str, &str); 5] = [
    ("R01", "Professionnel de sante inconnu"),
    ("R02", "Pas d'accord tiers-payant a la date de reception"),
    (
        "R03",
        "Facture deja recue avec un contenu different (doublon)",
    ),
    ("R04", "Part AMC nulle ou superieure au reste apres AMO"),
    ("R05", "Adherent inconnu pour une demande hors tiers-payant"),
];

pub fn rule_label(code: &str) -> &'static str {
    RULE_LABELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or("Rejet")
}

/// What applying a staged file did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClaimCounts {
    pub accepted: i64,
    pub rejected: i64,
    /// Identical to a claim already received: ignored (contract §2).
    pub ignored: i64,
    /// R03: same key, different content.
    pub duplicates: i64,
    /// Rejections by code (engine codes and R01–R05, R03 included).
    pub by_code: Vec<(String, i64)>,
}

/// Appends a file's rows to the staging table: one `COPY … FROM STDIN` for
/// the whole file on PostgreSQL (the server loads a batch while the next is
/// encoded; a `COPY` a batch made it wait for each), multi-row INSERTs on
/// SQLite: the two backends' fastest bulk paths. Dropped without
/// [`ClaimStager::finish`], the `COPY` is abandoned with the transaction.
pub enum ClaimStager<'t> {
    Postgres(sqlx::postgres::PgCopyIn<&'t mut sqlx::PgConnection>),
    Sqlite(&'t mut sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl ClaimStager<'_> {
    pub async fn stage(&mut self, rows: &[StagedClaim]) -> Result<()> {
        match self {
            ClaimStager::Postgres(copy) => {
                copy.send(copy_csv(rows)?).await?;
            }
            ClaimStager::Sqlite(c) => {
                for chunk in rows.chunks(rows_per_statement(STAGE_BINDS)) {
                    sqlite_insert(chunk).build().execute(&mut ***c).await?;
                }
            }
        }
        Ok(())
    }

    pub async fn finish(self) -> Result<()> {
        if let ClaimStager::Postgres(copy) = self {
            copy.finish().await?;
        }
        Ok(())
    }
}

/// One multi-row INSERT of staged rows (SQLite).
fn sqlite_insert(chunk: &[StagedClaim]) -> QueryBuilder<sqlx::Sqlite> {
    let mut qb = QueryBuilder::new(format!("INSERT INTO claim_stage ({STAGE_COLUMNS}) "));
    qb.push_values(chunk, |mut b, r| {
        let (code, label) = r
            .reject
            .as_ref()
            .map(|(c, l)| (c.as_str(), l.as_str()))
            .unzip();
        b.push_bind(r.line)
            .push_bind(r.ps_id.as_str())
            .push_bind(i64::from(r.invoice_no.get()))
            .push_bind(r.origin.as_str())
            .push_bind(r.mode.as_str())
            .push_bind(r.received_at.as_str())
            // The same text sqlx would bind for a date, without its
            // strftime-pattern formatting (~3 % of a million-claim import).
            .push_bind(r.received_date.to_string())
            .push_bind(r.deadline.to_string())
            .push_bind(r.care_date.to_string())
            .push_bind(r.adherent_id.as_str())
            .push_bind(r.beneficiary.expose().as_str())
            .push_bind(r.billed.cents())
            .push_bind(r.amo_paid.cents())
            .push_bind(r.amc_due.cents())
            .push_bind(r.status.as_str())
            .push_bind(code)
            .push_bind(label)
            .push_bind(r.content_sha256.as_str());
    });
    qb
}

const STAGE_COLUMNS: &str = "line, ps_id, invoice_no, origin, mode, received_at, received_date, \
    deadline, care_date, adherent_id, beneficiary, billed_cents, amo_paid_cents, amc_due_cents, \
    status, reject_code, reject_label, content_sha256";

impl Tx {
    pub async fn create_claim_stage(&mut self) -> Result<()> {
        let ddl = "CREATE TEMP TABLE claim_stage (
            line BIGINT NOT NULL, ps_id TEXT NOT NULL, invoice_no BIGINT NOT NULL,
            origin TEXT NOT NULL, mode TEXT NOT NULL, received_at TEXT NOT NULL,
            received_date DATE NOT NULL, deadline DATE NOT NULL, care_date DATE NOT NULL,
            adherent_id TEXT NOT NULL, beneficiary TEXT NOT NULL, billed_cents BIGINT NOT NULL,
            amo_paid_cents BIGINT NOT NULL, amc_due_cents BIGINT NOT NULL, status TEXT NOT NULL,
            reject_code TEXT, reject_label TEXT, content_sha256 TEXT NOT NULL)";
        on_tx!(self, c => {
            sqlx::query("DROP TABLE IF EXISTS claim_known").execute(&mut **c).await?;
            sqlx::query("DROP TABLE IF EXISTS claim_stage").execute(&mut **c).await?;
            sqlx::query(ddl).execute(&mut **c).await?;
        });
        Ok(())
    }

    /// Opens the staging table for appending, batch after batch.
    pub async fn claim_stager(&mut self) -> Result<ClaimStager<'_>> {
        Ok(match self {
            Tx::Postgres(c) => {
                let stmt =
                    format!("COPY claim_stage ({STAGE_COLUMNS}) FROM STDIN WITH (FORMAT csv)");
                ClaimStager::Postgres(c.copy_in_raw(&stmt).await?)
            }
            Tx::Sqlite(c) => ClaimStager::Sqlite(c),
        })
    }
    /// Keys that occur more than once in the staged file: (line, ps_id,
    /// invoice_no, first line with that key). At most `limit` of them.
    /// Indexes the staged keys first: this query and the rules that follow
    /// then read the stage in key order from one sort instead of two.
    pub async fn staged_duplicate_keys(
        &mut self,
        limit: i64,
    ) -> Result<Vec<(i64, String, i64, i64)>> {
        on_tx!(self, c => sqlx::query("CREATE INDEX claim_stage_key ON claim_stage (ps_id, invoice_no, line)")
            .execute(&mut **c).await?.rows_affected());
        // Autovacuum never sees a temporary table, so PostgreSQL planned the
        // stage's statements on guesses (rows, widths, distinct keys) and
        // chose costlier joins and sorts: a million-claim file took 22-23 s,
        // 15-17 s with statistics (0.4 s to gather). SQLite's plans are
        // fixed by the way the joins are written (see the tests below).
        if let Tx::Postgres(c) = self {
            sqlx::query("ANALYZE claim_stage").execute(&mut **c).await?;
        }
        let sql = "SELECT s.line, s.ps_id, s.invoice_no, d.first_line FROM claim_stage s \
                   JOIN (SELECT ps_id, invoice_no, MIN(line) AS first_line FROM claim_stage \
                         GROUP BY ps_id, invoice_no HAVING COUNT(*) > 1) d \
                     ON d.ps_id = s.ps_id AND d.invoice_no = s.invoice_no \
                   WHERE s.line > d.first_line ORDER BY s.line LIMIT $1";
        let rows = on_tx!(self, c => sqlx::query(sql).bind(limit).fetch_all(&mut **c).await?
            .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?);
        Ok(rows)
    }

    /// Moves the staged claims into `claims` (new keys, with R01/R02/R04/R05
    /// applied) and `claim_duplicates` (R03), ignoring identical re-sends.
    /// Call after [`Tx::staged_duplicate_keys`], which indexes the stage.
    pub async fn apply_claim_stage(&mut self, import_sha: &str) -> Result<ClaimCounts> {
        let (ignored, duplicates) = on_tx!(self, c => {
            for sql in FIND_KNOWN {
                sqlx::query(sql).execute(&mut **c).await?;
            }
            let ignored: i64 = sqlx::query_scalar(COUNT_IDENTICAL).fetch_one(&mut **c).await?;
            let duplicates = sqlx::query(INSERT_DUPLICATES).bind(import_sha)
                .execute(&mut **c).await?.rows_affected();
            sqlx::query(QUEUE_DUPLICATES).bind(import_sha).execute(&mut **c).await?;
            (ignored, to_i64(duplicates)?)
        });
        let by_status = self.insert_new_claims(import_sha).await?;
        on_tx!(self, c => for table in ["claim_known", "claim_stage"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&mut **c).await?;
        });
        let mut counts = ClaimCounts {
            ignored,
            duplicates,
            ..Default::default()
        };
        for (status, code, n) in by_status {
            if status == "accepted" {
                counts.accepted += n
            } else {
                counts.rejected += n;
                counts.by_code.push((code, n));
            }
        }
        if counts.duplicates > 0 {
            counts.by_code.push(("R03".into(), counts.duplicates));
            counts.by_code.sort();
        }
        Ok(counts)
    }

    /// Inserts the file's new claims, the accepted ones into `unpaid_claims`
    /// (what the next run pays) and the rejected ones into
    /// `unreturned_rejections` (what it returns); returns what they became,
    /// by status and code. Both databases queue and count the inserted rows
    /// themselves, never by finding them again: PostgreSQL's planner read
    /// every claim ever imported to find this file's ones by `import_sha256`;
    /// SQLite, probing `claims` by key from the stage, spent three passes
    /// over the file on it (9–13 s of a 35–42 s national day on a slow
    /// machine). PostgreSQL reads them from `RETURNING` in a CTE; SQLite,
    /// which has no DML in a CTE, from temporary triggers on the insert.
    async fn insert_new_claims(&mut self, import_sha: &str) -> Result<Vec<(String, String, i64)>> {
        let labels = ["R01", "R02", "R04", "R05"].map(rule_label);
        let rows = match self {
            Tx::Postgres(c) => {
                let sql = format!(
                    "WITH ins AS ({INSERT_NEW_CLAIMS_PG} RETURNING ps_id, invoice_no, origin, mode, \
                       received_date, deadline, adherent_id, amc_due_cents, care_date, status, reject_code), \
                     unpaid AS ({INSERT_UNPAID} SELECT {UNPAID_FROM_CLAIM} FROM ins \
                       WHERE status = 'accepted' ORDER BY ps_id, invoice_no), \
                     unreturned AS ({INSERT_UNRETURNED} SELECT {UNRETURNED_FROM_CLAIM} FROM ins \
                       WHERE status = 'rejected') \
                     SELECT status, COALESCE(reject_code, ''), COUNT(*) FROM ins \
                     GROUP BY status, reject_code ORDER BY 1, 2"
                );
                let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(import_sha);
                labels
                    .iter()
                    .fold(q, |q, l| q.bind(*l))
                    .fetch_all(&mut **c)
                    .await?
            }
            Tx::Sqlite(c) => {
                for sql in QUEUE_ON_INSERT {
                    sqlx::query(sql).execute(&mut **c).await?;
                }
                let q = sqlx::query(INSERT_NEW_CLAIMS_SQLITE).bind(import_sha);
                let inserted = labels
                    .iter()
                    .fold(q, |q, l| q.bind(*l))
                    .execute(&mut **c)
                    .await?
                    .rows_affected();
                for sql in ["DROP TRIGGER claim_queued", "DROP TRIGGER claim_unreturned"] {
                    sqlx::query(sql).execute(&mut **c).await?;
                }
                let rejected: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT 'rejected', code, n FROM claim_outcome ORDER BY code")
                        .fetch_all(&mut **c)
                        .await?;
                sqlx::query("DROP TABLE claim_outcome")
                    .execute(&mut **c)
                    .await?;
                with_accepted(to_i64(inserted)?, rejected)?
            }
        };
        Ok(rows)
    }
}

/// The outcome by status and code from the number of claims inserted and
/// the rejected ones by code: the accepted are the rest.
fn with_accepted(
    inserted: i64,
    mut rejected: Vec<(String, String, i64)>,
) -> Result<Vec<(String, String, i64)>> {
    let accepted = inserted - rejected.iter().map(|(_, _, n)| n).sum::<i64>();
    if accepted < 0 {
        return Err(StoreError::Corrupt(format!(
            "{inserted} claims inserted, more rejected"
        )));
    }
    if accepted > 0 {
        rejected.insert(0, ("accepted".into(), String::new(), accepted));
    }
    Ok(rejected)
}

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("row count {n} out of range")))
}

// The stage meets `claims` once, here: the keys of the file that are already
// known, usually a handful of re-sends. Written `claim_stage s CROSS JOIN
// claims c WHERE …`, an inner join that SQLite must drive from the stage (it
// never reorders a CROSS JOIN), probing `claims` by key; left to choose,
// SQLite without statistics scanned every claim ever imported and probed the
// stage. Each later statement reads this small table instead of `claims`:
// three joins with the whole history (PostgreSQL hashed all of it for each)
// became one.
const FIND_KNOWN: [&str; 2] = [
    "CREATE TEMP TABLE claim_known (ps_id TEXT NOT NULL, invoice_no BIGINT NOT NULL, \
       identical INTEGER NOT NULL, PRIMARY KEY (ps_id, invoice_no))",
    "INSERT INTO claim_known (ps_id, invoice_no, identical) \
     SELECT s.ps_id, s.invoice_no, \
       CASE WHEN c.content_sha256 = s.content_sha256 THEN 1 ELSE 0 END \
     FROM claim_stage s CROSS JOIN claims c \
     WHERE c.ps_id = s.ps_id AND c.invoice_no = s.invoice_no",
];

const COUNT_IDENTICAL: &str = "SELECT COUNT(*) FROM claim_known WHERE identical = 1";

/// R03: a known key with a different content. Keys are unique in the stage
/// (a file repeating one is refused before this).
const INSERT_DUPLICATES: &str = "INSERT INTO claim_duplicates (import_sha256, line, ps_id, \
    invoice_no, origin, received_date, care_date, amc_due_cents) \
    SELECT $1, s.line, s.ps_id, s.invoice_no, s.origin, s.received_date, s.care_date, \
    s.amc_due_cents FROM claim_known k CROSS JOIN claim_stage s \
    WHERE s.ps_id = k.ps_id AND s.invoice_no = k.invoice_no AND k.identical = 0";

// A new claim's row of `unpaid_claims` (accepted) or `unreturned_rejections`
// (rejected), from the columns of its `claims` row (unqualified:
// PostgreSQL reads them from the inserted rows, SQLite from the row its
// trigger sees, `new_claim!`).
// Macros, so that `concat!` can build the SQLite statements at compile time.
macro_rules! insert_unpaid {
    () => {
        "INSERT INTO unpaid_claims (ps_id, invoice_no, received_date, deadline, amc_due_cents, \
         payee_kind, payee_id, origin, adherent_id, care_date)"
    };
}
macro_rules! unpaid_from_claim {
    () => {
        "ps_id, invoice_no, received_date, deadline, amc_due_cents, \
         CASE WHEN mode = 'TP' THEN 'practitioner' ELSE 'adherent' END, \
         CASE WHEN mode = 'TP' THEN ps_id ELSE adherent_id END, origin, adherent_id, care_date"
    };
}
macro_rules! insert_unreturned {
    () => {
        "INSERT INTO unreturned_rejections (ps_id, invoice_no, dup_import_sha256, dup_line, \
         code, received_date)"
    };
}
macro_rules! unreturned_from_claim {
    () => {
        "ps_id, invoice_no, '', 0, reject_code, received_date"
    };
}
/// The row a trigger on `claims` inserted, as columns named like its own.
macro_rules! new_claim {
    () => {
        " FROM (SELECT NEW.ps_id AS ps_id, NEW.invoice_no AS invoice_no, \
           NEW.received_date AS received_date, NEW.deadline AS deadline, \
           NEW.amc_due_cents AS amc_due_cents, NEW.mode AS mode, \
           NEW.adherent_id AS adherent_id, NEW.origin AS origin, \
           NEW.reject_code AS reject_code, NEW.care_date AS care_date)"
    };
}
const INSERT_UNPAID: &str = insert_unpaid!();
const UNPAID_FROM_CLAIM: &str = unpaid_from_claim!();
const INSERT_UNRETURNED: &str = insert_unreturned!();
const UNRETURNED_FROM_CLAIM: &str = unreturned_from_claim!();

/// SQLite: each claim the import inserts queues itself, in the same pass
/// (`insert_new_claims`), an accepted one for payment, a rejected one for
/// return, where it is also counted by code (the accepted are the rest of
/// the insert's row count: an upsert of a count per accepted claim cost
/// ~1 s a million, docs/performance.md). Temporary triggers, so that they
/// exist only on the importing connection, only around that insert (a
/// rollback takes them away too: the temporary schema is transactional). The queued rows take the new claim's columns under
/// their own names: the mapping is the one PostgreSQL uses.
const QUEUE_ON_INSERT: [&str; 6] = [
    "DROP TABLE IF EXISTS claim_outcome",
    "CREATE TEMP TABLE claim_outcome (code TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    "DROP TRIGGER IF EXISTS claim_queued",
    concat!(
        "CREATE TEMP TRIGGER claim_queued AFTER INSERT ON main.claims \
         WHEN NEW.status = 'accepted' BEGIN ",
        insert_unpaid!(),
        " SELECT ",
        unpaid_from_claim!(),
        new_claim!(),
        "; END"
    ),
    "DROP TRIGGER IF EXISTS claim_unreturned",
    concat!(
        "CREATE TEMP TRIGGER claim_unreturned AFTER INSERT ON main.claims \
         WHEN NEW.status = 'rejected' BEGIN ",
        insert_unreturned!(),
        " SELECT ",
        unreturned_from_claim!(),
        new_claim!(),
        "; INSERT INTO claim_outcome (code, n) VALUES (NEW.reject_code, 1) \
          ON CONFLICT (code) DO UPDATE SET n = n + 1; END"
    ),
];

/// R03 duplicates wait for the next run's RSP like rejected claims.
const QUEUE_DUPLICATES: &str = concat!(
    insert_unreturned!(),
    " SELECT s.ps_id, s.invoice_no, $1, s.line, 'R03', s.received_date \
      FROM claim_known k CROSS JOIN claim_stage s \
      WHERE s.ps_id = k.ps_id AND s.invoice_no = k.invoice_no AND k.identical = 0"
);

/// The import rules, in order of precedence. A claim the engine already
/// rejected keeps the engine's code and label. Inserted in key order: the
/// primary key's B-tree then grows at its end instead of at a random page
/// for every claim (on SQLite, half the time of a million-claim file).
/// `$unknown_member` tests R05 with the member `a` of `$member_join`.
macro_rules! insert_new_claims {
    ($member_join:literal, $unknown_member:literal) => {
        concat!(
            "INSERT INTO claims (ps_id, invoice_no, origin, mode, \
    received_at, received_date, deadline, care_date, adherent_id, beneficiary, billed_cents, \
    amo_paid_cents, amc_due_cents, status, reject_code, reject_label, content_sha256, \
    import_sha256, line) \
    SELECT ps_id, invoice_no, origin, mode, received_at, received_date, deadline, care_date, \
      adherent_id, beneficiary, billed_cents, amo_paid_cents, amc_due_cents, \
      CASE WHEN status = 'rejected' OR rule IS NOT NULL THEN 'rejected' ELSE 'accepted' END, \
      CASE WHEN status = 'rejected' THEN reject_code ELSE rule END, \
      CASE WHEN status = 'rejected' THEN reject_label \
           WHEN rule = 'R01' THEN $2 WHEN rule = 'R02' THEN $3 \
           WHEN rule = 'R04' THEN $4 WHEN rule = 'R05' THEN $5 END, \
      content_sha256, $1, line \
    FROM (SELECT s.*, CASE \
        WHEN p.ps_id IS NULL THEN 'R01' \
        WHEN s.mode = 'TP' AND (p.tp_agreement_from IS NULL \
                                OR p.tp_agreement_from > s.received_date) THEN 'R02' \
        WHEN s.mode = 'HTP' AND ",
            $unknown_member,
            " THEN 'R05' \
        WHEN s.amc_due_cents = 0 \
          OR s.amc_due_cents > s.billed_cents - s.amo_paid_cents THEN 'R04' \
        END AS rule \
      FROM claim_stage s \
      LEFT JOIN practitioners p ON p.ps_id = s.ps_id ",
            $member_join,
            " WHERE NOT EXISTS (SELECT 1 FROM claim_known k \
                        WHERE k.ps_id = s.ps_id AND k.invoice_no = s.invoice_no)) x \
    ORDER BY ps_id, invoice_no"
        )
    };
}
/// PostgreSQL hashes the members once and joins them with the file.
const INSERT_NEW_CLAIMS_PG: &str = insert_new_claims!(
    "LEFT JOIN adherents a ON a.adherent_id = s.adherent_id",
    "a.adherent_id IS NULL"
);
/// SQLite would probe the members for every claim of a join; it looks up
/// only the claims R05 concerns (out of tiers-payant, ~5 % of a day): a
/// million look-ups spared, 1.3-3 s of a 20-25 s import. (The same
/// sub-select on PostgreSQL changed its plan to a slower index scan of the
/// stage.)
const INSERT_NEW_CLAIMS_SQLITE: &str = insert_new_claims!(
    "",
    "NOT EXISTS (SELECT 1 FROM adherents a WHERE a.adherent_id = s.adherent_id)"
);

/// Rows as CSV for PostgreSQL `COPY … (FORMAT csv)`: an unquoted empty field
/// is NULL, and the csv writer quotes everything else that needs it.
fn copy_csv(rows: &[StagedClaim]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(rows.len() * 200));
    let mut date_buf = [String::new(), String::new(), String::new()];
    for r in rows {
        date_buf[0] = r.received_date.to_string();
        date_buf[1] = r.deadline.to_string();
        date_buf[2] = r.care_date.to_string();
        let (code, label) = r
            .reject
            .as_ref()
            .map(|(c, l)| (c.as_str(), l.as_str()))
            .unzip();
        let rec: [&str; 18] = [
            &r.line.to_string(),
            r.ps_id.as_str(),
            &r.invoice_no.get().to_string(),
            r.origin.as_str(),
            r.mode.as_str(),
            &r.received_at,
            &date_buf[0],
            &date_buf[1],
            &date_buf[2],
            r.adherent_id.as_str(),
            r.beneficiary.expose(),
            &r.billed.cents().to_string(),
            &r.amo_paid.cents().to_string(),
            &r.amc_due.cents().to_string(),
            r.status.as_str(),
            code.unwrap_or(""),
            label.unwrap_or(""),
            &r.content_sha256,
        ];
        w.write_record(rec)
            .map_err(|e| StoreError::Corrupt(format!("COPY buffer: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| StoreError::Corrupt(format!("COPY buffer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// SQLite counts only the rejected claims as they are inserted; the
    /// accepted ones are the rest of the insert's row count, listed first
    /// as PostgreSQL's `ORDER BY status` lists them, and absent when none.
    #[test]
    fn accepted_are_the_inserted_claims_not_rejected() {
        let rejected = |v: &[(&str, i64)]| -> Vec<(String, String, i64)> {
            v.iter()
                .map(|(c, n)| ("rejected".into(), (*c).into(), *n))
                .collect()
        };
        let outcome = with_accepted(10, rejected(&[("R01", 2), ("R04", 1)])).expect("counts");
        assert_eq!(
            outcome,
            [
                ("accepted".into(), String::new(), 7),
                ("rejected".into(), "R01".into(), 2),
                ("rejected".into(), "R04".into(), 1)
            ]
        );
        assert_eq!(
            with_accepted(3, rejected(&[("R02", 3)])).expect("counts"),
            rejected(&[("R02", 3)])
        );
        assert_eq!(with_accepted(0, vec![]).expect("counts"), []);
        assert!(matches!(
            with_accepted(1, rejected(&[("R01", 2)])),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn stage_binds_are_the_stage_columns() {
        assert_eq!(STAGE_COLUMNS.split(',').count(), STAGE_BINDS);
    }

    /// The import's temporary tables and triggers go with it: a trigger
    /// left on a pooled connection would queue a claim of the next file
    /// twice.
    #[tokio::test]
    async fn the_stage_leaves_nothing_on_its_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("stage.db").display());
        let store = Store::connect(&url).await.expect("store");
        let mut tx = store.begin().await.expect("tx");
        tx.create_claim_stage().await.expect("stage");
        tx.staged_duplicate_keys(1).await.expect("stage index");
        tx.apply_claim_stage("file").await.expect("apply");
        let Tx::Sqlite(c) = &mut tx else {
            unreachable!("a SQLite store")
        };
        let left: Vec<(String, String)> =
            sqlx::query_as("SELECT type, name FROM sqlite_temp_master")
                .fetch_all(&mut **c)
                .await
                .expect("temporary schema");
        assert_eq!(left, []);
    }

    /// Every statement joining the stage with another table must probe that
    /// table by key, never scan it: a scan of `claims` would make each
    /// import as slow as the whole history is large, and a scan of the stage
    /// or of the known keys per row would be quadratic in the file.
    #[tokio::test]
    async fn stage_statements_probe_by_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = Store::connect(&url).await.expect("store");
        let mut tx = store.begin().await.expect("tx");
        tx.create_claim_stage().await.expect("stage");
        tx.staged_duplicate_keys(1).await.expect("stage index");
        let Tx::Sqlite(c) = &mut tx else {
            unreachable!("a SQLite store")
        };
        sqlx::query(FIND_KNOWN[0])
            .execute(&mut **c)
            .await
            .expect("known");
        let probed = [
            (FIND_KNOWN[1], "c"),
            (QUEUE_DUPLICATES, "s"),
            (INSERT_DUPLICATES, "s"),
            (INSERT_NEW_CLAIMS_SQLITE, "k"),
            (INSERT_NEW_CLAIMS_SQLITE, "a"),
        ];
        for (sql, table) in probed {
            let plan: Vec<String> =
                sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&mut **c)
                    .await
                    .expect("plan")
                    .iter()
                    .map(|r| r.get::<String, _>("detail"))
                    .collect();
            // An automatic index is one built for this statement: a sort of
            // the whole table each time.
            let search = format!("SEARCH {table} USING ");
            assert!(
                plan.iter()
                    .any(|d| d.starts_with(&search) && !d.contains("AUTOMATIC")),
                "{sql}\nprobes {table} by key: {plan:?}"
            );
            let scan = format!("SCAN {table}");
            assert!(
                !plan.iter().any(|d| d.starts_with(&scan)),
                "{sql}\nscans {table}: {plan:?}"
            );
        }
    }
}
