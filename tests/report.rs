//! The auditors' SLA report (contract §5) on SQLite and PostgreSQL.
//!
//! A hand-built fortnight of November 2026, settled by five runs with a gap
//! (no run from Thu 5 to Thu 12), a practitioner whose bank details arrive
//! late, one who never has any, and a claim loaded after the runs that
//! should have paid it. Every figure below is worked out by hand in the
//! comments; the files are held against those figures, against each other,
//! and the page against the files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use common::{TestDb, write};
use polars::prelude::*;
use tpsettle::calendar::{Calendar, CalendarConfig};
use tpsettle::config::Config;
use tpsettle::import::{Kind, import_file};
use tpsettle::report::{SlaSummary, penalty, sla_report};
use tpsettle::settlement::Settlement;

// P1 pays, P2 has no bank details until 13 Nov, P3 pays, P4 never has any.
const PRACTITIONERS: &str = "\
ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000001,Cabinet <Durand> & Fils,médecin généraliste,1 rue A,75001,Paris,2020-01-01,2020-01-01,FR7630006000011234567890189,AGRIFRPP,Durand,2020-01-01
100000002,Pharmacie de l'Église,pharmacien,2 rue B,69001,Lyon,2020-01-01,2020-01-01,,,,
100000003,Kiné Martin,masseur-kinésithérapeute,3 rue C,13001,Marseille,2020-01-01,2020-01-01,DE89370400440532013000,,,2020-01-01
100000004,Optique Sans RIB,opticien,4 rue D,33000,Bordeaux,2020-01-01,2020-01-01,,,,
";

const PRACTITIONER_P2_BANK: &str = "\
ps_id,name,profession,address_line,postcode,city,flux_agreement_from,tp_agreement_from,iban,bic,account_holder,bank_valid_from
100000002,Pharmacie de l'Église,pharmacien,2 rue B,69001,Lyon,2020-01-01,2020-01-01,FR7630006000011234567890189,,,2026-11-13
";

const ADHERENTS: &str = "\
adherent_id,name,centre,iban,bank_valid_from
A1,Jeanne Martin,CG01,FR7630006000011234567890189,2020-01-01
A2,Paul Durand,CG02,,
";

// Deadlines (4th working day after receipt; 11 Nov is a holiday):
// Mon 2 → Fri 6; Tue 3 → Mon 9; Wed 4 → Tue 10; Thu 5 → Thu 12;
// Sat 7 → Fri 13; Fri 13 → Thu 19; Mon 16 → Fri 20; Tue 17 → Mon 23.
const CLAIMS: &str = "\
ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label
100000001,1,DRE,TP,2026-11-02T09:00:00+01:00,2026-11-02,A1,Secret Patient,30.00,20.00,10.00,accepted,,
100000001,2,NOEMIE,TP,2026-11-02T15:00:00+01:00,2026-11-02,A2,Secret Patient,40.00,20.00,20.00,accepted,,
100000001,3,DRE,TP,2026-11-03T09:00:00+01:00,2026-11-03,A1,Secret Patient,50.00,20.00,30.00,accepted,,
100000001,4,DRE,TP,2026-11-04T09:00:00+01:00,2026-11-04,A1,Secret Patient,60.00,20.00,40.00,accepted,,
100000001,5,NOEMIE,TP,2026-11-05T09:00:00+01:00,2026-11-05,A9,Secret Patient,70.00,20.00,50.00,accepted,,
100000001,6,DRE,TP,2026-11-07T11:00:00+01:00,2026-11-07,A2,Secret Patient,80.00,20.00,60.00,accepted,,
100000002,7,DRE,TP,2026-11-02T10:00:00+01:00,2026-11-02,A1,Secret Patient,200.00,76.55,123.45,accepted,,
100000004,8,NOEMIE,TP,2026-11-02T10:00:00+01:00,2026-11-02,A2,Secret Patient,200.00,100.05,99.95,accepted,,
100000001,10,DRE,TP,2026-11-13T09:00:00+01:00,2026-11-13,A1,Secret Patient,10.00,5.00,5.00,accepted,,
100000001,11,DRE,TP,2026-11-16T09:00:00+01:00,2026-11-16,A1,Secret Patient,10.00,4.00,6.00,accepted,,
100000001,12,DRE,TP,2026-11-17T09:00:00+01:00,2026-11-17,A1,Secret Patient,10.00,3.00,7.00,accepted,,
100000001,13,DRE,HTP,2026-11-02T09:00:00+01:00,2026-11-02,A1,Secret Patient,30.00,20.00,10.00,accepted,,
100000001,14,DRE,TP,2026-11-02T09:00:00+01:00,2026-11-02,A1,Secret Patient,30.00,20.00,10.00,rejected,E12,Droits fermés
100000001,15,DRE,TP,2026-10-30T09:00:00+01:00,2026-10-30,A1,Secret Patient,30.00,20.00,10.00,accepted,,
100000001,16,DRE,TP,2026-11-18T09:00:00+01:00,2026-11-18,A1,Secret Patient,30.00,20.00,10.00,accepted,,
";

// Received Mon 2 Nov, but loaded only after the runs of the 3rd and 4th.
const CLAIMS_LOADED_LATE: &str = "\
ps_id,invoice_no,origin,mode,received_at,care_date,adherent_id,beneficiary,billed,amo_paid,amc_due,status,reject_code,reject_label
100000003,9,DRE,TP,2026-11-02T11:00:00+01:00,2026-11-02,A1,Secret Patient,100.00,30.00,70.00,accepted,,
";

const FROM: &str = "2026-11-01";
const TO: &str = "2026-11-17";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn cal() -> Calendar {
    Calendar::new(&CalendarConfig::default())
}

fn config_with_penalties() -> Config {
    Config::parse(penalty::EXAMPLE_TOML).unwrap()
}

async fn import(db: &TestDb, kind: Kind, name: &str, text: &str) {
    let path = db.path(name);
    write(&path, text);
    import_file(&db.store, &cal(), kind, &path).await.unwrap();
}

async fn settle(db: &TestDb, date: &str) {
    let calendar = cal();
    let config = Config::default();
    Settlement {
        store: &db.store,
        config: &config,
        calendar: &calendar,
    }
    .settle(day(date), &db.path("runs"))
    .await
    .unwrap();
}

/// Runs on Tue 3 and Wed 4, none until Fri 13, then Mon 16 and Tue 17.
async fn settled_fortnight(db: &TestDb) {
    import(db, Kind::Practitioners, "p.csv", PRACTITIONERS).await;
    import(db, Kind::Adherents, "a.csv", ADHERENTS).await;
    import(db, Kind::Claims, "c.csv", CLAIMS).await;
    settle(db, "2026-11-03").await;
    settle(db, "2026-11-04").await;
    import(db, Kind::Claims, "c2.csv", CLAIMS_LOADED_LATE).await;
    import(db, Kind::Practitioners, "p2.csv", PRACTITIONER_P2_BANK).await;
    for d in ["2026-11-13", "2026-11-16", "2026-11-17"] {
        settle(db, d).await;
    }
}

async fn report(db: &TestDb, config: &Config, out: &Path) -> SlaSummary {
    sla_report(&db.store, config, &cal(), day(FROM), day(TO), out)
        .await
        .unwrap()
}

/// A CSV file as header → column of cells.
fn csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn pick(rows: &[BTreeMap<String, String>], cols: &[&str]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| cols.iter().map(|c| r[*c].clone()).collect())
        .collect()
}

fn strs(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

const METRICS: [&str; 13] = [
    "claims",
    "paid",
    "on_time",
    "late",
    "late_paid",
    "late_unpaid",
    "pending",
    "on_time_pct",
    "delay_median",
    "delay_p95",
    "delay_max",
    "late_amc_due",
    "penalty_total",
];

fn check_figures(out: &Path, s: &SlaSummary) {
    // 12 TP claims received 1–17 Nov (no HTP, rejected, 30 Oct or 18 Nov).
    // On time: 1, 2, 3 (next day), 6 (Sat 7 → paid Fri 13 = its deadline),
    // 10, 11. Late: 4 and 5 (no run from the 5th to the 12th), 7 (held until
    // its bank details arrived), 9 (loaded after the runs), 8 (never paid).
    // Pending: 12 (received the 17th, the status date).
    assert_eq!(s.status_date, Some(day("2026-11-17")));
    assert_eq!(
        (
            s.claims,
            s.paid,
            s.on_time,
            s.late,
            s.late_paid,
            s.late_unpaid,
            s.pending
        ),
        (12, 10, 6, 5, 4, 1, 1)
    );
    assert_eq!(s.on_time_pct, Some(54.55)); // 6 / 11
    // 1.00 + 1.00 + 12.35 (10 % of 123.45, half away) + 10.00 (of 99.95) + 7.00
    assert_eq!(s.penalty_total_cents, Some(3135));
    assert_eq!(s.runs, 5);

    let daily = csv(&out.join("sla_daily.csv"));
    let mut cols = vec!["received_date"];
    cols.extend(METRICS);
    assert_eq!(
        pick(&daily, &cols),
        strs(&[
            // Delays of the 2nd: 1, 1, 8, 8 → median 4.5, p95 8.
            &[
                "2026-11-02",
                "5",
                "4",
                "2",
                "3",
                "2",
                "1",
                "0",
                "40.00",
                "4.50",
                "8.00",
                "8",
                "293.40",
                "29.35"
            ],
            &[
                "2026-11-03",
                "1",
                "1",
                "1",
                "0",
                "0",
                "0",
                "0",
                "100.00",
                "1.00",
                "1.00",
                "1",
                "0.00",
                "0.00"
            ],
            &[
                "2026-11-04",
                "1",
                "1",
                "0",
                "1",
                "1",
                "0",
                "0",
                "0.00",
                "6.00",
                "6.00",
                "6",
                "40.00",
                "1.00"
            ],
            &[
                "2026-11-05",
                "1",
                "1",
                "0",
                "1",
                "1",
                "0",
                "0",
                "0.00",
                "5.00",
                "5.00",
                "5",
                "50.00",
                "1.00"
            ],
            &[
                "2026-11-07",
                "1",
                "1",
                "1",
                "0",
                "0",
                "0",
                "0",
                "100.00",
                "4.00",
                "4.00",
                "4",
                "0.00",
                "0.00"
            ],
            &[
                "2026-11-13",
                "1",
                "1",
                "1",
                "0",
                "0",
                "0",
                "0",
                "100.00",
                "1.00",
                "1.00",
                "1",
                "0.00",
                "0.00"
            ],
            &[
                "2026-11-16",
                "1",
                "1",
                "1",
                "0",
                "0",
                "0",
                "0",
                "100.00",
                "1.00",
                "1.00",
                "1",
                "0.00",
                "0.00"
            ],
            &[
                "2026-11-17",
                "1",
                "0",
                "0",
                "0",
                "0",
                "0",
                "1",
                "",
                "",
                "",
                "",
                "0.00",
                "0.00"
            ],
        ])
    );

    let breakdown = csv(&out.join("sla_breakdown.csv"));
    let mut cols = vec!["dimension", "value"];
    cols.extend(METRICS);
    assert_eq!(
        pick(&breakdown, &cols),
        strs(&[
            // Paid delays 1,1,1,1,1,4,5,6,8,8: median 2.5; p95 at rank 8.55 → 8.
            &[
                "all", "all", "12", "10", "6", "5", "4", "1", "1", "54.55", "2.50", "8.00", "8",
                "383.40", "31.35"
            ],
            // DRE: 1,3,4,6,7,9,10,11,12; delays 1,1,6,4,8,8,1,1.
            &[
                "origin", "DRE", "9", "8", "5", "3", "3", "0", "1", "62.50", "2.50", "8.00", "8",
                "233.45", "20.35"
            ],
            // Noémie: 2 (on time), 5 (late), 8 (unpaid).
            &[
                "origin", "NOEMIE", "3", "2", "1", "2", "1", "1", "0", "33.33", "3.00", "4.80",
                "5", "149.95", "11.00"
            ],
            // The member of claim 5 is unknown: no centre.
            &[
                "centre",
                "(unknown)",
                "1",
                "1",
                "0",
                "1",
                "1",
                "0",
                "0",
                "0.00",
                "5.00",
                "5.00",
                "5",
                "50.00",
                "1.00"
            ],
            &[
                "centre", "CG01", "8", "7", "4", "3", "3", "0", "1", "57.14", "1.00", "8.00", "8",
                "233.45", "20.35"
            ],
            &[
                "centre", "CG02", "3", "2", "2", "1", "0", "1", "0", "66.67", "2.50", "3.85", "4",
                "99.95", "10.00"
            ],
        ])
    );

    let delays = csv(&out.join("sla_delays.csv"));
    assert_eq!(
        pick(&delays, &["delay_working_days", "paid", "on_time", "late"]),
        strs(&[
            &["1", "5", "5", "0"],
            &["4", "1", "1", "0"],
            &["5", "1", "0", "1"],
            &["6", "1", "0", "1"],
            &["8", "2", "0", "2"],
        ])
    );

    let late = csv(&out.join("late_claims.csv"));
    assert_eq!(
        pick(
            &late,
            &[
                "ps_id",
                "invoice_no",
                "origin",
                "centre",
                "received_date",
                "deadline",
                "paid_on",
                "delay_working_days",
                "working_days_late",
                "cause",
                "amc_due",
                "penalty",
            ]
        ),
        strs(&[
            &[
                "100000002",
                "7",
                "DRE",
                "CG01",
                "2026-11-02",
                "2026-11-06",
                "2026-11-13",
                "8",
                "4",
                "held_no_bank_details",
                "123.45",
                "12.35"
            ],
            &[
                "100000003",
                "9",
                "DRE",
                "CG01",
                "2026-11-02",
                "2026-11-06",
                "2026-11-13",
                "8",
                "4",
                "imported_after_run",
                "70.00",
                "7.00"
            ],
            &[
                "100000004",
                "8",
                "NOEMIE",
                "CG02",
                "2026-11-02",
                "2026-11-06",
                "",
                "10",
                "6",
                "held_no_bank_details",
                "99.95",
                "10.00"
            ],
            &[
                "100000001",
                "4",
                "DRE",
                "CG01",
                "2026-11-04",
                "2026-11-10",
                "2026-11-13",
                "6",
                "2",
                "no_run_before_deadline",
                "40.00",
                "1.00"
            ],
            &[
                "100000001",
                "5",
                "NOEMIE",
                "(unknown)",
                "2026-11-05",
                "2026-11-12",
                "2026-11-13",
                "5",
                "1",
                "no_run_before_deadline",
                "50.00",
                "1.00"
            ],
        ])
    );

    let penalties = csv(&out.join("penalties.csv"));
    assert_eq!(
        pick(
            &penalties,
            &[
                "ps_id",
                "name",
                "late_claims",
                "penalised_claims",
                "penalty_total"
            ]
        ),
        strs(&[
            &["100000001", "Cabinet <Durand> & Fils", "2", "2", "2.00"],
            &["100000002", "Pharmacie de l'Église", "1", "1", "12.35"],
            &["100000003", "Kiné Martin", "1", "1", "7.00"],
            &["100000004", "Optique Sans RIB", "1", "1", "10.00"],
        ])
    );

    // The ledger: the five runs, their amounts as recorded, the manifest's hash.
    let ledger = csv(&out.join("run_ledger.csv"));
    assert_eq!(
        pick(
            &ledger,
            &["run_id", "business_date", "execution_date", "state"]
        ),
        strs(&[
            &["RUN-20261103", "2026-11-03", "2026-11-03", "completed"],
            &["RUN-20261104", "2026-11-04", "2026-11-04", "completed"],
            &["RUN-20261113", "2026-11-13", "2026-11-13", "completed"],
            &["RUN-20261116", "2026-11-16", "2026-11-16", "completed"],
            &["RUN-20261117", "2026-11-17", "2026-11-17", "completed"],
        ])
    );
    // Run of the 3rd: P1 for claims 1, 2, 15 (40.00) and member A1 for HTP 13.
    assert_eq!(ledger[0]["payments"], "2");
    assert_eq!(ledger[0]["amount"], "50.00");
    // Run of the 13th: P1 4+5+6 = 150.00, P2 123.45, P3 70.00.
    assert_eq!(ledger[2]["amount"], "343.45");
    for (row, run) in ledger.iter().zip([
        "RUN-20261103",
        "RUN-20261104",
        "RUN-20261113",
        "RUN-20261116",
        "RUN-20261117",
    ]) {
        let manifest = common::sha256_file(
            &out.parent()
                .unwrap()
                .join("runs")
                .join(run)
                .join("manifest.json"),
        );
        assert_eq!(row["manifest_sha256"], manifest, "{run}");
    }
}

/// Cells of the page's table `id`, one map `data-col` → (text, data-v) a row.
fn html_rows(html: &str, id: &str) -> Vec<BTreeMap<String, (String, Option<String>)>> {
    let start = html
        .find(&format!(r#"<table id="{id}">"#))
        .unwrap_or_else(|| panic!("no table {id}"));
    let body = &html[start..];
    let body = &body[..body.find("</table>").unwrap()];
    let body = &body[body.find("<tbody>").unwrap()..];
    body.split("<tr")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .filter_map(|td| {
                    let col = attr(td, "data-col")?;
                    let v = attr(td, "data-v");
                    let text = &td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()];
                    Some((col, (unescape(text), v.map(|v| unescape(&v)))))
                })
                .collect()
        })
        .collect()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let open = &tag[..tag.find('>')?];
    let i = open.find(&format!("{name}=\""))? + name.len() + 2;
    Some(open[i..i + open[i..].find('"')?].to_owned())
}

fn unescape(s: &str) -> String {
    s.replace('\u{202F}', "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every cell of the page's table equals the CSV's cell (an empty CSV cell
/// is printed as a dash; a code is printed as a label, with the code kept
/// in `data-v`).
fn page_matches_csv(html: &str, id: &str, csv_path: &Path, limit: usize) {
    let rows = html_rows(html, id);
    let file = csv(csv_path);
    assert_eq!(rows.len(), file.len().min(limit), "{id}: rows");
    for (i, (h, c)) in rows.iter().zip(&file).enumerate() {
        assert!(!h.is_empty(), "{id} row {i}: no data-col cells");
        for (col, (text, v)) in h {
            let expected = &c[col];
            let shown = v.as_ref().unwrap_or(text);
            let shown = if shown == "–" { "" } else { shown.as_str() };
            assert_eq!(shown, expected, "{id} row {i} column {col}");
        }
    }
}

fn check_page(out: &Path) {
    let html = std::fs::read_to_string(out.join("sla.html")).unwrap();
    page_matches_csv(&html, "daily", &out.join("sla_daily.csv"), usize::MAX);
    page_matches_csv(
        &html,
        "breakdown",
        &out.join("sla_breakdown.csv"),
        usize::MAX,
    );
    page_matches_csv(&html, "late", &out.join("late_claims.csv"), 1000);
    page_matches_csv(&html, "penalties", &out.join("penalties.csv"), 1000);
    page_matches_csv(&html, "ledger", &out.join("run_ledger.csv"), usize::MAX);
    // The headline cards are the breakdown's total row.
    let total = &csv(&out.join("sla_breakdown.csv"))[0];
    for col in [
        "claims",
        "on_time",
        "late",
        "pending",
        "delay_median",
        "delay_p95",
        "delay_max",
        "penalty_total",
    ] {
        let needle = format!(r#"<b data-col="{col}">"#);
        let i = html.find(&needle).unwrap_or_else(|| panic!("card {col}")) + needle.len();
        let shown = unescape(&html[i..i + html[i..].find("</b>").unwrap()]);
        assert_eq!(shown, total[col], "card {col}");
    }
    assert!(html.contains(r#"id="headline-rate" data-col="on_time_pct">54.55 %"#));
    // Causes: counted from the late list.
    let causes = html_rows(&html, "causes");
    let got: Vec<(String, String, String)> = causes
        .iter()
        .map(|r| {
            (
                r["cause"].1.clone().unwrap(),
                r["paid_late"].0.clone(),
                r["unpaid"].0.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("held_no_bank_details".into(), "1".into(), "1".into()),
            ("no_run_before_deadline".into(), "2".into(), "0".into()),
            ("imported_after_run".into(), "1".into(), "0".into()),
        ]
    );
    // Every file of the report is listed with its SHA-256.
    for name in ["sla_daily.csv", "late_claims.parquet", "run_ledger.csv"] {
        let sha = common::sha256_file(&out.join(name));
        assert!(html.contains(&sha), "{name} hash on the page");
    }
    // Reproducibility facts, escaping, no network, no health data.
    assert!(
        html.contains("<title>Tiers-payant payment-delay report, 2026-11-01 to 2026-11-17</title>")
    );
    assert!(html.contains(concat!("tpsettle ", env!("CARGO_PKG_VERSION"))));
    assert!(
        html.contains("2026-11-11 (Armistice"),
        "holidays of the period are stated"
    );
    assert!(html.contains("no extra day configured"));
    assert!(html.contains("Cabinet &lt;Durand&gt; &amp; Fils"));
    assert!(!html.contains("<Durand>"));
    assert!(!html.contains("Secret Patient"));
    assert!(
        !html.contains("http://")
            || !html
                .replace("http://www.w3.org/2000/svg", "")
                .contains("http://")
    );
    assert!(!html.contains("https://") && !html.contains("<script") && !html.contains("<link"));
    assert!(html.contains("@media print"));
    assert_eq!(html.matches("<svg").count(), 2);
}

/// Parquet read back with polars, written again as CSV the way the report
/// writes it, gives the CSV's bytes: same rows, same values, same types.
fn parquet_equals_csv(out: &Path, stem: &str) {
    let df = ParquetReader::new(std::fs::File::open(out.join(format!("{stem}.parquet"))).unwrap())
        .finish()
        .unwrap();
    let mut again = Vec::new();
    CsvWriter::new(&mut again)
        .include_header(true)
        .with_float_precision(Some(2))
        .finish(&mut df.clone())
        .unwrap();
    let csv = std::fs::read(out.join(format!("{stem}.csv"))).unwrap();
    assert_eq!(
        String::from_utf8(again).unwrap(),
        String::from_utf8(csv).unwrap(),
        "{stem}"
    );
    if let Ok(c) = df.column("received_date") {
        assert_eq!(c.dtype(), &DataType::Date, "{stem}");
    }
    for money in [
        "amc_due",
        "penalty",
        "penalty_total",
        "late_amc_due",
        "amount",
    ] {
        if let Ok(c) = df.column(money) {
            assert!(
                matches!(c.dtype(), DataType::Decimal(_, 2)),
                "{stem}.{money}: {:?}",
                c.dtype()
            );
        }
    }
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv" || e == "parquet"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

both!(
    a_settled_fortnight_gives_exact_figures_in_every_file,
    |db| async move {
        settled_fortnight(&db).await;
        let out = db.path("report");
        let config = config_with_penalties();
        let s = report(&db, &config, &out).await;
        check_figures(&out, &s);
        check_page(&out);
        for stem in [
            "sla_daily",
            "sla_breakdown",
            "sla_delays",
            "late_claims",
            "penalties",
            "run_ledger",
        ] {
            parquet_equals_csv(&out, stem);
        }
        // Same database, same bytes (the page differs only by its generation time).
        let again = db.path("report-again");
        let s2 = report(&db, &config, &again).await;
        let (a, b) = (files_of(&out), files_of(&again));
        assert_eq!(a.len(), 12);
        assert_eq!(a, b, "CSV and Parquet files are byte-identical");
        assert_eq!(s.claims, s2.claims);
        db.cleanup().await;
    }
);

both!(penalties_are_off_without_a_scale, |db| async move {
    settled_fortnight(&db).await;
    let out = db.path("report");
    // The same folder, first with penalties, then without: none left behind.
    report(&db, &config_with_penalties(), &out).await;
    assert!(out.join("penalties.csv").exists());
    let s = report(&db, &Config::default(), &out).await;
    assert_eq!(s.penalty_total_cents, None);
    assert!(!out.join("penalties.csv").exists() && !out.join("penalties.parquet").exists());
    let late = csv(&out.join("late_claims.csv"));
    assert_eq!(late.len(), 5);
    assert!(late.iter().all(|r| r["penalty"].is_empty()));
    let total = &csv(&out.join("sla_breakdown.csv"))[0];
    assert_eq!(
        (total["penalty_total"].as_str(), total["late"].as_str()),
        ("", "5")
    );
    let html = std::fs::read_to_string(out.join("sla.html")).unwrap();
    assert!(html.contains(r#"id="penalties-off""#));
    page_matches_csv(&html, "late", &out.join("late_claims.csv"), 1000);
    db.cleanup().await;
});

both!(an_empty_period_still_gives_every_file, |db| async move {
    let out = db.path("report");
    let s = sla_report(
        &db.store,
        &Config::default(),
        &cal(),
        day("2026-01-01"),
        day("2026-01-31"),
        &out,
    )
    .await
    .unwrap();
    assert_eq!((s.claims, s.status_date, s.on_time_pct), (0, None, None));
    let total = csv(&out.join("sla_breakdown.csv"));
    assert_eq!(total.len(), 1);
    assert_eq!(total[0]["claims"], "0");
    assert!(csv(&out.join("sla_daily.csv")).is_empty());
    assert!(csv(&out.join("late_claims.csv")).is_empty());
    for stem in ["sla_daily", "sla_breakdown", "late_claims"] {
        parquet_equals_csv(&out, stem);
    }
    let html = std::fs::read_to_string(out.join("sla.html")).unwrap();
    assert!(html.contains("No data for this period"));
    // A reversed period is refused before anything is written.
    let bad = db.path("bad");
    let e = sla_report(
        &db.store,
        &Config::default(),
        &cal(),
        day("2026-02-01"),
        day("2026-01-01"),
        &bad,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("after --to"), "{e}");
    assert!(!bad.exists());
    db.cleanup().await;
});

/// The page in a real browser: it renders, is not blank, has its title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_renders_in_headless_chromium() {
    let db = TestDb::sqlite().await;
    settled_fortnight(&db).await;
    let out = db.path("report");
    report(&db, &config_with_penalties(), &out).await;
    if !common::have_command("chromium") {
        return;
    }
    let page = out.join("sla.html");
    let profile = tempfile::tempdir().unwrap();
    let png = out.join("sla.png");
    let chromium = |extra: &[&str]| {
        let mut c = Command::new("chromium");
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url(&page));
        c.output().unwrap()
    };
    let shot = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,2400",
    ]);
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    assert_not_blank(&png);
    let dom = chromium(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("Tiers-payant payment-delay report"),
        "title missing from the DOM"
    );
    assert!(dom.contains("54.55"), "headline rate missing from the DOM");
    // For a person to look at: TPSETTLE_KEEP_SCREENSHOT=DIR keeps the page and its picture.
    if let Ok(keep) = std::env::var("TPSETTLE_KEEP_SCREENSHOT") {
        std::fs::copy(&png, Path::new(&keep).join("sla.png")).unwrap();
        std::fs::copy(&page, Path::new(&keep).join("sla.html")).unwrap();
    }
    db.cleanup().await;
}

fn url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

/// Decodes the PNG and checks that it has many distinct colours (a blank or
/// failed page is one colour).
fn assert_not_blank(png: &PathBuf) {
    let bytes = std::fs::read(png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let pixels = png_pixels(&bytes);
    let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(4).collect();
    assert!(pixels.len() > 1000, "tiny image");
    assert!(
        distinct.len() > 20,
        "the page looks blank: {} colours",
        distinct.len()
    );
}

/// RGBA pixels of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes).
fn png_pixels(bytes: &[u8]) -> Vec<u8> {
    let mut i = 8;
    let (mut w, mut h, mut ctype) = (0usize, 0usize, 0u8);
    let mut idat = Vec::new();
    while i + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        let kind = &bytes[i + 4..i + 8];
        let data = &bytes[i + 8..i + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "bit depth");
                ctype = data[9];
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        i += 12 + len;
    }
    let bpp = match ctype {
        2 => 3,
        6 => 4,
        other => panic!("PNG colour type {other}"),
    };
    let raw = inflate(&idat);
    let stride = w * bpp;
    let mut out = Vec::with_capacity(w * h * 4);
    let mut prev = vec![0u8; stride];
    for y in 0..h {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let filter = line[0];
        let mut cur = line[1..].to_vec();
        for x in 0..stride {
            let a = if x >= bpp { cur[x - bpp] } else { 0 };
            let b = prev[x];
            let c = if x >= bpp { prev[x - bpp] } else { 0 };
            cur[x] = cur[x].wrapping_add(match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => paeth(a, b, c),
                f => panic!("PNG filter {f}"),
            });
        }
        for px in cur.chunks(bpp) {
            out.extend_from_slice(&[px[0], px[1], px[2], 255]);
        }
        prev = cur;
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// zlib inflate (flate2 is already in the dependency tree through polars).
fn inflate(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// `tpsettle report sla` as a user runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_writes_the_report() {
    let db = TestDb::sqlite().await;
    settled_fortnight(&db).await;
    let config = db.path("tpsettle.toml");
    write(&config, penalty::EXAMPLE_TOML);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tpsettle"))
            .current_dir(db.dir.path())
            .env_remove("DATABASE_URL")
            .args(["--db", &db.url, "--config", config.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["report", "sla", "--from", FROM, "--to", TO, "--out", "rep"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("12 TP claims: 6 paid on time, 5 late (4 paid late, 1 unpaid), 1 pending"),
        "{stdout}"
    );
    assert!(
        stdout.contains("on-time rate 54.55 %") && stdout.contains("penalties EUR 31.35"),
        "{stdout}"
    );
    for f in tpsettle::report::file_names(true) {
        assert!(db.path("rep").join(&f).exists(), "{}", f.display());
    }
    let bad = run(&["report", "sla", "--from", TO, "--to", FROM, "--out", "bad"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is after --to"));
    let usage = run(&[
        "report",
        "sla",
        "--from",
        "2026-11-31",
        "--to",
        TO,
        "--out",
        "bad",
    ]);
    assert_eq!(usage.status.code(), Some(2));
    db.cleanup().await;
}
