//! Crash anywhere (issue 7): the real `tpsettle` binary, built with the
//! `failpoints` feature, aborts at a named step (`FAILPOINTS=step=panic`,
//! turned into `abort()` so nothing unwinds or rolls back politely); then a
//! plain re-run must complete and every invariant must hold.
//!
//! Run with `cargo test --features failpoints --test crash_points`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::TestDb;
use common::audit::{
    check_files_and_sums, check_run, check_unpaid_and_unreturned, list_files, scalar,
};
use tpsettle::calendar::Calendar;
use tpsettle::import::{Kind, import_file};

const DATE: &str = "2026-12-01";

fn date() -> NaiveDate {
    NaiveDate::parse_from_str(DATE, "%Y-%m-%d").unwrap()
}

fn command(db: &TestDb, failpoint: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tpsettle"));
    cmd.arg("--db")
        .arg(&db.url)
        .args(args)
        .env_remove("FAILPOINTS");
    if let Some(fp) = failpoint {
        cmd.env("FAILPOINTS", fp);
    }
    cmd
}

fn tpsettle(db: &TestDb, failpoint: Option<&str>, args: &[&str]) -> Output {
    command(db, failpoint, args).output().unwrap()
}

/// Started, not waited for (a process the test races against).
fn spawn(db: &TestDb, failpoint: &str, args: &[&str]) -> Child {
    command(db, Some(failpoint), args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A generated day: ~40 practitioners (some without bank details), 1,500 claims.
async fn generated_day(db: &TestDb, with_claims: bool) {
    let data = common::gen_day(db.dir.path(), 40, 1500, 11, date());
    let files: &[&str] = if with_claims {
        &common::WHOLE_DAY[..3]
    } else {
        &common::WHOLE_DAY[..2]
    };
    common::import_day(&db.store, &data, files).await;
}

fn settle_args(out: &Path) -> Vec<String> {
    vec![
        "settle".into(),
        "--date".into(),
        DATE.into(),
        "--out".into(),
        out.display().to_string(),
    ]
}

/// Crash at `failpoint`, re-run, check; re-run again, check again.
async fn crash_then_resume(db: TestDb, failpoint: &str) {
    generated_day(&db, true).await;
    let out = db.path("out");
    let args = settle_args(&out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let crashed = tpsettle(&db, Some(failpoint), &args);
    assert!(
        !crashed.status.success(),
        "{failpoint}: the process must have died"
    );
    assert!(
        String::from_utf8_lossy(&crashed.stderr).contains("fail point"),
        "{failpoint}: died at the fail point: {}",
        String::from_utf8_lossy(&crashed.stderr)
    );
    for attempt in 0..2 {
        let ok = tpsettle(&db, None, &args);
        assert!(
            ok.status.success(),
            "{failpoint}: re-run {attempt} failed: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        check_run(&db.store, date(), &out).await;
    }
    db.cleanup().await;
}

macro_rules! crash_case {
    ($name:ident, $fp:literal) => {
        both!($name, |db| async move { crash_then_resume(db, $fp).await });
    };
}

crash_case!(after_due_claims_are_selected, "plan.after_snapshot=panic");
crash_case!(after_payments_are_recorded, "plan.after_payments=panic");
crash_case!(before_the_plan_commits, "plan.before_commit=panic");
crash_case!(after_the_first_file_is_written, "output.after_write=panic");
crash_case!(
    after_the_fifth_file_is_written,
    "output.after_write=4*off->panic"
);
crash_case!(
    after_the_first_folder_is_published,
    "output.after_publish=panic"
);
// A folder is published in one rename (its staging folder's), so a run
// publishes a handful of times: the SEPA folder, the RSP folder, the
// statements, the manifest.
crash_case!(
    after_the_second_folder_is_published,
    "output.after_publish=1*off->panic"
);
crash_case!(
    before_published_files_are_recorded,
    "settle.before_files_recorded=panic"
);
crash_case!(
    before_the_run_is_marked_complete,
    "settle.before_complete=panic"
);

/// An import that dies half-way leaves nothing; importing again works.
async fn import_crash(db: TestDb, failpoint: &str) {
    generated_day(&db, false).await;
    let claims = db.path("data/claims.csv");
    let args = ["import", "claims", claims.to_str().unwrap()];
    let crashed = tpsettle(&db, Some(failpoint), &args);
    assert!(
        !crashed.status.success(),
        "{failpoint}: the import must have died"
    );
    let count = |sql: &'static str| scalar(&db.store, sql, &[]);
    assert_eq!(
        count("SELECT COUNT(*) FROM claims").await,
        0,
        "no claim landed"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM imports WHERE kind = 'claims'").await,
        0,
        "the file is not recorded as imported"
    );
    let ok = tpsettle(&db, None, &args);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(count("SELECT COUNT(*) FROM claims").await, 1500);
    db.cleanup().await;
}

both!(import_dies_after_staging, |db| async move {
    import_crash(db, "import.after_stage=panic").await
});
both!(import_dies_before_commit, |db| async move {
    import_crash(db, "import.before_commit=panic").await
});

// An import committed while a run plans, between the rejections the run
// returns and their leaving the queue of rejections to return (PostgreSQL
// lets it commit there; SQLite makes it wait for the run): each of its
// claims is paid or returned once, by this run or the next, none lost.
both!(
    an_import_committed_while_a_run_plans_loses_nothing,
    |db| async move {
        let data = common::gen_day(db.dir.path(), 40, 1500, 11, date());
        common::import_day(&db.store, &data, &common::WHOLE_DAY[..2]).await;
        let [first, second] = common::split_claims(&data);
        import_file(&db.store, &Calendar::default(), Kind::Claims, &first)
            .await
            .unwrap();
        let out = db.path("out");
        let args = settle_args(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut settle = spawn(&db, "plan.after_rejections=sleep(5000)", &args);
        let postgres = wait_for_planning(&db).await;
        let import = tpsettle(&db, None, &["import", "claims", second.to_str().unwrap()]);
        assert_ok(&import);
        if postgres {
            assert!(
                settle.try_wait().unwrap().is_none(),
                "the import committed while the run was planning"
            );
        }
        let settled = settle.wait_with_output().unwrap();
        assert_ok(&settled);
        check_files_and_sums(&db.store, date(), &out).await;
        check_unpaid_and_unreturned(&db.store).await;
        let next = Calendar::default().add_working_days(date(), 1);
        let (n, o) = (next.to_string(), out.display().to_string());
        let ok = tpsettle(&db, None, &["settle", "--date", &n, "--out", &o]);
        assert_ok(&ok);
        check_run(&db.store, next, &out).await;
        assert_eq!(
            scalar(&db.store, "SELECT COUNT(*) FROM claims", &[]).await,
            1500
        );
        db.cleanup().await;
    }
);

// Two imports at once whose files share claims (the same lines sent in
// both), the first made slow to commit: the second waits for it instead of
// failing on the shared claims' keys (PostgreSQL; SQLite makes it wait
// anyway), then finds them already in and ignores them as re-sent.
both!(
    two_imports_sharing_claims_at_once_both_land,
    |db| async move {
        let data = common::gen_day(db.dir.path(), 40, 1500, 11, date());
        common::import_day(&db.store, &data, &common::WHOLE_DAY[..2]).await;
        let [first, second] = common::split_claims(&data);
        let shared: Vec<String> = std::fs::read_to_string(&first)
            .unwrap()
            .lines()
            .skip(1)
            .take(100)
            .map(str::to_owned)
            .collect();
        let second_text = std::fs::read_to_string(&second).unwrap();
        std::fs::write(&second, format!("{second_text}{}\n", shared.join("\n"))).unwrap();
        let slow = spawn(
            &db,
            "import.before_commit=sleep(4000)",
            &["import", "claims", first.to_str().unwrap()],
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let other = tpsettle(&db, None, &["import", "claims", second.to_str().unwrap()]);
        assert_ok(&other);
        let slow = slow.wait_with_output().unwrap();
        assert_ok(&slow);
        let count = |sql: &'static str| scalar(&db.store, sql, &[]);
        assert_eq!(count("SELECT COUNT(*) FROM claims").await, 1500);
        assert_eq!(
            count("SELECT CAST(SUM(ignored) AS BIGINT) FROM imports WHERE kind = 'claims'").await,
            100,
            "the shared claims are re-sends, ignored once"
        );
        check_unpaid_and_unreturned(&db.store).await;
        db.cleanup().await;
    }
);

/// Waits until the settlement sleeps at `plan.after_rejections`: on
/// PostgreSQL, its connection idle in a transaction whose last statement
/// returned the rejections; on SQLite (which cannot be watched mid-write),
/// a second after it took the settlement lock. True on PostgreSQL.
async fn wait_for_planning(db: &TestDb) -> bool {
    let postgres = db.url.starts_with("postgres");
    let probe = if postgres {
        "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'idle in transaction' \
         AND query LIKE 'INSERT INTO run_rejections%'"
    } else {
        "SELECT COUNT(*) FROM job_locks"
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(&db.store, probe, &[]).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the settlement never reached planning"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !postgres {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    postgres
}

#[test]
fn list_files_sees_nested_files() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("a")).unwrap();
    std::fs::write(d.path().join("a/b"), "x").unwrap();
    assert_eq!(
        list_files(d.path()).into_iter().collect::<Vec<_>>(),
        ["a/b"]
    );
}
