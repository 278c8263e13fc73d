//! Import (contract §2) on SQLite and PostgreSQL: rules R01–R05, refusal of
//! malformed files with FILE:LINE: COLUMN messages, idempotence, RIB history.

mod common;

use chrono::NaiveDate;
use common::{TestDb, write};
use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::domain::PayeeKind;
use tpsettle::import::{ImportError, ImportOutcome, Kind, import_file};
use tpsettle::store::Store;

const PRACTITIONERS: &str = "\
ps_id,rpps,name,profession,address_line,postcode,city,country,email,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000001,10000000001,Hélène Lefèvre-D'Aubigné,médecin généraliste,3 rue de l'Église,42000,Saint-Étienne,FR,h@example.fr,2020-01-01,2020-01-01,FR7630006000011234567890189,AGRIFRPP,Hélène Lefèvre,2020-01-01
100000002,,Pharmacie de l'Église,pharmacien,1 place du Marché,69001,Lyon,,,2020-01-01,,FR7630006000011234567890189,,,2021-06-01
100000003,,\"Cabinet Noël, & Associés\",infirmier,2 av. Foch,75016,Paris,FR,,2020-01-01,2025-01-01,,,,
";

const ADHERENTS: &str = "\
adherent_id,name,centre,iban,bic,account_holder,bank_valid_from,address_line,postcode,city,country
A000000001,Jeanne Martin,CG01,FR7630006000011234567890189,,,2020-01-01,,,,
A000000002,Paul Durand,CG02,,,,,,,,
";

const CLAIMS_HEADER: &str = "ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label\n";

fn claim(ps: &str, inv: u32, mode: &str, amounts: (&str, &str, &str)) -> String {
    format!(
        "{ps},{inv},DRE,{mode},2026-11-27T10:00:00+01:00,2026-11-26,A000000001,Jeanne Martin,{},{},{},accepted,,\n",
        amounts.0, amounts.1, amounts.2
    )
}

async fn load(
    db: &TestDb,
    kind: Kind,
    name: &str,
    text: &str,
) -> Result<ImportOutcome, ImportError> {
    let path = db.path(name);
    write(&path, text);
    import_file(&db.store, &cal(), kind, &path).await
}

fn cal() -> Calendar {
    Calendar::new(&CalendarConfig::default())
}

async fn parties(db: &TestDb) {
    load(db, Kind::Practitioners, "practitioners.csv", PRACTITIONERS)
        .await
        .unwrap();
    load(db, Kind::Adherents, "adherents.csv", ADHERENTS)
        .await
        .unwrap();
}

async fn status(store: &Store, ps: &str, inv: u32) -> (String, Option<String>) {
    store
        .claim_status(ps, inv)
        .await
        .unwrap()
        .expect("claim stored")
}

fn refused(r: Result<ImportOutcome, ImportError>) -> String {
    match r {
        Err(ImportError::Refused(p)) => p.to_string(),
        other => panic!("expected a refused file, got {other:?}"),
    }
}

/// Imports `body` under the claims header and asserts it is refused with a
/// message containing `expect`, and that nothing changed.
async fn assert_refused(db: &TestDb, body: &str, expect: &str) {
    let before = db.store.counts().await.unwrap();
    let msg = refused(
        load(
            db,
            Kind::Claims,
            "bad.csv",
            &format!("{CLAIMS_HEADER}{body}"),
        )
        .await,
    );
    assert!(msg.contains(expect), "message {msg:?} lacks {expect:?}");
    assert_eq!(
        db.store.counts().await.unwrap(),
        before,
        "a refused file changed the database"
    );
}

both!(parties_and_bank_history, |db| async move {
    parties(&db).await;
    let c = db.store.counts().await.unwrap();
    assert_eq!((c.practitioners, c.adherents, c.bank_details), (3, 2, 3));
    // A change of RIB: a later valid_from adds to the history.
    let rib2 = PRACTITIONERS.replace(
        "FR7630006000011234567890189,AGRIFRPP,Hélène Lefèvre,2020-01-01",
        "DE89370400440532013000,,Hélène Lefèvre,2026-12-01",
    );
    let out = load(&db, Kind::Practitioners, "practitioners-2.csv", &rib2)
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            ImportOutcome::Imported {
                bank_details_changed: 1,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(db.store.counts().await.unwrap().bank_details, 4);
    let day = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    let before = db
        .store
        .bank_details_on(PayeeKind::Practitioner, "100000001", day("2026-11-30"))
        .await
        .unwrap()
        .unwrap();
    let after = db
        .store
        .bank_details_on(PayeeKind::Practitioner, "100000001", day("2026-12-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.0, "FR7630006000011234567890189");
    assert_eq!(after, ("DE89370400440532013000".into(), day("2026-12-01")));
    db.cleanup().await;
});

// Party files larger than one multi-row statement of every table: each
// statement must stay under the database's limit of bound parameters.
both!(party_files_span_several_statements, |db| async move {
    const N: usize = 10_000;
    let iban = "FR7630006000011234567890189";
    let mut practitioners = PRACTITIONERS.lines().next().unwrap().to_owned() + "\n";
    let mut adherents = ADHERENTS.lines().next().unwrap().to_owned() + "\n";
    for i in 0..N {
        practitioners += &format!(
            "{},,Cabinet {i},infirmier,2 av. Foch,75016,Paris,FR,,2020-01-01,2020-01-01,{iban},,Cabinet {i},2020-01-01\n",
            200_000_000 + i
        );
        adherents += &format!("A{i:09},Membre {i},CG01,{iban},,,2020-01-01,,,,\n");
    }
    load(
        &db,
        Kind::Practitioners,
        "practitioners.csv",
        &practitioners,
    )
    .await
    .unwrap();
    load(&db, Kind::Adherents, "adherents.csv", &adherents)
        .await
        .unwrap();
    let counts = db.store.counts().await.unwrap();
    assert_eq!(
        (counts.practitioners, counts.adherents, counts.bank_details),
        (N as i64, N as i64, 2 * N as i64)
    );
    db.cleanup().await;
});

// Party files are streamed in batches of one statement (4,000 members):
// a problem found after several batches went in still leaves nothing.
both!(a_party_file_refused_late_leaves_nothing, |db| async move {
    const N: usize = 10_000;
    let iban = "FR7630006000011234567890189";
    let mut adherents = ADHERENTS.lines().next().unwrap().to_owned() + "\n";
    for i in 0..N {
        adherents += &format!("A{i:09},Membre {i},CG01,{iban},,,2020-01-01,,,,\n");
    }
    let before = db.store.counts().await.unwrap();
    let duplicate = format!("{adherents}A000000007,Membre 7 bis,CG01,,,,,,,,\n");
    let msg = refused(load(&db, Kind::Adherents, "adherents.csv", &duplicate).await);
    assert!(
        msg.contains(&format!(
            "adherents.csv:{}: adherent_id: duplicate key",
            N + 2
        )) && msg.contains("also on line 9"),
        "{msg}"
    );
    let bad_iban =
        format!("{adherents}A900000000,Membre,CG01,FR7630006000011234567890188,,,2020-01-01,,,,\n");
    let msg = refused(load(&db, Kind::Adherents, "adherents.csv", &bad_iban).await);
    assert!(
        msg.contains(&format!("adherents.csv:{}: iban:", N + 2)),
        "{msg}"
    );
    assert_eq!(
        db.store.counts().await.unwrap(),
        before,
        "a refused file changed the database"
    );
    db.cleanup().await;
});

both!(rules_r01_to_r05, |db| async move {
    parties(&db).await;
    let body = [
        claim("100000001", 1, "TP", ("30.00", "21.00", "9.00")),   // accepted
        claim("999999999", 2, "TP", ("30.00", "21.00", "9.00")),   // R01 unknown practitioner
        claim("100000002", 3, "TP", ("30.00", "21.00", "9.00")),   // R02 no TP agreement
        claim("100000003", 4, "TP", ("30.00", "21.00", "9.00")),   // accepted: agreement since 2025
        claim("100000001", 5, "TP", ("30.00", "21.00", "0.00")),   // R04 zero
        claim("100000001", 6, "TP", ("30.00", "21.00", "9.01")),   // R04 over billed - amo
        claim("100000002", 7, "HTP", ("30.00", "21.00", "9.00")),  // HTP needs no TP agreement
        claim("100000002", 8, "HTP", ("30.00", "21.00", "9.00")).replace("A000000001", "A000000099"), // R05
        "100000001,9,NOEMIE,TP,2026-11-27T10:00:00+01:00,2026-11-26,A000000001,X,30.00,21.00,9.00,rejected,E12,Droits fermés\n".into(),
    ].concat();
    let out = load(
        &db,
        Kind::Claims,
        "claims.csv",
        &format!("{CLAIMS_HEADER}{body}"),
    )
    .await
    .unwrap();
    let ImportOutcome::Imported {
        claims: Some(c), ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (c.accepted, c.rejected, c.ignored, c.duplicates),
        (3, 6, 0, 0)
    );
    let by_code: Vec<(&str, i64)> = c.by_code.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        by_code,
        [("E12", 1), ("R01", 1), ("R02", 1), ("R04", 2), ("R05", 1)],
        "the file's own claims, counted by code"
    );
    let expect = [
        (1, None),
        (2, Some("R01")),
        (3, Some("R02")),
        (4, None),
        (5, Some("R04")),
        (6, Some("R04")),
        (7, None),
        (8, Some("R05")),
        (9, Some("E12")),
    ];
    for (inv, code) in expect {
        let ps = match inv {
            2 => "999999999",
            3 | 7 | 8 => "100000002",
            4 => "100000003",
            _ => "100000001",
        };
        let (st, got) = status(&db.store, ps, inv).await;
        assert_eq!(got.as_deref(), code, "invoice {inv}");
        assert_eq!(
            st,
            if code.is_some() {
                "rejected"
            } else {
                "accepted"
            }
        );
    }
    // The three accepted claims wait for a run to pay them (the HTP one to
    // its member), the six rejected ones for a run to return them.
    common::audit::check_unpaid_and_unreturned(&db.store).await;
    let unpaid = "SELECT COUNT(*) FROM unpaid_claims";
    let unreturned = "SELECT COUNT(*) FROM unreturned_rejections";
    assert_eq!(common::audit::scalar(&db.store, unpaid, &[]).await, 3);
    assert_eq!(common::audit::scalar(&db.store, unreturned, &[]).await, 6);
    let htp = "SELECT COUNT(*) FROM unpaid_claims WHERE invoice_no = 7 \
               AND payee_kind = 'adherent' AND payee_id = 'A000000001'";
    assert_eq!(common::audit::scalar(&db.store, htp, &[]).await, 1);
    // R03 and identical re-sends, from a second file.
    let resent = [
        claim("100000001", 1, "TP", ("30.00", "21.00", "9.00")),
        claim("100000001", 1, "TP", ("30.00", "21.00", "9.00"))
            .replace("9.00,accepted", "9.5,accepted"),
    ];
    let out = load(
        &db,
        Kind::Claims,
        "resent.csv",
        &format!("{CLAIMS_HEADER}{}", resent[0]),
    )
    .await
    .unwrap();
    let ImportOutcome::Imported {
        claims: Some(c), ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (c.accepted, c.rejected, c.ignored, c.duplicates),
        (0, 0, 1, 0),
        "identical re-send is ignored"
    );
    let out = load(
        &db,
        Kind::Claims,
        "dup.csv",
        &format!("{CLAIMS_HEADER}{}", resent[1]),
    )
    .await
    .unwrap();
    let ImportOutcome::Imported {
        claims: Some(c), ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (c.duplicates, c.by_code.clone()),
        (1, vec![("R03".to_string(), 1)])
    );
    assert_eq!(
        status(&db.store, "100000001", 1).await.0,
        "accepted",
        "the original stays as it was"
    );
    // Neither the re-send nor the R03 duplicate waits for a second payment;
    // the duplicate waits to be returned.
    common::audit::check_unpaid_and_unreturned(&db.store).await;
    assert_eq!(common::audit::scalar(&db.store, unpaid, &[]).await, 3);
    assert_eq!(common::audit::scalar(&db.store, unreturned, &[]).await, 7);
    db.cleanup().await;
});

// Every statement reads a claim by its key; a secondary index on `claims`
// would cost every imported claim one more B-tree written (migration 0009
// dropped the two there were, half of the import's insert). A new one must
// come with a reader that needs it, and a change to this test.
both!(claims_is_indexed_by_its_key_alone, |db| async move {
    parties(&db).await;
    let text = format!(
        "{CLAIMS_HEADER}{}",
        claim("100000001", 1, "TP", ("30.00", "21.00", "9.00"))
    );
    load(&db, Kind::Claims, "claims.csv", &text).await.unwrap();
    let (key, others) = match &db.store {
        Store::Sqlite(_) => (
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'claims' \
             AND name = 'sqlite_autoindex_claims_1'",
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'claims' \
             AND name <> 'sqlite_autoindex_claims_1'",
        ),
        Store::Postgres(_) => (
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'claims' \
             AND indexname = 'claims_pkey'",
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'claims' \
             AND indexname <> 'claims_pkey'",
        ),
    };
    assert_eq!(common::audit::scalar(&db.store, key, &[]).await, 1);
    assert_eq!(common::audit::scalar(&db.store, others, &[]).await, 0);
    db.cleanup().await;
});

both!(reimport_is_a_no_op, |db| async move {
    parties(&db).await;
    let text = format!(
        "{CLAIMS_HEADER}{}",
        claim("100000001", 1, "TP", ("30.00", "21.00", "9.00"))
    );
    load(&db, Kind::Claims, "claims.csv", &text).await.unwrap();
    let before = db.store.counts().await.unwrap();
    let again = load(&db, Kind::Claims, "claims.csv", &text).await.unwrap();
    assert!(matches!(again, ImportOutcome::AlreadyImported { .. }));
    assert!(again.to_string().contains("nothing changed"), "{again}");
    let again = load(&db, Kind::Practitioners, "practitioners.csv", PRACTITIONERS)
        .await
        .unwrap();
    assert!(matches!(again, ImportOutcome::AlreadyImported { .. }));
    assert_eq!(db.store.counts().await.unwrap(), before);
    db.cleanup().await;
});

both!(malformed_files_are_refused_whole, |db| async move {
    parties(&db).await;
    let good = claim("100000001", 1, "TP", ("30.00", "21.00", "9.00"));
    // Every case has a valid line first: the whole file must still be refused.
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("DRE", "FAX"),
            "bad.csv:3: origin: not a claim origin",
        ),
        (
            good.replace("9.00,accepted", "9.001,accepted"),
            "bad.csv:3: amc_due: more than 2 decimals",
        ),
        (
            good.replace("30.00", "-30.00"),
            "bad.csv:3: billed: not an amount",
        ),
        (
            good.replace("30.00", "1e3"),
            "bad.csv:3: billed: not an amount",
        ),
        (
            good.replace("2026-11-26", "2026-02-30"),
            "bad.csv:3: care_date: not a date",
        ),
        (
            good.replace("2026-11-27T10:00:00+01:00", "2026-11-27 10:00"),
            "bad.csv:3: received_at: not a timestamp",
        ),
        (
            good.replace("accepted,,", "rejected,,"),
            "bad.csv:3: reject_code: required when status is rejected",
        ),
        (
            good.replace(",1,DRE", ",1,DRE,extra"),
            "bad.csv:3: (row): expected 14 fields, found 15",
        ),
        (
            good.replace("Jeanne Martin", ""),
            "bad.csv:3: beneficiary: required value is empty",
        ),
        (
            good.clone(),
            "bad.csv:3: invoice_no: duplicate key (100000001, 1) in the file: also on line 2",
        ),
    ];
    for (second, expect) in cases {
        assert_refused(&db, &format!("{good}{second}"), expect).await;
    }
    db.cleanup().await;
});

both!(malformed_headers_and_encodings, |db| async move {
    parties(&db).await;
    let before = db.store.counts().await.unwrap();
    let good = claim("100000001", 1, "TP", ("30.00", "21.00", "9.00"));
    let msg = refused(load(&db, Kind::Claims, "empty.csv", "").await);
    assert!(msg.contains("empty.csv:1: (file): empty file"), "{msg}");
    let msg = refused(
        load(
            &db,
            Kind::Claims,
            "nocol.csv",
            &format!("{}{good}", CLAIMS_HEADER.replace("amc_due,", "amcdue,")),
        )
        .await,
    );
    assert!(
        msg.contains("nocol.csv:1: amc_due: missing column"),
        "{msg}"
    );
    // Non-UTF-8 (Latin-1 é) in a name.
    let path = db.path("latin1.csv");
    let mut bytes = format!("{CLAIMS_HEADER}{good}").into_bytes();
    bytes.extend_from_slice(b"100000001,2,DRE,TP,2026-11-27T10:00:00+01:00,2026-11-26,A000000001,Ren\xe9,30.00,21.00,9.00,accepted,,\n");
    std::fs::write(&path, bytes).unwrap();
    let msg = refused(import_file(&db.store, &cal(), Kind::Claims, &path).await);
    assert!(
        msg.contains("latin1.csv:3: beneficiary: not valid UTF-8"),
        "{msg}"
    );
    // Bad IBAN checksum and bank details without valid_from.
    let bad = PRACTITIONERS.replace(
        "FR7630006000011234567890189,AGRIFRPP",
        "FR7630006000011234567890188,AGRIFRPP",
    );
    let msg = refused(load(&db, Kind::Practitioners, "p.csv", &bad).await);
    assert!(msg.contains("p.csv:2: iban: not a valid IBAN"), "{msg}");
    let bad = PRACTITIONERS.replace(
        "AGRIFRPP,Hélène Lefèvre,2020-01-01",
        "AGRIFRPP,Hélène Lefèvre,",
    );
    let msg = refused(load(&db, Kind::Practitioners, "p2.csv", &bad).await);
    assert!(
        msg.contains("p2.csv:2: bank_valid_from: required with an IBAN"),
        "{msg}"
    );
    assert_eq!(db.store.counts().await.unwrap(), before);
    db.cleanup().await;
});

both!(bom_crlf_and_quoted_commas_are_accepted, |db| async move {
    parties(&db).await;
    let body = format!(
        "{CLAIMS_HEADER}{}",
        claim("100000001", 1, "TP", ("30.00", "21.00", "9.00"))
    )
    .replace("Jeanne Martin", "\"Martin, Jeanne \"\"Jo\"\"\"")
    .replace('\n', "\r\n");
    let out = load(&db, Kind::Claims, "bom.csv", &format!("\u{feff}{body}"))
        .await
        .unwrap();
    assert!(
        matches!(out, ImportOutcome::Imported { claims: Some(ref c), .. } if c.accepted == 1),
        "{out:?}"
    );
    // Columns in another order are fine too.
    let reordered = "invoice_no,ps_id,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_label,reject_code\n\
        2,100000001,DRE,TP,2026-11-27T10:00:00+01:00,2026-11-26,A000000001,X,30.00,21.00,9.00,accepted,,\n";
    load(&db, Kind::Claims, "reordered.csv", reordered)
        .await
        .unwrap();
    assert_eq!(db.store.counts().await.unwrap().claims_accepted, 2);
    db.cleanup().await;
});
