//! Concurrency (issue 7): real processes racing on one database.
//! - two `settle` processes and a `daemon` started together: one run, one
//!   set of files, the others report the lock or rewrite identical files;
//! - an import running during a settlement: its claims land in this run or
//!   the next, never lost, never paid twice.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use common::TestDb;
use common::audit::{check_files_and_sums, check_run, scalar};
use tpsettle::calendar::Calendar;
use tpsettle::import::{Kind, import_file};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tpsettle"));
    c.env_remove("DATABASE_URL").env_remove("FAILPOINTS");
    c
}

fn spawn(db: &TestDb, args: &[&str]) -> Child {
    bin()
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok_or_busy(o: &Output, what: &str) -> bool {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() || err.contains("another settlement is running"),
        "{what}: neither success nor a reported lock: {err}"
    );
    o.status.success()
}

/// The generated day for `date`; claims split in two files (first, second).
async fn day(db: &TestDb, date: NaiveDate) {
    let data = common::gen_day(db.dir.path(), 60, 3000, 9, date);
    common::split_claims(&data);
    common::import_day(&db.store, &data, &common::WHOLE_DAY[..2]).await;
}

fn paris_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

both!(two_settles_and_a_daemon_make_one_run, |db| async move {
    let cal = Calendar::default();
    let date = cal.sub_working_days(paris_today(), 1);
    day(&db, date).await;
    let data = db.path("data");
    for f in ["first.csv", "second.csv"] {
        import_file(&db.store, &cal, Kind::Claims, &data.join(f))
            .await
            .unwrap();
    }
    let out = db.path("out");
    let jobs = db.path("jobs");
    std::fs::create_dir(&jobs).unwrap();
    std::fs::write(
        jobs.join("settlement.toml"),
        format!("kind = 'settlement'\ndays = 'every'\nat = ['00:00']\nout = '{}'\nstart_date = {date}\n", out.display()),
    )
    .unwrap();
    let d = date.to_string();
    let o = out.to_str().unwrap();
    let settles = [
        spawn(&db, &["settle", "--date", &d, "--out", o]),
        spawn(&db, &["settle", "--date", &d, "--out", o]),
    ];
    let mut daemon = spawn(
        &db,
        &[
            "daemon",
            "--listen",
            "127.0.0.1:0",
            "--jobs",
            jobs.to_str().unwrap(),
        ],
    );
    let succeeded = settles
        .into_iter()
        .map(|c| ok_or_busy(&c.wait_with_output().unwrap(), "settle"))
        .filter(|ok| *ok)
        .count();
    // The daemon settles the same date (or finds it done); wait for it.
    let run_id = format!("RUN-{}", date.format("%Y%m%d"));
    let deadline = Instant::now() + Duration::from_secs(180);
    while scalar(
        &db.store,
        "SELECT COUNT(*) FROM runs WHERE run_id = $1 AND state = 'completed'",
        &[&run_id],
    )
    .await
        == 0
        || scalar(
            &db.store,
            "SELECT COUNT(*) FROM runs WHERE state <> 'completed'",
            &[],
        )
        .await
            > 0
    {
        assert!(Instant::now() < deadline, "the run never completed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(daemon.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert_eq!(
        daemon.wait().unwrap().code(),
        Some(0),
        "daemon stops cleanly"
    );
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM runs WHERE business_date = (SELECT business_date FROM runs WHERE run_id = $1)", &[&run_id]).await,
        1,
        "one run for the date"
    );
    eprintln!("{succeeded} of 2 settle processes completed; the others reported the lock");
    check_run(&db.store, date, &out).await;
    db.cleanup().await;
});

both!(
    an_import_during_a_settlement_loses_nothing,
    |db| async move {
        let cal = Calendar::default();
        let date = cal.sub_working_days(paris_today(), 1);
        let next = cal.add_working_days(date, 1);
        day(&db, date).await;
        let data = db.path("data");
        import_file(&db.store, &cal, Kind::Claims, &data.join("first.csv"))
            .await
            .unwrap();
        let out = db.path("out");
        let (d, o) = (date.to_string(), out.to_str().unwrap().to_owned());
        let settle = spawn(&db, &["settle", "--date", &d, "--out", &o]);
        let second = data.join("second.csv");
        let import = spawn(&db, &["import", "claims", second.to_str().unwrap()]);
        let (s, i) = (
            settle.wait_with_output().unwrap(),
            import.wait_with_output().unwrap(),
        );
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
        assert!(i.status.success(), "{}", String::from_utf8_lossy(&i.stderr));
        check_files_and_sums(&db.store, date, &out).await;
        // The next run pays what the first could not see.
        let n = next.to_string();
        let r = bin()
            .arg("--db")
            .arg(&db.url)
            .args(["settle", "--date", &n, "--out", &o])
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        check_run(&db.store, next, &out).await;
        assert_eq!(
            scalar(&db.store, "SELECT COUNT(*) FROM claims", &[]).await,
            3000,
            "every claim of both files is in"
        );
        db.cleanup().await;
    }
);
