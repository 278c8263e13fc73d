//! The invariants every crash, kill or race must leave intact, checked
//! straight against the database and the files on disk.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tpsettle::store::Store;

/// Runs one scalar query (i64 result, text binds) on either backend.
pub async fn scalar(store: &Store, sql: &str, binds: &[&str]) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match store {
        Store::Postgres(p) => {
            let mut q = sqlx::query_scalar::<_, i64>(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_one(p).await.unwrap()
        }
        Store::Sqlite(p) => {
            let mut q = sqlx::query_scalar::<_, i64>(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_one(p).await.unwrap()
        }
    }
}

/// Runs one statement on either backend; the database's error as text.
pub async fn execute(store: &Store, sql: &str) -> Result<u64, String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match store {
        Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
    }
    .map_err(|e| e.to_string())
}

/// Runs several statements in one transaction on one connection (DDL that
/// must see its own earlier statements: statements sent one by one may land
/// on pooled connections still reading an older schema).
pub async fn execute_script(store: &Store, sql: &str) -> Result<(), String> {
    let sql = sqlx::AssertSqlSafe(format!("BEGIN; {sql}; COMMIT;"));
    match store {
        Store::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        Store::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
    }
    .map_err(|e| e.to_string())
}

/// After the completed run of `date` written under `out_dir`:
/// - every accepted claim received before `date` is paid exactly once or
///   held by that run, never both, never neither;
/// - payments = paid claims = the run's recorded total = SEPA control sum;
/// - every recorded file is on disk with its recorded SHA-256, and nothing
///   else is in the run folder (no temporary file left behind).
pub async fn check_run(store: &Store, date: NaiveDate, out_dir: &Path) {
    let run_id = format!("RUN-{}", date.format("%Y%m%d"));
    let day = date.to_string();
    let wrong = scalar(
        store,
        "SELECT COUNT(*) FROM claims c WHERE c.status = 'accepted' AND CAST(c.received_date AS TEXT) < $1 \
         AND (CASE WHEN EXISTS (SELECT 1 FROM payment_claims pc WHERE pc.ps_id = c.ps_id AND pc.invoice_no = c.invoice_no) THEN 1 ELSE 0 END \
            + CASE WHEN EXISTS (SELECT 1 FROM run_holds h WHERE h.run_id = $2 AND h.ps_id = c.ps_id AND h.invoice_no = c.invoice_no) THEN 1 ELSE 0 END) <> 1",
        &[&day, &run_id],
    )
    .await;
    assert_eq!(wrong, 0, "claims neither paid once nor held (or both)");
    check_files_and_sums(store, date, out_dir).await;
}

/// The part of [`check_run`] that holds even while imports race the run
/// (a claim imported after the run was planned is for the next run):
/// sums, files and hashes, only accepted claims paid, at their amount.
pub async fn check_files_and_sums(store: &Store, date: NaiveDate, out_dir: &Path) {
    let run_id = format!("RUN-{}", date.format("%Y%m%d"));
    let state = match store {
        Store::Postgres(p) => {
            sqlx::query_scalar::<_, String>("SELECT state FROM runs WHERE run_id = $1")
                .bind(&run_id)
                .fetch_one(p)
                .await
                .unwrap()
        }
        Store::Sqlite(p) => {
            sqlx::query_scalar::<_, String>("SELECT state FROM runs WHERE run_id = $1")
                .bind(&run_id)
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(state, "completed", "{run_id} completed");
    let paid_not_accepted = scalar(
        store,
        "SELECT COUNT(*) FROM payment_claims pc LEFT JOIN claims c ON c.ps_id = pc.ps_id \
         AND c.invoice_no = pc.invoice_no \
         WHERE c.ps_id IS NULL OR c.status <> 'accepted' OR pc.amount_cents <> c.amc_due_cents \
           OR pc.origin <> c.origin OR pc.deadline <> c.deadline OR pc.care_date <> c.care_date",
        &[],
    )
    .await;
    assert_eq!(
        paid_not_accepted, 0,
        "only claims that exist and were accepted, at their amount, with their \
         facts (no foreign key to claims since migration 0007: this is the check)"
    );
    check_unpaid_and_unreturned(store).await;
    let payments = scalar(
        store,
        "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM payments WHERE run_id = $1",
        &[&run_id],
    )
    .await;
    let claims = scalar(
        store,
        "SELECT CAST(COALESCE(SUM(pc.amount_cents), 0) AS BIGINT) FROM payment_claims pc \
        JOIN payments p ON p.reference = pc.reference WHERE p.run_id = $1",
        &[&run_id],
    )
    .await;
    let recorded = scalar(
        store,
        "SELECT amount_cents FROM runs WHERE run_id = $1",
        &[&run_id],
    )
    .await;
    assert_eq!(
        (payments, claims),
        (recorded, recorded),
        "payments = paid claims = run total"
    );

    let run_dir = out_dir.join(&run_id);
    let files: Vec<(String, String)> = store.run_files(&run_id).await.unwrap();
    for (path, sha) in &files {
        assert_eq!(
            &super::sha256_file(&run_dir.join(path)),
            sha,
            "{path} matches its recorded SHA-256"
        );
    }
    let recorded_paths: BTreeSet<String> = files.iter().map(|f| f.0.clone()).collect();
    let on_disk = list_files(&run_dir);
    assert_eq!(
        on_disk, recorded_paths,
        "the run folder holds exactly the recorded files"
    );
    if payments > 0 {
        let sepa = run_dir.join(format!("sepa/{run_id}.xml"));
        let (_, ctrl, sum) = super::sepa_sums(&sepa);
        assert_eq!(ctrl, Decimal::new(payments, 2), "SEPA CtrlSum = database");
        assert_eq!(sum, ctrl, "SEPA amounts add up to CtrlSum");
    }
}

/// `unpaid_claims` and `unreturned_rejections` are what runs pay and return
/// from (migration 0006): at every commit each accepted claim is either
/// paid or unpaid, each rejected claim and R03 duplicate either returned or
/// unreturned, never both, never neither, and a waiting row carries its
/// claim's facts. Holds whatever ran before: imports, runs, crashes, races.
pub async fn check_unpaid_and_unreturned(store: &Store) {
    let misfiled = scalar(
        store,
        "SELECT COUNT(*) FROM claims c WHERE c.status = 'accepted' \
         AND (CASE WHEN EXISTS (SELECT 1 FROM payment_claims pc WHERE pc.ps_id = c.ps_id AND pc.invoice_no = c.invoice_no) THEN 1 ELSE 0 END \
            + CASE WHEN EXISTS (SELECT 1 FROM unpaid_claims u WHERE u.ps_id = c.ps_id AND u.invoice_no = c.invoice_no) THEN 1 ELSE 0 END) <> 1",
        &[],
    )
    .await;
    assert_eq!(
        misfiled, 0,
        "accepted claims neither paid nor unpaid, or both"
    );
    let stray = scalar(
        store,
        "SELECT COUNT(*) FROM unpaid_claims u WHERE NOT EXISTS (SELECT 1 FROM claims c \
         WHERE c.ps_id = u.ps_id AND c.invoice_no = u.invoice_no AND c.status = 'accepted' \
           AND c.received_date = u.received_date AND c.deadline = u.deadline \
           AND c.amc_due_cents = u.amc_due_cents AND c.origin = u.origin \
           AND u.payee_kind = CASE WHEN c.mode = 'TP' THEN 'practitioner' ELSE 'adherent' END \
           AND u.payee_id = CASE WHEN c.mode = 'TP' THEN c.ps_id ELSE c.adherent_id END \
           AND u.adherent_id = c.adherent_id AND u.care_date = c.care_date)",
        &[],
    )
    .await;
    assert_eq!(stray, 0, "unpaid rows that are not their accepted claim");

    let misfiled = scalar(
        store,
        "SELECT COUNT(*) FROM claims c WHERE c.status = 'rejected' \
         AND (CASE WHEN EXISTS (SELECT 1 FROM run_rejections r WHERE r.ps_id = c.ps_id AND r.invoice_no = c.invoice_no \
                AND r.dup_import_sha256 = '' AND r.dup_line = 0) THEN 1 ELSE 0 END \
            + CASE WHEN EXISTS (SELECT 1 FROM unreturned_rejections u WHERE u.ps_id = c.ps_id AND u.invoice_no = c.invoice_no \
                AND u.dup_import_sha256 = '' AND u.dup_line = 0) THEN 1 ELSE 0 END) <> 1",
        &[],
    )
    .await;
    assert_eq!(
        misfiled, 0,
        "rejected claims neither returned nor unreturned, or both"
    );
    let misfiled = scalar(
        store,
        "SELECT COUNT(*) FROM claim_duplicates d WHERE \
            (CASE WHEN EXISTS (SELECT 1 FROM run_rejections r WHERE r.ps_id = d.ps_id AND r.invoice_no = d.invoice_no \
                AND r.dup_import_sha256 = d.import_sha256 AND r.dup_line = d.line) THEN 1 ELSE 0 END \
            + CASE WHEN EXISTS (SELECT 1 FROM unreturned_rejections u WHERE u.ps_id = d.ps_id AND u.invoice_no = d.invoice_no \
                AND u.dup_import_sha256 = d.import_sha256 AND u.dup_line = d.line) THEN 1 ELSE 0 END) <> 1",
        &[],
    )
    .await;
    assert_eq!(
        misfiled, 0,
        "R03 duplicates neither returned nor unreturned, or both"
    );
    let stray = scalar(
        store,
        "SELECT COUNT(*) FROM unreturned_rejections u WHERE NOT EXISTS (SELECT 1 FROM claims c \
           WHERE u.dup_import_sha256 = '' AND u.dup_line = 0 AND c.ps_id = u.ps_id \
             AND c.invoice_no = u.invoice_no AND c.status = 'rejected' AND c.reject_code = u.code \
             AND c.received_date = u.received_date) \
         AND NOT EXISTS (SELECT 1 FROM claim_duplicates d WHERE d.import_sha256 = u.dup_import_sha256 \
             AND d.line = u.dup_line AND d.ps_id = u.ps_id AND d.invoice_no = u.invoice_no \
             AND u.code = 'R03' AND d.received_date = u.received_date)",
        &[],
    )
    .await;
    assert_eq!(stray, 0, "unreturned rows that are not their rejection");
    check_sla_records(store).await;
}

/// Every file under `dir`, as paths relative to it.
pub fn list_files(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// What each run recorded for the SLA report when it was planned
/// (migration 0008) is what it paid: its TP claims counted by receipt date,
/// deadline, origin and member's centre, and those paid after their
/// deadline one by one. Both read again here from the paid claims
/// themselves (the four-way join the report no longer makes).
pub async fn check_sla_records(store: &Store) {
    let paid = "SELECT p.run_id, c.received_date, c.deadline, c.origin, a.centre, COUNT(*) AS claims \
        FROM payments p JOIN payment_claims pc ON pc.reference = p.reference \
        JOIN claims c ON c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no \
        LEFT JOIN adherents a ON a.adherent_id = c.adherent_id \
        WHERE p.payee_kind = 'practitioner' \
        GROUP BY p.run_id, c.received_date, c.deadline, c.origin, a.centre";
    let counted =
        "SELECT run_id, received_date, deadline, origin, centre, claims FROM sla_paid_counts";
    let late = "SELECT c.ps_id, c.invoice_no, p.run_id, c.received_date, c.deadline, c.origin, \
        a.centre, c.amc_due_cents \
        FROM payments p JOIN runs r ON r.run_id = p.run_id \
        JOIN payment_claims pc ON pc.reference = p.reference \
        JOIN claims c ON c.ps_id = pc.ps_id AND c.invoice_no = pc.invoice_no \
        LEFT JOIN adherents a ON a.adherent_id = c.adherent_id \
        WHERE p.payee_kind = 'practitioner' AND r.execution_date > c.deadline";
    let listed = "SELECT ps_id, invoice_no, run_id, received_date, deadline, origin, centre, \
        amc_due_cents FROM sla_late_paid";
    for (what, a, b) in [("counted", counted, paid), ("late", listed, late)] {
        for (x, y) in [(a, b), (b, a)] {
            let sql = format!("SELECT COUNT(*) FROM ({x} EXCEPT {y}) d");
            assert_eq!(
                scalar(store, &sql, &[]).await,
                0,
                "SLA records ({what}): {x} EXCEPT {y}"
            );
        }
    }
    // EXCEPT is a set difference: a group counted twice would hide in it.
    let total = scalar(
        store,
        "SELECT CAST(COALESCE(SUM(claims), 0) AS BIGINT) FROM sla_paid_counts",
        &[],
    )
    .await;
    let paid_tp = scalar(
        store,
        "SELECT COUNT(*) FROM payment_claims pc JOIN payments p ON p.reference = pc.reference \
         WHERE p.payee_kind = 'practitioner'",
        &[],
    )
    .await;
    assert_eq!(total, paid_tp, "SLA counts add up to the paid TP claims");
}
