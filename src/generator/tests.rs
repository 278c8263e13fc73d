//! The generator's files read back as an importer would, with the domain
//! types, and checked against the summary and the contract.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Offset};
use chrono_tz::Europe::Paris;

use super::*;
use crate::domain::{
    AdherentId, Amount, Bic, ClaimStatus, CountryCode, Iban, InvoiceNo, Mode, Origin, PsId,
    RejectCode,
};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn spec(practitioners: usize, claims: usize, seed: u64, date: &str) -> GenSpec {
    GenSpec {
        practitioners,
        claims,
        seed,
        date: d(date),
    }
}

/// Rows of a CSV as header-keyed maps, after checking encoding and header.
fn read(path: &Path, header: &[&str]) -> Vec<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "BOM in {path:?}");
    assert!(!bytes.contains(&b'\r'), "CR in {path:?}");
    assert!(bytes.ends_with(b"\n"));
    let text = String::from_utf8(bytes).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let got: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(got, header, "{path:?}");
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| ((*h).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn date_cell(v: &str) -> NaiveDate {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap_or_else(|e| panic!("{v:?}: {e}"))
}

fn bank_ok(r: &BTreeMap<String, String>, date: NaiveDate) -> bool {
    if r["iban"].is_empty() {
        assert!(r["bic"].is_empty() && r["bank_valid_from"].is_empty());
        return false;
    }
    r["iban"]
        .parse::<Iban>()
        .unwrap_or_else(|e| panic!("{}: {e}", r["iban"]));
    if !r["bic"].is_empty() {
        r["bic"].parse::<Bic>().unwrap();
    }
    assert!(!r["account_holder"].is_empty());
    assert!(date_cell(&r["bank_valid_from"]) < date);
    true
}

struct Practitioner {
    has_tp: bool,
}

fn check_practitioners(
    dir: &Path,
    s: &GenSpec,
    sum: &GenSummary,
) -> BTreeMap<String, Practitioner> {
    let rows = read(&dir.join(PRACTITIONERS_FILE), practitioners::HEADER);
    assert_eq!(rows.len(), s.practitioners);
    let mut out = BTreeMap::new();
    let (mut no_tp, mut no_bank) = (0, 0);
    for r in &rows {
        let id = r["ps_id"].parse::<PsId>().unwrap();
        assert!(
            r["rpps"].is_empty()
                || (r["rpps"].len() == 11 && r["rpps"].bytes().all(|b| b.is_ascii_digit()))
        );
        for col in ["name", "profession", "address_line", "postcode", "city"] {
            assert!(!r[col].is_empty(), "{col}");
        }
        r["country"].parse::<CountryCode>().unwrap();
        assert!(r["email"].is_empty() || r["email"].is_ascii() && r["email"].contains("@example."));
        let flux = date_cell(&r["flux_agreement_from"]);
        assert!(flux < s.date);
        let has_tp = !r["tp_agreement_from"].is_empty();
        if has_tp {
            let tp = date_cell(&r["tp_agreement_from"]);
            assert!(flux <= tp && tp < s.date);
        }
        no_tp += usize::from(!has_tp);
        no_bank += usize::from(!bank_ok(r, s.date));
        assert!(
            out.insert(id.to_string(), Practitioner { has_tp })
                .is_none(),
            "dup ps_id"
        );
    }
    assert_eq!(no_tp, sum.practitioners_without_tp_agreement);
    assert_eq!(no_bank, sum.practitioners_without_bank);
    out
}

fn check_adherents(dir: &Path, s: &GenSpec, sum: &GenSummary) -> BTreeSet<String> {
    let rows = read(&dir.join(ADHERENTS_FILE), adherents::HEADER);
    assert_eq!(rows.len(), s.adherent_count());
    assert_eq!(rows.len(), sum.adherents);
    let mut ids = BTreeSet::new();
    let mut no_bank = 0;
    for r in &rows {
        let id = r["adherent_id"].parse::<AdherentId>().unwrap();
        assert!(
            id.as_str().len() == 10
                && id.as_str().starts_with('A')
                && !id.as_str().starts_with("A9")
        );
        assert!(!r["name"].is_empty() && r["centre"].starts_with("CG"));
        if !r["country"].is_empty() {
            r["country"].parse::<CountryCode>().unwrap();
        }
        no_bank += usize::from(!bank_ok(r, s.date));
        assert!(ids.insert(id.to_string()), "dup adherent");
    }
    assert_eq!(no_bank, sum.adherents_without_bank);
    ids
}

/// What the import rules would find in one claim row.
fn check_claim(
    r: &BTreeMap<String, String>,
    s: &GenSpec,
    cal: &Calendar,
    ps: &BTreeMap<String, Practitioner>,
    members: &BTreeSet<String>,
    found: &mut AnomalyCounts,
) -> (Origin, Mode, ClaimStatus, NaiveDate) {
    let ps_id = r["ps_id"].parse::<PsId>().unwrap();
    r["invoice_no"].parse::<InvoiceNo>().unwrap();
    let origin: Origin = r["origin"].parse().unwrap();
    let mode: Mode = r["mode"].parse().unwrap();
    let at = DateTime::parse_from_rfc3339(&r["received_at"]).unwrap();
    // The offset written is Paris's at that instant.
    assert_eq!(
        *at.offset(),
        at.with_timezone(&Paris).offset().fix(),
        "{}",
        r["received_at"]
    );
    let local = cal.received_local_date(at);
    assert!(local < s.date && cal.is_working_day(local), "{local}");
    assert!(date_cell(&r["care_date"]) <= local);
    let adherent = r["adherent_id"].parse::<AdherentId>().unwrap();
    assert!(!r["beneficiary"].is_empty());
    let amount = |c: &str| {
        r[c].parse::<Amount>()
            .unwrap_or_else(|e| panic!("{c}: {e}"))
            .cents()
    };
    let (billed, amo, amc) = (amount("billed"), amount("amo_paid"), amount("amc_due"));
    assert!(amo <= billed);
    let status: ClaimStatus = r["status"].parse().unwrap();
    match status {
        ClaimStatus::Rejected => {
            r["reject_code"].parse::<RejectCode>().unwrap();
            assert!(!r["reject_label"].is_empty());
        }
        ClaimStatus::Accepted => {
            assert!(r["reject_code"].is_empty() && r["reject_label"].is_empty())
        }
    }
    let known = ps.get(ps_id.as_str());
    let mut anomalies = 0;
    if known.is_none() {
        found.r01_unknown_practitioner += 1;
        anomalies += 1;
    }
    if mode == Mode::Tp && known.is_some_and(|p| !p.has_tp) {
        found.r02_tp_without_agreement += 1;
        anomalies += 1;
    }
    if amc == 0 {
        found.r04_amc_due_zero += 1;
        anomalies += 1;
    } else if amc > billed - amo {
        found.r04_amc_due_over += 1;
        anomalies += 1;
    }
    if mode == Mode::Htp && !members.contains(adherent.as_str()) {
        found.r05_unknown_adherent += 1;
        anomalies += 1;
    }
    assert!(anomalies <= 1, "one anomaly per row at most: {r:?}");
    if anomalies > 0 {
        assert_eq!(status, ClaimStatus::Accepted);
    }
    (origin, mode, status, local)
}

/// Generates, reads everything back, cross-checks the summary; returns the
/// summary and the receipt dates seen.
fn generate_and_check(s: &GenSpec) -> (GenSummary, BTreeMap<NaiveDate, usize>) {
    let cal = Calendar::default();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let sum = generate(s, &cal, &dir).unwrap();
    let ps = check_practitioners(&dir, s, &sum);
    let members = check_adherents(&dir, s, &sum);

    let rows = read(&dir.join(CLAIMS_FILE), claims::HEADER);
    assert_eq!(rows.len(), s.claims);
    assert_eq!(sum.claims, s.claims);
    let mut found = AnomalyCounts::default();
    let mut keys = BTreeMap::new();
    let mut days = BTreeMap::new();
    let (mut noemie, mut htp, mut rejected, mut past) = (0, 0, 0, 0);
    for r in &rows {
        let (origin, mode, status, local) = check_claim(r, s, &cal, &ps, &members, &mut found);
        noemie += usize::from(origin == Origin::Noemie);
        htp += usize::from(mode == Mode::Htp);
        rejected += usize::from(status == ClaimStatus::Rejected);
        past += usize::from(cal.deadline(local) < s.date);
        *days.entry(local).or_insert(0) += 1;
        let key = (
            r["ps_id"].clone(),
            r["invoice_no"].parse::<InvoiceNo>().unwrap(),
        );
        assert!(
            keys.insert(key, r.clone()).is_none(),
            "duplicate key in claims.csv: {r:?}"
        );
    }
    assert_eq!(
        (noemie, htp, rejected, past),
        (
            sum.noemie,
            sum.htp,
            sum.rejected,
            sum.received_past_deadline
        )
    );
    assert_eq!(sum.received_from, days.keys().next().copied());
    assert_eq!(sum.received_to, days.keys().next_back().copied());

    // The re-sent file: known keys, identical rows or R03 duplicates.
    let resent = read(&dir.join(CLAIMS_RESENT_FILE), claims::HEADER);
    assert_eq!(resent.len(), sum.resent);
    let (mut identical, mut changed) = (0, 0);
    let mut resent_keys = BTreeSet::new();
    for r in &resent {
        let key = (
            r["ps_id"].clone(),
            r["invoice_no"].parse::<InvoiceNo>().unwrap(),
        );
        assert!(
            resent_keys.insert(key.clone()),
            "duplicate key in claims-resent.csv"
        );
        let original = &keys[&key];
        if original == r {
            identical += 1;
        } else {
            changed += 1;
            assert_ne!(original["amc_due"], r["amc_due"]);
            let mut ignore = AnomalyCounts::default();
            check_claim(r, s, &cal, &ps, &members, &mut ignore);
            assert_eq!(
                ignore,
                AnomalyCounts::default(),
                "R03 rows break no other rule"
            );
        }
    }
    assert_eq!(
        (identical, changed),
        (sum.resent_identical, sum.anomalies.r03_duplicate_changed)
    );
    found.r03_duplicate_changed = changed;
    assert_eq!(found, sum.anomalies);
    (sum, days)
}

fn file_bytes(dir: &Path) -> Vec<Vec<u8>> {
    [
        PRACTITIONERS_FILE,
        ADHERENTS_FILE,
        CLAIMS_FILE,
        CLAIMS_RESENT_FILE,
    ]
    .iter()
    .map(|f| std::fs::read(dir.join(f)).unwrap())
    .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cal = Calendar::default();
    let tmp = tempfile::tempdir().unwrap();
    let run = |seed: u64, name: &str| {
        let dir = tmp.path().join(name);
        generate(&spec(60, 3_000, seed, "2026-12-01"), &cal, &dir).unwrap();
        file_bytes(&dir)
    };
    let (a, b, c) = (run(42, "a"), run(42, "b"), run(43, "c"));
    assert_eq!(a, b);
    for (x, z) in a.iter().zip(&c) {
        assert_ne!(x, z);
    }
    // Regenerating over existing files leaves no temporary file behind.
    run(42, "a");
    let names: BTreeSet<String> = std::fs::read_dir(tmp.path().join("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn ten_thousand_claims_parse_back_with_every_anomaly() {
    let (sum, days) = generate_and_check(&spec(300, 10_000, 7, "2026-12-01"));
    let a = sum.anomalies;
    for (name, n) in [
        ("R01", a.r01_unknown_practitioner),
        ("R02", a.r02_tp_without_agreement),
        ("R03", a.r03_duplicate_changed),
        ("R04 zero", a.r04_amc_due_zero),
        ("R04 over", a.r04_amc_due_over),
        ("R05", a.r05_unknown_adherent),
        ("identical re-sends", sum.resent_identical),
        (
            "practitioners without TP",
            sum.practitioners_without_tp_agreement,
        ),
        ("practitioners without bank", sum.practitioners_without_bank),
        ("members without bank", sum.adherents_without_bank),
        ("past deadline", sum.received_past_deadline),
    ] {
        assert!(n >= 1, "{name}: {n}");
        assert!(n <= 300, "{name}: {n}");
    }
    // 11 Nov 2026 (a Wednesday) is inside the window, never a receipt day.
    assert!(!days.contains_key(&d("2026-11-11")));
    assert!(days.contains_key(&d("2026-11-12")));
    assert_eq!(sum.received_from, Some(d("2026-11-09")));
    assert_eq!(sum.received_to, Some(d("2026-11-30")));
}

#[test]
fn shares_at_twenty_thousand_claims() {
    let (sum, days) = generate_and_check(&spec(500, 20_000, 2026, "2026-04-08"));
    let share = |n: usize| n as f64 / sum.claims as f64;
    assert!(
        (0.085..0.115).contains(&share(sum.noemie)),
        "noemie {}",
        sum.noemie
    );
    assert!((0.04..0.06).contains(&share(sum.htp)), "htp {}", sum.htp);
    assert!(
        (0.022..0.038).contains(&share(sum.rejected)),
        "rejected {}",
        sum.rejected
    );
    // Most on the last two working days (Tue 7 April, Fri 3 April: Easter
    // Monday 6 April is not one), a tail of about 3 % past their deadline.
    let last_two = days[&d("2026-04-07")] + days[&d("2026-04-03")];
    assert!(share(last_two) > 0.8);
    assert!(!days.contains_key(&d("2026-04-06")));
    assert!((0.015..0.05).contains(&share(sum.received_past_deadline)));
}

#[test]
fn summer_offsets_and_small_files() {
    // A summer date: every timestamp is +02:00 (checked in check_claim).
    let (sum, _) = generate_and_check(&spec(12, 500, 1, "2026-07-20"));
    assert_eq!(sum.practitioners, 12);
    // A window across the end of summer time (Sunday 25 October 2026):
    // +02:00 before, +01:00 after, each checked against Europe/Paris.
    let (_, days) = generate_and_check(&spec(30, 3_000, 9, "2026-11-03"));
    assert!(days.contains_key(&d("2026-10-23")) && days.contains_key(&d("2026-10-26")));
    // Tiny: no anomaly is planted below 100 claims, the files stay valid.
    let (sum, _) = generate_and_check(&spec(1, 10, 1, "2026-03-02"));
    assert_eq!(sum.anomalies, AnomalyCounts::default());
    let (sum, _) = generate_and_check(&spec(0, 0, 1, "2026-03-02"));
    assert_eq!((sum.claims, sum.resent, sum.adherents), (0, 0, 100));
}

#[test]
fn refuses_impossible_specs() {
    let tmp = tempfile::tempdir().unwrap();
    let cal = Calendar::default();
    for bad in [
        spec(0, 10, 1, "2026-03-02"),
        spec(MAX_PRACTITIONERS + 1, 10, 1, "2026-03-02"),
        spec(10, MAX_CLAIMS + 1, 1, "2026-03-02"),
    ] {
        assert!(matches!(
            generate(&bad, &cal, tmp.path()),
            Err(GenError::Spec(_))
        ));
    }
    // An output path under a file cannot be created.
    let file = tmp.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let err = generate(&spec(1, 1, 1, "2026-03-02"), &cal, &file.join("out")).unwrap_err();
    assert!(matches!(err, GenError::Io { .. }), "{err}");
}

#[test]
fn hostile_names_and_addresses_are_there_and_quoted() {
    let cal = Calendar::default();
    let tmp = tempfile::tempdir().unwrap();
    generate(&spec(40, 200, 5, "2026-12-01"), &cal, tmp.path()).unwrap();
    let text = std::fs::read_to_string(tmp.path().join(PRACTITIONERS_FILE)).unwrap();
    for needle in [
        "Pharmacie de l'Église",
        "Dr Hélène Lefèvre-D'Aubigné",
        "Cabinet Noël & Associés",
        r#""Ørsted & Fils <SARL> ""Œuvre""""#,
        "42000,Saint-Étienne",
        "94240,L'Haÿ-les-Roses",
        "97400,Saint-Denis",
        "20000,Ajaccio",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let rows = read(&tmp.path().join(PRACTITIONERS_FILE), practitioners::HEADER);
    assert!(rows.iter().any(|r| r["ps_id"].starts_with("2A")));
    assert!(rows.iter().any(|r| r["name"].chars().count() > 70));
}

/// `cargo test --release -- --ignored million --nocapture`
#[test]
#[ignore = "a million claims: run in release"]
fn million_claims_timing() {
    let cal = Calendar::default();
    let tmp = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let sum = generate(&spec(20_000, 1_000_000, 1, "2026-12-01"), &cal, tmp.path()).unwrap();
    let took = start.elapsed();
    let size = std::fs::metadata(tmp.path().join(CLAIMS_FILE))
        .unwrap()
        .len();
    println!("1,000,000 claims in {took:?} ({size} bytes): {sum:?}");
    assert_eq!(sum.claims, 1_000_000);
}
