//! Paper statements (issue 4) on SQLite and PostgreSQL, read back with a
//! real PDF tool (poppler's `pdftotext -layout` and `pdfinfo`).
//!
//! A hand-built day whose every statement line is known: who gets a letter
//! (only practitioners paid for Noémie-origin claims), what it says
//! (address, accents, masked IBAN, totals = the Noémie part of the
//! transfer), how a 300-claim letter paginates, the print batch, a second
//! run's "rejected since the last statement", byte-identical re-runs; then
//! a generated day, letter by letter against the manifest.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use common::{TestDb, have_command, pdftotext, sha256_file, write};
use rust_decimal::Decimal;
use serde_json::Value;
use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::config::Config;
use tpsettle::import::{Kind, import_file};
use tpsettle::settlement::{RunReport, Settlement};
use tpsettle::statement::layout::single_line_capacity;
use tpsettle::statement::run::{render_all_in_volumes, write_run_in_volumes};
use tpsettle::statement::template::builtin;
use tpsettle::statement::{Letter, PaidRow, Sender};

const CONFIG: &str = "\
[mutuelle]
id = \"MUTOEUVRE\"
name = \"Mutuelle «Œcuménique» des Façonniers\"
address_line = \"7 quai de la Tournelle\"
postcode = \"69002\"
city = \"Lyon\"
country = \"FR\"
";

const PRACTITIONERS: &str = "\
ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000001,Hélène Lefèvre-D'Aubigné,médecin généraliste,3 rue de l'Église,42000,Saint-Étienne,2020-01-01,2020-01-01,FR7630006000011234567890189,AGRIFRPP,Hélène Lefèvre,2020-01-01
100000002,Pharmacie de l'Église,pharmacien,1 place du Marché,69001,Lyon,2020-01-01,2020-01-01,DE89370400440532013000,,,2020-01-01
100000003,Cabinet Noël & Œuvre «Santé»,masseur-kinésithérapeute,12 boulevard François-Mitterrand,06000,Nice,2020-01-01,2020-01-01,FR1420041010050500013M02606,,,2020-01-01
100000004,Laboratoire d'Analyses Médicales du Château,laboratoire,5 cours Belsunce,13001,Marseille,2020-01-01,2020-01-01,FR7630006000011234567890189,,,2020-01-01
100000005,Zoé N'Diaye,infirmier,8 rue Pasteur,75015,Paris,2020-01-01,2020-01-01,,,,
";

const ADHERENTS: &str = "\
adherent_id,name,centre,iban,bank_valid_from,city
A000000001,Jeanne Martin,CG01,FR7630006000011234567890189,2020-01-01,Lyon
";

const HEADER: &str = "ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label\n";

/// Day 1 (run of 2026-12-01). Invoice 6 is turned into an R04 rejection
/// by the import (AMC part zero).
fn day1_claims() -> String {
    let mut s = String::from(HEADER);
    let at = "2026-11-30T10:00:00+01:00,2026-11-27";
    s += &format!(
        "100000001,1,NOEMIE,TP,{at},A000000001,Zoé Bérénice Façon,100.00,60.00,40.00,accepted,,\n"
    );
    s += &format!(
        "100000001,2,NOEMIE,TP,{at},A000000001,Jérôme Œillet,55.50,30.00,25.50,accepted,,\n"
    );
    s += &format!("100000001,3,DRE,TP,{at},A000000001,Denis Dreyfus,30.00,21.00,9.00,accepted,,\n");
    s += &format!(
        "100000001,4,NOEMIE,TP,{at},A000000001,Anaïs Rejet,20.00,10.00,10.00,rejected,E12,Droits AMC fermés à la date des soins\n"
    );
    s += &format!(
        "100000001,5,DRE,TP,{at},A000000001,Denis Dreyfus,20.00,10.00,10.00,rejected,E13,Refus sur une DRE\n"
    );
    s += &format!("100000001,6,NOEMIE,TP,{at},A000000001,Ève Zéro,20.00,10.00,0.00,accepted,,\n");
    s += &format!("100000002,10,DRE,TP,{at},A000000001,Paul Pharma,12.00,8.00,4.00,accepted,,\n");
    s += &format!(
        "100000002,11,NOEMIE,HTP,{at},A000000001,Paul Pharma,12.00,8.00,4.00,accepted,,\n"
    );
    s += &format!(
        "100000002,13,NOEMIE,TP,{at},A000000001,Rémi Refusé,12.00,8.00,4.00,rejected,E14,Bénéficiaire radié\n"
    );
    s += &format!(
        "100000003,20,NOEMIE,TP,{at},A000000001,Léa Château,1500.00,500.00,1000.00,accepted,,\n"
    );
    for i in 0..300 {
        s += &format!(
            "100000004,{},NOEMIE,TP,{at},A000000001,Patient Labo {i:03},10.00,6.00,4.00,accepted,,\n",
            100_000 + i
        );
    }
    s += &format!("100000005,30,NOEMIE,TP,{at},A000000001,Zoé Tenue,10.00,6.00,4.00,accepted,,\n");
    s
}

/// Day 2 (run of 2026-12-02).
fn day2_claims() -> String {
    let mut s = String::from(HEADER);
    let at = "2026-12-01T10:00:00+01:00,2026-11-30";
    s += &format!(
        "100000001,7,NOEMIE,TP,{at},A000000001,Zoé Deuxième,30.00,20.00,10.00,accepted,,\n"
    );
    s += &format!(
        "100000001,8,NOEMIE,TP,{at},A000000001,Anaïs Rejet,30.00,20.00,10.00,rejected,E12,Droits AMC fermés à la date des soins\n"
    );
    s +=
        &format!("100000002,12,NOEMIE,TP,{at},A000000001,Paul Pharma,12.00,8.00,4.00,accepted,,\n");
    s
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn cal() -> Calendar {
    Calendar::new(&CalendarConfig::default())
}

fn config() -> Config {
    Config::parse(CONFIG).unwrap()
}

async fn import(db: &TestDb, kind: Kind, name: &str, text: &str) {
    let path = db.path(name);
    write(&path, text);
    import_file(&db.store, &cal(), kind, &path).await.unwrap();
}

async fn load_day1(db: &TestDb) {
    import(db, Kind::Practitioners, "p.csv", PRACTITIONERS).await;
    import(db, Kind::Adherents, "a.csv", ADHERENTS).await;
    import(db, Kind::Claims, "c1.csv", &day1_claims()).await;
}

async fn settle(db: &TestDb, date: &str, out: &Path) -> RunReport {
    let (calendar, config) = (cal(), config());
    Settlement {
        store: &db.store,
        config: &config,
        calendar: &calendar,
    }
    .settle(day(date), out)
    .await
    .unwrap()
}

fn manifest(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap()
}

/// False (after a notice, or a panic under CI=true) without poppler.
fn have_poppler() -> bool {
    have_command("pdftotext") && have_command("pdfinfo") && have_command("pdffonts")
}

fn pdf_pages(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(pdf).output().unwrap();
    assert!(out.status.success(), "pdfinfo {}", pdf.display());
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .expect("Pages: line")
        .trim()
        .parse()
        .unwrap()
}

/// The font lines of `pdffonts` (name … emb sub uni, object id cut off).
fn embedded_fonts(pdf: &Path) -> Vec<String> {
    let out = Command::new("pdffonts").arg(pdf).output().unwrap();
    assert!(out.status.success(), "pdffonts {}", pdf.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(2)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w[..w.len() - 2].join(" ")
        })
        .collect()
}

/// The euro amounts of a `pdftotext -layout` line ("1 042,14 €" → 1042.14).
fn amounts(line: &str) -> Vec<Decimal> {
    let mut parts: Vec<&str> = line.split('€').collect();
    parts.pop();
    parts
        .iter()
        .map(|p| {
            let last = p.trim_end().rsplit("  ").next().unwrap().trim();
            last.replace([' ', '\u{202F}', '\u{A0}'], "")
                .replace(',', ".")
                .parse::<Decimal>()
                .unwrap_or_else(|e| panic!("amount in {line:?}: {e}"))
        })
        .collect()
}

/// A table row as `pdftotext -layout` prints it: invoice number, date of
/// care, then the rest of the line.
#[derive(Debug, Clone)]
struct Row {
    invoice_no: i64,
    care_date: String,
    rest: String,
}

fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let inv = it.next()?.parse::<i64>().ok()?;
            let date = it.next()?;
            let ok = date.len() == 10 && date.as_bytes()[2] == b'/' && date.as_bytes()[5] == b'/';
            // The rest keeps pdftotext's column spacing (amounts are split on it).
            let end = l.find(date)? + date.len();
            ok.then(|| Row {
                invoice_no: inv,
                care_date: date.to_owned(),
                rest: l[end..].to_owned(),
            })
        })
        .collect()
}

/// The paid table and the rejected table of a letter's text, split at the
/// rejected table's title.
fn tables(text: &str) -> (Vec<Row>, Vec<Row>) {
    let split = text
        .find("Factures rejetées depuis le précédent relevé")
        .expect("rejected section");
    (rows(&text[..split]), rows(&text[split..]))
}

fn statement_files(run_dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(run_dir.join("statements"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn letter(run_dir: &Path, ps_id: &str) -> PathBuf {
    run_dir.join(format!("statements/{ps_id}.pdf"))
}

both!(
    only_practitioners_paid_for_noemie_claims_get_a_statement,
    |db| async move {
        load_day1(&db).await;
        let out = db.path("out");
        let report = settle(&db, "2026-12-01", &out).await;
        let run_dir = &report.run_dir;
        // 100000002 is paid for DRE claims only (its Noémie claim is HTP, paid
        // to the member); 100000005 has no bank details (held).
        let expected: BTreeSet<String> = [
            "100000001.pdf",
            "100000003.pdf",
            "100000004.pdf",
            "print-batch-001.csv",
            "print-batch-001.pdf",
        ]
        .map(String::from)
        .into();
        assert_eq!(statement_files(run_dir), expected);
        assert!(
            run_dir.join("rsp/100000002.rsp").exists(),
            "DRE-only payee has its RSP"
        );

        // Every statement file is in the manifest with its SHA-256.
        let m = manifest(run_dir);
        let listed: BTreeMap<String, String> = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().into(),
                    f["sha256"].as_str().unwrap().into(),
                )
            })
            .collect();
        for f in &expected {
            let path = format!("statements/{f}");
            assert_eq!(
                listed.get(&path),
                Some(&sha256_file(&run_dir.join(&path))),
                "{path}"
            );
        }
        let summary = report.to_string();
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with("statements"))
            .unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some("3"), "{summary}");
        db.cleanup().await;
    }
);

both!(
    a_statement_reads_back_with_address_accents_and_exact_totals,
    |db| async move {
        load_day1(&db).await;
        let report = settle(&db, "2026-12-01", &db.path("out")).await;
        if !have_poppler() {
            return;
        }
        let text = pdftotext(&letter(&report.run_dir, "100000001"));
        for expected in [
            // Sender block from [mutuelle], with « » Œ ç.
            "Mutuelle «Œcuménique» des Façonniers",
            "7 quai de la Tournelle",
            "69002 Lyon",
            // The window address.
            "Hélène Lefèvre-D'Aubigné",
            "3 rue de l'Église",
            "42000 SAINT-ETIENNE",
            "Relevé de paiement",
            "Tiers payant — paiements sur flux Noémie",
            "Lyon, le 1er décembre 2026",
            "RUN-20261201-P100000001",
            "01/12/2026",
            "**** **** **** **** **** ***0 189",
            "Zoé Bérénice Façon",
            "Jérôme Œillet",
            "Page 1/1",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
        assert!(
            !text.contains("FR76") && !text.contains("3000 6000"),
            "IBAN not masked:\n{text}"
        );
        // One embedded, subset font with a ToUnicode map: bold is drawn,
        // not a second font in every letter.
        let fonts = embedded_fonts(&letter(&report.run_dir, "100000001"));
        assert_eq!(fonts.len(), 1, "{fonts:?}");
        assert!(
            fonts[0].contains("DejaVuSansCondensed") && fonts[0].ends_with("yes yes yes"),
            "{fonts:?}"
        );

        // Paid table: the two Noémie claims, not the DRE one nor the R04.
        let (paid, rejected) = tables(&text);
        let paid_nos: Vec<i64> = paid.iter().map(|r| r.invoice_no).collect();
        assert_eq!(paid_nos, vec![1, 2]);
        assert_eq!(
            amounts(&paid[0].rest),
            vec![
                Decimal::new(10000, 2),
                Decimal::new(6000, 2),
                Decimal::new(4000, 2)
            ]
        );
        // Total line = the Noémie part of the transfer.
        let total = text
            .lines()
            .find(|l| l.trim_start().starts_with("Total"))
            .unwrap();
        assert_eq!(
            amounts(total),
            vec![
                Decimal::new(15550, 2),
                Decimal::new(9000, 2),
                Decimal::new(6550, 2)
            ]
        );
        let m = manifest(&report.run_dir);
        let pay = m["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["payee_id"] == "100000001")
            .unwrap();
        assert_eq!(pay["amount"], "74.50", "transfer = Noémie 65.50 + DRE 9.00");
        let transfer_line = text
            .lines()
            .find(|l| l.contains("Montant du virement"))
            .unwrap();
        assert_eq!(amounts(transfer_line), vec![Decimal::new(7450, 2)]);
        let noemie_line = text.lines().find(|l| l.contains("dont factures")).unwrap();
        assert_eq!(amounts(noemie_line), vec![Decimal::new(6550, 2)]);

        // Rejected table: the Noémie rejections (engine E12, import R04), not the DRE one.
        let rejected_nos: Vec<i64> = rejected.iter().map(|r| r.invoice_no).collect();
        assert_eq!(rejected_nos, vec![4, 6]);
        assert!(text.contains("E12 — Droits AMC fermés"), "{text}");
        assert!(text.contains("R04 — Part AMC nulle"), "{text}");
        assert!(
            !text.contains("E13") && !text.contains("Denis Dreyfus"),
            "{text}"
        );

        // A four-digit total prints with French grouping.
        let text3 = pdftotext(&letter(&report.run_dir, "100000003"));
        assert!(text3.contains("Cabinet Noël & Œuvre «Santé»"), "{text3}");
        assert!(text3.contains("06000 NICE"), "{text3}");
        let total = text3
            .lines()
            .find(|l| l.trim_start().starts_with("Total"))
            .unwrap();
        assert_eq!(amounts(total)[2], Decimal::new(100000, 2));
        assert!(text3.contains("Aucune facture transmise par le flux Noémie n'a été rejetée"));
        db.cleanup().await;
    }
);

both!(
    a_300_claim_statement_paginates_with_repeated_headers,
    |db| async move {
        load_day1(&db).await;
        let report = settle(&db, "2026-12-01", &db.path("out")).await;
        if !have_poppler() {
            return;
        }
        let pdf = letter(&report.run_dir, "100000004");
        let n = pdf_pages(&pdf);
        let text = pdftotext(&pdf);
        let pages: Vec<&str> = text
            .split('\x0c')
            .filter(|p| !p.trim().is_empty())
            .collect();
        assert_eq!(pages.len(), n);
        let (first, next) = single_line_capacity(builtin());
        let table_pages = 1 + (300 - first).div_ceil(next);
        assert!(
            n == table_pages || n == table_pages + 1,
            "{n} pages, table needs {table_pages}"
        );
        for (i, page) in pages.iter().enumerate() {
            assert!(
                page.contains(&format!("Page {}/{n}", i + 1)),
                "page {}:\n{page}",
                i + 1
            );
            let r = rows(page).len();
            if i + 1 < table_pages {
                assert!(
                    page.contains("N° facture") && page.contains("Part AMC payée"),
                    "header on page {}",
                    i + 1
                );
                assert_eq!(
                    r,
                    if i == 0 { first } else { next },
                    "rows on page {}",
                    i + 1
                );
            }
            if i > 0 && r > 0 {
                assert!(page.contains("Factures réglées (suite)"), "page {}", i + 1);
                assert!(
                    page.contains("RUN-20261201-P100000004"),
                    "continuation head on page {}",
                    i + 1
                );
            }
        }
        assert!(
            pages[n - 1].contains("Le service Tiers payant"),
            "closing on the last page"
        );
        if n == table_pages + 1 {
            assert_eq!(
                rows(pages[n - 1]).len(),
                0,
                "an extra page only when the rest does not fit"
            );
        }
        let listed: Vec<i64> = rows(&text).iter().map(|r| r.invoice_no).collect();
        assert_eq!(listed, (100_000..100_300).collect::<Vec<i64>>());
        let total = text
            .lines()
            .find(|l| l.trim_start().starts_with("Total"))
            .unwrap();
        assert_eq!(amounts(total)[2], Decimal::new(120000, 2));
        db.cleanup().await;
    }
);

both!(
    the_print_batch_is_in_postcode_order_and_its_csv_adds_up,
    |db| async move {
        load_day1(&db).await;
        let report = settle(&db, "2026-12-01", &db.path("out")).await;
        let dir = report.run_dir.join("statements");
        let csv = std::fs::read_to_string(dir.join("print-batch-001.csv")).unwrap();
        let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(lines[0], vec!["ps_id", "pages", "postcode"]);
        let order: Vec<(&str, &str)> = lines[1..].iter().map(|l| (l[2], l[0])).collect();
        assert_eq!(
            order,
            vec![
                ("06000", "100000003"),
                ("13001", "100000004"),
                ("42000", "100000001")
            ]
        );
        if !have_poppler() {
            return;
        }
        let mut sum = 0;
        for l in &lines[1..] {
            let pages: usize = l[1].parse().unwrap();
            assert_eq!(
                pages,
                pdf_pages(&dir.join(format!("{}.pdf", l[0]))),
                "{}",
                l[0]
            );
            sum += pages;
        }
        let batch = dir.join("print-batch-001.pdf");
        assert_eq!(pdf_pages(&batch), sum);
        // The letters follow each other in that order, each with its own "n/N".
        let text = pdftotext(&batch);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"))
        };
        assert!(at("N° 100000003") < at("N° 100000004") && at("N° 100000004") < at("N° 100000001"));
        assert_eq!(text.matches("Page 1/").count(), 3);
        db.cleanup().await;
    }
);

both!(
    rejections_are_listed_once_on_the_next_statement_and_reruns_are_identical,
    |db| async move {
        load_day1(&db).await;
        let out = db.path("out");
        let r1 = settle(&db, "2026-12-01", &out).await;
        let hashes = |dir: &Path| -> BTreeMap<String, String> {
            statement_files(dir)
                .into_iter()
                .map(|f| {
                    let h = sha256_file(&dir.join("statements").join(&f));
                    (f, h)
                })
                .collect()
        };
        let before = hashes(&r1.run_dir);
        import(&db, Kind::Claims, "c2.csv", &day2_claims()).await;
        let r2 = settle(&db, "2026-12-02", &out).await;
        assert_eq!(
            statement_files(&r2.run_dir),
            [
                "100000001.pdf",
                "100000002.pdf",
                "print-batch-001.csv",
                "print-batch-001.pdf"
            ]
            .map(String::from)
            .into()
        );
        // Re-running day 1 after day 2: same bytes, in place and in a new folder.
        let again = settle(&db, "2026-12-01", &out).await;
        assert_eq!(hashes(&again.run_dir), before);
        let elsewhere = settle(&db, "2026-12-01", &db.path("out2")).await;
        assert_eq!(hashes(&elsewhere.run_dir), before);
        if !have_poppler() {
            return;
        }
        // 100000001: day 1 listed rejections 4 and 6; day 2 lists only 8.
        let (paid, rejected) = tables(&pdftotext(&letter(&r2.run_dir, "100000001")));
        assert_eq!(
            paid.iter().map(|r| r.invoice_no).collect::<Vec<_>>(),
            vec![7]
        );
        assert_eq!(
            rejected.iter().map(|r| r.invoice_no).collect::<Vec<_>>(),
            vec![8]
        );
        // 100000002's first statement: its rejection returned on day 1, when it
        // got no statement, is listed now.
        let (paid, rejected) = tables(&pdftotext(&letter(&r2.run_dir, "100000002")));
        assert_eq!(
            paid.iter().map(|r| r.invoice_no).collect::<Vec<_>>(),
            vec![12]
        );
        assert_eq!(
            rejected.iter().map(|r| r.invoice_no).collect::<Vec<_>>(),
            vec![13]
        );
        assert!(rejected[0].rest.contains("Rémi Refusé") && rejected[0].rest.contains("E14"));
        db.cleanup().await;
    }
);

both!(
    a_generated_day_statements_hold_only_their_own_practitioners_claims,
    |db| async move {
        let data = common::gen_day(db.dir.path(), 80, 4000, 7, day("2026-12-01"));
        common::import_day(&db.store, &data, &common::WHOLE_DAY).await;
        let report = settle(&db, "2026-12-01", &db.path("out")).await;
        // Claims as generated: (ps_id, invoice_no) -> (origin, care date, beneficiary, amc_due).
        let mut claims: BTreeMap<(String, i64), (String, String, String, Decimal)> =
            BTreeMap::new();
        let mut r = csv::Reader::from_path(data.join("claims.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let (ps, inv, origin, care, ben, amc) = (
            col("ps_id"),
            col("invoice_no"),
            col("origin"),
            col("care_date"),
            col("beneficiary"),
            col("amc_due"),
        );
        for rec in r.records() {
            let rec = rec.unwrap();
            claims.insert(
                (rec[ps].to_owned(), rec[inv].parse().unwrap()),
                (
                    rec[origin].to_owned(),
                    rec[care].to_owned(),
                    rec[ben].to_owned(),
                    rec[amc].parse().unwrap(),
                ),
            );
        }
        // Expected letters from the manifest: practitioner payments with a Noémie claim.
        let m = manifest(&report.run_dir);
        let mut expected: BTreeMap<String, (Vec<i64>, Decimal)> = BTreeMap::new();
        for p in m["payments"].as_array().unwrap() {
            if p["payee_kind"] != "practitioner" {
                continue;
            }
            for k in p["claims"].as_array().unwrap() {
                let key = (k[0].as_str().unwrap().to_owned(), k[1].as_i64().unwrap());
                let c = &claims[&key];
                if c.0 == "NOEMIE" {
                    let e = expected.entry(key.0.clone()).or_default();
                    e.0.push(key.1);
                    e.1 += c.3;
                }
            }
        }
        assert!(
            expected.len() >= 20,
            "the generated day has Noémie payees: {}",
            expected.len()
        );
        let files: BTreeSet<String> = statement_files(&report.run_dir)
            .into_iter()
            .filter(|f| !f.starts_with("print-batch"))
            .collect();
        let wanted: BTreeSet<String> = expected.keys().map(|k| format!("{k}.pdf")).collect();
        assert_eq!(files, wanted);
        if !have_poppler() {
            return;
        }
        let all_ps: BTreeSet<String> = claims.keys().map(|k| k.0.clone()).collect();
        for (ps_id, (mut invoices, total)) in expected {
            let text = pdftotext(&letter(&report.run_dir, &ps_id));
            let (paid, _) = tables(&text);
            invoices.sort();
            assert_eq!(
                paid.iter().map(|r| r.invoice_no).collect::<Vec<_>>(),
                invoices,
                "{ps_id}"
            );
            for row in &paid {
                let c = &claims[&(ps_id.clone(), row.invoice_no)];
                let care = NaiveDate::parse_from_str(&c.1, "%Y-%m-%d")
                    .unwrap()
                    .format("%d/%m/%Y")
                    .to_string();
                assert_eq!(row.care_date, care, "{ps_id} {}", row.invoice_no);
                let first_word = c.2.split_whitespace().next().unwrap();
                assert!(
                    row.rest.contains(first_word),
                    "{ps_id} {}: {:?} vs {:?}",
                    row.invoice_no,
                    row.rest,
                    c.2
                );
                assert_eq!(*amounts(&row.rest).last().unwrap(), c.3);
            }
            let t = text
                .lines()
                .find(|l| l.trim_start().starts_with("Total"))
                .unwrap();
            assert_eq!(*amounts(t).last().unwrap(), total, "{ps_id}");
            // No other practitioner's identifier anywhere in the letter.
            for other in all_ps.iter().filter(|o| **o != ps_id) {
                assert!(
                    !text.contains(other.as_str()),
                    "{ps_id}'s letter mentions {other}"
                );
            }
        }
        db.cleanup().await;
    }
);

// The statements step reads the letters' lines a volume at a time (memory
// follows the volume, not the day). Read in volumes of three, a generated
// day's letters must be the very bytes the run wrote from one volume, each
// with its own lines, and the volumes together the one volume's print order.
both!(
    letters_read_a_volume_at_a_time_are_the_letters_of_one_volume,
    |db| async move {
        let data = common::gen_day(db.dir.path(), 80, 4000, 7, day("2026-12-01"));
        common::import_day(&db.store, &data, &common::WHOLE_DAY).await;
        let report = settle(&db, "2026-12-01", &db.path("out")).await;
        let run = db.store.find_run(day("2026-12-01")).await.unwrap().unwrap();
        let again = db.path("again");
        std::fs::create_dir_all(again.join("statements")).unwrap();
        let sender = (&config().mutuelle).into();
        let s = write_run_in_volumes(&db.store, sender, &run, &again, 3)
            .await
            .unwrap();
        assert_eq!(s.mismatch(), None);
        assert!(s.letters >= 20, "{} letters", s.letters);
        let volumes = s.letters.div_ceil(3);
        assert_eq!(s.files.len(), s.letters + 2 * volumes);
        s.files.iter().for_each(|f| f.publish().unwrap());

        let one = report.run_dir.join("statements");
        let three = again.join("statements");
        let letters: Vec<String> = statement_files(&report.run_dir)
            .into_iter()
            .filter(|f| !f.starts_with("print-batch"))
            .collect();
        assert_eq!(letters.len(), s.letters);
        for f in &letters {
            assert_eq!(
                sha256_file(&three.join(f)),
                sha256_file(&one.join(f)),
                "{f} differs when read in volumes"
            );
        }
        let body = |csv: String| csv.lines().skip(1).map(String::from).collect::<Vec<_>>();
        let whole = body(std::fs::read_to_string(one.join("print-batch-001.csv")).unwrap());
        let mut joined = Vec::new();
        for n in 1..=volumes {
            let csv = three.join(format!("print-batch-{n:03}.csv"));
            let lines = body(std::fs::read_to_string(&csv).unwrap());
            assert!(lines.len() <= 3 && !lines.is_empty(), "{}", csv.display());
            joined.extend(lines);
        }
        assert_eq!(joined, whole);
        assert!(
            !three
                .join(format!("print-batch-{:03}.csv", volumes + 1))
                .exists()
        );
        db.cleanup().await;
    }
);

/// A letter of one paid claim for practitioner `10000000{n}` at `postcode`.
fn plain_letter(n: u32, postcode: &str) -> Letter {
    let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    Letter {
        ps_id: format!("10000000{n}"),
        name: format!("Cabinet {n}"),
        address_line: "1 rue de la Paix".into(),
        postcode: postcode.into(),
        city: "Lyon".into(),
        country: "FR".into(),
        reference: format!("RUN-20261201-P10000000{n}"),
        date: d,
        execution_date: d,
        iban: "FR7630006000011234567890189".into(),
        account_holder: format!("Cabinet {n}"),
        transfer_cents: 4000,
        paid: vec![PaidRow {
            invoice_no: 1,
            care_date: d,
            beneficiary: "Zoé Martin".into(),
            billed_cents: 10000,
            amo_paid_cents: 6000,
            amc_paid_cents: 4000,
        }],
        rejected: Vec::new(),
    }
}

/// A national day's print batch would be one PDF of 300,000 letters held
/// in memory; it comes in volumes instead, each a PDF and its CSV, the
/// volumes following each other in postcode order.
#[test]
fn the_print_batch_comes_in_volumes_that_follow_postcode_order() {
    let dir = tempfile::tempdir().unwrap();
    let postcodes = ["69003", "13001", "75011", "06000", "42000"];
    let letters: Vec<Letter> = (1..=5)
        .map(|n| plain_letter(n, postcodes[n as usize - 1]))
        .collect();
    let sender = Sender {
        name: "Mutuelle Démo".into(),
        address_line: "12 rue de la Solidarité".into(),
        postcode: "75011".into(),
        city: "Paris".into(),
    };
    let (files, pages) =
        render_all_in_volumes(builtin(), &sender, &letters, dir.path(), 2).unwrap();
    files.iter().for_each(|f| f.publish().unwrap());
    let batch: Vec<&str> = files
        .iter()
        .map(|f| f.rel_path.as_str())
        .filter(|p| p.contains("print-batch"))
        .collect();
    assert_eq!(
        batch,
        [
            "statements/print-batch-001.pdf",
            "statements/print-batch-001.csv",
            "statements/print-batch-002.pdf",
            "statements/print-batch-002.csv",
            "statements/print-batch-003.pdf",
            "statements/print-batch-003.csv",
        ]
    );
    let statements = dir.path().join("statements");
    let volume = |n: usize| -> Vec<(String, usize)> {
        let csv =
            std::fs::read_to_string(statements.join(format!("print-batch-{n:03}.csv"))).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("ps_id,pages,postcode"));
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[2].to_owned(), f[1].parse().unwrap())
            })
            .collect()
    };
    let volumes: Vec<Vec<(String, usize)>> = (1..=3).map(volume).collect();
    let order: Vec<Vec<&str>> = volumes
        .iter()
        .map(|v| v.iter().map(|(p, _)| p.as_str()).collect())
        .collect();
    assert_eq!(
        order,
        [
            vec!["06000", "13001"],
            vec!["42000", "69003"],
            vec!["75011"]
        ]
    );
    let listed: usize = volumes.iter().flatten().map(|(_, n)| n).sum();
    assert_eq!(listed, pages, "the volumes list every page of the letters");
    if !have_poppler() {
        return;
    }
    for (n, v) in volumes.iter().enumerate() {
        let pdf = statements.join(format!("print-batch-{:03}.pdf", n + 1));
        assert_eq!(pdf_pages(&pdf), v.iter().map(|(_, p)| p).sum::<usize>());
    }
    let first = pdftotext(&statements.join("print-batch-001.pdf"));
    assert!(first.find("N° 100000004").unwrap() < first.find("N° 100000002").unwrap());
    assert!(
        !first.contains("N° 100000001"),
        "69003 is in the second volume"
    );
}
