//! Renderer benchmark: the statements of a national day without the
//! database, so the PDF side can be measured on its own.
//!
//!   cargo bench --bench statements                 # 30,000 letters, 100,000 rows
//!   BENCH_LETTERS=3000 BENCH_ROWS=10000 cargo bench --bench statements
//!
//! Letters get 1 to 6 rows, every 500th a long one (up to 300 rows), like a
//! generated day's Noémie payments (30,277 letters, 35,273 pages for
//! 1,000,000 claims). Renders every letter to its file and the print batch,
//! exactly as a run does (`statement::run::render_all`), into a temporary
//! folder, and prints wall time, pages and bytes. Run it under
//! `/usr/bin/time -v` for the peak RSS. Nothing is asserted.

use std::time::Instant;

use chrono::NaiveDate;
use tpsettle::statement::letter::{Letter, PaidRow, RejectedRow, Sender};
use tpsettle::statement::run::render_all;
use tpsettle::statement::template::builtin;

mod common;
use common::{cpu_secs, env_usize};

fn letters(n: usize, rows: usize) -> Vec<Letter> {
    let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let names = [
        "Zoé Martin",
        "Jérôme Lefèvre",
        "Anaïs Château",
        "Björn Weiß",
        "Marie-Thérèse de La Tour d'Auvergne",
        "Loïc Le Goff",
    ];
    let mut left = rows;
    (0..n)
        .map(|i| {
            let want = if i % 500 == 0 {
                300
            } else {
                1 + (i * 7919) % 6
            };
            let k = want.min(left.saturating_sub(n - i - 1)).max(1);
            left = left.saturating_sub(k);
            Letter {
                ps_id: format!("{:09}", 100_000_000 + i),
                name: format!("Pharmacie de l'Église n° {i}"),
                address_line: "12 rue du Général-de-Gaulle".into(),
                postcode: format!("{:05}", 1000 + (i * 37) % 95000),
                city: "Saint-Étienne".into(),
                country: "FR".into(),
                reference: format!("RUN-20261201-P{:09}", 100_000_000 + i),
                date: d,
                execution_date: d,
                iban: "FR7630006000011234567890189".into(),
                account_holder: "Pharmacie de l'Église".into(),
                transfer_cents: 123_456,
                paid: (0..k)
                    .map(|j| PaidRow {
                        invoice_no: (i * 1000 + j) as i64,
                        care_date: d,
                        beneficiary: names[j % names.len()].into(),
                        billed_cents: 4_250 + j as i64,
                        amo_paid_cents: 2_975,
                        amc_paid_cents: 1_275 + j as i64,
                    })
                    .collect(),
                rejected: if i % 10 == 0 {
                    vec![RejectedRow {
                        invoice_no: 999_999,
                        care_date: d,
                        beneficiary: Some("Zoé Martin".into()),
                        requested_cents: 1_000,
                        code: "R04".into(),
                        label: "Part AMC nulle ou superieure au reste apres AMO".into(),
                    }]
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

fn main() {
    let (n, rows) = (
        env_usize("BENCH_LETTERS", 30_000),
        env_usize("BENCH_ROWS", 100_000),
    );
    let letters = letters(n, rows);
    let rows: usize = letters.iter().map(|l| l.paid.len()).sum();
    let sender = Sender {
        name: "Mutuelle Démo des Tiers-Payants".into(),
        address_line: "12 rue de la Solidarité".into(),
        postcode: "75011".into(),
        city: "Paris".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let (start, cpu) = (Instant::now(), cpu_secs());
    let (files, pages) = render_all(builtin(), &sender, &letters, dir.path()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    let (volumes, batch_bytes) = files
        .iter()
        .filter(|f| f.rel_path.contains("print-batch-") && f.rel_path.ends_with(".pdf"))
        .fold((0, 0), |(n, b), f| (n + 1, b + f.bytes));
    println!(
        "statements: {n} letters, {rows} rows, {pages} pages: {secs:.2} s wall, {cpu:.2} s CPU \
         ({:.0} rows/s); {:.1} MB written, print batch {:.1} MB in {volumes} volumes, {:.1} KB per letter",
        rows as f64 / secs,
        bytes as f64 / 1e6,
        batch_bytes as f64 / 1e6,
        (bytes - batch_bytes) as f64 / n as f64 / 1e3,
    );
    files.into_iter().for_each(|f| f.discard());
}
