//! `kill -9` at random moments (issue 7): a seeded loop kills the real
//! `tpsettle settle` process while it settles a 50,000-claim day, lets a
//! re-run complete, and checks every invariant after each crash.
//!
//! Each attempt starts from the same freshly imported day: a copy of the
//! SQLite file, or a PostgreSQL database created from a template.
//! `CRASH_CLAIMS` and `CRASH_KILLS` shrink or grow the loop (defaults
//! 50,000 and 20).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::audit::check_run;
use rand::{Rng, SeedableRng};
use tpsettle::store::Store;

const DATE: &str = "2026-12-01";
const SEED: u64 = 20261201;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn date() -> NaiveDate {
    NaiveDate::parse_from_str(DATE, "%Y-%m-%d").unwrap()
}

fn settle(url: &str, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tpsettle"))
        .args(["--db", url, "settle", "--date", DATE, "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn settle_to_end(url: &str, out: &Path) {
    let o = settle(url, out).wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "re-run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Kills `child` after `delay`; true when it was still running (a real kill).
fn kill_after(mut child: Child, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5).min(deadline - Instant::now()));
    }
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    alive
}

/// A generated day's CSV files.
fn generate(dir: &Path) -> PathBuf {
    let claims = env_usize("CRASH_CLAIMS", 50_000);
    common::gen_day(dir, (claims / 25).max(20), claims, 5, date())
}

async fn import_day(url: &str, data: &Path) {
    let store = Store::connect(url).await.unwrap();
    common::import_day(&store, data, &common::WHOLE_DAY[..3]).await;
    store.close().await;
}

/// The loop, given a way to make a fresh copy of the imported day.
async fn kill_loop(fresh: impl AsyncFn(usize) -> String, work: &Path) {
    let kills_wanted = env_usize("CRASH_KILLS", 20);
    // An uninterrupted run gives the window the kills are spread over.
    let url = fresh(0).await;
    let started = Instant::now();
    settle_to_end(&url, &work.join("out-0"));
    let full = started.elapsed();
    let store = Store::connect(&url).await.unwrap();
    check_run(&store, date(), &work.join("out-0")).await;
    store.close().await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
    let (mut kills, mut attempt) = (0, 0);
    while kills < kills_wanted {
        attempt += 1;
        assert!(
            attempt <= kills_wanted * 3,
            "only {kills} kills landed in {attempt} attempts"
        );
        let url = fresh(attempt).await;
        let out = work.join(format!("out-{attempt}"));
        let delay = full.mul_f64(rng.random_range(0.0..1.0));
        if !kill_after(settle(&url, &out), delay) {
            continue;
        }
        kills += 1;
        // Every fourth time, kill the recovery too.
        if attempt % 4 == 0 {
            let delay = full.mul_f64(rng.random_range(0.0..0.5));
            kills += usize::from(kill_after(settle(&url, &out), delay));
        }
        settle_to_end(&url, &out);
        let store = Store::connect(&url).await.unwrap();
        check_run(&store, date(), &out).await;
        store.close().await;
        eprintln!("kill {kills}: after {delay:?} of a {full:?} run: invariants hold");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_sqlite() {
    let work = tempfile::tempdir().unwrap();
    let data = generate(work.path());
    let template = work.path().join("template.db");
    import_day(&format!("sqlite://{}", template.display()), &data).await;
    let fresh = async |i: usize| {
        let db = work.path().join(format!("attempt-{i}.db"));
        std::fs::copy(&template, &db).unwrap();
        format!("sqlite://{}", db.display())
    };
    kill_loop(fresh, work.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_pg() {
    let admin_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| common::DEFAULT_PG.into());
    let admin = match sqlx::PgPool::connect(&admin_url).await {
        Ok(p) => p,
        Err(e) => return common::require_tool("PostgreSQL", &format!("{admin_url}: {e}")),
    };
    let work = tempfile::tempdir().unwrap();
    let data = generate(work.path());
    let prefix = format!("kill_{}", std::process::id());
    let db_url = |name: &str| format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let exec = |sql: String| {
        let admin = admin.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&admin)
                .await
                .unwrap()
        }
    };
    exec(format!("CREATE DATABASE {prefix}_tpl")).await;
    import_day(&db_url(&format!("{prefix}_tpl")), &data).await;
    // One database per attempt, the previous one dropped (it was checked).
    let fresh = async |i: usize| {
        if i > 0 {
            exec(format!(
                "DROP DATABASE IF EXISTS {prefix}_{} WITH (FORCE)",
                i - 1
            ))
            .await;
        }
        exec(format!(
            "CREATE DATABASE {prefix}_{i} TEMPLATE {prefix}_tpl"
        ))
        .await;
        db_url(&format!("{prefix}_{i}"))
    };
    kill_loop(fresh, work.path()).await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{prefix}\\_%"))
            .fetch_all(&admin)
            .await
            .unwrap();
    for name in names {
        exec(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}
