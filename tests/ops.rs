//! Operations on SQLite and PostgreSQL: the daemon's jobs against a manual
//! settle (one run), catch-up, the watch and its causes, alert e-mails
//! through a real SMTP conversation, and /metrics scraped over HTTP.

mod common;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use common::{TestDb, write};
use serde_json::Value;
use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::config::Config;
use tpsettle::daemon::{Context, execute, run_due};
use tpsettle::import::{Kind, import_file};
use tpsettle::schedule::{self, FixedClock, JobSpec};
use tpsettle::settlement::{SettleError, Settlement};
use tpsettle::store::jobs::JobStatus;

const PRACTITIONERS: &str = "\
ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000001,Hélène Lefèvre-D'Aubigné,médecin généraliste,3 rue de l'Église,42000,Saint-Étienne,2020-01-01,2020-01-01,FR7630006000011234567890189,AGRIFRPP,Hélène Lefèvre,2020-01-01
100000002,Pharmacie de l'Église,pharmacien,1 place du Marché,69001,Lyon,2020-01-01,2020-01-01,,,,
100000003,Optique Foch,opticien,2 av. Foch,75016,Paris,2020-01-01,2020-01-01,DE89370400440532013000,,,2020-01-01
";

const ADHERENTS: &str = "\
adherent_id,name,centre,iban,bank_valid_from,city
A000000001,Jeanne Martin,CG01,FR7630006000011234567890189,2020-01-01,Lyon
A000000002,Paul Durand,CG02,,,
";

const CLAIMS: &str = "\
ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label
100000001,1,DRE,TP,2026-11-30T10:00:00+01:00,2026-11-30,A000000001,Zoé Secret-Patient,30.00,21.00,9.00,accepted,,
100000001,2,NOEMIE,TP,2026-11-24T10:00:00+01:00,2026-11-23,A000000001,Zoé Secret-Patient,100.00,60.00,40.00,accepted,,
100000001,3,DRE,TP,2026-11-25T23:30:00+01:00,2026-11-25,A000000001,Zoé Secret-Patient,50.00,35.00,15.00,accepted,,
100000001,4,DRE,HTP,2026-11-30T10:00:00+01:00,2026-11-29,A000000001,Zoé Secret-Patient,20.00,7.66,12.34,accepted,,
100000002,5,DRE,TP,2026-11-20T10:00:00+01:00,2026-11-20,A000000001,Zoé Secret-Patient,10.00,5.00,5.00,accepted,,
100000003,6,NOEMIE,TP,2026-11-06T10:00:00+01:00,2026-11-05,A000000001,Zoé Secret-Patient,300.00,100.00,200.00,accepted,,
999999999,7,DRE,TP,2026-11-30T10:00:00+01:00,2026-11-30,A000000001,Zoé Secret-Patient,30.00,21.00,9.00,accepted,,
100000001,9,DRE,TP,2026-12-01T08:00:00+01:00,2026-12-01,A000000001,Zoé Secret-Patient,30.00,21.00,9.00,accepted,,
100000002,10,DRE,HTP,2026-11-30T10:00:00+01:00,2026-11-30,A000000002,Léo Secret-Patient,30.00,21.00,9.00,accepted,,
";

/// Received before the run of 1 December, imported after it.
const LATE_FILE: &str = "\
ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label
100000001,11,DRE,TP,2026-11-27T10:00:00+01:00,2026-11-27,A000000001,Zoé Secret-Patient,25.00,17.50,7.50,accepted,,
";

const BANK_FIX: &str = "\
ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000002,Pharmacie de l'Église,pharmacien,1 place du Marché,69001,Lyon,2020-01-01,2020-01-01,FR7630006000011234567890189,,,2020-01-01
";

const MEMBER_FIX: &str = "\
adherent_id,name,centre,iban,bank_valid_from,city
A000000002,Paul Durand,CG02,FR7630006000011234567890189,2020-01-01,Lyon
";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn cal() -> Calendar {
    Calendar::new(&CalendarConfig::default())
}

async fn import(db: &TestDb, kind: Kind, name: &str, text: &str) {
    let path = db.path(name);
    write(&path, text);
    import_file(&db.store, &cal(), kind, &path).await.unwrap();
}

async fn load_day(db: &TestDb) {
    import(db, Kind::Practitioners, "p.csv", PRACTITIONERS).await;
    import(db, Kind::Adherents, "a.csv", ADHERENTS).await;
    import(db, Kind::Claims, "c.csv", CLAIMS).await;
}

async fn settle(db: &TestDb, date: &str) {
    let (config, calendar) = (Config::default(), cal());
    Settlement {
        store: &db.store,
        config: &config,
        calendar: &calendar,
    }
    .settle(day(date), &db.path("out"))
    .await
    .unwrap();
}

fn jobs(out: &std::path::Path) -> Vec<JobSpec> {
    let mut jobs: Vec<JobSpec> = schedule::jobs::built_in()
        .into_iter()
        .filter(|j| j.kind != schedule::JobKind::SlaReport)
        .collect();
    for j in &mut jobs {
        j.out = out.to_owned();
    }
    jobs
}

fn context(db: &TestDb, store: tpsettle::store::Store, config: Config, now: &str) -> Context {
    Context {
        store,
        config,
        calendar: cal(),
        jobs: jobs(&db.path("out")),
        clock: Arc::new(FixedClock::new(at(now))),
    }
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    common::audit::scalar(&db.store, sql, &[]).await
}

both!(daemon_job_and_manual_settle_make_one_run, |db| async move {
    load_day(&db).await;
    let other = tpsettle::store::Store::connect(&db.url).await.unwrap();
    let ctx = context(
        &db,
        other.clone(),
        Config::default(),
        "2026-12-01T14:05:00+01:00",
    );
    let settlement_job = ctx.jobs[0].clone();
    let (config, calendar) = (Config::default(), cal());
    let manual = Settlement {
        store: &db.store,
        config: &config,
        calendar: &calendar,
    };
    let (_, stop) = tokio::sync::watch::channel(false);
    let mut seen = Default::default();
    let manual_out = db.path("manual");
    let (daemon, manual) = tokio::join!(
        run_due(&ctx, &settlement_job, &stop, &mut seen),
        manual.settle(day("2026-12-01"), &manual_out)
    );
    daemon.unwrap();
    if let Err(e) = &manual {
        assert!(matches!(e, SettleError::Busy { .. }), "{e}");
    }
    // A busy daemon job tries again at the next tick: same run, nothing new.
    run_due(&ctx, &settlement_job, &stop, &mut seen)
        .await
        .unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM runs").await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments").await, 3);
    assert_eq!(
        count(
            &db,
            "SELECT CAST(SUM(amount_cents) AS BIGINT) FROM payments"
        )
        .await,
        27634
    );
    let history = db
        .store
        .job_runs_since("settlement", at("2020-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        history
            .iter()
            .all(|r| matches!(r.status, JobStatus::Ok | JobStatus::Busy)),
        "{history:?}"
    );
    assert!(history.iter().any(|r| r.status == JobStatus::Ok) || manual.is_ok());
    other.close().await;
    db.cleanup().await;
});

both!(missed_days_are_caught_up_oldest_first, |db| async move {
    load_day(&db).await;
    settle(&db, "2026-12-01").await;
    // Down from Tuesday 1 December 14:30 to Monday 7 December 16:00.
    let ctx = context(
        &db,
        db.store.clone(),
        Config::default(),
        "2026-12-07T16:00:00+01:00",
    );
    let job = ctx.jobs[0].clone();
    let (_, stop) = tokio::sync::watch::channel(false);
    run_due(&ctx, &job, &stop, &mut Default::default())
        .await
        .unwrap();
    let runs = db.store.recent_runs(10).await.unwrap();
    let mut dates: Vec<String> = runs.iter().map(|r| r.business_date.to_string()).collect();
    dates.reverse();
    assert_eq!(
        dates,
        [
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-07"
        ]
    );
    let order: Vec<String> = db
        .store
        .job_runs_since("settlement", at("2020-01-01T00:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.slot)
        .collect();
    assert_eq!(
        order,
        ["2026-12-02", "2026-12-03", "2026-12-04", "2026-12-07"]
    );
    // The next tick finds nothing more to do.
    run_due(&ctx, &job, &stop, &mut Default::default())
        .await
        .unwrap();
    assert_eq!(db.store.recent_runs(10).await.unwrap().len(), 5);
    db.cleanup().await;
});

async fn watch_at(db: &TestDb, now: &str) -> tpsettle::watch::WatchReport {
    let calendar = cal();
    let jobs = jobs(&db.path("out"));
    tpsettle::watch::Watch {
        store: &db.store,
        calendar: &calendar,
        settlement: &jobs[0],
        jobs: &jobs,
    }
    .run(at(now))
    .await
    .unwrap()
}

both!(
    the_watch_lists_late_and_at_risk_claims_with_their_cause,
    |db| async move {
        load_day(&db).await;
        settle(&db, "2026-12-01").await;
        import(&db, Kind::Claims, "late.csv", LATE_FILE).await;
        let report = watch_at(&db, "2026-12-04T09:00:00+01:00").await;
        let json = report.to_json();
        assert_eq!(json["at"], "2026-12-04T09:00:00+01:00");
        assert_eq!(
            json["late"],
            serde_json::json!([
                ["100000002", 5, "2026-11-26", 6],
                ["100000001", 11, "2026-12-03", 1]
            ])
        );
        assert_eq!(
            json["at_risk"],
            serde_json::json!([["100000002", 10, "2026-12-04"]])
        );
        assert_eq!(json["next_run"]["date"], "2026-12-04");
        let causes: Vec<(i64, &str)> = json["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["invoice_no"].as_i64().unwrap(),
                    c["cause"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            causes,
            [(5, "held"), (11, "imported_after_run"), (10, "held")]
        );
        assert!(
            json["claims"][0]["cause_detail"]
                .as_str()
                .unwrap()
                .contains("no bank details")
        );
        assert!(!json.to_string().contains("Secret-Patient"));
        // Tuesday 8 December, no run since the 1st: claim 9 is late for that reason.
        let report = watch_at(&db, "2026-12-08T09:00:00+01:00").await;
        let nine = report.late.iter().find(|p| p.invoice_no == 9).unwrap();
        assert_eq!(nine.cause.code(), "no_run_since");
        assert_eq!(
            nine.cause.to_string(),
            "no settlement run since receipt (last run 2026-12-01)"
        );
        assert_eq!(nine.working_days_late, 1);
        db.cleanup().await;
    }
);

/// A real SMTP server on 127.0.0.1 that keeps every message it receives.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<String>>>);

impl mailin_embedded::Handler for Inbox {
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> mailin_embedded::Response {
        self.0.lock().unwrap().push(String::new());
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap()
            .last_mut()
            .unwrap()
            .push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }
}

impl Inbox {
    fn start() -> (Inbox, u16) {
        let inbox = Inbox::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = mailin_embedded::Server::new(inbox.clone());
        server
            .with_name("smtp.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("test SMTP server stopped: {e}");
            }
        });
        (inbox, port)
    }

    fn mails(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A received message as a person reads it: headers unfolded (RFC 5322),
/// a quoted-printable body decoded.
fn readable(raw: &str) -> String {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let head = head.replace("\r\n ", " ");
    let body = if head.contains("Content-Transfer-Encoding: quoted-printable") {
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        body.to_owned()
    };
    format!("{head}\n\n{}", body.replace("\r\n", "\n"))
}

fn smtp_config(port: u16, security: &str) -> Config {
    Config::parse(&format!(
        "[smtp]\nhost = '127.0.0.1'\nport = {port}\nsecurity = '{security}'\nfrom = 'tpsettle <tpsettle@mutuelle.test>'\n\
         timeout_secs = 5\nattempts = 2\n[alerts]\nrecipients = ['ops@mutuelle.test', 'Ops Two <ops2@mutuelle.test>']\n"
    ))
    .unwrap()
}

/// A port where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

both!(alerts_are_mailed_once_then_recovery, |db| async move {
    load_day(&db).await;
    settle(&db, "2026-12-01").await;
    import(&db, Kind::Claims, "late.csv", LATE_FILE).await;
    let (inbox, port) = Inbox::start();
    let config = smtp_config(port, "plain");
    let report = watch_at(&db, "2026-12-04T09:00:00+01:00").await;
    let outcome = tpsettle::alert::notify(&db.store, &config, &report)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        tpsettle::alert::Outcome::DigestSent {
            problems: 3,
            new: 3
        }
    );
    let mails = inbox.mails();
    assert_eq!(mails.len(), 1);
    // Unfold folded header lines (RFC 5322) before looking for them.
    let mail = &readable(&mails[0]);
    for want in [
        "Subject: [tpsettle] MUTDEMO: 2 late, 1 at risk, 0 failed job(s) - 2026-12-04 09:00",
        "To: ops@mutuelle.test, \"Ops Two\" <ops2@mutuelle.test>",
        "From: tpsettle <tpsettle@mutuelle.test>",
        "LATE: deadline passed, not paid: 2 claim(s), 12.50 EUR",
        "AT RISK: deadline on or before the next run's execution date: 1 claim(s), 9.00 EUR",
        "100000002          5  2026-11-26        6          5.00  held: practitioner has no bank details valid on 2026-12-01",
        "100000001         11  2026-12-03        1          7.50  imported after RUN-20261201",
        "Next settlement run: 2026-12-04 (requested execution date 2026-12-04).",
    ] {
        assert!(mail.contains(want), "missing {want:?} in\n{mail}");
    }
    for never in [
        "Secret-Patient",
        "Zo",
        "Jeanne",
        "Durand",
        "Martin",
        "A000000002",
        "FR76",
    ] {
        assert!(!mail.contains(never), "{never:?} leaked into\n{mail}");
    }
    // The same problems an hour later: no second mail.
    let report = watch_at(&db, "2026-12-04T10:00:00+01:00").await;
    let outcome = tpsettle::alert::notify(&db.store, &config, &report)
        .await
        .unwrap();
    assert_eq!(outcome, tpsettle::alert::Outcome::NothingNew);
    assert_eq!(inbox.mails().len(), 1);
    // Bank details arrive; Monday's run pays everything: one recovery mail.
    import(&db, Kind::Practitioners, "p2.csv", BANK_FIX).await;
    import(&db, Kind::Adherents, "a2.csv", MEMBER_FIX).await;
    settle(&db, "2026-12-07").await;
    let report = watch_at(&db, "2026-12-07T15:00:00+01:00").await;
    assert!(report.is_clear(), "{report}");
    let outcome = tpsettle::alert::notify(&db.store, &config, &report)
        .await
        .unwrap();
    assert_eq!(outcome, tpsettle::alert::Outcome::RecoverySent);
    let mails = inbox.mails();
    assert_eq!(mails.len(), 2);
    assert!(
        mails[1].contains("recovered, no claim late or at risk"),
        "{}",
        mails[1]
    );
    let outcome = tpsettle::alert::notify(&db.store, &config, &report)
        .await
        .unwrap();
    assert_eq!(outcome, tpsettle::alert::Outcome::NothingNew);
    assert_eq!(inbox.mails().len(), 2);
    db.cleanup().await;
});

both!(
    smtp_down_is_logged_retried_and_never_blocks_settlement,
    |db| async move {
        load_day(&db).await;
        let config = smtp_config(closed_port(), "plain");
        let ctx = context(
            &db,
            db.store.clone(),
            config.clone(),
            "2026-12-04T14:05:00+01:00",
        );
        let (settlement_job, watch_job) = (ctx.jobs[0].clone(), ctx.jobs[1].clone());
        // The watch runs first and cannot deliver; the settlement runs all the same.
        let slot = schedule::decide(
            &watch_job,
            &ctx.calendar,
            at("2026-12-04T14:05:00+01:00"),
            &Default::default(),
        )
        .due;
        assert_eq!(execute(&ctx, &watch_job, &slot[0]).await, JobStatus::Ok);
        let runs = db
            .store
            .job_runs_since("watch", at("2020-01-01T00:00:00Z"))
            .await
            .unwrap();
        assert!(
            runs[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("alert not delivered"),
            "{runs:?}"
        );
        assert!(
            db.store
                .alert_state(tpsettle::alert::CHANNEL)
                .await
                .unwrap()
                .is_none(),
            "nothing recorded as sent"
        );
        let (_, stop) = tokio::sync::watch::channel(false);
        run_due(&ctx, &settlement_job, &stop, &mut Default::default())
            .await
            .unwrap();
        assert!(
            db.store
                .find_run(day("2026-12-04"))
                .await
                .unwrap()
                .is_some()
        );
        // The server is back: the next watch delivers the digest.
        let (inbox, port) = Inbox::start();
        let report = watch_at(&db, "2026-12-04T15:00:00+01:00").await;
        tpsettle::alert::notify(&db.store, &smtp_config(port, "plain"), &report)
            .await
            .unwrap();
        assert_eq!(inbox.mails().len(), 1);
        db.cleanup().await;
    }
);

#[tokio::test]
async fn starttls_is_required_when_configured() {
    // The test server offers no STARTTLS: the alert must not go in clear text.
    let (inbox, port) = Inbox::start();
    let mut config = smtp_config(port, "starttls");
    config.smtp.as_mut().unwrap().attempts = 1;
    let email = tpsettle::alert::Email {
        subject: "s".into(),
        body: "b".into(),
    };
    let err = tpsettle::alert::send(
        config.smtp.as_ref().unwrap(),
        &config.alerts.recipients,
        &email,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("failed after 1 attempt"), "{err}");
    assert!(inbox.mails().is_empty());
}

both!(metrics_are_scraped_over_http, |db| async move {
    load_day(&db).await;
    settle(&db, "2026-12-01").await;
    let jobs = jobs(&db.path("out"));
    let ops = Arc::new(tpsettle::http::Ops::new(
        db.store.clone(),
        cal(),
        jobs.clone(),
        jobs[0].clone(),
        Arc::new(FixedClock::new(at("2026-12-04T09:00:00+01:00"))),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(tpsettle::http::serve(listener, ops, stop_rx));
    let (status, text) = tokio::task::spawn_blocking(move || common::http_get(addr, "/metrics"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str| {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("{name} in\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(value("tpsettle_settlement_last_run_payments"), 3.0);
    assert_eq!(value("tpsettle_settlement_last_run_amount_cents"), 27634.0);
    assert_eq!(value("tpsettle_settlement_last_run_completed"), 1.0);
    // Pending: 5 (held), 9 (after the run), 10 (held).
    assert_eq!(value("tpsettle_claims_pending"), 3.0);
    assert_eq!(value("tpsettle_claims_pending_amount_cents"), 2300.0);
    assert_eq!(value("tpsettle_claims_late"), 1.0);
    assert_eq!(value("tpsettle_claims_at_risk"), 1.0);
    let next = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "tpsettle_job_next_run_timestamp_seconds"
                && s.labels.get("job") == Some("settlement")
        })
        .unwrap();
    assert!(
        matches!(next.value, prometheus_parse::Value::Gauge(v) if v == at("2026-12-04T14:00:00+01:00").timestamp() as f64)
    );
    assert!(scrape.docs.contains_key("tpsettle_claims_late"));
    let (status, body) = tokio::task::spawn_blocking(move || common::http_get(addr, "/health"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["jobs"][0]["job"], "settlement");
    let (status, _) = tokio::task::spawn_blocking(move || common::http_get(addr, "/nope"))
        .await
        .unwrap();
    assert_eq!(status, 404);
    stop_tx.send(true).unwrap();
    server.await.unwrap();
    db.cleanup().await;
});

both!(the_daemon_sla_job_writes_the_report, |db| async move {
    load_day(&db).await;
    settle(&db, "2026-12-01").await;
    let ctx = context(
        &db,
        db.store.clone(),
        Config::default(),
        "2027-01-04T09:00:00+01:00",
    );
    let out = db.path("sla");
    tpsettle::daemon::run_sla_report_job(&ctx, day("2026-11-01"), day("2026-12-31"), &out)
        .await
        .expect("the SLA job writes the report");
    for f in [
        "sla_daily.csv",
        "sla_daily.parquet",
        "late_claims.csv",
        "sla.html",
    ] {
        assert!(out.join(f).is_file(), "{f} written by the daemon's job");
    }
    db.cleanup().await;
});
