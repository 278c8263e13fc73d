//! `tpsettle daemon` as a real process on a temporary SQLite database:
//! catch-up at start (seen in its JSON logs), /health and /metrics over
//! HTTP, SIGTERM → exit status 0. It never waits for the cron to fire: the
//! start itself is the trigger.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde_json::Value;
use tpsettle::calendar::Calendar;

/// Kills the daemon if the test fails half-way.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads JSON log lines until `done` holds for the lines so far (bounded wait).
fn wait_for(
    rx: &mpsc::Receiver<String>,
    lines: &mut Vec<Value>,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(lines) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
            ),
            Err(_) => panic!("timed out waiting for {what}; logs so far:\n{lines:#?}"),
        }
    }
}

fn message(l: &Value) -> &str {
    l["message"].as_str().unwrap_or("")
}

/// The `job` span of a log line, if it was written inside one.
fn job_span(l: &Value) -> Option<&Value> {
    l["spans"].as_array()?.iter().find(|s| s["name"] == "job")
}

#[test]
fn the_daemon_catches_up_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cal = Calendar::default();
    let today: NaiveDate = Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let start = cal.sub_working_days(today, 3);
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    // A slot at 00:00 has always passed today: today is due as well.
    std::fs::write(
        jobs.join("settlement.toml"),
        format!("kind = 'settlement'\ndays = 'every'\nat = ['00:00']\nout = 'out'\nstart_date = {start}\n"),
    )
    .unwrap();
    std::fs::write(
        jobs.join("watch.toml"),
        "kind = 'watch'\ndays = 'every'\nevery_minutes = 60\nfrom = '00:00'\nto = '23:00'\n",
    )
    .unwrap();
    let expected: Vec<String> = start
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| format!("RUN-{}", d.format("%Y%m%d")))
        .collect();
    let child = Command::new(env!("CARGO_BIN_EXE_tpsettle"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .args(["--db", "sqlite://t.db", "daemon", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);
    let stderr = daemon.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    wait_for(&rx, &mut lines, "the start", |l| {
        l.iter().any(|l| message(l) == "daemon started")
    });
    let addr = lines
        .iter()
        .find(|l| message(l) == "daemon started")
        .unwrap()["listen"]
        .as_str()
        .unwrap()
        .to_owned();
    let finished = |l: &[Value], job: &str| {
        l.iter()
            .filter(|l| {
                message(l) == "job finished" && job_span(l).is_some_and(|s| s["job"] == job)
            })
            .count()
    };
    wait_for(&rx, &mut lines, "the catch-up", |l| {
        finished(l, "settlement") >= expected.len() && finished(l, "watch") >= 1
    });

    // Each missed day was settled, oldest first, each run visible in the logs.
    let completed: Vec<String> = lines
        .iter()
        .filter(|l| message(l) == "settlement done")
        .map(|l| job_span(l).unwrap()["run_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(completed, expected);
    // Every line written during a job carries the job's name and run id.
    for l in lines.iter().filter(|l| job_span(l).is_some()) {
        let s = job_span(l).unwrap();
        assert!(s["job"].is_string() && s["run_id"].is_string(), "{l}");
    }
    assert!(
        lines
            .iter()
            .any(|l| message(l) == "run planned" && job_span(l).is_some())
    );

    let (status, body) = common::http_get(&addr, "/health");
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    let (status, text) = common::http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "tpsettle_settlement_last_run_completed"
                && matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 1.0))
    );

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(daemon.0.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        lines.push(serde_json::from_str(&line).unwrap());
    }
    assert!(lines.iter().any(|l| message(l) == "SIGTERM received"));
    assert_eq!(message(lines.last().unwrap()), "daemon stopped");
    // The runs are in the database and their files on disk.
    for run in &expected {
        assert!(
            dir.path()
                .join("out")
                .join(run)
                .join("manifest.json")
                .exists(),
            "{run}"
        );
    }
}

#[test]
fn a_database_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tpsettle"))
        .current_dir(dir.path())
        .env("RUST_LOG", "trace")
        .args([
            "--db",
            "postgres://tpsettle:s3cr@t-pw@127.0.0.1:1/db?sslmode=bogus",
            "watch",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("cannot open database"), "{all}");
    assert!(!all.contains("s3cr") && !all.contains("t-pw"), "{all}");
}

#[test]
fn watch_json_prints_the_contract_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tpsettle"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["watch", "--at", "2026-12-04T09:00:00+01:00", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["at"], "2026-12-04T09:00:00+01:00");
    assert_eq!(v["at_risk"], serde_json::json!([]));
    assert_eq!(v["late"], serde_json::json!([]));
    assert_eq!(v["next_run"]["date"], "2026-12-04");
}
