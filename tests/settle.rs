//! The settlement run (contract §3, §4, §6) on SQLite and PostgreSQL.
//!
//! One hand-built day whose every payment, hold, rejection and late claim is
//! known in advance; the files are checked against the XSD, against each
//! other and against the database.

mod common;

use std::path::Path;

use chrono::NaiveDate;
use common::{TestDb, sepa_sums, sha256_file, write, xsd_valid};
use rust_decimal::Decimal;
use serde_json::Value;
use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::config::Config;
use tpsettle::import::{Kind, import_file};
use tpsettle::rsp::{Entity, decode};
use tpsettle::sepa::PainVersion;
use tpsettle::settlement::{SettleError, Settlement};
use tpsettle::store::runs::RunState;

const PRACTITIONERS: &str = "\
ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000001,Hélène Lefèvre-D'Aubigné,médecin généraliste,3 rue de l'Église,42000,Saint-Étienne,2020-01-01,2020-01-01,FR7630006000011234567890189,AGRIFRPP,Hélène Lefèvre,2020-01-01
100000002,Pharmacie de l'Église,pharmacien,1 place du Marché,69001,Lyon,2020-01-01,2020-01-01,,,,
100000003,\"Ørsted & Fils <SARL> \"\"Œuvre\"\" — Saint-Étienne\",opticien,2 av. Foch,75016,Paris,2020-01-01,2020-01-01,DE89370400440532013000,,,2020-01-01
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
100000001,8,DRE,TP,2026-11-30T10:00:00+01:00,2026-11-30,A000000001,Zoé Secret-Patient,30.00,21.00,9.00,rejected,E12,Droits AMC fermés
100000001,9,DRE,TP,2026-12-01T08:00:00+01:00,2026-12-01,A000000001,Zoé Secret-Patient,30.00,21.00,9.00,accepted,,
100000002,10,DRE,HTP,2026-11-30T10:00:00+01:00,2026-11-30,A000000002,Léo Secret-Patient,30.00,21.00,9.00,accepted,,
";

/// The invoice lines of practitioner 100000001's RSP for 1 December
/// ([`rsp_invoices`]): paid, rejected (E12), then the HTP claim paid to
/// the member. Each with its own date of care.
const EXPECTED_RSP_100000001: [&str; 5] = [
    "1 2026-11-30 9.00 9.00 P",
    "2 2026-11-23 40.00 40.00 P",
    "3 2026-11-25 15.00 15.00 P",
    "8 2026-11-30 9.00 0.00 R",
    "4 2026-11-29 12.34 12.34 S",
];

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn cal() -> Calendar {
    Calendar::new(&CalendarConfig::default())
}

async fn load_day(db: &TestDb) {
    for (kind, name, text) in [
        (Kind::Practitioners, "p.csv", PRACTITIONERS),
        (Kind::Adherents, "a.csv", ADHERENTS),
        (Kind::Claims, "c.csv", CLAIMS),
    ] {
        let path = db.path(name);
        write(&path, text);
        import_file(&db.store, &cal(), kind, &path).await.unwrap();
    }
}

async fn settle(
    db: &TestDb,
    config: &Config,
    date: &str,
    out: &Path,
) -> Result<tpsettle::settlement::RunReport, SettleError> {
    let calendar = cal();
    Settlement {
        store: &db.store,
        config,
        calendar: &calendar,
    }
    .settle(day(date), out)
    .await
}

fn manifest(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap()
}

fn keys(v: &Value) -> Vec<(String, i64, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().into(),
                e[1].as_i64().unwrap(),
                e[2].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// Every RSP entity of a file, decoded (and control-checked by the decoder).
fn rsp(path: &Path) -> Vec<Entity> {
    decode(std::fs::File::open(path).unwrap())
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An RSP's invoice lines: invoice, date of care, amount asked, amount
/// paid, status (each 102 entity with the 199 that follows it).
fn rsp_invoices(path: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut invoice = String::new();
    for v in rsp(path).iter().map(|e| serde_json::to_value(e).unwrap()) {
        match v["type"].as_str().unwrap() {
            "102" => invoice = format!("{} {}", v["invoice_no"], v["care_date"].as_str().unwrap()),
            "199" => lines.push(format!(
                "{invoice} {} {} {}",
                v["requested"].as_str().unwrap(),
                v["paid"].as_str().unwrap(),
                v["status"].as_str().unwrap()
            )),
            _ => {}
        }
    }
    lines
}

both!(a_day_is_settled_and_every_file_agrees, |db| async move {
    load_day(&db).await;
    let out = db.path("out");
    let report = settle(&db, &Config::default(), "2026-12-01", &out)
        .await
        .unwrap();
    assert_eq!(report.run.execution_date, day("2026-12-01"));
    let m = manifest(&report.run_dir);

    // Payments: one per payee, references deterministic.
    let pays: Vec<(String, String, Decimal, usize)> = m["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["reference"].as_str().unwrap().into(),
                p["payee_kind"].as_str().unwrap().into(),
                dec(&p["amount"]),
                p["claims"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        pays,
        vec![
            (
                "RUN-20261201-P100000001".into(),
                "practitioner".into(),
                Decimal::new(6400, 2),
                3
            ),
            (
                "RUN-20261201-P100000003".into(),
                "practitioner".into(),
                Decimal::new(20000, 2),
                1
            ),
            (
                "RUN-20261201-AA000000001".into(),
                "adherent".into(),
                Decimal::new(1234, 2),
                1
            ),
        ]
    );
    assert_eq!(m["totals"]["payments"], 3);
    assert_eq!(dec(&m["totals"]["amount"]), Decimal::new(27634, 2));
    assert_eq!(
        keys(&m["rejected"]),
        vec![
            ("100000001".into(), 8, "E12".into()),
            ("999999999".into(), 7, "R01".into())
        ]
    );
    let held = keys(&m["held"]);
    assert_eq!(
        held.iter().map(|h| (h.0.as_str(), h.1)).collect::<Vec<_>>(),
        vec![("100000002", 5), ("100000002", 10)]
    );
    assert!(
        held[0].2.contains("practitioner has no bank details")
            && held[1].2.contains("member has no bank details"),
        "{held:?}"
    );
    // Deadlines: Tue 24 Nov -> Mon 30 Nov; Fri 20 Nov -> Thu 26 Nov; Fri 6 Nov
    // -> Fri 13 Nov (11 Nov is a holiday). Received Wed 25 Nov 23:30 -> Tue
    // 1 Dec = the execution date: on time.
    assert_eq!(
        keys(&m["late"]),
        vec![
            ("100000001".into(), 2, "2026-11-30".into()),
            ("100000002".into(), 5, "2026-11-26".into()),
            ("100000003".into(), 6, "2026-11-13".into()),
        ]
    );
    assert_eq!((report.rejected, report.held, report.late), (2, 2, 3));

    // The SEPA file: valid, sums exact, no health data.
    let sepa = report.run_dir.join("sepa/RUN-20261201.xml");
    xsd_valid(&sepa, "pain.001.001.09");
    let (nb, ctrl, sum) = sepa_sums(&sepa);
    assert_eq!(
        (nb, ctrl, sum),
        (3, Decimal::new(27634, 2), Decimal::new(27634, 2))
    );
    let xml = std::fs::read_to_string(&sepa).unwrap();
    // Patients' names and care details never reach the bank; the member's
    // own name does, as the account holder of an HTP transfer.
    for secret in ["Secret", "Patient", "Droits", "2026-11-30</"] {
        assert!(!xml.contains(secret), "{secret} in the bank file");
    }
    // EPC guidelines: the five XML specials are escaped, the apostrophe too.
    assert!(
        xml.contains("Orsted + Fils (SARL) &apos;OEuvre&apos; - Saint-Etienne"),
        "name transliterated to the SEPA set"
    );
    assert!(xml.contains("<EndToEndId>RUN-20261201-P100000001</EndToEndId>"));

    // RSP returns: the practitioners concerned, and only them.
    let rsp_files: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .filter(|p| p.starts_with("rsp/"))
        .collect();
    assert_eq!(
        rsp_files,
        vec![
            "rsp/100000001.rsp",
            "rsp/100000003.rsp",
            "rsp/999999999.rsp"
        ]
    );
    let mut transfers = Decimal::ZERO;
    for f in &rsp_files {
        for e in rsp(&report.run_dir.join(f)) {
            if let Entity::Transfer {
                reference, amount, ..
            } = &e
            {
                let p = pays
                    .iter()
                    .find(|p| &p.0 == reference)
                    .expect("071 quotes a SEPA reference");
                assert_eq!(p.2, amount.as_decimal(), "071 amount = transfer amount");
                transfers += amount.as_decimal();
            }
        }
    }
    assert_eq!(
        transfers,
        Decimal::new(26400, 2),
        "RSP 071 total = practitioner payments"
    );
    let statuses: Vec<String> = rsp(&report.run_dir.join("rsp/100000001.rsp"))
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .filter(|v| v["type"] == "199")
        .map(|v| v["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        ["P", "P", "P", "R", "S"],
        "paid, then rejected, then HTP signalement"
    );
    assert_eq!(
        rsp_invoices(&report.run_dir.join("rsp/100000001.rsp")),
        EXPECTED_RSP_100000001
    );

    // The manifest's hashes are the files'.
    for f in m["files"].as_array().unwrap() {
        assert_eq!(
            sha256_file(&report.run_dir.join(f["path"].as_str().unwrap())),
            f["sha256"].as_str().unwrap()
        );
    }
    db.cleanup().await;
});

both!(
    rerun_is_byte_identical_and_pays_nothing_twice,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        let first = settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let hashes = |dir: &Path| -> Vec<(String, String)> {
            manifest(dir)["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let p = f["path"].as_str().unwrap();
                    (p.to_owned(), sha256_file(&dir.join(p)))
                })
                .collect()
        };
        let before = hashes(&first.run_dir);
        let manifest_sha = sha256_file(&first.manifest_path());
        // The database itself refuses a second payment of a paid claim,
        // whatever the code does (primary key of payment_claims).
        let second = common::audit::execute(
            &db.store,
            "INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline) \
             SELECT ps_id, invoice_no, reference, amount_cents, origin, deadline FROM payment_claims",
        )
        .await;
        assert!(
            second.is_err(),
            "a claim paid twice was accepted: {second:?}"
        );
        // Same output folder, then another one: same run, same bytes.
        let again = settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let elsewhere = settle(&db, &config, "2026-12-01", &db.path("out2"))
            .await
            .unwrap();
        for r in [&again, &elsewhere] {
            assert_eq!(r.run.run_id, first.run.run_id);
            assert_eq!(hashes(&r.run_dir), before);
            assert_eq!(sha256_file(&r.manifest_path()), manifest_sha);
            assert_eq!(r.sums, first.sums);
        }
        // The next day pays only what is new (claim 9, received on 1 December).
        let next = settle(&db, &config, "2026-12-02", &db.path("out"))
            .await
            .unwrap();
        let m = manifest(&next.run_dir);
        assert_eq!(m["payments"].as_array().unwrap().len(), 1);
        assert_eq!(
            m["payments"][0]["claims"],
            serde_json::json!([["100000001", 9]])
        );
        assert_eq!(
            m["rejected"],
            serde_json::json!([]),
            "a rejection is returned once"
        );
        common::audit::check_run(&db.store, day("2026-12-02"), &db.path("out")).await;
        db.cleanup().await;
    }
);

both!(
    held_payee_is_paid_once_bank_details_arrive,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let rib = "ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bank_valid_from\n\
        100000002,Pharmacie de l'Église,pharmacien,1 place du Marché,69001,Lyon,2020-01-01,2020-01-01,FR7630006000011234567890189,2026-12-02\n";
        let path = db.path("rib.csv");
        write(&path, rib);
        import_file(&db.store, &cal(), Kind::Practitioners, &path)
            .await
            .unwrap();
        // Bank details valid from 2 December: still held on the 1st's... no run;
        // the run of the 2nd executes on the 2nd and pays.
        let r = settle(&db, &config, "2026-12-02", &db.path("out"))
            .await
            .unwrap();
        let m = manifest(&r.run_dir);
        let p = m["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["reference"] == "RUN-20261202-P100000002")
            .expect("held payee paid");
        assert_eq!(p["claims"], serde_json::json!([["100000002", 5]]));
        assert_eq!(dec(&p["amount"]), Decimal::new(500, 2));
        assert_eq!(
            keys(&m["held"]).len(),
            1,
            "only the member without bank details is still held"
        );
        assert_eq!(
            keys(&m["late"]).iter().filter(|l| l.1 == 5).count(),
            1,
            "paid after its deadline: late"
        );
        db.cleanup().await;
    }
);

both!(
    a_change_of_rib_pays_on_the_details_valid_on_the_execution_date,
    |db| async move {
        load_day(&db).await;
        // New account from 3 December, imported before the run of the 1st.
        let rib = "ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,account_holder,bank_valid_from\n\
        100000001,Hélène Lefèvre-D'Aubigné,médecin généraliste,3 rue de l'Église,42000,Saint-Étienne,2020-01-01,2020-01-01,DE89370400440532013000,Hélène Lefèvre,2026-12-03\n";
        let path = db.path("rib.csv");
        write(&path, rib);
        import_file(&db.store, &cal(), Kind::Practitioners, &path)
            .await
            .unwrap();
        let config = Config::default();
        let bank_of = |m: &Value, reference: &str| {
            let p = m["payments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["reference"] == reference)
                .unwrap_or_else(|| panic!("{reference} paid"))
                .clone();
            (
                p["bank"]["iban_masked"].as_str().unwrap().to_owned(),
                p["bank"]["valid_from"].as_str().unwrap().to_owned(),
            )
        };
        let first = settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let m = manifest(&first.run_dir);
        assert_eq!(
            bank_of(&m, "RUN-20261201-P100000001"),
            ("FR76 **** 0189".into(), "2020-01-01".into()),
            "executed on 1 December: the old account"
        );
        let xml = std::fs::read_to_string(first.run_dir.join("sepa/RUN-20261201.xml")).unwrap();
        assert!(xml.contains("FR7630006000011234567890189"));
        let later = settle(&db, &config, "2026-12-03", &db.path("out"))
            .await
            .unwrap();
        let m = manifest(&later.run_dir);
        assert_eq!(
            bank_of(&m, "RUN-20261203-P100000001"),
            ("DE89 **** 3000".into(), "2026-12-03".into()),
            "executed on 3 December: the new account"
        );
        let xml = std::fs::read_to_string(later.run_dir.join("sepa/RUN-20261203.xml")).unwrap();
        assert!(xml.contains("DE89370400440532013000"));
        assert!(
            !std::fs::read_to_string(later.run_dir.join("manifest.json"))
                .unwrap()
                .contains("DE89370400440532013000"),
            "the manifest masks the account"
        );
        db.cleanup().await;
    }
);

both!(
    crash_after_planning_resumes_without_paying_twice,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        // The output "folder" is a file: the run is planned, then cannot write.
        let blocked = db.path("blocked");
        write(&blocked, "not a folder");
        let err = settle(&db, &config, "2026-12-01", &blocked)
            .await
            .unwrap_err();
        assert!(matches!(err, SettleError::Output(_)), "{err}");
        let run = db
            .store
            .find_run(day("2026-12-01"))
            .await
            .unwrap()
            .expect("run recorded");
        assert_eq!(run.state, tpsettle::store::runs::RunState::Planned);
        // A leftover from an interrupted attempt is swept on resume.
        let out = db.path("out");
        std::fs::create_dir_all(out.join("RUN-20261201/rsp")).unwrap();
        write(&out.join("RUN-20261201/rsp/100000001.rsp.partial"), "half");
        std::fs::create_dir_all(out.join("RUN-20261201/rsp.partial")).unwrap();
        write(&out.join("RUN-20261201/rsp.partial/100000002.rsp"), "half");
        let r = settle(&db, &config, "2026-12-01", &out).await.unwrap();
        assert_eq!(
            r.resumed_from,
            Some(tpsettle::store::runs::RunState::Planned)
        );
        assert_eq!(
            (r.sums.payments(), r.sums.cents(), r.sums.claims),
            (3, 27634, 5)
        );
        assert!(!out.join("RUN-20261201/rsp/100000001.rsp.partial").exists());
        assert!(!out.join("RUN-20261201/rsp.partial").exists());
        let fresh = TestDb::sqlite().await;
        load_day(&fresh).await;
        let reference = settle(&fresh, &config, "2026-12-01", &fresh.path("out"))
            .await
            .unwrap();
        assert_eq!(
            reference.sums, r.sums,
            "an interrupted run pays exactly what an uninterrupted one does"
        );
        fresh.cleanup().await;
        db.cleanup().await;
    }
);

both!(pain_001_001_03_by_configuration, |db| async move {
    load_day(&db).await;
    let mut config = Config::default();
    config.sepa.version = PainVersion::V03;
    let r = settle(&db, &config, "2026-12-01", &db.path("out"))
        .await
        .unwrap();
    let sepa = r.run_dir.join("sepa/RUN-20261201.xml");
    assert!(
        std::fs::read_to_string(&sepa)
            .unwrap()
            .contains("pain.001.001.03")
    );
    xsd_valid(&sepa, "pain.001.001.03");
    assert_eq!(sepa_sums(&sepa).1, Decimal::new(27634, 2));
    db.cleanup().await;
});

both!(
    a_second_runner_is_refused_while_one_holds_the_lock,
    |db| async move {
        load_day(&db).await;
        let lock = db
            .store
            .try_lock(tpsettle::settlement::LOCK_NAME)
            .await
            .unwrap()
            .expect("free");
        let err = settle(&db, &Config::default(), "2026-12-01", &db.path("out"))
            .await
            .unwrap_err();
        assert!(matches!(err, SettleError::Busy { .. }), "{err}");
        assert!(
            db.store
                .find_run(day("2026-12-01"))
                .await
                .unwrap()
                .is_none(),
            "the refused runner changed nothing"
        );
        lock.release().await.unwrap();
        settle(&db, &Config::default(), "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        db.cleanup().await;
    }
);

both!(concurrent_runners_make_one_run, |db| async move {
    load_day(&db).await;
    let other = tpsettle::store::Store::connect(&db.url).await.unwrap();
    let (config, calendar) = (Config::default(), cal());
    let a = Settlement {
        store: &db.store,
        config: &config,
        calendar: &calendar,
    };
    let b = Settlement {
        store: &other,
        config: &config,
        calendar: &calendar,
    };
    let (out_a, out_b) = (db.path("a"), db.path("b"));
    let (ra, rb) = tokio::join!(
        a.settle(day("2026-12-01"), &out_a),
        b.settle(day("2026-12-01"), &out_b)
    );
    for r in [&ra, &rb] {
        if let Err(e) = r {
            assert!(matches!(e, SettleError::Busy { .. }), "{e}");
        }
    }
    let ok: Vec<_> = [ra, rb].into_iter().filter_map(Result::ok).collect();
    assert!(!ok.is_empty());
    for r in &ok {
        assert_eq!(
            (r.sums.payments(), r.sums.cents()),
            (3, 27634),
            "one run, each claim paid once"
        );
    }
    other.close().await;
    db.cleanup().await;
});

both!(
    crash_after_files_written_rewrites_the_same_manifest,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        let out = db.path("out");
        let done = settle(&db, &config, "2026-12-01", &out).await.unwrap();
        let manifest_sha = sha256_file(&done.manifest_path());
        // As if the process died after publishing SEPA and RSP files.
        std::fs::remove_file(done.manifest_path()).unwrap();
        let mut tx = db.store.begin().await.unwrap();
        tx.set_run_state(
            &done.run.run_id,
            tpsettle::store::runs::RunState::FilesWritten,
            None,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let r = settle(&db, &config, "2026-12-01", &out).await.unwrap();
        assert_eq!(
            r.resumed_from,
            Some(tpsettle::store::runs::RunState::FilesWritten)
        );
        assert_eq!(sha256_file(&r.manifest_path()), manifest_sha);
        assert_eq!(
            db.store
                .find_run(day("2026-12-01"))
                .await
                .unwrap()
                .unwrap()
                .state,
            tpsettle::store::runs::RunState::Completed
        );
        db.cleanup().await;
    }
);

both!(
    every_rsp_of_a_generated_day_agrees_with_the_manifest,
    |db| async move {
        let data = common::gen_day(db.dir.path(), 120, 6000, 11, day("2026-12-01"));
        common::import_day(&db.store, &data, &common::WHOLE_DAY).await;
        let r = settle(&db, &Config::default(), "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let m = manifest(&r.run_dir);
        let payments: std::collections::BTreeMap<String, Decimal> = m["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["reference"].as_str().unwrap().to_owned(),
                    dec(&p["amount"]),
                )
            })
            .collect();
        let (mut seen, mut total) = (0, Decimal::ZERO);
        for f in m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .filter(|p| p.starts_with("rsp/"))
        {
            for e in rsp(&r.run_dir.join(f)) {
                match e {
                    Entity::Transfer {
                        reference, amount, ..
                    } => {
                        assert_eq!(
                            payments.get(&reference),
                            Some(&amount.as_decimal()),
                            "{f}: 071 {reference}"
                        );
                        seen += 1;
                    }
                    Entity::End { total: t, .. } => total += t.as_decimal(),
                    _ => {}
                }
            }
        }
        let practitioner_payments = m["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["payee_kind"] == "practitioner")
            .count();
        assert_eq!(
            seen, practitioner_payments,
            "one 071 per practitioner payment"
        );
        assert_eq!(
            Decimal::new(r.sums.practitioner_cents, 2),
            total,
            "999 totals = practitioner payments"
        );
        let sepa = r.run_dir.join("sepa/RUN-20261201.xml");
        xsd_valid(&sepa, "pain.001.001.09");
        let (nb, ctrl, sum) = sepa_sums(&sepa);
        assert_eq!(
            (nb as usize, ctrl, sum),
            (
                payments.len(),
                dec(&m["totals"]["amount"]),
                dec(&m["totals"]["amount"])
            )
        );
        assert!(
            r.held > 0 && r.rejected > 0 && r.late > 0,
            "the generated day exercises holds, rejections and late claims"
        );
        db.cleanup().await;
    }
);

both!(a_day_with_nothing_to_pay_still_completes, |db| async move {
    let config = Config::default();
    let r = settle(&db, &config, "2026-12-01", &db.path("out"))
        .await
        .expect("an empty day settles");
    let m = manifest(&r.run_dir);
    assert_eq!(m["totals"]["payments"], 0);
    assert_eq!(m["totals"]["amount"], "0.00");
    assert!(
        !r.run_dir.join("sepa").exists(),
        "no bank file without payments"
    );
    common::audit::check_run(&db.store, day("2026-12-01"), &db.path("out")).await;
    db.cleanup().await;
});

// A database settled before `unpaid_claims` and `unreturned_rejections`
// existed (migration 0006) gets them filled from its history: the held
// claims and the claim received on the run's day wait to be paid, a
// rejection and an R03 duplicate received that day wait to be returned, and
// the next run pays and returns them from the rebuilt tables.
both!(
    migration_0006_rebuilds_what_a_settled_database_has_left_to_do,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let later = format!(
            "{}\n{}\n{}\n",
            CLAIMS.lines().next().unwrap(),
            "100000001,11,DRE,TP,2026-12-01T09:00:00+01:00,2026-11-30,A000000001,X,30.00,21.00,9.00,rejected,E12,Droits AMC fermés",
            "100000001,1,DRE,TP,2026-12-01T09:00:00+01:00,2026-11-30,A000000001,X,30.00,21.00,9.50,accepted,,",
        );
        write(&db.path("later.csv"), &later);
        import_file(&db.store, &cal(), Kind::Claims, &db.path("later.csv"))
            .await
            .unwrap();
        let counts = [
            "SELECT COUNT(*) FROM unpaid_claims",
            "SELECT CAST(SUM(invoice_no) AS BIGINT) FROM unpaid_claims",
            "SELECT COUNT(*) FROM unreturned_rejections",
            "SELECT CAST(SUM(invoice_no + dup_line) AS BIGINT) FROM unreturned_rejections",
        ];
        let before = {
            let mut v = Vec::new();
            for sql in counts {
                v.push(common::audit::scalar(&db.store, sql, &[]).await);
            }
            v
        };
        // Claims 5 and 10 held (no bank details), 9 received on 1 December;
        // claim 11 (E12) and the duplicate of claim 1 (line 3 of its file).
        assert_eq!(before, [3, 24, 2, 15]);

        for sql in [
            "DROP TABLE unpaid_claims",
            "DROP TABLE unreturned_rejections",
            "DELETE FROM _sqlx_migrations WHERE version = 6",
            // Migration 0008 adds to `unpaid_claims`: it runs again after 0006.
            "DROP TABLE sla_late_paid",
            "DROP TABLE sla_paid_counts",
            "DELETE FROM _sqlx_migrations WHERE version = 8",
            // And 0010 (a column of each queue's rows).
            "ALTER TABLE payment_claims DROP COLUMN care_date",
            "DELETE FROM _sqlx_migrations WHERE version = 10",
        ] {
            common::audit::execute(&db.store, sql).await.unwrap();
        }
        let store = tpsettle::store::Store::connect(&db.url).await.unwrap();
        common::audit::check_unpaid_and_unreturned(&store).await;
        for (sql, n) in counts.iter().zip(&before) {
            assert_eq!(common::audit::scalar(&store, sql, &[]).await, *n, "{sql}");
        }
        store.close().await;

        let next = settle(&db, &config, "2026-12-02", &db.path("out"))
            .await
            .unwrap();
        let m = manifest(&next.run_dir);
        assert_eq!(
            m["payments"][0]["claims"],
            serde_json::json!([["100000001", 9]])
        );
        assert_eq!(
            m["rejected"].as_array().unwrap().len(),
            2,
            "{}",
            m["rejected"]
        );
        common::audit::check_run(&db.store, day("2026-12-02"), &db.path("out")).await;
        assert_eq!(common::audit::scalar(&db.store, counts[0], &[]).await, 2);
        assert_eq!(common::audit::scalar(&db.store, counts[2], &[]).await, 0);
        db.cleanup().await;
    }
);

// Migration 0007 rebuilds `payment_claims` without its foreign key to
// `claims` (a locking look-up per paid claim on PostgreSQL): run again on a
// settled database it keeps every paid claim, and the table still refuses
// a second payment of a claim (primary key) and a claim in no payment
// (foreign key to `payments`).
both!(
    migration_0007_keeps_paid_claims_and_their_guarantees,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let sums =
            "SELECT COUNT(*) * 1000000 + CAST(SUM(amount_cents) AS BIGINT) FROM payment_claims";
        let before = common::audit::scalar(&db.store, sums, &[]).await;
        assert!(before > 0, "the run paid claims");

        // Back to the table as migration 0005 left it, then 0007 again.
        let to_0005 = [
            "CREATE TABLE payment_claims_0005 (ps_id TEXT NOT NULL, invoice_no BIGINT NOT NULL, \
               reference TEXT NOT NULL REFERENCES payments (reference), \
               amount_cents BIGINT NOT NULL CHECK (amount_cents > 0), \
               origin TEXT NOT NULL CHECK (origin IN ('DRE', 'NOEMIE')), deadline DATE NOT NULL, \
               PRIMARY KEY (ps_id, invoice_no), \
               FOREIGN KEY (ps_id, invoice_no) REFERENCES claims (ps_id, invoice_no))",
            "INSERT INTO payment_claims_0005 SELECT ps_id, invoice_no, reference, amount_cents, \
               origin, deadline FROM payment_claims",
            "DROP TABLE payment_claims",
            "ALTER TABLE payment_claims_0005 RENAME TO payment_claims",
            "CREATE INDEX payment_claims_by_reference ON payment_claims (reference)",
            "DELETE FROM _sqlx_migrations WHERE version = 7",
            // 0010 adds a column to the table 0007 rebuilds: it runs again.
            "DELETE FROM _sqlx_migrations WHERE version = 10",
        ];
        common::audit::execute_script(&db.store, &to_0005.join("; "))
            .await
            .unwrap();
        let store = tpsettle::store::Store::connect(&db.url).await.unwrap();
        let again = "SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 7 AND success";
        assert_eq!(common::audit::scalar(&store, again, &[]).await, 1);
        assert_eq!(common::audit::scalar(&store, sums, &[]).await, before);

        let paid_twice = "INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline) \
             SELECT ps_id, invoice_no, reference, amount_cents, origin, deadline FROM payment_claims \
             WHERE invoice_no = (SELECT MIN(invoice_no) FROM payment_claims)";
        let err = common::audit::execute(&store, paid_twice)
            .await
            .unwrap_err();
        assert!(
            err.to_lowercase().contains("unique") || err.contains("duplicate"),
            "{err}"
        );
        let in_no_payment = "INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline) \
             VALUES ('100000001', 999, 'NO-SUCH-PAYMENT', 100, 'DRE', '2026-12-04')";
        let err = common::audit::execute(&store, in_no_payment)
            .await
            .unwrap_err();
        assert!(err.to_lowercase().contains("foreign key"), "{err}");
        store.close().await;

        common::audit::check_run(&db.store, day("2026-12-01"), &db.path("out")).await;
        db.cleanup().await;
    }
);

// A paid claim names a recorded payment, on both databases: SQLite by the
// foreign key of migration 0007, PostgreSQL by the statement-level triggers
// of its own migration 0012 (the key's row-by-row check cost seconds a
// national day). Both refuse the same writes, and leave nothing of them.
both!(paid_claims_must_name_a_payment, |db| async move {
    load_day(&db).await;
    settle(&db, &Config::default(), "2026-12-01", &db.path("out"))
        .await
        .unwrap();
    let paid = "SELECT COUNT(*) * 1000000 + CAST(SUM(amount_cents) AS BIGINT) FROM payment_claims";
    let payments = "SELECT COUNT(*) FROM payments";
    let (paid_before, payments_before) = (
        common::audit::scalar(&db.store, paid, &[]).await,
        common::audit::scalar(&db.store, payments, &[]).await,
    );
    assert!(payments_before >= 2, "the run paid two payees or more");
    let first = "(SELECT MIN(reference) FROM payments)";
    let refused = [
        // A claim in no payment.
        "INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline) \
         VALUES ('100000001', 999, 'NO-SUCH-PAYMENT', 100, 'DRE', '2026-12-04')"
            .to_owned(),
        // Two claims in one statement, one in no payment: neither lands.
        "INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline) \
         SELECT ps_id, invoice_no + 1000000, reference, amount_cents, origin, deadline \
         FROM (SELECT * FROM payment_claims ORDER BY ps_id, invoice_no LIMIT 1) good \
         UNION ALL SELECT '100000001', 999, 'NO-SUCH-PAYMENT', 100, 'DRE', '2026-12-04'"
            .to_owned(),
        // A paid claim moved to no payment.
        "UPDATE payment_claims SET reference = 'NO-SUCH-PAYMENT' \
         WHERE invoice_no = (SELECT MIN(invoice_no) FROM payment_claims)"
            .to_owned(),
        // A payment that paid claims name, deleted or re-keyed.
        format!("DELETE FROM payments WHERE reference = {first}"),
        format!("UPDATE payments SET reference = 'RENAMED' WHERE reference = {first}"),
    ];
    for sql in &refused {
        let err = common::audit::execute(&db.store, sql).await.expect_err(sql);
        assert!(err.to_lowercase().contains("foreign key"), "{sql}: {err}");
    }
    if let tpsettle::store::Store::Postgres(_) = &db.store {
        // The refusals above came from the triggers, not from the key.
        let key = "SELECT COUNT(*) FROM pg_constraint \
             WHERE conname = 'payment_claims_reference_fkey' \
               AND connamespace = current_schema()::regnamespace";
        assert_eq!(common::audit::scalar(&db.store, key, &[]).await, 0);
        let triggers = "SELECT COUNT(*) FROM pg_trigger \
             WHERE tgrelid IN ('payment_claims'::regclass, 'payments'::regclass) \
               AND NOT tgisinternal";
        assert_eq!(common::audit::scalar(&db.store, triggers, &[]).await, 5);
        let err = common::audit::execute(&db.store, "TRUNCATE payments")
            .await
            .unwrap_err();
        assert!(err.contains("paid claims"), "{err}");
    }
    assert_eq!(
        common::audit::scalar(&db.store, paid, &[]).await,
        paid_before
    );
    assert_eq!(
        common::audit::scalar(&db.store, payments, &[]).await,
        payments_before
    );

    // What the key allows, the triggers allow: a paid claim moved to
    // another recorded payment (in a transaction rolled back after).
    let moved = "BEGIN; UPDATE payment_claims SET reference = (SELECT MAX(reference) FROM payments) \
         WHERE reference = (SELECT MIN(reference) FROM payments); ROLLBACK";
    let moved = sqlx::AssertSqlSafe(moved);
    match &db.store {
        tpsettle::store::Store::Postgres(p) => sqlx::raw_sql(moved).execute(p).await.map(drop),
        tpsettle::store::Store::Sqlite(p) => sqlx::raw_sql(moved).execute(p).await.map(drop),
    }
    .expect("a paid claim moved to another payment");
    common::audit::check_run(&db.store, day("2026-12-01"), &db.path("out")).await;
    db.cleanup().await;
});

// PostgreSQL: the payments that a transaction's new paid claims name stay
// held until it ends, as the foreign key's check held them. A payment no
// committed claim names cannot be deleted under claims about to commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_holds_the_payments_new_paid_claims_name() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    load_day(&db).await;
    settle(&db, &Config::default(), "2026-12-01", &db.path("out"))
        .await
        .unwrap();
    let tpsettle::store::Store::Postgres(pool) = &db.store else {
        unreachable!("a PostgreSQL store")
    };
    let unnamed = "INSERT INTO payments (reference, run_id, payee_kind, payee_id, amount_cents, \
         claims_count, iban, bic, account_holder, bank_valid_from) \
         SELECT 'UNNAMED', run_id, payee_kind, 'NOBODY', amount_cents, claims_count, iban, bic, \
                account_holder, bank_valid_from FROM payments ORDER BY reference LIMIT 1";
    sqlx::query(unnamed).execute(pool).await.unwrap();

    let mut writer = pool.begin().await.unwrap();
    let claim = "INSERT INTO payment_claims (ps_id, invoice_no, reference, amount_cents, origin, deadline) \
         VALUES ('100000001', 999999, 'UNNAMED', 100, 'DRE', '2026-12-04')";
    sqlx::query(claim).execute(&mut *writer).await.unwrap();
    let mut deleter = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '300ms'")
        .execute(&mut *deleter)
        .await
        .unwrap();
    let delete = "DELETE FROM payments WHERE reference = 'UNNAMED'";
    let err = sqlx::query(delete)
        .execute(&mut *deleter)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lock timeout"), "{err}");
    deleter.rollback().await.unwrap();

    // Once the claims are gone, so is the hold.
    writer.rollback().await.unwrap();
    let deleted = sqlx::query(delete).execute(pool).await.unwrap();
    assert_eq!(deleted.rows_affected(), 1);
    common::audit::check_run(&db.store, day("2026-12-01"), &db.path("out")).await;
    db.cleanup().await;
}

// Migration 0010 has paid claims carry their date of care, so that the RSP
// reads it without a look-up into `claims`. Run again on a settled database
// (the column dropped from both queues' tables): claims already paid keep
// no date, and rewriting their run's RSP from `claims` gives the same bytes
// as recorded (the run would stop otherwise); the claim still unpaid (9)
// gets its date, and the next run pays it with it.
both!(
    migration_0010_dates_paid_claims_and_rewrites_older_runs_the_same,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        let out = db.path("out");
        settle(&db, &config, "2026-12-01", &out).await.unwrap();
        for sql in [
            "ALTER TABLE payment_claims DROP COLUMN care_date",
            "ALTER TABLE unpaid_claims DROP COLUMN care_date",
            "DELETE FROM _sqlx_migrations WHERE version = 10",
        ] {
            common::audit::execute(&db.store, sql).await.unwrap();
        }
        let store = tpsettle::store::Store::connect(&db.url).await.unwrap();
        let dated = "SELECT COUNT(care_date) * 100 + COUNT(*) FROM payment_claims";
        assert_eq!(common::audit::scalar(&store, dated, &[]).await, 5);
        let unpaid = "SELECT CAST(SUM(u.invoice_no) AS BIGINT) FROM unpaid_claims u \
            JOIN claims c ON c.ps_id = u.ps_id AND c.invoice_no = u.invoice_no \
            WHERE u.care_date = c.care_date";
        assert_eq!(common::audit::scalar(&store, unpaid, &[]).await, 5 + 9 + 10);
        store.close().await;

        let again = settle(&db, &config, "2026-12-01", &out).await.unwrap();
        assert_eq!(again.resumed_from, Some(RunState::Completed));
        assert_eq!(
            rsp_invoices(&again.run_dir.join("rsp/100000001.rsp")),
            EXPECTED_RSP_100000001
        );
        let next = settle(&db, &config, "2026-12-02", &out).await.unwrap();
        assert_eq!(
            rsp_invoices(&next.run_dir.join("rsp/100000001.rsp")),
            ["9 2026-12-01 9.00 9.00 P"]
        );
        assert_eq!(common::audit::scalar(&db.store, dated, &[]).await, 106);
        common::audit::check_run(&db.store, day("2026-12-02"), &out).await;
        db.cleanup().await;
    }
);

// An unpaid claim whose claim is missing (none should ever be) stops
// migration 0010 rather than vanishing from what is left to pay: the
// migration changes nothing and tpsettle does not start.
both!(
    migration_0010_stops_on_an_unpaid_claim_without_its_claim,
    |db| async move {
        load_day(&db).await;
        let orphan = "INSERT INTO unpaid_claims (ps_id, invoice_no, received_date, deadline, \
            amc_due_cents, payee_kind, payee_id, origin, adherent_id) \
            VALUES ('100000001', 77, '2026-11-30', '2026-12-04', 900, 'practitioner', \
            '100000001', 'DRE', 'A000000001')";
        for sql in [
            "ALTER TABLE payment_claims DROP COLUMN care_date",
            "ALTER TABLE unpaid_claims DROP COLUMN care_date",
            "DELETE FROM _sqlx_migrations WHERE version = 10",
            orphan,
        ] {
            common::audit::execute(&db.store, sql).await.unwrap();
        }
        let Err(err) = tpsettle::store::Store::connect(&db.url).await else {
            panic!("the migration stops");
        };
        assert!(err.to_string().contains("care_date"), "{err}");
        let unpaid = "SELECT COUNT(*) * 100 + CAST(SUM(invoice_no) AS BIGINT) FROM unpaid_claims";
        assert_eq!(
            common::audit::scalar(&db.store, unpaid, &[]).await,
            9 * 100 + (1 + 2 + 3 + 4 + 5 + 6 + 9 + 10 + 77),
            "every unpaid claim still there"
        );
        db.cleanup().await;
    }
);

/// The SLA report's tables for November and 1 December, as CSV text.
async fn sla_files(store: &tpsettle::store::Store, out: &Path) -> [String; 4] {
    let (from, to) = (day("2026-11-01"), day("2026-12-01"));
    tpsettle::report::sla_report(store, &Config::default(), &cal(), from, to, out)
        .await
        .unwrap();
    [
        "sla_daily.csv",
        "sla_breakdown.csv",
        "sla_delays.csv",
        "late_claims.csv",
    ]
    .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
}

// Migration 0008 has each run record, when planned, what the SLA report
// needs of its paid claims. Run again on a settled database (its tables
// dropped, `unpaid_claims` without the member), it records the runs
// already made from their paid claims: the claims paid late one by one
// (claims 2 and 6), the others counted; the report reads the same figures
// from them, and the next run records its own.
both!(
    migration_0008_records_the_runs_already_made_for_the_report,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        settle(&db, &config, "2026-12-01", &db.path("out"))
            .await
            .unwrap();
        let before = sla_files(&db.store, &db.path("report-before")).await;
        let late_listed = "SELECT CAST(SUM(invoice_no) AS BIGINT) FROM sla_late_paid";
        assert_eq!(
            common::audit::scalar(&db.store, late_listed, &[]).await,
            2 + 6
        );
        assert!(
            before[3].contains("100000003"),
            "claim 6 in the late list: {}",
            before[3]
        );

        for sql in [
            "DROP TABLE sla_late_paid",
            "DROP TABLE sla_paid_counts",
            "ALTER TABLE unpaid_claims DROP COLUMN adherent_id",
            "DELETE FROM _sqlx_migrations WHERE version = 8",
        ] {
            common::audit::execute(&db.store, sql).await.unwrap();
        }
        let store = tpsettle::store::Store::connect(&db.url).await.unwrap();
        common::audit::check_unpaid_and_unreturned(&store).await;
        assert_eq!(common::audit::scalar(&store, late_listed, &[]).await, 2 + 6);
        let after = sla_files(&store, &db.path("report-after")).await;
        assert_eq!(after, before, "the same report from the records rebuilt");
        store.close().await;

        settle(&db, &config, "2026-12-02", &db.path("out"))
            .await
            .unwrap();
        common::audit::check_run(&db.store, day("2026-12-02"), &db.path("out")).await;
        let runs_counted = "SELECT COUNT(DISTINCT run_id) FROM sla_paid_counts";
        assert_eq!(common::audit::scalar(&db.store, runs_counted, &[]).await, 2);
        db.cleanup().await;
    }
);

// An RSP that cannot be written (here `rsp` is a file, not a folder; on a
// real day a full disk) stops the run before anything is published: the
// SEPA file already written is discarded with the rest, nothing is left
// half-written, and the run, still planned, completes once the cause is gone.
both!(
    an_unwritable_rsp_stops_the_run_before_anything_is_published,
    |db| async move {
        load_day(&db).await;
        let config = Config::default();
        let out = db.path("out");
        let run_dir = out.join("RUN-20261201");
        std::fs::create_dir_all(&run_dir).unwrap();
        write(&run_dir.join("rsp"), "in the way");
        let failed = settle(&db, &config, "2026-12-01", &out).await;
        match failed {
            Err(SettleError::Output(e)) => assert!(e.path.contains("rsp"), "{e}"),
            other => panic!("expected the RSP's write error, got {other:?}"),
        }
        assert_eq!(
            common::audit::list_files(&run_dir),
            ["rsp".to_owned()].into_iter().collect(),
            "nothing published, nothing half-written"
        );
        let state = common::audit::scalar(
            &db.store,
            "SELECT COUNT(*) FROM runs WHERE run_id = 'RUN-20261201' AND state = 'planned'",
            &[],
        )
        .await;
        assert_eq!(state, 1, "the run stays planned");
        std::fs::remove_file(run_dir.join("rsp")).unwrap();
        let report = settle(&db, &config, "2026-12-01", &out).await.unwrap();
        assert!(report.files.iter().any(|f| f.path.starts_with("rsp/")));
        common::audit::check_run(&db.store, day("2026-12-01"), &out).await;
        db.cleanup().await;
    }
);
